"""Sacred's documented examples, written for gitxp under ``examples/sacred/``, run for real
as ``python FILE with …`` in a temporary repository and checked on their recorded runs."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from exp_helpers import ROOT, commit_all, latest, run_py, run_refs, show_json

EXAMPLES = ROOT / "examples" / "sacred"


@pytest.fixture
def examples(exrepo: Path) -> Path:
    for file in EXAMPLES.glob("*.py"):
        shutil.copy(file, exrepo / file.name)
    commit_all(exrepo)
    return exrepo


def test_hello_world(examples: Path) -> None:
    proc = run_py(examples, "hello_world.py")
    assert proc.stdout == "Hello world!\n"
    assert "Running command 'my_main'" in proc.stderr
    rec = latest(examples)
    assert rec.info["experiment"] == "hello_world" and rec.info["status"] == "COMPLETED"
    assert rec.output.count("Hello world!") == 1
    assert rec.info["dirty"] is False


def test_hello_config_dict(examples: Path) -> None:
    assert (
        run_py(examples, "hello_config_dict.py", "with", 'message="Hi there!"').stdout
        == "Hi there!\n"
    )
    assert latest(examples).config["message"] == "Hi there!"


def test_hello_config_scope(examples: Path) -> None:
    assert (
        run_py(examples, "hello_config_scope.py", "with", "recipient=Bob").stdout == "Hello Bob!\n"
    )
    rec = latest(examples)
    assert rec.config["message"] == "Hello Bob!" and rec.info["result"] == "Hello Bob!"
    assert rec.info["config_docs"]["recipient"] == "who gets greeted"


def test_captured_functions(examples: Path) -> None:
    out = run_py(examples, "captured_functions.py").stdout
    assert out.splitlines() == [
        "This is printed by function foo.",
        "This is printed by function bar.",
        "Overriding the default message for foo.",
    ]
    assert latest(examples).config["message"] == "This is printed by function {}."


def test_my_commands(examples: Path) -> None:
    assert (
        run_py(examples, "my_commands.py", "greet", "with", "name=Jane").stdout
        == "Hello Jane! Nice to greet you!\n"
    )
    assert run_py(examples, "my_commands.py", "shout").stdout == "WHAZZZUUUUUUUUUUP!!!????\n"
    commands = [show_json(examples, r)["command_name"] for r in run_refs(examples)]
    assert sorted(commands) == ["greet", "shout"]


def test_named_configs(examples: Path) -> None:
    assert (
        run_py(examples, "named_configs.py", "with", "variant1", "a=1").stdout == "a=1 b=3 c=bar\n"
    )
    assert latest(examples).info["named_configs"] == ["variant1"]
    assert run_py(examples, "named_configs.py", "with", "small").stdout == "a=1 b=3 c=foo\n"


def test_randomness(examples: Path) -> None:
    first = run_py(examples, "randomness.py", "with", "seed=12345").stdout
    second = run_py(examples, "randomness.py", "with", "seed=12345").stdout
    assert first == second
    runs = [show_json(examples, r) for r in run_refs(examples)]
    assert runs[0]["result"] == runs[1]["result"] == runs[0]["info"]["numbers"]
    assert runs[0]["seed"] == 12345


def test_ingredients(examples: Path) -> None:
    proc = run_py(examples, "ingredients.py", "with", "dataset.small", "factor=3")
    assert proc.stdout == "loaded 10 samples from my_dataset.csv\n"
    rec = latest(examples)
    assert rec.config["dataset"] == {"filename": "my_dataset.csv", "normalize": True, "size": 10}
    assert rec.info["result"] == pytest.approx(15.0)
    assert rec.metrics["total"]["values"] == [pytest.approx(15.0)]
    assert (
        run_py(examples, "ingredients.py", "dataset.stats").stdout
        == "my_dataset.csv: 100 samples\n"
    )
    assert latest(examples).info["command_name"] == "dataset.stats"


def test_logging_example(examples: Path) -> None:
    proc = run_py(examples, "logging_example.py", "-l", "DEBUG")
    assert "WARNING - log_example.some_function - a warning from a captured function" in proc.stderr
    assert "DEBUG - log_example.some_function - a debug message" in proc.stderr
    assert "a debug message" in latest(examples).output
