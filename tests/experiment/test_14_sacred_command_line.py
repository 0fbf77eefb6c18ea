"""Issue 14, point 6: custom options, log lines and print_config as Sacred prints them.

Each script runs under Sacred (in a plain folder) and under gitxp (in a repository); the
same assertions hold for both outputs.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from exp_helpers import run_py

SCRIPT = """
from sacred import Experiment, cli_option


@cli_option("-o", "--own-flag", is_flag=True)
def own_flag(args, run):
    run.info["own_flag"] = args


@cli_option("-w", "--width")
def width(args, run):
    run.info["width"] = args


ex = Experiment("cmdline", additional_cli_options=[own_flag, width])


@ex.config
def cfg():
    a = 1  # the a
    b = 2.0
    d = {"x": 1}


@ex.main
def main(_run, a):
    print("info", sorted(_run.info.items()))
    return a


if __name__ == "__main__":
    ex.run_commandline()
"""


@pytest.fixture(params=["gitxp", "sacred"])
def folder(request: pytest.FixtureRequest, exrepo: Path, tmp_path: Path) -> Path:
    """Where the script runs: a repository for gitxp, a plain folder for Sacred."""
    flavour = str(request.param)
    where = exrepo if flavour == "gitxp" else tmp_path / "plain"
    where.mkdir(exist_ok=True)
    (where / "cli.py").write_text(textwrap.dedent(SCRIPT).replace("sacred", flavour))
    return where


def test_custom_options_reach_the_run(folder: Path) -> None:
    proc = run_py(folder, "-W", "ignore", "cli.py", "-o", "--width", "7", "with", "a=3")
    assert "info [('own_flag', True), ('width', '7')]" in proc.stdout
    help_text = run_py(folder, "-W", "ignore", "cli.py", "--help").stdout
    assert "--own-flag" in help_text and "--width" in help_text


def test_log_lines_as_sacred_prints_them(folder: Path) -> None:
    proc = run_py(folder, "-W", "ignore", "cli.py", "-F", "fs", "with", "a=3")
    lines = proc.stderr.splitlines()
    assert "INFO - cmdline - Running command 'main'" in lines
    assert any(line.startswith('INFO - cmdline - Started run with ID "') for line in lines)
    assert "INFO - cmdline - Result: 3" in lines
    assert "INFO - cmdline - Completed after 0:00:00" in lines


def test_print_config_is_sacreds_text_byte_for_byte(exrepo: Path, tmp_path: Path) -> None:
    outputs = []
    for flavour, where in (("gitxp", exrepo), ("sacred", tmp_path)):
        (where / "pc.py").write_text(textwrap.dedent(SCRIPT).replace("sacred", flavour))
        args = ["print_config", "with", "a=3", 'b="s"', "d.y=2", "seed=5", "-f"]
        outputs.append(run_py(where, "-W", "ignore", "pc.py", *args).stdout)
    gitxp, sacred = outputs
    assert gitxp == sacred
    assert "\x1b[34m  a = 3" in gitxp  # coloured off a terminal, as Sacred does
