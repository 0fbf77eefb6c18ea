"""Signals during ``gitxp run``: each one reaches the child exactly once.

:class:`Forwarder` is installed while a child runs. When gitxp's process group is a
terminal's foreground group, the child shares it, so a terminal Ctrl-C reaches it directly
and is not sent again. Otherwise (process managers, schedulers, a job started with ``&``)
the child has a group of its own and every SIGINT/SIGTERM gitxp gets is forwarded once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

__all__ = ["Forwarder", "terminal_delivers_sigint"]


def terminal_delivers_sigint() -> bool:
    """Whether a terminal Ctrl-C reaches our process group (so it reached the child too)."""
    try:
        fd = os.open("/dev/tty", os.O_RDONLY | os.O_NOCTTY | os.O_NONBLOCK)
    except OSError:
        return False
    try:
        return os.tcgetpgrp(fd) == os.getpgrp()
    except OSError:
        return False
    finally:
        os.close(fd)


class Forwarder:
    """Forward SIGINT/SIGTERM (and window resizes) to the child while it runs.

    ``own_group``: the child runs in a process group of its own, so no signal sent to
    gitxp's group reaches it and each one is forwarded exactly once. Otherwise (a terminal
    whose foreground group is ours) a SIGINT is the terminal's Ctrl-C, which the child got
    already: it is not forwarded.
    """

    def __init__(self, resize: Callable[[], None] | None, own_group: bool = False) -> None:
        self.proc: subprocess.Popen[bytes] | None = None
        self.resize = resize
        self.own_group = own_group
        self.interrupted = False
        self.early: list[int] = []
        self.saved: dict[int, Any] = {}
        if threading.current_thread() is not threading.main_thread():
            return  # Python runs signal handlers in the main thread only
        wanted = [signal.SIGINT, signal.SIGTERM]
        if resize is not None:
            wanted.append(signal.SIGWINCH)
        for signum in wanted:
            if signal.getsignal(signum) is not signal.SIG_IGN:  # nohup, `cmd &`: inherit that
                self.saved[signum] = signal.signal(signum, self._handle)

    def restore(self) -> None:
        """Put the previous handlers back."""
        for signum, handler in self.saved.items():
            signal.signal(signum, handler)
        self.saved.clear()

    def started(self, proc: subprocess.Popen[bytes]) -> None:
        """Record the child and deliver signals that arrived while it was starting."""
        self.proc = proc
        for signum in self.early:
            proc.send_signal(signum)  # a no-op once the child has been reaped

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if signum == signal.SIGWINCH:
            if self.resize is not None:
                self.resize()
            return
        self.interrupted = True
        if self.proc is None:
            self.early.append(signum)
        elif self.own_group or signum != signal.SIGINT or not terminal_delivers_sigint():
            self.proc.send_signal(signum)
