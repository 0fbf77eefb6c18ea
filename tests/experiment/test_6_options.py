"""Issue point 6: command-line options with Sacred's meanings."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from exp_helpers import (
    cli_error,
    commit_all,
    latest,
    load_ex,
    run_py,
    run_refs,
    show_json,
    show_text,
    write,
)

from gitxp import Experiment
from gitxp.experiment.runobj import Run
from gitxp.store.ids import new_run_id

SCRIPT = """
    import os, subprocess, sys, time
    from gitxp import Experiment
    ex = Experiment("opts")

    @ex.config
    def cfg():
        a = 1
        fail = False
        sleep = 0.0

    @ex.automain
    def main(a, fail, sleep, _run, _log):
        _log.info("info line")
        print("printed")
        os.write(1, b"raw fd write\\n")
        if sleep:
            _run.info["progress"] = 1
            time.sleep(sleep)
            ref = _run.ref
            out = subprocess.run(["git", "show", ref + ":.gitxp/run.json"],
                                 capture_output=True, text=True).stdout
            _run.info["seen_while_running"] = out.count('"RUNNING"') > 0 and '"progress"' in out
        if fail:
            raise ValueError("boom")
        return a
"""


@pytest.fixture
def script(exrepo: Path) -> Path:
    path = write(exrepo, "opts.py", SCRIPT)
    commit_all(exrepo)
    return path


def test_name_comment_and_loglevel(exrepo: Path, script: Path) -> None:
    proc = run_py(exrepo, "opts.py", "-n", "first", "--comment", "a note", "-l", "WARNING")
    assert "info line" not in proc.stderr and "Running command" not in proc.stderr
    info = latest(exrepo).info
    assert info["name"] == "first" and info["comment"] == "a note"
    assert info["options"] == {"--name": "first", "--comment": "a note", "--loglevel": "WARNING"}
    bad = run_py(exrepo, "opts.py", "--loglevel", "LOUD", check=False)
    assert bad.returncode == 2 and "use DEBUG, INFO" in bad.stderr


def test_unobserved_records_nothing(exrepo: Path, script: Path) -> None:
    proc = run_py(exrepo, "opts.py", "-u")
    assert "printed" in proc.stdout
    assert run_refs(exrepo) == []


def test_queue_records_a_queued_run_without_running(exrepo: Path, script: Path) -> None:
    proc = run_py(exrepo, "opts.py", "-q", "-P", "3", "with", "a=9")
    assert "printed" not in proc.stdout
    (ref,) = run_refs(exrepo)
    info = show_json(exrepo, ref)
    assert info["status"] == "QUEUED" and info["priority"] == 3.0
    assert "a: 9" in show_text(exrepo, ref, ".gitxp/config.yaml")
    assert show_text(exrepo, ref, "opts.py").startswith("import os")


def test_forced_id(exrepo: Path, script: Path) -> None:
    run_id = new_run_id()
    run_py(exrepo, "opts.py", "--id", run_id)
    assert run_refs(exrepo) == [f"refs/gitxp/runs/{run_id}"]
    bad = run_py(exrepo, "opts.py", "-i", "123", check=False)
    assert bad.returncode == 2
    assert (
        bad.stderr.strip() == "gitxp: error: --id '123' is not a run id (26 characters of base32)"
    )
    assert len(run_refs(exrepo)) == 1


def test_enforce_clean_refuses_a_dirty_tree(exrepo: Path, script: Path) -> None:
    (exrepo / "scratch.txt").write_text("uncommitted\n")
    bad = run_py(exrepo, "opts.py", "-e", check=False)
    assert bad.returncode == 2 and "has uncommitted changes" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1
    ex = load_ex(exrepo, "opts.py")
    for flag in ("--enforce_clean", "--enforce-clean"):
        assert "has uncommitted changes" in cli_error(ex, flag)
    assert run_refs(exrepo) == []
    (exrepo / "scratch.txt").unlink()
    run_py(exrepo, "opts.py", "-e")
    assert latest(exrepo).info["dirty"] is False


def test_print_config_then_run(exrepo: Path, script: Path) -> None:
    proc = run_py(exrepo, "opts.py", "--print_config", "with", "a=4", env={"NO_COLOR": "1"})
    assert proc.stdout.index("* a = 4") < proc.stdout.index("printed")
    assert latest(exrepo).info["result"] == 4


def test_capture_modes(exrepo: Path, script: Path) -> None:
    outputs = {}
    for mode in ("fd", "sys", "no"):
        run_py(exrepo, "opts.py", "-C", mode)
        outputs[mode] = latest(exrepo).output
    assert "printed" in outputs["fd"] and "raw fd write" in outputs["fd"]
    assert "info line" in outputs["fd"]
    assert "printed" in outputs["sys"] and "raw fd write" not in outputs["sys"]
    assert outputs["no"] == ""
    bad = run_py(exrepo, "opts.py", "-C", "pipe", check=False)
    assert bad.returncode == 2 and "use fd, sys or no" in bad.stderr


def test_beat_interval_saves_info_while_running(exrepo: Path, script: Path) -> None:
    run_py(exrepo, "opts.py", "--beat_interval=0.05", "with", "sleep=0.5")
    info = latest(exrepo).info
    assert info["info"]["seen_while_running"] is True


def test_debug_keeps_gitxp_frames_and_raises(exrepo: Path, script: Path) -> None:
    plain = run_py(exrepo, "opts.py", "with", "fail=True", check=False)
    assert plain.returncode == 1
    assert (
        "WITHOUT gitxp internals" in plain.stderr
        and "gitxp/experiment/execution.py" not in plain.stderr
    )
    debug = run_py(exrepo, "opts.py", "-d", "with", "fail=True", check=False)
    assert debug.returncode == 1 and "gitxp/experiment/execution.py" in debug.stderr
    traces = [r.info["fail_trace"] for r in (latest(exrepo),)]
    assert "gitxp/experiment/execution.py" in traces[0] and "ValueError: boom" in traces[0]


def test_pdb_post_mortem(exrepo: Path, script: Path) -> None:
    proc = run_py(
        exrepo,
        "opts.py",
        "--pdb",
        "with",
        "fail=True",
        check=False,
        input="p 'in-the-debugger'\nq\n",
    )
    assert proc.returncode == 1
    assert "(Pdb)" in proc.stdout and "in-the-debugger" in proc.stdout
    assert latest(exrepo).info["status"] == "FAILED"


def test_observer_flags_add_sacreds_observers(exrepo: Path, script: Path) -> None:
    # pymongo is not installed: -m explains and records nothing
    proc = run_py(exrepo, "opts.py", "-m", "localhost:27017:db", check=False)
    assert proc.returncode == 2 and "stored in this git repository" in proc.stderr
    assert "pymongo" in proc.stderr
    assert run_refs(exrepo) == []
    run_py(exrepo, "opts.py", "--file-storage", "fs_runs", "-t", "tiny_runs")
    assert (exrepo / "fs_runs" / "1" / "run.json").is_file()  # Sacred's own observers
    assert (exrepo / "tiny_runs" / "metadata.json").is_file()
    assert len(run_refs(exrepo)) == 1  # and the run is in git as always


def test_options_from_python(exrepo: Path) -> None:
    ex = Experiment("pyopts", base_dir=exrepo)

    @ex.main
    def main(_run: Run) -> Any:
        return _run.capture_mode

    run = ex.run(options={"--name": "n1", "--capture": "sys", "beat_interval": 0, "-c": "c1"})
    assert run.result == "sys"
    info = latest(exrepo).info
    assert (info["name"], info["comment"], info["capture"]) == ("n1", "c1", "sys")
    unobserved = ex.run(options={"--unobserved": True})
    assert unobserved.id is None and unobserved.status == "COMPLETED"
    assert len(run_refs(exrepo)) == 1
    from gitxp.errors import UsageError

    with pytest.raises(UsageError, match="unknown option --nmae \\(did you mean --name\\?\\)"):
        ex.run(options={"--nmae": "x"})
    assert ex.get_default_options()["--beat-interval"] == 10.0
    assert subprocess is not None


def test_option_hook_can_change_options(exrepo: Path) -> None:
    ex = Experiment("hooked", base_dir=exrepo)

    @ex.option_hook
    def always_named(options: dict[str, Any]) -> None:
        options["--name"] = options.get("--name") or "from-hook"

    @ex.main
    def main() -> None:
        pass

    ex.run()
    assert latest(exrepo).info["name"] == "from-hook"
    ex.run(options={"--name": "given"})
    assert latest(exrepo).info["name"] == "given"
