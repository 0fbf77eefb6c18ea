"""Hidden spool folders left by a killed process are removed, fresh or locked ones kept."""

from __future__ import annotations

import os
import time
from pathlib import Path

from runstore_helpers import gitxp

from gitxp.git.repo import GitRepo
from gitxp.store.recorder import spool_root
from gitxp.store.spool import lock_spool


def test_leftover_spool_folders_are_cleaned_up(repo: Path) -> None:
    root = spool_root(GitRepo(repo))
    root.mkdir(parents=True, exist_ok=True)
    old, fresh, held = root / ".done-OLD", root / ".new-FRESH", root / ".done-HELD"
    for folder in (old, fresh, held):
        folder.mkdir()
        (folder / "events.jsonl").write_text("{}\n")
    hour_ago = time.time() - 7200
    for folder in (old, held):
        os.utime(folder, (hour_ago, hour_ago))
    fd = lock_spool(held, block=False)  # a process still working in it
    assert fd is not None
    try:
        gitxp(repo, "ls")  # every command that reads runs cleans up first
        assert not old.exists()
        assert fresh.exists() and held.exists()
    finally:
        os.close(fd)
