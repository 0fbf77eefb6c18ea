"""Receiving a pack: written to a temporary file, indexed and checked, then installed.

The transport (:mod:`gitxp.share.transport`) streams what a server or a bundle sends into
a :class:`PackSink`; only a pack whose asked-for commits pass the checks of ``git fsck``
(:mod:`gitxp.git.packindex`) is moved into ``objects/pack/``, pack first and index last,
so readers never see an index alone. A failed fetch leaves nothing behind.
"""

from __future__ import annotations

import mmap
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from gitxp.errors import RemoteError, UntrustedObjectsError
from gitxp.git.packindex import (
    Entry,
    IndexedPack,
    PackError,
    read_pack,
    rewrite_pack,
    write_index,
)

Progress = Callable[[str], None]


class PackSink:
    """Writes an incoming pack to a temporary file and installs it once it is sound."""

    def __init__(self, pack_dir: Path, progress: Progress | None) -> None:
        pack_dir.mkdir(parents=True, exist_ok=True)
        self.pack_dir = pack_dir
        fd, name = tempfile.mkstemp(prefix="tmp_gitxp_", suffix=".pack", dir=pack_dir)
        self.path = Path(name)
        self.file = os.fdopen(fd, "wb")
        self.size = 0
        self.progress = progress
        self._reported = 0

    def write(self, data: bytes) -> int:
        self.file.write(data)
        self.size += len(data)
        if self.progress is not None and self.size - self._reported >= 1 << 20:
            self._reported = self.size
            self.progress(f"receiving objects: {self.size / (1 << 20):.1f} MiB\r")
        return len(data)

    def install(self, asked: list[str], promisor: bool = False) -> int:
        """Index and check the pack, move pack and index into place; returns the object count.

        Nothing is moved when a commit of ``asked`` is refused (see ``Connection.fetch``).
        """
        self.file.close()
        if self.size == 0:
            return 0
        damage = ""
        pack: IndexedPack | None = None
        with (
            open(self.path, "rb") as handle,
            mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as buf,
        ):
            try:
                pack = read_pack(buf)
            except PackError as err:  # handled here: its traceback holds views of buf
                damage = str(err)
        if pack is None:
            raise RemoteError(f"the pack received is damaged ({damage}); nothing was changed")
        refused = pack.refused(asked)
        if refused:
            raise UntrustedObjectsError(refused)
        entries, checksum = pack.entries, pack.checksum
        if pack.problems:  # bad objects nothing asked for reaches (a bundle holds all of
            entries, checksum = self._rewrite(pack.reachable(asked))  # them): leave them out
        if not entries:
            return 0
        final = self.pack_dir / f"pack-{checksum.hex()}"
        idx_tmp = self.path.with_suffix(".idx")
        with open(idx_tmp, "wb") as out:
            write_index(out, entries, checksum)
        for path in (self.path, idx_tmp):
            os.chmod(path, 0o444)
        if promisor:  # objects it refers to may be missing: git asks the remote for them
            final.with_suffix(".promisor").touch()
        os.replace(self.path, final.with_suffix(".pack"))  # the pack first, then its index:
        os.replace(idx_tmp, final.with_suffix(".idx"))  # readers never see an index alone
        if self.progress is not None:
            self.progress(f"received {len(entries)} objects ({self.size / (1 << 20):.1f} MiB)\n")
        return len(entries)

    def _rewrite(self, keep: set[bytes]) -> tuple[list[Entry], bytes]:
        """Replace the received pack by one of only the objects ``keep``."""
        clean = self.path.with_suffix(".clean")
        damage = ""
        try:
            with (
                open(self.path, "rb") as handle,
                mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as buf,
                open(clean, "wb") as out,
            ):
                try:
                    result = rewrite_pack(buf, keep, out)
                except PackError as err:  # handled here: its traceback holds views of buf
                    damage = str(err)
            if damage:
                raise RemoteError(f"the pack received is damaged ({damage}); nothing was changed")
            os.replace(clean, self.path)
        finally:
            clean.unlink(missing_ok=True)
        return result

    def discard(self) -> None:
        """Remove whatever temporary files are left (after install, or after a failure)."""
        if not self.file.closed:
            self.file.close()
        for path in (self.path, self.path.with_suffix(".idx")):
            try:
                path.unlink()
            except FileNotFoundError:
                pass
