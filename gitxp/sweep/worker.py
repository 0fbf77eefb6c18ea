"""``gitxp worker``: take queued runs one by one, run each from its snapshot, send it back.

A worker needs only a clone: it fetches the queued runs (from ``remote`` if given),
claims one (:func:`gitxp.sweep.queue.claim`: exactly one worker wins a run), checks its
snapshot out in a fresh linked worktree (never the user's working tree), runs its
``queued_args`` under the ordinary ``gitxp run`` supervisor into the claimed ref, pushes
the result to ``remote``, and goes on until nothing is queued or ``max_runs`` ran.

SIGTERM or Ctrl-C stops it: the run in progress ends INTERRUPTED (a cluster's time limit
or preemption; ``gitxp sweep --continue`` or ``gitxp run --resume`` carries it on), and
nothing new is taken. ``jobs`` > 1 starts that many worker processes side by side.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from gitxp.errors import GitxpError, UsageError
from gitxp.git.repo import GitRepo
from gitxp.machine.lock import env_lock
from gitxp.machine.python import user_python
from gitxp.machine.venv import venv_env, venv_python
from gitxp.share.sync import fetch, push
from gitxp.store.recorder import Recorder, run_ref
from gitxp.store.restore import extract_artifacts, remove_stale_worktrees, temporary_worktree
from gitxp.store.runs import RunRecord, RunRef
from gitxp.supervise.runner import RunOptions, run
from gitxp.sweep.queue import QueuedRun, claim, queued_runs

ENVS = ("current", "venv")
SUMMARY_ENV = "GITXP_WORKER_SUMMARY"
_ERROR_LINE = re.compile(
    r"^\s*([\w.]+(Error|Exception|Exit|Interrupt)\b.*|(fatal|error):.*)$", re.I
)

Echo = Callable[[str], None]


def _stderr(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


@dataclass
class WorkerSummary:
    """What a worker did: the runs it took by outcome, claims lost, pushes that failed."""

    completed: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # run id, first error line
    interrupted: list[str] = field(default_factory=list)
    lost: int = 0  # runs another worker took first
    not_pushed: list[tuple[str, str]] = field(default_factory=list)  # run id, why

    @property
    def runs(self) -> list[str]:
        """Every run this worker ran."""
        return [*self.completed, *(r for r, _ in self.failed), *self.interrupted]

    def merge(self, other: WorkerSummary) -> None:
        """Add another worker's summary to this one."""
        self.completed += other.completed
        self.failed += other.failed
        self.interrupted += other.interrupted
        self.lost += other.lost
        self.not_pushed += other.not_pushed

    def as_json(self) -> dict[str, Any]:
        """The summary as JSON data."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> WorkerSummary:
        """The inverse of :meth:`as_json`."""
        return cls(
            completed=[str(r) for r in data.get("completed", [])],
            failed=[(str(r), str(w)) for r, w in data.get("failed", [])],
            interrupted=[str(r) for r in data.get("interrupted", [])],
            lost=int(data.get("lost", 0)),
            not_pushed=[(str(r), str(w)) for r, w in data.get("not_pushed", [])],
        )

    def text(self) -> str:
        """One line of counts, then one line per failure."""
        lines = [
            f"gitxp worker: {len(self.completed)} completed, {len(self.failed)} failed, "
            f"{len(self.interrupted)} interrupted"
            + (f", {self.lost} taken by other workers" if self.lost else "")
        ]
        lines += [f"  FAILED {run_id}: {why}" for run_id, why in self.failed]
        lines += [f"  not pushed {run_id}: {why}" for run_id, why in self.not_pushed]
        return "\n".join(lines)


class _StopFlag:
    """SIGINT/SIGTERM between runs: stop taking new ones (handlers in the main thread)."""

    def __init__(self) -> None:
        self.requested = False
        self.saved: dict[int, Any] = {}
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                self.saved[signum] = signal.signal(signum, self._handle)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.requested = True

    def restore(self) -> None:
        for signum, handler in self.saved.items():
            signal.signal(signum, handler)


def first_error_line(rec: RunRecord) -> str:
    """The line that best says why a run failed: the last error line of its output or
    trace, else the trace's last line."""
    trace = str(rec.info.get("fail_trace") or "")
    for text in (trace, rec.output):
        found = [m.group(0).strip() for m in map(_ERROR_LINE.match, text.splitlines()) if m]
        if found:
            return found[-1][:200]
    lines = [line.strip() for line in trace.splitlines() if line.strip()]
    return lines[-1][:200] if lines else "no error recorded"


def work(
    repo: GitRepo,
    *,
    remote: str | None = None,
    jobs: int = 1,
    sweep_id: str | None = None,
    max_runs: int | None = None,
    env: str = "current",
    python: str | None = None,
    echo: Echo = _stderr,
) -> WorkerSummary:
    """Run queued runs until none is left (or ``max_runs`` ran); see the module docstring."""
    if env not in ENVS:
        raise UsageError("--env must be 'current' or 'venv'")
    if env == "venv" and python:
        raise UsageError("--python picks the interpreter for --env current; not both")
    if jobs < 1:
        raise UsageError("-j must be at least 1")
    if max_runs is not None and max_runs < 1:
        raise UsageError("--max-runs must be at least 1")
    if jobs > 1:
        return _pool(repo, remote, jobs, sweep_id, max_runs, env, python)
    remove_stale_worktrees(repo)
    stop = _StopFlag()
    try:
        return _loop(repo, remote, sweep_id, max_runs, env, python, echo, stop)
    finally:
        stop.restore()


def _loop(
    repo: GitRepo,
    remote: str | None,
    sweep_id: str | None,
    max_runs: int | None,
    env: str,
    python: str | None,
    echo: Echo,
    stop: _StopFlag,
) -> WorkerSummary:
    summary = WorkerSummary()
    locks: dict[str | None, str] = {}
    while not stop.requested and (max_runs is None or len(summary.runs) < max_runs):
        if remote is not None:
            fetch(repo, remote)
        recorder, queued = None, None
        for queued in queued_runs(repo, sweep_id):
            if stop.requested:
                break
            runner_python = python
            if env == "venv":
                lock_text = RunRecord.load(repo, queued.ref).env_lock
                runner_python = str(venv_python(repo, lock_text, echo))
            if runner_python not in locks:
                interpreter = user_python(runner_python).path
                locks[runner_python] = env_lock(interpreter, repo.state_dir / "cache", repo.workdir)
            recorder = claim(repo, queued, locks[runner_python], remote=remote)
            if recorder is not None:
                # The lock taken for the claim is the runner's unless the command names
                # its own python (`-- python3 x.py`): then the runner takes that one's.
                own = Path(queued.args[0]).name.startswith("python") and not runner_python
                lock = None if own else locks[runner_python]
                status, why = _execute(repo, recorder, queued, runner_python, env, stop, lock)
                _tally(summary, queued.ref.id, status, why)
                if remote is not None:
                    _push_result(repo, remote, queued.ref.id, summary, echo)
                if status == "INTERRUPTED":
                    stop.requested = True
                break
            summary.lost += 1
        if recorder is None:
            break
    return summary


def _tally(summary: WorkerSummary, run_id: str, status: str, why: str) -> None:
    if status == "COMPLETED":
        summary.completed.append(run_id)
    elif status == "INTERRUPTED":
        summary.interrupted.append(run_id)
    else:
        summary.failed.append((run_id, why))


def _push_result(
    repo: GitRepo, remote: str, run_id: str, summary: WorkerSummary, echo: Echo
) -> None:
    try:
        report = push(repo, remote, [run_id])
    except GitxpError as err:
        summary.not_pushed.append((run_id, str(err)))
        echo(f"gitxp: warning: run {run_id} was not pushed: {err}")
        return
    if not report.ok:
        why = "; ".join(reason for _, reason in report.conflicts + report.rejected)
        summary.not_pushed.append((run_id, why))
        echo(f"gitxp: warning: run {run_id} was not pushed to {report.remote}: {why}")


def _run_dir(worktree: Path, cwd: str) -> tuple[Path, str]:
    """The run's folder inside the worktree; a recorded cwd that leaves it becomes '.'."""
    if os.path.isabs(cwd) or ".." in Path(cwd).parts:
        cwd = "."
    path = worktree / cwd
    path.mkdir(parents=True, exist_ok=True)
    return path, cwd


def _execute(
    repo: GitRepo,
    recorder: Recorder,
    queued: QueuedRun,
    python: str | None,
    env: str,
    stop: _StopFlag,
    lock: str | None,
) -> tuple[str, str]:
    """Run a claimed run to its end; returns its final status and first error line."""
    info = queued.info
    if stop.requested:
        recorder.finish("INTERRUPTED", fail_trace="the worker was stopped before the run started")
        return "INTERRUPTED", ""
    rec = RunRecord.load(repo, queued.ref)
    extra_env = venv_env(python) if env == "venv" and python else {}
    try:
        with (
            temporary_worktree(repo, rec) as worktree,
            tempfile.TemporaryDirectory(prefix="gitxp-resume-") as previous,
        ):
            run_dir, rel_cwd = _run_dir(worktree, str(info.get("cwd") or "."))
            resumes = info.get("resumes")
            if isinstance(resumes, str) and repo.ref_target(run_ref(resumes)):
                from gitxp.api import RESUME_DIR_ENV, RESUMED_FROM_ENV

                target = repo.ref_target(run_ref(resumes)) or ""
                old = RunRecord.load(repo, RunRef(resumes, run_ref(resumes), target))
                extract_artifacts(repo, old, Path(previous))
                extra_env = {**extra_env, RESUME_DIR_ENV: previous, RESUMED_FROM_ENV: resumes}
                recorder.meta["run"]["resumed_from"] = resumes
            options = RunOptions(
                name=info.get("name"),
                capture=str(info.get("capture") or "fd"),
                python=python,
                run_id=queued.ref.id,
                cwd=str(run_dir),
                record_cwd=rel_cwd,
                env=extra_env,
                push="false",  # the worker pushes to its --remote itself
                env_lock=lock,
            )
            run(repo, queued.args, options, recorder=recorder)
    except GitxpError as err:
        if recorder.spool.path.exists():
            recorder.finish("FAILED", exit_code=None, fail_trace=f"gitxp worker: {err}")
    target = repo.ref_target(queued.ref.ref) or queued.ref.commit
    final = RunRecord.load(repo, RunRef(queued.ref.id, queued.ref.ref, target))
    status = str(final.info.get("status"))
    return status, first_error_line(final) if status not in ("COMPLETED", "INTERRUPTED") else ""


# -- several workers side by side ------------------------------------------------------------


def worker_command(
    remote: str | None,
    sweep_id: str | None,
    max_runs: int | None,
    env: str,
    python: str | None,
) -> list[str]:
    """The ``gitxp worker`` command line of one worker process (what executors start)."""
    command = [sys.executable, "-m", "gitxp", "worker"]
    if remote is not None:
        command += ["--remote", remote]
    if sweep_id is not None:
        command += ["--sweep", sweep_id]
    if max_runs is not None:
        command += ["--max-runs", str(max_runs)]
    command += ["--env", env]
    if python is not None:
        command += ["--python", python]
    return command


def _pool(
    repo: GitRepo,
    remote: str | None,
    jobs: int,
    sweep_id: str | None,
    max_runs: int | None,
    env: str,
    python: str | None,
) -> WorkerSummary:
    """``jobs`` worker processes on this repository; their summaries merged."""
    shares = [None] * jobs if max_runs is None else _split(max_runs, jobs)
    summary = WorkerSummary()
    with tempfile.TemporaryDirectory(prefix="gitxp-workers-") as folder:
        procs = []
        for number, share in enumerate(s for s in shares if s != 0):
            path = Path(folder) / f"{number}.json"
            command = worker_command(remote, sweep_id, share, env, python)
            procs.append(
                (
                    subprocess.Popen(
                        command, cwd=repo.workdir, env={**os.environ, SUMMARY_ENV: str(path)}
                    ),
                    path,
                )
            )
        forward = _Forwarding([p for p, _ in procs])
        try:
            for proc, _ in procs:
                proc.wait()
        finally:
            forward.restore()
        for _, path in procs:
            if path.is_file():
                summary.merge(WorkerSummary.from_json(json.loads(path.read_text())))
    return summary


def _split(total: int, parts: int) -> list[int | None]:
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


class _Forwarding:
    """SIGTERM to the pool reaches every worker process (a terminal's Ctrl-C does already)."""

    def __init__(self, procs: list[subprocess.Popen[bytes]]) -> None:
        self.procs = procs
        self.saved: Any = None
        if threading.current_thread() is threading.main_thread():
            self.saved = signal.signal(signal.SIGTERM, self._handle)
            self.saved_int = signal.signal(signal.SIGINT, lambda s, f: None)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signum)

    def restore(self) -> None:
        if self.saved is not None:
            signal.signal(signal.SIGTERM, self.saved)
            signal.signal(signal.SIGINT, self.saved_int)


def write_summary(summary: WorkerSummary) -> None:
    """Leave the summary where a parent pool asked for it (``$GITXP_WORKER_SUMMARY``)."""
    path = os.environ.get(SUMMARY_ENV)
    if path:
        Path(path).write_text(json.dumps(summary.as_json()))
