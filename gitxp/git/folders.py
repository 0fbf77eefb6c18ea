"""GitRepo's reads of record files: one folder of one commit read file by file (what the
query reads of each run), blobs by path with their size checked first, bulk reads.
Mixed into :class:`gitxp.git.repo.GitRepo`; import that, not this.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Callable, Container, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pygit2

from gitxp.errors import BlobTooLargeError

_DEFLATE_RATIO = 1032  # the most a byte of deflate's output can inflate to
_BULK_WINDOWS = (8 << 20, 32 << 20)  # pack window size, and the most mapped at once


class FolderMixin:
    """Reads of record files of :class:`gitxp.git.repo.GitRepo`."""

    repo: pygit2.Repository
    common_dir: Path

    if TYPE_CHECKING:

        def blob_bytes(self, blob: pygit2.Blob | str) -> bytes: ...
        def _commit(self, commit: str) -> pygit2.Commit: ...

    def read_path(self, commit: str, path: str, max_size: int | None = None) -> bytes | None:
        """The content of the blob at ``path`` in ``commit``'s tree, or None.

        A blob larger than ``max_size`` raises BlobTooLargeError before it is read.
        """
        tree = self._commit(commit).tree
        try:
            entry = tree[path]
        except KeyError:
            return None
        if entry.type_str != "blob":
            return None
        if max_size is not None:
            size = self._oversized(entry.id, max_size)
            if size is not None:
                raise BlobTooLargeError(path, size)
        return self.blob_bytes(str(entry.id))

    def _oversized(self, oid: pygit2.Oid, limit: int) -> int | None:
        """The size of blob ``oid`` if it is larger than ``limit``, else None.

        A loose object's file of n bytes inflates to at most 1032·n (deflate's largest
        ratio): a stat of a small one costs less than reading its header."""
        name = str(oid)
        try:
            stored = os.stat(f"{self.common_dir}/objects/{name[:2]}/{name[2:]}").st_size
        except OSError:  # packed, or in an alternate
            stored = limit
        if stored * _DEFLATE_RATIO <= limit:
            return None
        size = self._blob_size(oid)
        return size if size > limit else None

    def _blob_size(self, oid: pygit2.Oid) -> int:
        """The size of blob ``oid`` from its header (0 when a partial fetch left it out)."""
        try:
            return int(self.repo.odb.read_header(oid)[1])
        except KeyError:
            return 0

    def commit_folder(self, commit: str, folder: str) -> CommitFolder:
        """``folder`` of ``commit``'s tree, to read files from: one lookup of the commit,
        its tree and the folder, however many files are read. The query layer reads
        thousands of run records with this (no rev-parse, no second read of the commit)."""
        try:
            obj = self.repo.get(pygit2.Oid(hex=commit))
        except ValueError:  # not an object id
            obj = None
        kind = None if obj is None else obj.type_str
        if not isinstance(obj, pygit2.Commit):
            return CommitFolder(self.blob_bytes, self._oversized, kind, [], folder, None)
        parents = [str(p) for p in obj.parent_ids]
        try:
            sub = obj.tree[folder]
        except (KeyError, pygit2.GitError):
            sub = None
        tree = sub if isinstance(sub, pygit2.Tree) else None
        return CommitFolder(self.blob_bytes, self._oversized, kind, parents, folder, tree)


class CommitFolder:
    """One folder of one commit (:meth:`GitRepo.commit_folder`); ``kind`` is what the id
    named (``commit``, ``tree``, ``blob``, ``tag``; None: no such object), ``parents``
    the commit's parents."""

    def __init__(
        self,
        read: Callable[[pygit2.Blob], bytes],
        oversized: Callable[[pygit2.Oid, int], int | None],
        kind: str | None,
        parents: list[str],
        folder: str,
        tree: pygit2.Tree | None,
    ) -> None:
        self.kind = kind
        self.folder = folder
        self.parents = parents
        self._read = read
        self._oversized = oversized
        self._tree = tree

    def files(
        self,
        names: Iterable[str],
        known: Container[str] = (),
        max_size: Mapping[str, int] | None = None,
    ) -> dict[str, tuple[str, bytes | None]]:
        """Files ``names`` of the folder: name → (blob id, data).

        Names that are missing are left out; the data is None for blob ids in ``known``
        (the caller has them already). A file larger than ``max_size[name]`` raises
        BlobTooLargeError before it is read.
        """
        out: dict[str, tuple[str, bytes | None]] = {}
        if self._tree is None:
            return out
        for name in names:
            try:
                blob = self._tree[name]
            except KeyError:
                continue
            if isinstance(blob, pygit2.Blob):
                oid = str(blob.id)
                if oid in known:
                    out[name] = (oid, None)
                    continue
                limit = None if max_size is None else max_size.get(name)
                size = None if limit is None else self._oversized(blob.id, limit)
                if size is not None:
                    raise BlobTooLargeError(f"{self.folder}/{name}", size)
                out[name] = (oid, self._read(blob))
        return out


@contextmanager
def unverified_reads() -> Iterator[None]:
    """Read objects without re-hashing each one, as git's own commands do, without keeping
    them in libgit2's object cache, through small windows of the pack files, and with the
    cycle collector paused.

    libgit2 checks every object it reads against its id by default; for bulk reads of
    small records that check costs more than the read (``git fsck`` still checks). A
    bulk read meets each commit and tree once: caching them only costs memory (28 MiB
    for the record commits of 10,000 runs). Packs are mapped a window at a time, 1 GiB
    windows by default: the pack of 10,000 runs (46 MiB) would stay mapped whole. The
    rows a bulk read builds (hundreds of thousands of dicts and lists, none in a cycle)
    set the collector off again and again, and its full passes walk every object of the
    process.
    """
    settings = pygit2.settings
    windows = settings.mwindow_size, settings.mwindow_mapped_limit
    collecting = gc.isenabled()
    pygit2.option(pygit2.enums.Option.ENABLE_STRICT_HASH_VERIFICATION, 0)
    settings.enable_caching(False)
    settings.mwindow_size, settings.mwindow_mapped_limit = _BULK_WINDOWS
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()
        settings.mwindow_size, settings.mwindow_mapped_limit = windows
        settings.enable_caching(True)
        pygit2.option(pygit2.enums.Option.ENABLE_STRICT_HASH_VERIFICATION, 1)
