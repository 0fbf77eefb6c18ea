"""Issue point 5: commands (own and built-in), from Python, the script and ``gitxp run``."""

# ruff: noqa: F841

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from exp_helpers import gitxp_run, latest, run_py, run_refs, show_json, write

from gitxp import Experiment
from gitxp.errors import UsageError

SCRIPT = '''
    """Commands demo."""
    from gitxp import Experiment
    ex = Experiment("cmds")

    @ex.config
    def cfg():
        name = "John"  # who to greet
        n = 2

    @ex.named_config
    def loud():
        """Shout the greeting."""
        name = "JOHN"

    @ex.command
    def greet(name, n):
        """Greet someone n times."""
        for _ in range(n):
            print(f"Hello {name}!")
        return name

    @ex.command(unobserved=True)
    def peek(name):
        print("peek", name)

    @ex.automain
    def main():
        return "main"
'''


def test_command_from_the_script_and_under_gitxp_run(exrepo: Path) -> None:
    write(exrepo, "cmds.py", SCRIPT)
    proc = run_py(exrepo, "cmds.py", "greet", "with", "name=Jane", "n=1")
    assert proc.stdout == "Hello Jane!\n"
    gitxp_run(exrepo, "cmds.py", "greet", "with", "name=Ann")
    first, second = (show_json(exrepo, ref) for ref in run_refs(exrepo))
    assert first["command_name"] == second["command_name"] == "greet"
    assert (first["result"], second["result"]) == ("Jane", "Ann")
    assert second["supervisor"] == "gitxp run"


def test_unobserved_command_records_nothing(exrepo: Path) -> None:
    write(exrepo, "cmds.py", SCRIPT)
    assert run_py(exrepo, "cmds.py", "peek").stdout == "peek John\n"
    assert run_refs(exrepo) == []


def test_help_and_builtin_printing_commands(exrepo: Path) -> None:
    write(exrepo, "cmds.py", SCRIPT)
    usage = run_py(exrepo, "cmds.py", "--help").stdout
    assert usage.startswith("Usage:\n  cmds.py [(with UPDATE...)] [options]")
    assert "Commands demo." in usage and "greet" in usage and "print_config" in usage
    assert run_py(exrepo, "cmds.py", "help").stdout == usage
    helped = run_py(exrepo, "cmds.py", "help", "greet").stdout
    assert helped.startswith("greet(name, n)") and "Greet someone n times." in helped
    named = run_py(exrepo, "cmds.py", "print_named_configs").stdout
    assert "loud" in named and "Shout the greeting." in named
    deps = run_py(exrepo, "cmds.py", "print_dependencies").stdout
    assert "Dependencies:" in deps and "cmds.py" in deps
    assert run_refs(exrepo) == []


def test_print_config_marks_modified_added_and_typechanged(exrepo: Path) -> None:
    ex = Experiment("marks", base_dir=exrepo)

    @ex.config
    def cfg() -> None:
        a = 1  # an int
        b = 2
        c = "x"

    @ex.main
    def main() -> None:
        pass

    run = ex.run(
        "print_config", config_updates={"a": 5, "c": 3, "new": 1}, options={"--force": True}
    )
    assert run.id is None and run_refs(exrepo) == []
    from gitxp.configuration.printing import format_config

    text = format_config(run.config_modifications)
    lines = {line.split("=")[0].strip(): line for line in text.splitlines()[1:]}
    assert lines["* a"].endswith("# an int")
    assert "b" in lines
    assert "~ c" in lines and "type was str" in lines["~ c"]
    assert "+ new" in lines


def test_save_config(exrepo: Path) -> None:
    write(exrepo, "cmds.py", SCRIPT)
    run_py(exrepo, "cmds.py", "save_config", "with", "n=5")
    assert json.loads((exrepo / "config.json").read_text())["n"] == 5
    run_py(exrepo, "cmds.py", "save_config", "with", "config_filename=out.yaml", "loud")
    text = (exrepo / "out.yaml").read_text()
    assert "name: JOHN" in text and "config_filename" not in text
    assert run_refs(exrepo) == []


def test_command_from_python_and_unknown_command(exrepo: Path) -> None:
    ex = Experiment("py", base_dir=exrepo)

    @ex.command
    def other(_run: Any) -> str:
        return "other"

    @ex.main
    def main() -> str:
        return "main"

    assert ex.run("other").result == "other"
    assert latest(exrepo).info["command_name"] == "other"
    with pytest.raises(UsageError, match="unknown command 'othr' \\(did you mean 'other'\\?\\)"):
        ex.run("othr")
