"""Deleting runs (``gitxp rm``) and giving their space back (``gitxp gc``).

``rm`` deletes run refs, each with a compare-and-swap: a ref that moved since it was read
is left alone. The commits, trees and blobs stay in the object database until ``gc``.

``gc`` runs ``git gc`` so that objects no ref reaches any more are deleted now, with the
settings that keep everything else as it is: reflogs are not expired (so what a branch's
reflog reaches stays, like every ref), and stale worktrees of the user are not pruned.
While runs are in progress, their objects may briefly be unreferenced, so ``gc`` then
only prunes objects older than the oldest of those runs.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from gitxp.errors import UsageError
from gitxp.git.repo import GitRepo, RefConflictError
from gitxp.machine.venv import prune_venvs
from gitxp.store.ids import id_time
from gitxp.store.runs import RunRecord, list_runs, record, resolve
from gitxp.store.spool import spool_root

VENV_AGE = "14d"  # gc removes reproduction venvs unused for this long
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$", re.I)
_KEEP_SETTINGS = (
    "gc.reflogExpire=never",
    "gc.reflogExpireUnreachable=never",
    "gc.worktreePruneExpire=never",
    "gc.rerereResolved=never",
    "gc.rerereUnresolved=never",
    "gc.auto=0",
)


def parse_age(text: str, option: str = "--older-than") -> float:
    """``"30d"`` → seconds (units s, m, h, d, w)."""
    match = _DURATION.match(text)
    if not match:
        raise UsageError(f"{option} {text!r}: write a number and a unit, like 30d, 12h, 2w")
    return float(match.group(1)) * _UNITS[match.group(2).lower()]


def start_time(rec: RunRecord) -> float:
    """When the run started (its run.json, else the time in its id)."""
    started = record.parse_time(rec.info.get("start_time"))
    return started.timestamp() if started else id_time(rec.ref.id)


def select_runs(
    repo: GitRepo,
    specs: list[str],
    status: str | None = None,
    older_than: str | None = None,
    now: float | None = None,
) -> list[RunRecord]:
    """The runs ``specs`` name (all runs if none), narrowed by ``status`` and age."""
    if not specs and status is None and older_than is None:
        raise UsageError("name the runs to delete, or select them with --status/--older-than")
    runs = list_runs(repo)
    chosen = [resolve(repo, s, runs) for s in specs] if specs else runs
    cutoff = None if older_than is None else (now or time.time()) - parse_age(older_than)
    out: list[RunRecord] = []
    seen: set[str] = set()
    for ref in chosen:
        if ref.id in seen:
            continue
        seen.add(ref.id)
        rec = RunRecord.load(repo, ref)
        if status and str(rec.info.get("status", "")).upper() != status.upper():
            continue
        if cutoff is not None and start_time(rec) >= cutoff:
            continue
        out.append(rec)
    return out


def remove_runs(repo: GitRepo, runs: list[RunRecord], force: bool = False) -> list[RunRecord]:
    """Delete the refs of ``runs`` (compare-and-swap); returns the runs deleted.

    A RUNNING run is refused unless ``force``: its process would lose its record.
    """
    running = [r for r in runs if r.info.get("status") == "RUNNING"]
    if running and not force:
        ids = ", ".join(r.ref.id[:12] for r in running[:5])
        raise UsageError(
            f"{ids}: still RUNNING; stop the run first, or pass --force to delete it anyway"
        )
    removed = []
    for rec in runs:
        try:
            repo.delete_ref(rec.ref.ref, old=rec.ref.commit)
        except RefConflictError:
            continue  # the run wrote a new record meanwhile: it is not the run we selected
        removed.append(rec)
    return removed


@dataclass(frozen=True)
class GcResult:
    """Object counts and sizes (KiB) before and after ``gc``, and the prune cutoff used."""

    before: dict[str, int]
    after: dict[str, int]
    prune: str
    venvs_removed: int = 0  # cached reproduction venvs removed, and their bytes
    venv_bytes: int = 0

    @property
    def freed_kib(self) -> int:
        """KiB given back (loose plus packed)."""
        return _size(self.before) - _size(self.after)

    def summary(self) -> str:
        """One line for people."""
        return (
            f"gitxp gc: {_objects(self.before)} → {_objects(self.after)} objects, "
            f"{_size(self.before)} → {_size(self.after)} KiB "
            f"({max(self.freed_kib, 0)} KiB freed; pruned objects unreachable {self.prune})"
        ) + (
            f"; removed {self.venvs_removed} reproduction venv"
            f"{'s' if self.venvs_removed != 1 else ''} ({self.venv_bytes // 1024} KiB)"
            if self.venvs_removed
            else ""
        )


def _size(counts: dict[str, int]) -> int:
    return counts.get("size", 0) + counts.get("size-pack", 0) + counts.get("size-garbage", 0)


def _objects(counts: dict[str, int]) -> int:
    return counts.get("count", 0) + counts.get("in-pack", 0)


def live_runs_since(repo: GitRepo) -> float | None:
    """The start time of the oldest run in progress on this machine, or None."""
    root: Path = spool_root(repo)
    try:
        names = os.listdir(root)
    except FileNotFoundError:
        return None
    times = []
    for name in names:
        try:
            times.append(os.stat(root / name).st_mtime)
            times.append(id_time(name))
        except (OSError, KeyError, IndexError):
            continue
    return min(times) if times else None


def gc(repo: GitRepo, prune: str | None = None, venv_age: str = VENV_AGE) -> GcResult:
    """Reclaim the space of deleted runs; no ref, reflog or worktree of the user changes.

    The venvs ``gitxp reproduce --env venv`` built and did not use for ``venv_age``
    (``0s``: all of them) are removed too: they are a cache, rebuilt when needed.
    """
    from gitxp.store.restore import remove_stale_worktrees

    remove_stale_worktrees(repo)
    if prune is None:
        since = live_runs_since(repo)
        if since is None:
            prune = "now"
        else:
            moment = datetime.fromtimestamp(since - 60, tz=UTC)
            prune = moment.strftime("%Y-%m-%d %H:%M:%S +0000")
    before = repo.object_counts()
    settings = [arg for setting in _KEEP_SETTINGS for arg in ("-c", setting)]
    repo.git(*settings, "gc", "--quiet", f"--prune={prune}")
    after = repo.object_counts()
    when = "now" if prune == "now" else f"before {prune}"
    removed, freed = prune_venvs(repo, parse_age(venv_age, "--venv-age"))
    return GcResult(before, after, when, removed, freed)
