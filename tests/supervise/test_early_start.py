"""A script's interpreter starts while the run is recorded, and waits at its gate: none of
the script runs before the snapshot commit and the pre-run hooks (DESIGN.md §3)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from gitxp_testing import RUNS, git, gitxp

PROBE = """\
import os, pathlib, subprocess
pathlib.Path({marker!r}).write_text("ran")
ref = "refs/gitxp/runs/" + os.environ["GITXP_RUN_ID"]
print("REF", subprocess.run(["git", "rev-parse", "--verify", "-q", ref],
                            capture_output=True, text=True).stdout.strip())
print("GATE", os.environ.get("GITXP_GATE_FD"))
"""
# A pre-run hook that says what it saw: is the script's process there, has it run yet?
HOOK = """\
#!{python}
import os, pathlib, sys
waiting = []
for pid in os.listdir("/proc"):
    try:
        cmdline = open(f"/proc/{{pid}}/cmdline", "rb").read().split(b"\\0")
    except OSError:
        continue
    if cmdline[1:2] == [b"early_probe.py"]:  # python early_probe.py (not gitxp run …)
        waiting.append(pid)
seen = {{"waiting": len(waiting), "ran": pathlib.Path({marker!r}).exists()}}
pathlib.Path({report!r}).write_text(repr(seen))
sys.exit({code})
"""


def setup(repo: Path, tmp_path: Path, code: int) -> tuple[Path, Path]:
    marker, report = tmp_path / "marker", tmp_path / "hook-saw"
    (repo / "early_probe.py").write_text(PROBE.format(marker=str(marker)))
    hooks = repo / ".gitxp-hooks"
    hooks.mkdir()
    hook = hooks / "pre-run"
    hook.write_text(
        HOOK.format(python=sys.executable, marker=str(marker), report=str(report), code=code)
    )
    hook.chmod(0o755)
    return marker, report


def test_the_script_waits_for_the_snapshot_commit_and_the_hooks(repo: Path, tmp_path: Path) -> None:
    marker, report = setup(repo, tmp_path, 0)
    proc = gitxp(repo, "run", "early_probe.py")
    assert report.read_text() == "{'waiting': 1, 'ran': False}"  # started early, held
    assert marker.read_text() == "ran"
    lines = dict(line.split(" ", 1) for line in proc.stdout.splitlines() if " " in line)
    assert lines["GATE"] == "None"  # the gate's variable does not reach the script
    snapshot = lines["REF"]
    assert snapshot  # the run's ref existed when the script's first line ran
    assert json.loads(git(repo, "show", f"{snapshot}:.gitxp/run.json"))["status"] == "RUNNING"
    final = git(repo, "for-each-ref", "--format=%(refname)", RUNS).split()
    assert len(final) == 1 and "COMPLETED" in proc.stderr
    assert git(repo, "rev-parse", f"{final[0]}^").strip() == snapshot  # record on snapshot


def test_a_vetoed_run_never_runs_the_waiting_script(repo: Path, tmp_path: Path) -> None:
    marker, report = setup(repo, tmp_path, 3)
    proc = gitxp(repo, "run", "early_probe.py", check=False)
    assert proc.returncode != 0 and "vetoed by pre-run hook" in proc.stderr
    assert report.read_text() == "{'waiting': 1, 'ran': False}"
    assert not marker.exists()
    assert git(repo, "for-each-ref", RUNS) == ""
    for pid in os.listdir("/proc"):  # and the held interpreter is gone, not left waiting
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        assert cmdline.split(b"\0")[1:2] != [b"early_probe.py"], pid
