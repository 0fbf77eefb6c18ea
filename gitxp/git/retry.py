"""Riding out git's own housekeeping, and telling a full disk from a bug.

``git gc``, ``git prune``, ``git pack-refs`` and ``git reflog expire`` run beside gitxp in a
user's repository: prune removes an empty ``objects/xx/`` folder libgit2 has just made,
pack-refs holds a ref's lock for a moment, a file is rewritten while the snapshot reads
it. Each of those fails one write that succeeds when tried again, so :func:`retried`
tries again (for up to about five seconds) before giving up. A write that fails because
the disk is full raises :class:`gitxp.errors.DiskFullError` instead: one line for the
user, never an internal error.
"""

from __future__ import annotations

import errno
import functools
import time
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import pygit2

from gitxp.errors import DISK_FULL_MESSAGE, DiskFullError

P = ParamSpec("P")
T = TypeVar("T")

_RETRY_FOR = 5.0
_TRANSIENT = (
    "failed to rename lockfile",
    "no such file or directory",
    "failed to lock",
    "failed to create locked file",
    "is locked",
    "locked by another",
    "failed to read file into stream",
    "failed to write reference",
)
_DISK_FULL = ("no space left on device", "disk quota exceeded")
_DISK_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)


def is_disk_full(err: BaseException) -> bool:
    """Whether ``err`` (an OSError or a libgit2 error) says the disk or quota is full."""
    if isinstance(err, OSError) and err.errno in _DISK_FULL_ERRNOS:
        return True
    return any(text in str(err).lower() for text in _DISK_FULL)


def _transient(err: BaseException) -> bool:
    text = str(err).lower()
    return any(part in text for part in _TRANSIENT)


def retried(func: Callable[P, T]) -> Callable[P, T]:
    """``func`` tried again while it fails the way git's housekeeping makes writes fail."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        deadline = time.monotonic() + _RETRY_FOR
        delay = 0.005
        while True:
            try:
                return func(*args, **kwargs)
            except (pygit2.GitError, OSError) as err:
                if is_disk_full(err):
                    raise DiskFullError(DISK_FULL_MESSAGE) from None
                if not _transient(err) or time.monotonic() > deadline:
                    raise
            time.sleep(delay)
            delay = min(delay * 2, 0.2)

    return wrapper
