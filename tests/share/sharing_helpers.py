"""Helpers of the sharing tests (test_remote.py, test_hooks.py).

``git``, ``gitxp`` and ``run_refs`` come from :mod:`gitxp_testing`.
"""

from __future__ import annotations

import os
from pathlib import Path

from gitxp_testing import RUNS, git, gitxp, run_refs

from gitxp.git.repo import GitRepo
from gitxp.store.recorder import Recorder, RunSpec

__all__ = ["RUNS", "git", "gitxp", "run_refs"]


def start_run(path: Path, **config: object) -> Recorder:
    """A run in progress in the repository at ``path`` (recorded by gitxp's recorder)."""
    here = os.getcwd()
    os.chdir(path)
    try:
        return Recorder.start(GitRepo(path), RunSpec(command=["train.py"], config=dict(config)))
    finally:
        os.chdir(here)


def make_runs(path: Path, count: int, status: str = "COMPLETED") -> list[str]:
    """``count`` finished runs in the repository at ``path``; returns their ids."""
    ids = []
    for i in range(count):
        recorder = start_run(path, lr=0.1 * (i + 1))
        recorder.spool.log_scalar("loss", 1.0 / (i + 1), 0)
        recorder.finish(status, exit_code=0 if status == "COMPLETED" else 1)
        ids.append(recorder.run_id)
    return ids


def object_count(path: Path) -> int:
    """Loose plus packed objects of the repository at ``path``."""
    counts = dict(
        line.split(": ") for line in git(path, "count-objects", "-v").splitlines() if ": " in line
    )
    return int(counts["count"]) + int(counts["in-pack"])
