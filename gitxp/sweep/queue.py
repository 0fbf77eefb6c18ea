"""Queued runs as run refs: writing a sweep's planned runs QUEUED, and claiming one.

A queued run is an ordinary run ref (``refs/gitxp/runs/<id>``) whose commit is a
snapshot commit: the sweep's source tree plus ``.gitxp/`` with the config, the env lock,
status QUEUED and ``queued_args``, the ``gitxp run`` arguments a worker runs
(DESIGN.md §7). It travels with ``gitxp push``/``fetch`` like any run.

Taking one is a compare-and-swap of its ref from the queued commit to the worker's first
RUNNING commit: locally with a ref transaction, or on a shared remote with a push whose
expected old value is the queued commit (:mod:`gitxp.share.claims`). Exactly one worker
wins; the losers leave the run alone and try the next.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from typing import Any

from gitxp.errors import RefConflictError
from gitxp.git.repo import GitRepo
from gitxp.machine.lock import env_lock
from gitxp.query.cache import run_table
from gitxp.share.claims import push_claim
from gitxp.store.ids import is_run_id
from gitxp.store.recorder import Recorder, run_ref
from gitxp.store.runs import RunRecord, RunRef
from gitxp.supervise.runner import RunOptions, plan, run_spec
from gitxp.sweep.plan import PlannedRun, Sweep

QUEUED = "QUEUED"
TASK_ENV = "GITXP_WORKER_TASK"  # set by an executor: its id of the task a worker runs in


def enqueue(repo: GitRepo, sweep: Sweep, planned: list[PlannedRun] | None = None) -> list[str]:
    """Write ``planned`` (default: all of the sweep's runs) as QUEUED run refs."""
    written = []
    locks: dict[str, str] = {}
    for run in sweep.runs if planned is None else planned:
        options = RunOptions(
            cwd=sweep.cwd,
            python=sweep.python,
            run_id=run.run_id,
            snapshot=sweep.source,
            record_cwd=sweep.record_cwd,
            queue=True,
            name=sweep.name,
            tags=list(sweep.tags),
            extra={
                "supervisor": "gitxp sweep",
                "sweep": sweep.id,
                "sweep_index": run.index,
                "queued_args": list(run.command),
                **({"inputs": run.inputs} if run.inputs else {}),
                **({"resumes": run.resumes} if run.resumes else {}),
            },
        )
        launch = plan(list(run.command), options)
        lock = locks.get(launch.python) or env_lock(
            launch.python, repo.state_dir / "cache", repo.workdir
        )
        locks[launch.python] = lock
        spec = run_spec(launch, options, lock)
        Recorder.start(repo, spec).close_queued()
        written.append(run.run_id)
    return written


@dataclass(frozen=True)
class QueuedRun:
    """A QUEUED run found in the repository, checked: what a worker would run."""

    ref: RunRef
    info: dict[str, Any]

    @property
    def args(self) -> list[str]:
        """The ``gitxp run`` arguments."""
        return [str(a) for a in self.info["queued_args"]]


def queued_runs(repo: GitRepo, sweep_id: str | None = None) -> list[QueuedRun]:
    """The QUEUED runs (of sweep ``sweep_id``), oldest first, checked as untrusted."""
    table = run_table(repo)
    status, sweeps = table.columns.get("status", []), table.columns.get("sweep", [])
    out = []
    for i in reversed(range(len(table))):
        if status[i] != QUEUED or (sweep_id is not None and sweeps[i] != sweep_id):
            continue
        found = checked(
            repo, RunRef(table.refs[i][len(run_ref("")) :], table.refs[i], table.commits[i])
        )
        if found is not None:
            out.append(found)
    return out


def checked(repo: GitRepo, ref: RunRef) -> QueuedRun | None:
    """``ref`` as a runnable queued run, or None when its record is not one.

    Everything fetched is untrusted: the id must be well formed and match the ref, the
    commit must be a snapshot commit (its run's first), and the arguments a list of words.
    """
    loaded = RunRecord.load(repo, ref)  # checked: limits, types, a commit, the id
    if loaded.problems:
        return None
    info = loaded.info
    if info.get("status") != QUEUED:
        return None
    args = info.get("queued_args")
    if not is_run_id(ref.id) or info.get("id") != ref.id:
        return None
    if not isinstance(args, list) or not args or not all(isinstance(a, str) for a in args):
        return None
    base = info.get("base_commit")
    if repo.commit_parents(ref.commit) != ([base] if base else []):
        return None
    return QueuedRun(ref, info)


def worker_facts() -> dict[str, Any]:
    """Who took a run: recorded as ``worker`` in run.json (with the executor's task id)."""
    task = os.environ.get(TASK_ENV)
    return {"host": socket.gethostname(), "pid": os.getpid(), **({"task": task} if task else {})}


def claim(
    repo: GitRepo,
    queued: QueuedRun,
    lock: str,
    *,
    remote: str | None = None,
    extra: dict[str, Any] | None = None,
) -> Recorder | None:
    """Take ``queued``: a recorder holding the run, or None when another worker won it.

    With ``remote`` the claim is won on the remote first (an atomic push expecting the
    queued commit), then the local ref follows; without, the local ref transaction
    decides. ``lock`` is the env lock of the interpreter that will run it.
    """
    facts = {"worker": worker_facts(), "supervisor": "gitxp worker", **(extra or {})}
    recorder = Recorder.take_over(repo, queued.ref.commit, lock, facts)
    try:
        if remote is not None and not push_claim(
            repo, remote, queued.ref.ref, queued.ref.commit, recorder.claim_commit
        ):
            recorder.abandon()
            return None
        recorder.take()
    except RefConflictError:
        recorder.abandon()
        return None
    except BaseException:
        recorder.abandon()
        raise
    return recorder
