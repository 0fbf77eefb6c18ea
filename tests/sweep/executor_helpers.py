"""What the cluster executor tests share: reading runs, a run that waits to be stopped."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml
from gitxp_testing import git

GRID = ["train.py", "with", "lr=0.1,0.2,0.3", "seed=range(2)"]
SWEEP_TIMEOUT = 180


def info(cwd: Path, commit: str) -> dict[str, Any]:
    """run.json of a run commit, read by real git."""
    return json.loads(git(cwd, "show", f"{commit}:.gitxp/run.json"))


def config(cwd: Path, commit: str) -> dict[str, Any]:
    """config.yaml of a run commit, read by real git."""
    return yaml.safe_load(git(cwd, "show", f"{commit}:.gitxp/config.yaml"))


def commit_long_script(repo: Path, marker: Path, condition: str = "True") -> None:
    """``long.py``: where ``condition`` holds and it is not a resumed run, it touches
    ``marker`` and sleeps until stopped; otherwise it completes at once."""
    (repo / "long.py").write_text(
        "import time, gitxp\n"
        f"if gitxp.resumed_from() is None and {condition}:\n"
        f"    open({str(marker)!r}, 'w').close()\n"
        "    time.sleep(120)\n"
        "gitxp.set_result('done')\n"
    )
    git(repo, "add", "long.py")
    git(repo, "commit", "-q", "-m", "long")


def start_sweep(repo: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """``gitxp sweep ARGS`` in the background."""
    return subprocess.Popen(
        [sys.executable, "-m", "gitxp", "sweep", *args],
        cwd=repo,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_marker(marker: Path, sweep: subprocess.Popen[str]) -> None:
    """Return once ``marker`` exists (the slow run is running); fail if the sweep ended."""
    deadline = time.monotonic() + SWEEP_TIMEOUT
    while not marker.exists() and sweep.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert marker.exists(), sweep.communicate()
