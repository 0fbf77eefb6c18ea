"""``gitxp sweep``: queue a sweep's runs, start an executor's workers, watch, summarize.

1. The plan (:func:`gitxp.sweep.prepare.prepare`): one snapshot, the runs, the skips.
2. The runs are written QUEUED; with a shared remote they are pushed there first, which
   also proves that the remote takes pushes before any job is submitted (a refused push
   removes the queued refs again and says why).
3. The executor starts workers (:mod:`gitxp.sweep.executors`); the progress display
   watches the run refs (fetched from the remote when there is one) until every
   executor handle has ended, then the summary table is printed.

Ctrl-C stops the workers: running runs end INTERRUPTED, the rest stay QUEUED, and
``gitxp sweep --continue SWEEP`` picks up both.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TextIO

from gitxp.errors import RemoteError, UsageError
from gitxp.git.repo import GitRepo
from gitxp.share.sync import fetch, push
from gitxp.store.recorder import Recorder, RunSpec, run_ref
from gitxp.store.restore import recorded_snapshot, source_commit
from gitxp.store.runs import RunRecord
from gitxp.sweep.executors import Executor, Handle, get_executor
from gitxp.sweep.plan import PlannedRun, Sweep
from gitxp.sweep.progress import Progress, RunStates, summary_table
from gitxp.sweep.queue import QUEUED, enqueue
from gitxp.sweep.status import sweep_records

POLL = 0.25  # seconds between looks at the refs
REMOTE_POLL = 2.0  # seconds between fetches from a shared remote
RESUMABLE = ("INTERRUPTED", "DIED")

Echo = Callable[[str], None]


@dataclass
class LaunchOptions:
    """How ``gitxp sweep`` runs what it planned."""

    jobs: str = "1"
    executor: str = "local"
    executor_options: dict[str, str] = field(default_factory=dict)
    remote: str | None = None
    env: str = "current"
    python: str | None = None
    queue_only: bool = False


@dataclass
class SweepResult:
    """How a sweep ended: every planned run's status, and whether it was interrupted."""

    sweep: Sweep
    statuses: dict[str, str] = field(default_factory=dict)
    table: str = ""
    interrupted: bool = False

    @property
    def failed(self) -> list[str]:
        """Runs that FAILED or DIED."""
        return [r for r, s in self.statuses.items() if s in ("FAILED", "DIED")]

    @property
    def left(self) -> list[str]:
        """Runs not finished: still QUEUED, or INTERRUPTED."""
        return [r for r, s in self.statuses.items() if s not in ("COMPLETED", "FAILED")]

    def exit_code(self) -> int:
        """0 all completed, 1 some failed, 130 interrupted."""
        return 130 if self.interrupted else 1 if self.failed or self.left else 0


def describe(sweep: Sweep) -> str:
    """The first line ``gitxp sweep`` prints."""
    text = f"gitxp: sweep {sweep.id}: {len(sweep.runs)} run{'s' if len(sweep.runs) != 1 else ''}"
    text += f" from snapshot {sweep.snapshot[:10]}"
    if sweep.skipped:
        n = len(sweep.skipped)
        text += f"; skipped {n} with the same inputs as a COMPLETED run (--rerun runs them again)"
    return text


def dry_run_text(sweep: Sweep) -> str:
    """``--dry-run``: the planned runs, one line each, and nothing written."""
    lines = [describe(sweep).removeprefix("gitxp: ")]
    for run in sweep.runs:
        lines.append(f"  {run.run_id[:10]}  gitxp run {' '.join(run.command)}")
    return "\n".join(lines)


def launch(
    repo: GitRepo,
    sweep: Sweep,
    options: LaunchOptions,
    *,
    echo: Echo,
    stream: TextIO | None = None,
    requeued: list[PlannedRun] | None = None,
) -> SweepResult:
    """Queue ``sweep``'s runs (``requeued``: those already written), run them, summarize."""
    executor = _executor(repo, sweep, options) if not options.queue_only else None
    fresh = [r for r in sweep.runs if requeued is None or r not in requeued]
    written = enqueue(repo, sweep, fresh)
    if options.remote is not None:
        _push_queue(repo, options.remote, sweep, written)
    if options.queue_only or executor is None:
        echo(
            f"gitxp: queued {len(sweep.runs)} runs of sweep {sweep.id}; run them with "
            f"'gitxp worker --sweep {sweep.id}'"
            + (f" --remote {options.remote}" if options.remote else "")
        )
        return SweepResult(sweep, {r.run_id: QUEUED for r in sweep.runs})
    return watch(repo, sweep, executor, options, stream=stream)


def _executor(repo: GitRepo, sweep: Sweep, options: LaunchOptions) -> Executor:
    settings = {
        "repo": str(repo.workdir),
        "jobs": options.jobs,
        "env": options.env,
        "log_dir": str(repo.state_dir / "sweeps" / sweep.id),
        **({"python": options.python} if options.python else {}),
        **options.executor_options,
    }
    if options.remote is not None:
        from gitxp.share.remotes import resolve_remote

        settings["remote"] = options.remote
        settings["remote_url"] = resolve_remote(repo, options.remote, push=True).url
    return get_executor(options.executor, settings)


def _push_queue(repo: GitRepo, remote: str, sweep: Sweep, written: list[str]) -> None:
    """Send the queued runs to ``remote``; undo the queue if it will not take them."""
    ids = [r.run_id for r in sweep.runs]
    try:
        report = push(repo, remote, ids)
    except RemoteError as err:
        _unqueue(repo, written)
        raise RemoteError(f"{err}; nothing was submitted") from None
    if not report.ok:
        _unqueue(repo, written)
        why = "; ".join(reason for _, reason in report.rejected + report.conflicts)
        raise RemoteError(
            f"{report.remote} refused the queued runs ({why}); workers could not send "
            "results there either: fix its permissions or choose another --remote"
        )


def _unqueue(repo: GitRepo, written: list[str]) -> None:
    for run_id in written:
        target = repo.ref_target(run_ref(run_id))
        if target is not None:
            repo.delete_ref(run_ref(run_id), old=target)


def watch(
    repo: GitRepo,
    sweep: Sweep,
    executor: Executor,
    options: LaunchOptions,
    *,
    stream: TextIO | None = None,
) -> SweepResult:
    """Submit, then show progress until every handle has ended; Ctrl-C cancels."""
    handles: list[Handle] = executor.submit(sweep, sweep.runs)
    states = RunStates(repo, [r.run_id for r in sweep.runs])
    progress = Progress(len(sweep.runs), stream)
    result = SweepResult(sweep)
    last_fetch = 0.0
    try:
        while True:
            if options.remote is not None and time.monotonic() - last_fetch > REMOTE_POLL:
                fetch(repo, options.remote, [r.run_id for r in sweep.runs])
                last_fetch = time.monotonic()
            progress.update(states.refresh())
            if all(s.finished for s in executor.status(handles)):
                break
            time.sleep(POLL)
    except KeyboardInterrupt:
        result.interrupted = True
        executor.cancel(handles)
    if options.remote is not None:
        fetch(repo, options.remote, [r.run_id for r in sweep.runs])
    result.statuses = states.refresh()
    progress.update(result.statuses)
    progress.close()
    result.table = summary_table(states, sweep.runs)
    return result


def closing_lines(result: SweepResult) -> list[str]:
    """What to say after the summary table: counts, and what to do about the rest."""
    statuses = list(result.statuses.values())
    done = statuses.count("COMPLETED")
    text = f"gitxp: sweep {result.sweep.id}: {done} completed, {len(result.failed)} failed"
    left = result.left
    if left:
        text += f", {len(left)} left"
    lines = [text]
    if left:
        lines.append(f"gitxp: 'gitxp sweep --continue {result.sweep.id}' runs the rest")
    return lines


# -- gitxp sweep --continue ------------------------------------------------------------------


def continue_sweep(repo: GitRepo, sweep_id: str) -> tuple[Sweep, list[PlannedRun]]:
    """The sweep again with what is left: its QUEUED runs, and a new QUEUED run (written
    now, ``resumes`` the old one) for each INTERRUPTED or DIED run not yet resumed."""
    from gitxp.store.ids import new_run_id

    full_id, records = sweep_records(repo, sweep_id)
    resumed = {r.info.get("resumes") for r in records}
    planned: list[PlannedRun] = []
    requeued: list[PlannedRun] = []
    for rec in records:
        index = int(rec.info.get("sweep_index") or 0)
        status = rec.info.get("status")
        args = [str(a) for a in rec.info.get("queued_args") or []]
        run = PlannedRun(
            rec.ref.id,
            full_id,
            rec.config,
            list(rec.info.get("named_configs") or []),
            args,
            str(rec.info.get("inputs") or ""),
            index,
            str(rec.info.get("resumes") or ""),
        )
        if status == QUEUED:
            planned.append(run)
            requeued.append(run)
        elif status in RESUMABLE and rec.ref.id not in resumed and args:
            new = PlannedRun(
                new_run_id(),
                full_id,
                run.config,
                run.named_configs,
                args,
                run.inputs,
                index,
                rec.ref.id,
            )
            _requeue(repo, rec, new)
            planned.append(new)
            requeued.append(new)
    if not planned:
        raise UsageError(
            f"sweep {full_id} has nothing left to run (no QUEUED, INTERRUPTED or DIED run)"
        )
    first = records[0]
    snapshot = source_commit(repo, first)
    return Sweep(full_id, snapshot, tuple(planned), source=recorded_snapshot(repo, first)), requeued


def _requeue(repo: GitRepo, rec: RunRecord, new: PlannedRun) -> None:
    """Write ``new``: a QUEUED run of ``rec``'s sources, config and arguments."""
    info = rec.info
    spec = RunSpec(
        command=[str(c) for c in info.get("command") or []],
        experiment=info.get("experiment"),
        name=info.get("name"),
        tags=list(info.get("tags") or []),
        config=rec.config,
        capture=str(info.get("capture") or "fd"),
        run_id=new.run_id,
        queued=True,
        snapshot=recorded_snapshot(repo, rec),
        cwd=str(info.get("cwd") or "."),
        extra={
            "supervisor": "gitxp sweep",
            "sweep": new.sweep_id,
            "sweep_index": new.index,
            "queued_args": new.command,
            "named_configs": new.named_configs,
            "inputs": new.inputs,
            "resumes": new.resumes,
        },
    )
    Recorder.start(repo, spec).close_queued()


def print_result(result: SweepResult, echo: Echo) -> None:
    """The summary table and closing lines."""
    if result.table:
        echo(result.table)
    for line in closing_lines(result):
        echo(line)


def stderr(text: str) -> None:
    """Print to stderr."""
    print(text, file=sys.stderr, flush=True)
