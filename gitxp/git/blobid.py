"""The blob id of a working-tree file as git would store it, found without writing it.

A file git converts on its way in (end-of-line conversion, ``ident``, a filter driver:
set by attributes or ``core.autocrlf``) is hashed by libgit2 with its filters; any other
file is hashed here with hashlib, several times faster than libgit2 (which also asks the
attributes of every path, which costs more than hashing a small file). Attributes are
asked of libgit2 only below a folder holding a ``.gitattributes`` or when an attributes
file applies to every path.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import pygit2
from pygit2.ffi import C, ffi

from gitxp.git.repo import GitRepo

_CHUNK = 1 << 20


class BlobIds:
    """Blob ids of the files of ``repo``'s working tree."""

    def __init__(self, repo: GitRepo) -> None:
        self.repo = repo
        self.workdir = os.fsencode(repo.workdir)
        autocrlf = (repo.config_value("core.autocrlf") or "false").strip().lower()
        config_home = os.environ.get("XDG_CONFIG_HOME") or os.path.expanduser("~/.config")
        everywhere = [
            repo.common_dir / "info" / "attributes",
            Path(config_home) / "git" / "attributes",
            Path("/etc/gitattributes"),
        ]
        configured = repo.config_value("core.attributesFile")
        if configured:
            everywhere.append(Path(os.path.expanduser(configured)))
        self.everywhere = autocrlf not in ("false", "no", "off", "0") or any(
            path.exists() for path in everywhere
        )
        self.folders: dict[bytes, bool] = {}

    def of(self, path: bytes, st: os.stat_result) -> bytes | None:
        """The raw blob id of the file at ``path`` (relative, as the index names it) whose
        ``lstat`` is ``st``; None if it cannot be read or changed size while read."""
        full = os.path.join(self.workdir, path)
        if stat.S_ISLNK(st.st_mode):
            try:
                target = os.readlink(full)
            except OSError:
                return None
            return hashlib.sha1(b"blob %d\0" % len(target) + target).digest()
        if self._converted(path):
            try:
                return self.repo.repo.create_blob_fromworkdir(os.fsdecode(path)).raw
            except (OSError, pygit2.GitError):
                return None
        digest = hashlib.sha1(b"blob %d\0" % st.st_size)
        read = 0
        try:
            with open(full, "rb", buffering=0) as handle:
                while chunk := handle.read(_CHUNK):
                    digest.update(chunk)
                    read += len(chunk)
        except OSError:
            return None
        return digest.digest() if read == st.st_size else None

    def _converted(self, path: bytes) -> bool:
        """Whether ``path`` may be converted on its way into git."""
        if self.everywhere or self._attributes_above(path.rpartition(b"/")[0]):
            return self._filtered(path)
        return False

    def _attributes_above(self, folder: bytes) -> bool:
        """Whether ``folder`` or a folder above it holds a ``.gitattributes``."""
        known = self.folders.get(folder)
        if known is None:
            here = os.path.lexists(os.path.join(self.workdir, folder, b".gitattributes"))
            known = here or (bool(folder) and self._attributes_above(folder.rpartition(b"/")[0]))
            self.folders[folder] = known
        return known

    def _filtered(self, path: bytes) -> bool:
        """libgit2's answer: does any filter apply to ``path`` going into git?"""
        found = ffi.new("git_filter_list **")
        err = C.git_filter_list_load(
            found,
            self.repo.repo._repo,
            ffi.NULL,
            path,
            C.GIT_FILTER_TO_ODB,
            C.GIT_FILTER_ALLOW_UNSAFE,
        )
        if err < 0:
            return True
        if found[0] == ffi.NULL:
            return False
        C.git_filter_list_free(found[0])
        return True
