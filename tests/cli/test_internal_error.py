"""A bug in gitxp: one line naming a crash log, exit code 3, the traceback in the log."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gitxp.cli import main as cli_main
from gitxp.query import listing


def test_an_internal_error_exits_3_with_a_crash_log(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(*args: object, **kwargs: object) -> tuple[str, str]:
        raise ZeroDivisionError("a bug planted by the test")

    monkeypatch.chdir(repo)
    monkeypatch.setattr(listing, "ls_output", broken)
    with pytest.raises(SystemExit) as exit_:
        cli_main.main(["ls"])
    assert exit_.value.code == 3
    err = capsys.readouterr().err
    (line,) = err.splitlines()
    found = re.fullmatch(
        r"gitxp: internal error: ZeroDivisionError: a bug planted by the test "
        r"\(details in (\S+); please report it\)",
        line,
    )
    assert found, line
    log = Path(found.group(1))
    try:
        text = log.read_text()
        assert "Traceback" in text and "in broken" in text and "ZeroDivisionError" in text
    finally:
        log.unlink()
