"""The local pool: ``-j N`` worker processes on this machine, on this repository.

Each worker is an ordinary ``gitxp worker --sweep ID`` process started in the
repository (options: ``repo``, ``jobs`` (a number or ``auto``: one per CPU), ``remote``,
``env``, ``python``). The workers claim the sweep's queued runs from the repository's
refs, so no two take the same run; a worker ends when nothing of the sweep is queued.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from gitxp.errors import ExecutorError
from gitxp.sweep.executors import Handle, HandleStatus, option_int
from gitxp.sweep.plan import PlannedRun, Sweep
from gitxp.sweep.worker import worker_command

NAME = "local"


def jobs_option(text: str | None) -> int:
    """``-j``: a number of at least 1, or ``auto`` (the CPUs this process may use)."""
    if text is None or text == "":
        return 1
    if text == "auto":
        return max(len(os.sched_getaffinity(0)), 1)
    jobs = option_int({"jobs": text}, "jobs", 1)
    if jobs < 1:
        raise ExecutorError("-j must be at least 1 (or auto)")
    return jobs


class LocalExecutor:
    """Worker processes on this machine."""

    def __init__(self, options: Mapping[str, str]) -> None:
        self.repo = options.get("repo") or os.getcwd()
        self.jobs = jobs_option(options.get("jobs"))
        self.remote = options.get("remote") or None
        self.env = options.get("env") or "current"
        self.python = options.get("python") or None
        self.log_dir = options.get("log_dir") or None  # workers' own output, if given
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def submit(self, sweep: Sweep, planned: Sequence[PlannedRun]) -> list[Handle]:
        """Start min(jobs, runs) workers for the sweep."""
        handles = []
        for number in range(min(self.jobs, len(planned))):
            command = worker_command(self.remote, sweep.id, None, self.env, self.python)
            try:
                proc = self._start(command, number)
            except OSError as err:
                raise ExecutorError(f"cannot start a local worker: {err.strerror}") from None
            handle = Handle(NAME, str(proc.pid), " ".join(command))
            self.procs[handle.id] = proc
            handles.append(handle)
        return handles

    def _start(self, command: list[str], number: int) -> subprocess.Popen[bytes]:
        if self.log_dir is None:
            return subprocess.Popen(command, cwd=self.repo, stdin=subprocess.DEVNULL)
        folder = Path(self.log_dir)
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / f"worker-{number}.log", "ab") as log:
            return subprocess.Popen(
                command, cwd=self.repo, stdin=subprocess.DEVNULL, stdout=log, stderr=log
            )

    def status(self, handles: Sequence[Handle]) -> list[HandleStatus]:
        """running, done (exit 0), failed (exit status), cancelled (stopped by a signal)."""
        out = []
        for handle in handles:
            proc = self.procs.get(handle.id)
            if proc is None:
                out.append(HandleStatus(handle, "unknown", "not started by this executor"))
                continue
            code = proc.poll()
            if code is None:
                out.append(HandleStatus(handle, "running"))
            elif code == 0:
                out.append(HandleStatus(handle, "done"))
            elif code < 0 or code in (130, 143):
                out.append(HandleStatus(handle, "cancelled", f"signal {abs(code) % 128}"))
            else:
                out.append(HandleStatus(handle, "failed", f"exit status {code}"))
        return out

    def cancel(self, handles: Sequence[Handle]) -> None:
        """SIGTERM each worker: its run ends INTERRUPTED; then wait for it."""
        procs = [self.procs[h.id] for h in handles if h.id in self.procs]
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            proc.wait()

    def wait(self, handles: Sequence[Handle], timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the first unfinished worker; True when all ended."""
        for handle in handles:
            proc = self.procs.get(handle.id)
            if proc is not None and proc.poll() is None:
                try:
                    proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    return False
        return all(p.poll() is not None for p in self.procs.values())


def create(options: Mapping[str, str]) -> LocalExecutor:
    """The registry's constructor (see :func:`gitxp.sweep.executors.get_executor`)."""
    return LocalExecutor(options)
