"""The Dask executor: a sweep's workers as tasks on a Dask distributed cluster.

``submit`` connects a ``distributed.Client`` to the scheduler (``--scheduler
tcp://HOST:PORT``, or ``git config gitxp.dask.scheduler``) and submits one task per
planned run. A task makes a fresh repository in a temporary folder on its Dask worker and
runs ``gitxp worker --remote URL --sweep ID --max-runs 1`` there: the inputs arrive by git
fetch from the shared remote, the result leaves by git push, and ``gitxp sweep`` watches
the run refs come back with its progress display. Dask schedules; gitxp never does.

Dask cannot stop a task that is running, so ``cancel`` sets a Dask ``Event`` that the
tasks watch: each sends SIGTERM to its worker, which records its run INTERRUPTED and
pushes it; tasks not yet started are cancelled and their runs stay QUEUED. The package is
the ``dask`` extra: ``pip install 'gitxp[dask]'``.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from distributed import Client, Event, Future, wait

from gitxp.errors import ExecutorError
from gitxp.git.repo import GitRepo
from gitxp.share.remotes import local_path
from gitxp.sweep.executors import Handle, HandleStatus
from gitxp.sweep.plan import PlannedRun, Sweep
from gitxp.sweep.queue import TASK_ENV
from gitxp.sweep.worker import worker_command

NAME = "dask"
CONNECT_TIMEOUT = 5.0
CANCEL_TIMEOUT = 60.0  # how long cancel waits for interrupted runs to be recorded
STOP_POLL = 1.0  # seconds between a task's looks at the stop event
OUTPUT_TAIL = 20  # lines of a worker's output a task sends back


def run_worker(args: list[str], task: str, stop_event: str) -> dict[str, Any]:
    """The task ``task``: ``gitxp ARGS`` (a worker) in a new repository on this Dask worker.

    Returns its exit code, the host and the end of its output. Runs on the Dask worker, in
    that worker's Python: gitxp must be installed there.
    """
    stop = Event(stop_event)
    if stop.is_set():  # cancelled while it waited on this Dask worker
        return {"exit": 143, "host": socket.gethostname(), "output": "not started: cancelled"}
    with tempfile.TemporaryDirectory(prefix="gitxp-task-") as folder:
        repo = Path(folder) / "repo"
        log = Path(folder) / "worker.log"
        init = subprocess.run(["git", "init", "--quiet", str(repo)], capture_output=True, text=True)
        if init.returncode != 0:
            return {"exit": init.returncode, "host": socket.gethostname(), "output": init.stderr}
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "gitxp", *args],
                cwd=repo,
                env={**os.environ, TASK_ENV: task},
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
            signalled = False
            while True:
                try:
                    code = proc.wait(STOP_POLL)
                    break
                except subprocess.TimeoutExpired:
                    if not signalled and stop.is_set():
                        proc.send_signal(signal.SIGTERM)
                        signalled = True
        tail = log.read_text(errors="replace").splitlines()[-OUTPUT_TAIL:]
    return {"exit": code, "host": socket.gethostname(), "output": "\n".join(tail)}


class DaskExecutor:
    """Planned runs as tasks of a Dask distributed cluster."""

    def __init__(self, options: Mapping[str, str]) -> None:
        repo = GitRepo(options.get("repo") or os.getcwd())
        self.env = options.get("env") or "current"
        self.python = options.get("python") or None
        self.scheduler = options.get("scheduler") or repo.config_value("gitxp.dask.scheduler")
        if not self.scheduler:
            raise ExecutorError(
                "the dask executor needs --scheduler tcp://HOST:PORT "
                "(or git config gitxp.dask.scheduler)"
            )
        url = options.get("remote_url")
        if not url:
            raise ExecutorError(
                "the dask executor needs --remote: its tasks fetch the queued runs from a "
                "shared remote and push their results there"
            )
        path = local_path(url)
        self.remote_url = str((repo.workdir / path).resolve()) if path is not None else url
        try:
            self.client = Client(self.scheduler, timeout=CONNECT_TIMEOUT, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as err:
            raise ExecutorError(
                f"cannot reach the Dask scheduler at {self.scheduler}: {err}; "
                "start one ('dask scheduler') or fix --scheduler"
            ) from None
        self.futures: dict[str, Future] = {}
        self.stop_event = f"gitxp-stop-{uuid.uuid4().hex}"

    def submit(self, sweep: Sweep, planned: Sequence[PlannedRun]) -> list[Handle]:
        """A task per planned run; a handle per task (its Dask key)."""
        args = worker_command(self.remote_url, sweep.id, 1, self.env, self.python)[3:]
        handles = []
        for run in planned:
            key = f"gitxp-worker-{run.run_id}"
            self.futures[key] = self.client.submit(
                run_worker, args, key, self.stop_event, key=key, pure=False
            )
            handles.append(Handle(NAME, key, f"task on {self.scheduler}"))
        return handles

    def status(self, handles: Sequence[Handle]) -> list[HandleStatus]:
        """pending (Dask has not finished it), done, failed (exit status or an exception),
        cancelled (the worker was stopped)."""
        return [self._status(handle) for handle in handles]

    def _status(self, handle: Handle) -> HandleStatus:
        future = self.futures.get(handle.id)
        if future is None:
            return HandleStatus(handle, "unknown", "not submitted by this client")
        if future.status == "cancelled":
            return HandleStatus(handle, "cancelled", "cancelled before it started")
        if future.status == "error":
            return HandleStatus(handle, "failed", repr(future.exception()))
        if future.status != "finished":
            return HandleStatus(handle, "pending", str(future.status))
        result = future.result()
        code, host = result.get("exit"), result.get("host")
        if code == 0:
            return HandleStatus(handle, "done", f"on {host}")
        lines = str(result.get("output") or "").splitlines()
        last = lines[-1] if lines else ""
        state = "cancelled" if code in (130, 143, -signal.SIGTERM) else "failed"
        return HandleStatus(handle, state, f"exit {code} on {host}: {last}")

    def cancel(self, handles: Sequence[Handle]) -> None:
        """Stop the tasks: running workers get SIGTERM, waiting tasks are cancelled."""
        futures = [self.futures[h.id] for h in handles if h.id in self.futures]
        Event(self.stop_event, client=self.client).set()
        processing = self.client.processing()
        running = {key for keys in processing.values() for key in keys}
        self.client.cancel([f for f in futures if f.key not in running])
        try:
            with self.client.as_current():
                wait([f for f in futures if f.key in running], timeout=CANCEL_TIMEOUT)
        except TimeoutError:
            raise ExecutorError(
                f"Dask tasks did not stop within {CANCEL_TIMEOUT:.0f} s; their runs may "
                "still be RUNNING: 'gitxp recover' seals them once they died"
            ) from None


def create(options: Mapping[str, str]) -> DaskExecutor:
    """The registry's constructor (see :func:`gitxp.sweep.executors.get_executor`)."""
    return DaskExecutor(options)
