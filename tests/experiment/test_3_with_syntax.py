"""Issue point 3: the ``with`` syntax on the command line: dotted keys, literal values,
named configs and config files, Sacred's precedence, unknown keys and parser errors."""

# ruff: noqa: F841

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from exp_helpers import latest, run_py, run_refs, show_json, write

from gitxp import Experiment

SCRIPT = """
    from gitxp import Experiment
    ex = Experiment("withdemo")

    @ex.config
    def cfg():
        a = 0
        b = {"c": 0, "d": "keep"}
        name = "nobody"
        lr = 0.1
        flag = False
        items = [1]
        nothing = 1
        mapping = {"k": None}

    @ex.named_config
    def variant():
        a = 100
        lr = 0.5

    @ex.automain
    def main(_config):
        return dict(_config)
"""


def test_the_full_with_line_from_the_shell(exrepo: Path) -> None:
    write(exrepo, "train.py", SCRIPT)
    (exrepo / "cfg.yaml").write_text("flag: true\nitems: [7, 8]\n")
    run_py(
        exrepo,
        "train.py",
        "with",
        "a=1",
        "b.c=2",
        'name="Bob"',
        "variant",
        "cfg.yaml",
        "lr=1e-3",
        "nothing=None",
        "mapping={'k': [1, 2]}",
    )
    (ref,) = run_refs(exrepo)
    config = latest(exrepo).config
    assert config["a"] == 1  # the update beats the named config
    assert config["b"] == {"c": 2, "d": "keep"}
    assert config["name"] == "Bob"
    assert config["lr"] == 0.001
    assert config["flag"] is True and config["items"] == [7, 8]
    assert config["nothing"] is None
    assert config["mapping"] == {"k": [1, 2]}
    info = show_json(exrepo, ref)
    assert info["named_configs"] == ["variant", "cfg.yaml"]
    assert info["command"][-9:] == [
        "with",
        "a=1",
        "b.c=2",
        'name="Bob"',
        "variant",
        "cfg.yaml",
        "lr=1e-3",
        "nothing=None",
        "mapping={'k': [1, 2]}",
    ]


def _run_cli(ex: Experiment, *argv: str) -> Any:
    run = ex.run_commandline(["prog", *argv])
    assert run is not None
    return run.result


def test_values_parse_as_literals_or_stay_strings(exrepo: Path) -> None:
    ex = Experiment("lit", base_dir=exrepo)

    @ex.main
    def main(_config: Any) -> dict[str, Any]:
        return {k: v for k, v in _config.items() if k != "seed"}

    result = _run_cli(
        ex,
        "-f",
        "with",
        "i=3",
        "f=.5",
        "e=-4e-2",
        "t=True",
        "n=None",
        "l=[1, 'x']",
        "d={'a': 1}",
        "s=Bob",
        "q='3'",
        "b=0b101",
        " sp = 4 ",
    )
    assert result == {
        "i": 3,
        "f": 0.5,
        "e": -0.04,
        "t": True,
        "n": None,
        "l": [1, "x"],
        "d": {"a": 1},
        "s": "Bob",
        "q": "3",
        "b": 5,
        "sp": 4,
    }


def test_precedence_updates_named_hooks_scopes(exrepo: Path) -> None:
    ex = Experiment("prec", base_dir=exrepo)

    @ex.config
    def cfg() -> None:
        a = "scope"
        b = "scope"
        c = "scope"
        d = "scope"
        derived = f"{a}-{b}"

    @ex.named_config
    def one() -> None:
        a = "one"
        b = "one"
        c = "one"

    @ex.named_config
    def two() -> None:
        b = "two"

    @ex.config_hook
    def hook(config: dict[str, Any], command_name: str, logger: Any) -> dict[str, Any]:
        return {"a": "hook", "c": "hook", "d": "hook"}

    @ex.main
    def main(a: str, b: str, c: str, d: str, derived: str) -> list[str]:
        return [a, b, c, d, derived]

    assert _run_cli(ex, "with", "one", "two", "a=update") == [
        "update",
        "two",
        "one",
        "hook",
        "update-two",
    ]


def test_unknown_key_names_the_nearest_key_and_force_allows_it(
    exrepo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ex = Experiment("unknown", base_dir=exrepo)

    @ex.config
    def cfg() -> None:
        learning_rate = 0.1

    @ex.main
    def main(learning_rate: float) -> float:
        return learning_rate

    with pytest.raises(SystemExit) as exit_info:
        ex.run_commandline(["prog", "with", "learning_rat=0.5"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.strip() == (
        "gitxp: error: Added new config entry that is not used anywhere: 'learning_rat' "
        "(did you mean 'learning_rate'?); pass -f/--force to add it anyway"
    )
    assert run_refs(exrepo) == []
    run = ex.run_commandline(["prog", "--force", "with", "learning_rat=0.5"])
    assert run is not None and run.config["learning_rat"] == 0.5


def test_a_key_some_captured_function_uses_is_allowed(exrepo: Path) -> None:
    ex = Experiment("used", base_dir=exrepo)

    @ex.capture
    def helper(depth: int = 3) -> int:
        return depth

    @ex.main
    def main() -> int:
        return helper()

    assert _run_cli(ex, "with", "depth=9") == 9


def test_parser_errors_point_at_the_token(exrepo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ex = Experiment("bad", base_dir=exrepo)

    @ex.main
    def main() -> None:
        pass

    for argv, expected in [
        (["with", "a=1", "'x'=2"], "token 2 ''x'=2'"),
        (["with", "nosuch"], "unknown named config 'nosuch'"),
        (["with", "missing.yaml"], "config file 'missing.yaml' not found"),
    ]:
        with pytest.raises(SystemExit):
            ex.run_commandline(["prog", *argv])
        err = capsys.readouterr().err
        assert err.startswith("gitxp: error: ") and expected in err, err
        assert len(err.strip().splitlines()) == 1
    assert run_refs(exrepo) == []
