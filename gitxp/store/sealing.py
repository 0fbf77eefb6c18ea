"""Sealing runs whose processes are all gone: the next gitxp command finishes them.

A spool's lock (``<spool>/lock``, an ``flock``) is held by the run's supervisor and by the
child it started, and released by the kernel when they die. A spool nobody holds belongs
to a run that will write nothing more: :func:`seal_dead_runs` writes its final record
from everything the spool holds and removes it.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from gitxp.errors import DiskFullError
from gitxp.git.repo import GitRepo
from gitxp.git.retry import is_disk_full
from gitxp.store.spool import Spool, lock_spool, read_meta, spool_root

if TYPE_CHECKING:
    from gitxp.store.recorder import Recorder


def reopen(repo: GitRepo, spool_path: Path) -> Recorder | None:
    """A recorder for a spool whose supervisor is gone, or None if it is still alive.

    A spool whose run never got its ref (the supervisor died during the pre-run hook)
    is removed: nothing of the user's code ran yet.
    """
    fd = lock_spool(spool_path, block=False)
    if fd is None:
        return None
    # Imported here: every command seals first, and most find nothing to seal.
    from gitxp.store.recorder import Recorder, run_ref

    try:
        meta = read_meta(spool_path)
    except (OSError, ValueError):
        meta = None
    head = repo.ref_target(run_ref(meta["run"]["id"])) if meta else None
    # A worker that died before its claim moved the ref leaves the run QUEUED, untouched.
    if meta is None or head is None or head == meta.get("claimed_from"):
        os.close(fd)
        shutil.rmtree(spool_path, ignore_errors=True)
        return None
    return Recorder(repo, Spool(spool_path), meta, head, fd)


def _remove_if_abandoned(path: Path, age: float = 3600.0) -> None:
    """Remove a hidden spool left behind by a process killed while creating or removing it."""
    try:
        if time.time() - path.stat().st_mtime < age:
            return
    except OSError:
        return
    fd = lock_spool(path, block=False)
    if fd is not None:
        shutil.rmtree(path, ignore_errors=True)
        os.close(fd)


@dataclass(frozen=True)
class SealedRun:
    """A run :func:`seal_dead_runs` found: its final status, or None (the disk is full)."""

    run_id: str
    status: str | None


def seal_dead_runs(repo: GitRepo) -> list[SealedRun]:
    """Seal every run whose processes all ended: everything in its spool kept.

    A run is sealed once no process holds its spool's lock: not the supervisor, and not
    the child it was started with, nor the helper copying that child's output (they
    hold the lock too, so a child whose supervisor was killed keeps writing until it
    ends). Its status is the outcome it recorded, or
    DIED. Called at the start of every gitxp command that reads runs, and by ``gitxp
    recover``. On a full disk the runs stay as they are (status None) and reading goes on.
    """
    root = spool_root(repo)
    try:
        names = sorted(os.listdir(root))
    except FileNotFoundError:
        return []
    sealed = []
    for name in names:
        if name.startswith("."):  # a spool being created or removed right now
            _remove_if_abandoned(root / name)
            continue
        try:
            recorder = reopen(repo, root / name)
            if recorder is None:
                continue
            sealed.append(SealedRun(recorder.run_id, recorder.seal()))
        except DiskFullError:
            sealed.append(SealedRun(name, None))
        except OSError as err:
            if not is_disk_full(err):
                raise
            sealed.append(SealedRun(name, None))
    return sealed
