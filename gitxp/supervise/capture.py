"""Tee a program's output to the terminal and to a log file, live and byte for byte.

:mod:`gitxp.supervise.child` runs a child process with the channels and copying of this
module; :class:`FdTee` captures the running Python
process itself (``python train.py`` using the Experiment API), including C extensions and
child processes. Modes: ``"no"`` (nothing captured, fds inherited), ``"fd"`` (fds 1 and 2
replaced by pipes or pseudo-terminals and copied) and ``"sys"``, which only :class:`FdTee`
distinguishes (it wraps ``sys.stdout``/``sys.stderr``); for a child process it is ``"fd"``.

Each of fds 1 and 2 that is a TTY is replaced by a pty (else by a pipe), so colour-aware
programs keep colours and progress bars fit the window (its size is copied; for a child it also
follows SIGWINCH). When fds 1 and 2 are the same terminal, both get *one* shared pty: the
interleaving is exactly what the terminal would show, and it is all copied to fd 1. Separate
streams are polled together, so their relative order is kept to within one read. The pty
does no output processing: the log holds the exact bytes written (``\\n``, not ``\\r\\n``).

Copying goes on after the producer ends until every stream is at EOF or, if a background
grandchild still holds one open, until 0.2 s pass without output (5 s at most). For a child
process the copying runs in a forked helper process of its own, so output keeps reaching
the terminal and the log (and the child never meets a broken pipe) even when the gitxp
process is killed with SIGKILL.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import select
import selectors
import sys
import termios
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO, cast

from gitxp.errors import UsageError

__all__ = ["MODES", "FdTee"]

MODES = ("no", "sys", "fd")
_CHUNK = 65536
_DRAIN_IDLE = 0.2
_DRAIN_MAX = 5.0
_POLL = 0.05  # child-exit polling interval when pidfd_open is unavailable


def _check_mode(mode: str) -> None:
    if mode not in MODES:
        raise UsageError(f"unknown capture mode {mode!r}; use one of: no, sys, fd")


def _flush_std() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(AttributeError, OSError, ValueError):
            stream.flush()


def _open_log(log_path: Path | str) -> int:
    path = Path(log_path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as err:
        raise UsageError(f"cannot open log file {path}: {err.strerror}") from None


def _fill_closed_std_fds() -> None:
    """Point a closed fd 1 or 2 at /dev/null, so that no fd we open lands on it."""
    for target in (1, 2):
        try:
            os.fstat(target)
        except OSError:
            fd = os.open(os.devnull, os.O_WRONLY)
            if fd != target:
                os.dup2(fd, target)
                os.close(fd)


def _close(*fds: int | None) -> None:
    for fd in fds:
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view) :]
        except BlockingIOError:  # a terminal someone switched to O_NONBLOCK
            select.select([], [fd], [], 1.0)


def _copy_winsize(src: int, dst: int) -> None:
    with contextlib.suppress(OSError):
        fcntl.ioctl(dst, termios.TIOCSWINSZ, fcntl.ioctl(src, termios.TIOCGWINSZ, bytes(8)))


class _Channels:
    """Pipes or pseudo-terminals that stand in for fds 1 and 2 of a producer."""

    def __init__(self) -> None:
        self.producer: dict[int, int] = {}  # target fd -> write end given to the producer
        self.links: list[tuple[int, int]] = []  # (read end, target fd)
        self.masters: list[tuple[int, int]] = []  # (pty master, target fd)
        try:
            shared = os.isatty(1) and os.isatty(2) and os.path.samestat(os.fstat(1), os.fstat(2))
            for target in (1, 2):
                if shared and target == 2:
                    self.producer[2] = self.producer[1]
                elif os.isatty(target):
                    read_end, self.producer[target] = os.openpty()
                    self.links.append((read_end, target))
                    self.masters.append((read_end, target))
                    attrs = termios.tcgetattr(self.producer[target])
                    attrs[1] &= ~termios.OPOST  # keep the program's bytes as written
                    termios.tcsetattr(self.producer[target], termios.TCSANOW, attrs)
                    _copy_winsize(target, read_end)
                else:
                    read_end, self.producer[target] = os.pipe()
                    self.links.append((read_end, target))
        except BaseException:
            self.close_all()
            raise

    def resize(self) -> None:
        """Copy the current window size of each terminal to its pty."""
        for master, target in self.masters:
            _copy_winsize(target, master)

    def close_producers(self) -> None:
        """Close the producer's ends (after they were handed over)."""
        _close(*set(self.producer.values()))
        self.producer.clear()

    def close_all(self) -> None:
        """Close every fd still owned."""
        self.close_producers()
        _close(*(read_end for read_end, _ in self.links))
        self.links, self.masters = [], []


def _pump(
    links: Sequence[tuple[int, int]],
    log_fd: int | None,
    warn_fd: int,
    wake_fd: int | None,
    finished: Callable[[], bool] | None = None,
) -> None:
    """Copy each chunk to its output fd, then append it to the log, as it arrives.

    Ends when all streams are at EOF, or when they are quiet after ``wake_fd`` became
    readable or ``finished()`` (polled) returned true. A failing output is dropped (the
    log goes on); a failing log is dropped with one warning on ``warn_fd``.
    """
    dead: set[int] = set()
    sel = selectors.DefaultSelector()
    try:
        for read_end, out_fd in links:
            sel.register(read_end, selectors.EVENT_READ, out_fd)
        if wake_fd is not None:
            sel.register(wake_fd, selectors.EVENT_READ, None)
        open_streams, done_at = len(links), None
        while open_streams:
            if done_at is not None and time.monotonic() - done_at > _DRAIN_MAX:
                break
            idle = _POLL if finished is not None else None
            events = sel.select(idle if done_at is None else _DRAIN_IDLE)
            if done_at is not None and not events:
                break
            for key, _ in events:
                try:
                    data = b"" if key.data is None else os.read(key.fd, _CHUNK)
                except OSError as err:
                    if err.errno != errno.EIO:  # EIO: a pty master whose slaves all closed
                        raise
                    data = b""
                if not data:
                    sel.unregister(key.fd)
                    if key.data is None:
                        done_at = time.monotonic()
                    else:
                        open_streams -= 1
                    continue
                if key.data not in dead:
                    try:
                        _write_all(key.data, data)
                    except OSError:  # terminal gone or reader closed: keep logging
                        dead.add(key.data)
                if log_fd is not None:
                    try:
                        _write_all(log_fd, data)
                    except OSError as err:
                        log_fd = None
                        msg = f"gitxp: warning: stopped writing the output log: {err.strerror}\n"
                        with contextlib.suppress(OSError):
                            _write_all(warn_fd, msg.encode())
            if done_at is None and finished is not None and finished():
                done_at = time.monotonic()
    finally:
        sel.close()


class _Tee:
    """Stands in for ``sys.stdout``/``sys.stderr`` (or their ``.buffer``) in ``"sys"`` mode."""

    def __init__(self, original: Any, log: Any, text: _Tee | None = None) -> None:
        self._original, self._log, self._text = original, log, text
        self._encoding = getattr(original, "encoding", None) or "utf-8"

    def write(self, data: Any) -> int:
        """Write ``data`` (str, or bytes for ``.buffer``) to the original and to the log."""
        if self._original is not None:
            if self._text is not None:
                self._text.flush()  # keep order with text not yet flushed
            self._original.write(data)
        raw = data.encode(self._encoding, "backslashreplace") if isinstance(data, str) else data
        with contextlib.suppress(OSError, ValueError):
            self._log.write(bytes(raw))
        return len(data)

    def writelines(self, lines: Sequence[Any]) -> None:
        """Write each of ``lines``."""
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        """Flush the original stream (the log is unbuffered)."""
        if self._original is not None:
            self._original.flush()

    @property
    def buffer(self) -> _Tee:
        """The binary stream underneath, teed as well."""
        return _Tee(getattr(self._original, "buffer", None), self._log, self)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._original, name)


class FdTee:
    """Capture this process's output into ``log_path`` for the duration of a ``with``.

    ``"fd"``: fds 1 and 2 point at pipes (ptys for terminals) while a background thread
    copies everything to the original fds and the log, so C extensions and child processes
    are captured too (a terminal gets a pty; its window size is copied once, at entry).
    ``"sys"``: only ``sys.stdout``/``sys.stderr`` (and their ``.buffer``) are wrapped, so
    writes to the fds themselves are not captured. ``"no"``: nothing. An instance can be
    reused after it exits but not entered twice at once; nesting separate instances works.
    """

    def __init__(self, log_path: Path | str, mode: str = "fd") -> None:
        _check_mode(mode)
        self.log_path = Path(log_path)
        self.mode = mode
        self._active = False
        self._owned: list[int] = []  # fds to close on exit
        self._saved: dict[int, int] = {}  # 1, 2 -> a duplicate of the original
        self._chans: _Channels | None = None
        self._wake: int | None = None
        self._thread: threading.Thread | None = None
        self._sys: tuple[Any, Any] | None = None
        self._log_file: Any = None

    def __enter__(self) -> FdTee:
        if self._active:
            raise UsageError("this FdTee is already capturing; create another one to nest")
        if self.mode == "sys":
            self._log_file = os.fdopen(_open_log(self.log_path), "ab", buffering=0)
            self._sys = (sys.stdout, sys.stderr)
            sys.stdout = cast(TextIO, _Tee(sys.stdout, self._log_file))
            sys.stderr = cast(TextIO, _Tee(sys.stderr, self._log_file))
        elif self.mode == "fd":
            self._start_fd()
        self._active = True
        return self

    def _start_fd(self) -> None:
        _flush_std()
        _fill_closed_std_fds()
        log_fd = _open_log(self.log_path)
        self._owned.append(log_fd)
        try:
            self._chans = chans = _Channels()
            for target in (1, 2):
                self._saved[target] = os.dup(target)
                self._owned.append(self._saved[target])
            wake_read, self._wake = os.pipe()
            self._owned += [wake_read, self._wake]
            for target in (1, 2):
                os.dup2(chans.producer[target], target)
            chans.close_producers()
            links = [(read_end, self._saved[target]) for read_end, target in chans.links]
            args = (links, log_fd, self._saved[2], wake_read)
            self._thread = threading.Thread(target=_quiet_pump, args=args, daemon=True)
            self._thread.start()
        except BaseException:
            self._stop_fd()
            raise

    def _stop_fd(self) -> None:
        _flush_std()
        for target, saved in self._saved.items():
            os.dup2(saved, target)  # drops our last reference to the pipe/pty: EOF
        if self._thread is not None and self._wake is not None:
            with contextlib.suppress(OSError):
                os.write(self._wake, b"x")
            self._thread.join()
        if self._chans is not None:
            self._chans.close_all()
        _close(*self._owned)
        self._owned, self._saved = [], {}
        self._chans = self._thread = self._wake = None

    def __exit__(self, *exc_info: object) -> None:
        if not self._active:
            return
        try:
            if self.mode == "sys" and self._sys is not None:
                _flush_std()
                sys.stdout, sys.stderr = self._sys
                self._sys = None
                self._log_file.close()
                self._log_file = None
            elif self.mode == "fd":
                self._stop_fd()
        finally:
            self._active = False


def _quiet_pump(links: list[tuple[int, int]], log_fd: int, warn_fd: int, wake_fd: int) -> None:
    with contextlib.suppress(Exception):  # nothing sensible to do about it in a daemon thread
        _pump(links, log_fd, warn_fd, wake_fd)
