"""Helpers of the sharing tests (test_remote.py, test_hooks.py).

``git`` and ``gitxp`` are the helpers of ``tests/conftest.py``, loaded by path so that a
``conftest`` module of a sub-folder can never shadow them.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from gitxp.recorder import Recorder, RunSpec
from gitxp.repo import GitRepo

_spec = importlib.util.spec_from_file_location(
    "_gitxp_sharing_conftest", Path(__file__).with_name("conftest.py")
)
assert _spec is not None and _spec.loader is not None
_conftest = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_conftest)

git = _conftest.git
gitxp = _conftest.gitxp

RUNS = "refs/gitxp/runs/"


def run_refs(cwd: Path) -> dict[str, str]:
    """Every run ref of the repository at ``cwd`` (bare or not): name → commit, by real git."""
    out = git(cwd, "for-each-ref", "--format=%(refname) %(objectname)", RUNS)
    return dict(line.split(" ", 1) for line in out.splitlines() if line)


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
