"""One folder of one commit, read file by file: what the query reads of each run.

:meth:`gitxp.git.repo.GitRepo.commit_folder` makes these; the reads themselves (a blob a
partial fetch left out is asked of its remote; sizes checked before reading) are the
repository's.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Iterable, Mapping

import pygit2

from gitxp.errors import BlobTooLargeError


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
