"""The source snapshot of each run of an Experiment, reused while nothing changed.

A sweep from Python calls ``ex.run()`` again and again in one process. The first run takes
a plain snapshot (a script that runs once pays nothing more). From the second run of a
repository on, a :class:`gitxp.git.watch.TreeWatch` is armed right before each full
snapshot; a later run whose watch stayed quiet records that same snapshot. Any change,
any doubt, and the run takes a full one, which is then exactly what a fresh process
would have taken.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pygit2 is imported by the first run, not by ``import gitxp``
    from gitxp.git.repo import GitRepo
    from gitxp.git.snapshot import Snapshot
    from gitxp.git.watch import TreeWatch

__all__ = ["RepoSnapshots", "SnapshotReuse"]


@dataclass
class RepoSnapshots:
    """What is known of one repository: its watch and the snapshot it vouches for."""

    runs: int = 0
    watch: TreeWatch | None = None
    watching: bool = True  # False: the watch could not be placed, never try again
    last: Snapshot | None = None
    reused: int = 0


@dataclass
class SnapshotReuse:
    """Snapshots of the repositories one Experiment records into."""

    _repos: dict[str, RepoSnapshots] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, repo: GitRepo) -> Snapshot:
        """The snapshot of ``repo``'s working tree as it is now."""
        from gitxp.git.snapshot import take_snapshot
        from gitxp.git.watch import TreeWatch

        with self._lock:
            state = self._repos.setdefault(str(repo.git_dir), RepoSnapshots())
            state.runs += 1
            last, watch = state.last, state.watch
            if last is not None and watch is not None and watch.quiet():
                state.reused += 1
                return last
            state.last = None
            if watch is None and state.watching and state.runs > 1:
                watch = state.watch = TreeWatch.open(repo)
                state.watching = watch is not None
            if watch is not None and not watch.arm():
                state.watch, state.watching = None, False
                watch = None
            snap = take_snapshot(repo)
            if watch is not None:
                state.last = snap
            return snap

    def state(self, repo: GitRepo) -> RepoSnapshots:
        """What is known of ``repo``: runs, snapshots reused, its watch."""
        return self._repos.get(str(repo.git_dir)) or RepoSnapshots()
