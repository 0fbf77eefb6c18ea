"""``gitxp sweep --status SWEEP``: each run's gitxp status beside its cluster task's state.

The runs come from their refs (fetched first from ``remote`` when one is given); the
tasks from what this machine submitted for the sweep (its state folder,
``<git-dir>/gitxp/sweeps/<sweep>/``) and the engine's own answer for each. A run names
the task it ran in (``worker.task`` in run.json), which joins the two; a task that has
not taken a run yet, or ended without one, gets a row of its own.
"""

from __future__ import annotations

from dataclasses import dataclass

from gitxp.git.repo import GitRepo
from gitxp.query.listing import table
from gitxp.share.sync import fetch
from gitxp.store.runs import RunRecord
from gitxp.sweep.executors import HandleStatus
from gitxp.sweep.executors.slurm import jobs_folder, recorded_handles, task_states
from gitxp.sweep.status import sweep_records


@dataclass(frozen=True)
class StatusRow:
    """A run (or a task without a run): gitxp's status and the engine's state."""

    run_id: str
    status: str
    host: str
    task: str
    task_state: str
    engine_state: str


def sweep_status(repo: GitRepo, sweep_id: str, remote: str | None = None) -> list[StatusRow]:
    """The rows of ``gitxp sweep --status``: the sweep's runs in plan order, then the tasks
    that hold no run."""
    if remote is not None:
        fetch(repo, remote)
    full_id, records = sweep_records(repo, sweep_id)
    handles = recorded_handles(jobs_folder(repo, full_id))
    tasks = {s.handle.id: s for s in task_states(handles)} if handles else {}
    rows = []
    for rec in records:
        task = _task(rec)
        state = tasks.pop(task, None) if task else None
        rows.append(_row(rec.ref.id, str(rec.info.get("status") or "?"), _host(rec), task, state))
    for task, state in tasks.items():
        rows.append(_row("", "", "", task, state))
    return rows


def _task(rec: RunRecord) -> str:
    worker = rec.info.get("worker")
    task = worker.get("task") if isinstance(worker, dict) else None
    return task if isinstance(task, str) else ""


def _host(rec: RunRecord) -> str:
    worker = rec.info.get("worker")
    host = worker.get("host") if isinstance(worker, dict) else None
    return host if isinstance(host, str) else ""


def _row(run_id: str, status: str, host: str, task: str, state: HandleStatus | None) -> StatusRow:
    return StatusRow(
        run_id,
        status,
        host,
        task,
        state.state if state is not None else "",
        state.detail if state is not None else "",
    )


def status_text(rows: list[StatusRow]) -> str:
    """The table ``gitxp sweep --status`` prints (the task columns when there are tasks)."""
    header = ["ID", "STATUS", "HOST", "TASK", "TASK STATE", "SLURM"]
    cells = [
        [r.run_id[:10] or "-", r.status or "-", r.host, r.task, r.task_state, r.engine_state]
        for r in rows
    ]
    if not any(r.task for r in rows):
        header, cells = header[:3], [c[:3] for c in cells]
    return table(header, cells)
