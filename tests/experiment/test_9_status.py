"""Issue point 9: run status COMPLETED / FAILED / INTERRUPTED / QUEUED, traces, exit codes,
and user errors that write nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from exp_helpers import cli_error, git, latest, load_ex, run_py, run_refs, show_json, write

from gitxp import Experiment

SCRIPT = """
    from gitxp import Experiment
    ex = Experiment("status")

    @ex.config
    def cfg():
        mode = "ok"

    def deep(mode):
        if mode == "fail":
            raise ValueError("bad value " + mode)
        if mode == "interrupt":
            raise KeyboardInterrupt

    @ex.automain
    def main(mode):
        print("working")
        deep(mode)
        return "fine"
"""


def test_completed_and_failed_from_the_command_line(exrepo: Path) -> None:
    write(exrepo, "status.py", SCRIPT)
    run_py(exrepo, "status.py")
    assert latest(exrepo).info["status"] == "COMPLETED"
    proc = run_py(exrepo, "status.py", "with", "mode=fail", check=False)
    assert proc.returncode == 1
    assert proc.stderr.count("Traceback (most recent calls WITHOUT gitxp internals):") == 1
    assert "ValueError: bad value fail" in proc.stderr
    info = latest(exrepo).info
    assert info["status"] == "FAILED" and info["exit_code"] == 1
    trace = info["fail_trace"]
    assert 'status.py", line' in trace and "in deep" in trace and "in main" in trace
    assert "gitxp/" not in trace.replace("status.py", "")  # no gitxp frames
    assert "working" in latest(exrepo).output


def test_keyboard_interrupt_is_interrupted(exrepo: Path) -> None:
    write(exrepo, "status.py", SCRIPT)
    proc = run_py(exrepo, "status.py", "with", "mode=interrupt", check=False)
    assert proc.returncode == 130
    assert latest(exrepo).info["status"] == "INTERRUPTED"


def test_status_from_python(exrepo: Path) -> None:
    ex = Experiment("pystatus", base_dir=exrepo)

    @ex.main
    def main(what: str = "ok") -> str:
        if what == "fail":
            raise ZeroDivisionError("nope")
        if what == "stop":
            raise KeyboardInterrupt
        return what

    assert ex.run().status == "COMPLETED"
    with pytest.raises(ZeroDivisionError):
        ex.run(config_updates={"what": "fail"})
    assert latest(exrepo).info["status"] == "FAILED"
    assert "ZeroDivisionError: nope" in latest(exrepo).info["fail_trace"]
    with pytest.raises(KeyboardInterrupt):
        ex.run(config_updates={"what": "stop"})
    assert latest(exrepo).info["status"] == "INTERRUPTED"
    queued = ex.run(options={"--queue": True})
    assert queued.status == "QUEUED"
    assert show_json(exrepo, queued.ref or "")["status"] == "QUEUED"
    assert [show_json(exrepo, r)["status"] for r in run_refs(exrepo)] == [
        "COMPLETED",
        "FAILED",
        "INTERRUPTED",
        "QUEUED",
    ]


def test_user_errors_print_one_line_and_write_nothing(exrepo: Path) -> None:
    write(exrepo, "status.py", SCRIPT)
    proc = run_py(exrepo, "status.py", "with", "mode=ok", "modee=1", check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        "gitxp: error: Added new config entry that is not used anywhere: 'modee' (did you "
        "mean 'mode'?); pass -f/--force to add it anyway"
    )
    ex = load_ex(exrepo, "status.py")
    for args, expected in (
        (["nosuchcommand"], "unknown command 'nosuchcommand'"),
        (["--nosuch"], "unknown option --nosuch"),
        (["with", "variantx"], "unknown named config 'variantx'"),
        (["-b", "fast"], "--beat-interval 'fast': expected a number"),
        (["main", "extra"], "unexpected argument 'extra'"),
    ):
        assert expected in cli_error(ex, *args)
    assert run_refs(exrepo) == []


def test_outside_a_repository_the_run_is_recorded_in_a_new_one(tmp_path: Path) -> None:
    """Sacred runs anywhere; gitxp makes a repository in the script's folder (one line)."""
    folder = tmp_path / "plain"
    folder.mkdir()
    write(folder, "hello.py", SCRIPT)
    proc = run_py(folder, "hello.py")
    assert proc.stderr.splitlines()[0] == (
        f"gitxp: {folder} was not in a git repository; created one there to record runs "
        "(see them with 'gitxp ls' in that folder)"
    )
    (ref,) = run_refs(folder)
    assert show_json(folder, ref)["status"] == "COMPLETED"
    assert git(folder, "show", f"{ref}:hello.py") == (folder / "hello.py").read_text()
    assert git(folder, "status", "--porcelain") == "?? hello.py\n"  # nothing staged
    git(folder, "fsck", "--strict")
    run_py(folder, "hello.py")  # the second run finds the repository
    assert len(run_refs(folder)) == 2
    assert "created one" not in run_py(folder, "hello.py").stderr


def test_a_home_folder_is_not_made_a_repository(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    write(home, "hello.py", SCRIPT)
    proc = run_py(home, "hello.py", check=False, env={"HOME": str(home)})
    assert proc.returncode == 2 and "is your home folder" in proc.stderr
    assert not (home / ".git").exists()
    assert "working" in run_py(home, "hello.py", "-u", env={"HOME": str(home)}).stdout
