"""``GitRepo.refs_stamp``: a cheap value that changes whenever a run ref does."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from gitxp.git.repo import RUNS_PREFIX, GitRepo


def _age(path: Path, seconds: float) -> None:
    """Set ``path``'s modification time ``seconds`` in the past."""
    past = time.time() - seconds
    os.utime(path, (past, past))


def test_the_stamp_moves_with_run_refs_and_is_not_trusted_while_fresh(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    repo = GitRepo(tmp_path)
    commit = repo.write_commit(repo.write_tree({"a": b"1"}), [], "one")
    repo.create_ref(RUNS_PREFIX + "01AAAAAAAAAAAAAAAAAAAAAAAA", commit)
    folder = repo.common_dir / "refs" / "gitxp" / "runs"
    assert repo.refs_stamp(RUNS_PREFIX) is None  # just written: not trusted yet
    _age(folder, 10)
    first = repo.refs_stamp(RUNS_PREFIX)
    assert first is not None and repo.refs_stamp(RUNS_PREFIX) == first
    repo.create_ref(RUNS_PREFIX + "01BBBBBBBBBBBBBBBBBBBBBBBB", commit)
    _age(folder, 5)
    second = repo.refs_stamp(RUNS_PREFIX)
    assert second is not None and second != first
    newer = repo.write_commit(repo.write_tree({"a": b"2"}), [commit], "two")
    repo.update_ref(RUNS_PREFIX + "01BBBBBBBBBBBBBBBBBBBBBBBB", newer, commit)  # a heartbeat
    _age(folder, 4.5)
    moved = repo.refs_stamp(RUNS_PREFIX)
    assert moved is not None and moved != second
    second = moved
    subprocess.run(["git", "pack-refs", "--all"], cwd=tmp_path, check=True)
    if folder.exists():  # git may remove the emptied folder
        _age(folder, 4)
    _age(repo.common_dir / "packed-refs", 4)
    third = repo.refs_stamp(RUNS_PREFIX)
    assert third is not None and third != second
