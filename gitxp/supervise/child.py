"""Starting the program of a run, at once or early: held at a gate until the run exists.

:func:`run_command` runs a program with its output teed (:mod:`gitxp.supervise.capture`)
and returns how it ended. :class:`Child` does the same in two steps, so that a Python
script's interpreter starts while ``gitxp run`` takes the snapshot: with ``gated=True`` the
program is started with the read end of a pipe (its number in ``GITXP_GATE_FD``), and
gitxp's ``sitecustomize`` (``startup/``) waits on it before anything of the user's runs.
:meth:`Child.release` writes the run's variables (``GITXP_SPOOL`` …) into the pipe and
closes it; the program sets them in ``os.environ`` and goes on. A gate closed without them
(:meth:`Child.abandon`, or a supervisor that died) makes the program exit at once.

While the program runs, the helper process that copies its output holds the spool's lock
(inherited from ``gitxp run``) until the program has exited, so a killed ``gitxp run``
never lets another command seal a run whose program still writes to its spool.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from gitxp.errors import UsageError
from gitxp.supervise.capture import (
    _POLL,
    _Channels,
    _check_mode,
    _close,
    _fill_closed_std_fds,
    _flush_std,
    _open_log,
    _pump,
)
from gitxp.supervise.signals import Forwarder, terminal_delivers_sigint

__all__ = ["GATE_ENV", "Child", "ChildResult", "CommandStartError", "run_command"]

GATE_ENV = "GITXP_GATE_FD"
GATE_OPEN = b"go\0"  # then NAME=VALUE entries, each ended by a NUL byte, then a NUL byte
_ABANDON_WAIT = 5.0  # seconds a program at a closed gate gets to exit before it is killed


@dataclass(frozen=True)
class ChildResult:
    """How a child ended: ``returncode`` is ``128 + signum`` when a signal killed it."""

    returncode: int
    signal: int | None
    interrupted: bool


class CommandStartError(UsageError, OSError):
    """The command could not be started (not found, not executable, bad cwd).

    Both a :class:`UsageError` (one-line message) and an :class:`OSError` carrying the
    cause's ``errno``/``strerror``/``filename``, so callers may catch either.
    """

    def __init__(self, message: str, cause: OSError) -> None:
        super().__init__(message)
        self.errno, self.strerror, self.filename = cause.errno, cause.strerror, cause.filename


class Child:
    """A started program whose output is teed; :meth:`release` waits for its end.

    ``gated``: the program waits at its gate (a Python script started with gitxp's
    ``sitecustomize``) until :meth:`release`; ``log_path`` may then be given there, once
    the spool exists. Signals are forwarded from :meth:`release` on (see
    :func:`run_command`); before it, a Ctrl-C ends ``gitxp run`` as it would without a
    child, and :meth:`abandon` (the caller's ``except``) lets the program go.
    """

    def __init__(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str],
        cwd: str,
        log_path: Path | None = None,
        mode: str = "fd",
        keep_fds: Sequence[int] = (),
        gated: bool = False,
    ) -> None:
        _check_mode(mode)
        if isinstance(argv, (str, bytes)):
            raise UsageError("the command must be a list of arguments, not one string")
        args = [os.fspath(a) for a in argv]
        if not args:
            raise UsageError("no command given to run")
        _flush_std()
        if mode != "no":
            _fill_closed_std_fds()
        self.log_fd = _open_log(log_path) if mode != "no" and log_path is not None else None
        self.chans: _Channels | None = None
        self.fwd: Forwarder | None = None
        self.proc: subprocess.Popen[bytes] | None = None
        self.gate: int | None = None
        self.own_group = not terminal_delivers_sigint()
        try:
            self.chans = _Channels() if mode != "no" else None
            if not gated:
                self.fwd = self._forwarder()
            env = dict(env)
            read_end = None
            if gated:
                read_end, self.gate = os.pipe()
                env[GATE_ENV] = str(read_end)
                keep_fds = [*keep_fds, read_end]
            try:
                self.proc = _spawn(args, env, cwd, self.chans, keep_fds, self.own_group)
            finally:
                _close(read_end)
            if self.fwd is not None:
                self.fwd.started(self.proc)
        except BaseException:
            self.abandon()
            raise

    def _forwarder(self) -> Forwarder:
        chans = self.chans
        return Forwarder(
            chans.resize if chans is not None and chans.masters else None, self.own_group
        )

    def release(
        self, log_path: Path | None = None, env: Mapping[str, str] | None = None
    ) -> ChildResult:
        """Tee the output (into ``log_path`` if not given before), open the gate with
        ``env`` and return once the program has exited and its output is drained."""
        assert self.proc is not None
        pump: int | None = None
        try:
            if self.chans is not None and self.log_fd is None and log_path is not None:
                self.log_fd = _open_log(log_path)
            if self.fwd is None:
                self.fwd = self._forwarder()
                self.fwd.started(self.proc)
            if self.gate is not None:  # first: the helper must not hold the gate open
                entries = b"".join(f"{k}={v}".encode() + b"\0" for k, v in (env or {}).items())
                with contextlib.suppress(BrokenPipeError):  # the program is gone already
                    os.write(self.gate, GATE_OPEN + entries + b"\0")
                _close(self.gate)
                self.gate = None
            if self.chans is not None:
                pump = _fork_pump(self.chans, self.log_fd, self.proc.pid, self.own_group)
            returncode = self.proc.wait()
            if pump is not None:
                _wait_pid(pump)
                pump = None
            interrupted = self.fwd.interrupted
        except BaseException:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            if pump is not None:
                _wait_pid(pump)
            raise
        finally:
            self._close()
        if returncode < 0:
            return ChildResult(128 - returncode, -returncode, interrupted)
        return ChildResult(returncode, None, interrupted)

    def abandon(self) -> None:
        """The run could not start: close the gate unopened, so the program exits before
        any of the user's code, and wait for it (killed if it does not go)."""
        _close(self.gate)
        self.gate = None
        if self.chans is not None:
            self.chans.close_all()
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.proc.wait(timeout=_ABANDON_WAIT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._close()

    def _close(self) -> None:
        if self.fwd is not None:
            self.fwd.restore()
        if self.chans is not None:
            self.chans.close_all()
        _close(self.log_fd)
        self.log_fd = None


def run_command(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: str,
    log_path: Path,
    mode: str = "fd",
    keep_fds: Sequence[int] = (),
) -> ChildResult:
    """Run ``argv`` with stdin inherited, teeing its stdout/stderr live to ours and the log.

    Signals reach the child once. When gitxp's process group is a terminal's foreground
    group, the child stays in it, so a terminal Ctrl-C reaches it directly (and is not
    forwarded again). Otherwise (no terminal: process managers, schedulers, ``&``) the
    child gets a process group of its own, and every SIGINT/SIGTERM gitxp receives, sent
    to gitxp alone or to its whole group, is forwarded to the child exactly once; a
    script that catches KeyboardInterrupt to save a checkpoint is never interrupted in
    its handler by a second copy. ``interrupted`` is true when gitxp got either signal.
    ``keep_fds`` stay open in the child (the spool's lock). Returns once the child has
    exited and its output is drained.
    """
    child = Child(argv, env=env, cwd=cwd, log_path=log_path, mode=mode, keep_fds=keep_fds)
    return child.release()


def _alive(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            return handle.read().rsplit(b")", 1)[-1].split()[0] != b"Z"
    except (OSError, IndexError):
        return False


def _fork_pump(chans: _Channels, log_fd: int | None, child: int, own_group: bool) -> int:
    """Copy the child's output in a helper process that outlives a killed gitxp.

    The helper ignores the signals that stop a run (it ends when the output does), joins
    the child's process group when the child has one, and holds the spool's lock like
    the child. gitxp keeps only the pty masters (to pass on window sizes).
    """
    _flush_std()
    pid = os.fork()
    if pid == 0:  # the helper: nothing but system calls until _exit
        try:
            for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                signal.signal(signum, signal.SIG_IGN)
            signal.signal(signal.SIGWINCH, signal.SIG_DFL)
            if own_group:
                with contextlib.suppress(OSError):
                    os.setpgid(0, child)
            pidfd = None
            with contextlib.suppress(AttributeError, OSError):
                pidfd = os.pidfd_open(child)  # readable when the child exits
            poll = None if pidfd is not None else (lambda: not _alive(child))
            _pump(chans.links, log_fd, 2, pidfd, poll)
            _wait_exit(child, pidfd)  # a child that closed its output lives on: keep the lock
        finally:
            os._exit(0)
    masters = {master for master, _ in chans.masters}
    _close(*(read_end for read_end, _ in chans.links if read_end not in masters))
    chans.links = [(read_end, target) for read_end, target in chans.links if read_end in masters]
    return pid


def _wait_exit(pid: int, pidfd: int | None) -> None:
    """Return once process ``pid`` (not our child) has exited."""
    if pidfd is not None:
        select.select([pidfd], [], [])
        return
    while _alive(pid):
        time.sleep(_POLL)


def _wait_pid(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)


def _spawn(
    args: list[str],
    env: Mapping[str, str],
    cwd: str,
    chans: _Channels | None,
    keep_fds: Sequence[int] = (),
    own_group: bool = False,
) -> subprocess.Popen[bytes]:
    out, err = (chans.producer[1], chans.producer[2]) if chans is not None else (None, None)
    try:
        return subprocess.Popen(
            args,
            env=dict(env),
            cwd=cwd,
            stdout=out,
            stderr=err,
            pass_fds=tuple(keep_fds),
            process_group=0 if own_group else None,
        )
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename not in (None, args[0]) else ""
        raise CommandStartError(f"cannot run {args[0]!r}: {exc.strerror}{where}", exc) from None
    finally:
        if chans is not None:
            chans.close_producers()  # the child has its copies
