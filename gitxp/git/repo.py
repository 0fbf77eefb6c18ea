"""The git layer: every read and write of the object database and refs goes through here.

gitxp never touches the user's index, HEAD, branches or working tree from this module:
it only adds objects, and creates, compare-and-swaps or deletes refs under ``refs/gitxp/``.
The one exception is :meth:`GitRepo.set_branch`, which ``gitxp branch`` calls when the user
asks for a branch. Linked worktrees (``git worktree``) and ``git gc`` go through the git
command (:meth:`GitRepo.git`); everything else uses libgit2.
"""

from __future__ import annotations

import os
import shutil
import socket
import time
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

import pygit2
from pygit2.enums import FileMode

from gitxp.errors import (
    DISK_FULL_MESSAGE,
    DiskFullError,
    RefConflictError,
    RepoError,
    RunNotFoundError,
)
from gitxp.git.folders import CommitFolder, FolderMixin, unverified_reads
from gitxp.git.fsck import check_name
from gitxp.git.history import FileChange, HeadInfo, HistoryMixin, Identity, TreeDiff
from gitxp.git.identity import signature_from_env
from gitxp.git.retry import is_disk_full, retried
from gitxp.git.signing import SignatureStatus, sign_payload
from gitxp.git.transfer import NOTES_REF, TransferMixin

__all__ = [
    "NOTES_REF",
    "RUNS_PREFIX",
    "CommitFolder",
    "FileChange",
    "GitRepo",
    "HeadInfo",
    "Identity",
    "RefConflictError",
    "TreeDiff",
    "TreeValue",
    "unverified_reads",
]

RUNS_PREFIX = "refs/gitxp/runs/"
_IN_MEMORY_BLOB = 1 << 20  # blob_from_chunks joins up to this much in memory

# A value in a tree mapping: bytes become a blob, a nested mapping becomes a tree, and
# (oid, mode) places an existing object.
TreeValue = bytes | Mapping[str, "TreeValue"] | tuple[str, int]


class GitRepo(HistoryMixin, TransferMixin, FolderMixin):
    """An opened repository with a working tree (or, with ``bare_ok``, a bare one).

    A bare repository (a CI mirror) is opened only for reading runs: its ``workdir`` is
    its git directory and ``bare`` is true.
    """

    def __init__(self, path: str | os.PathLike[str] = ".", bare_ok: bool = False) -> None:
        start = os.path.abspath(path)
        if not os.path.exists(start):
            raise RepoError(f"{start} does not exist")
        try:
            found = pygit2.discover_repository(start)
        except pygit2.GitError as err:
            raise RepoError(f"cannot read a git repository at {start}: {err}") from None
        if found is None:
            raise RepoError(
                f"not a git repository: {start}; run 'git init' there first, "
                "or cd into your project"
            )
        self.repo = pygit2.Repository(found)
        self.bare = self.repo.is_bare or self.repo.workdir is None
        if self.bare and not bare_ok:
            raise RepoError(
                f"{found.rstrip('/')} is a bare repository; gitxp records runs from a "
                "working tree: clone it and run there (ls, show, diff, export and plot "
                "read a bare one)"
            )
        self.git_dir = Path(self.repo.path).resolve()
        self.workdir = self.git_dir if self.bare else Path(self.repo.workdir).resolve()
        self.common_dir = _common_dir(self.git_dir)

    @classmethod
    def init(cls, path: str | os.PathLike[str]) -> GitRepo:
        """Create an empty repository at ``path`` (no commit, nothing staged) and open it."""
        try:
            pygit2.init_repository(os.fspath(path))
        except pygit2.GitError as err:
            raise RepoError(f"cannot create a git repository at {path}: {err}") from None
        return cls(path)

    @property
    def state_dir(self) -> Path:
        """Machine-local gitxp state (spools, locks, caches): never pushed."""
        return self.common_dir / "gitxp"

    # -- where the user is -------------------------------------------------------

    def head(self) -> HeadInfo:
        """The user's HEAD commit and branch, without changing anything."""
        repo = self.repo
        if repo.head_is_unborn:
            target = repo.references["HEAD"].target
            branch = str(target).removeprefix("refs/heads/")
            return HeadInfo(None, branch, False)
        if repo.head_is_detached:
            return HeadInfo(str(repo.head.target), None, True)
        return HeadInfo(str(repo.head.target), repo.head.shorthand, False)

    def signature(self, role: str = "COMMITTER") -> pygit2.Signature:
        """The user's git identity, or a gitxp identity naming this host.

        ``GIT_AUTHOR_*`` (``role="AUTHOR"``) or ``GIT_COMMITTER_*`` override it, as for git.
        """
        try:
            default = self.repo.default_signature
        except (KeyError, pygit2.GitError):
            host = socket.gethostname() or "localhost"
            default = pygit2.Signature("gitxp", f"gitxp@{host}")
        return signature_from_env(default, role)

    def config_value(self, key: str) -> str | None:
        """A git config value (``gitxp.remote`` …) or None."""
        try:
            value = self.repo.config[key]
        except (KeyError, pygit2.GitError):
            return None
        return str(value)

    def remote_names(self) -> list[str]:
        """The names of the configured remotes (``git remote``)."""
        try:
            return sorted(str(name) for name in self.repo.remotes.names())
        except pygit2.GitError:
            return []

    # -- objects -----------------------------------------------------------------

    @retried
    def write_blob(self, data: bytes) -> str:
        """Store ``data`` as a blob and return its id."""
        return str(self.repo.create_blob(data))

    @retried
    def write_tree(self, entries: Mapping[str, TreeValue], base: str | None = None) -> str:
        """Write a tree from ``entries``, on top of the tree ``base`` when given.

        Names in ``entries`` replace the same names in ``base``; a nested mapping merges
        with the subtree of the same name.
        """
        repo = self.repo
        base_tree = self._tree(base) if base else None
        builder = repo.TreeBuilder(base_tree) if base_tree is not None else repo.TreeBuilder()
        for name, value in entries.items():
            if isinstance(value, bytes):
                oid = pygit2.hash(value)  # an existing blob is not written again (~50x cheaper)
                if oid not in repo.odb:
                    oid = repo.create_blob(value)
                builder.insert(name, oid, FileMode.BLOB)
            elif isinstance(value, tuple):
                builder.insert(name, pygit2.Oid(hex=value[0]), value[1])
            else:
                sub = None
                if base_tree is not None and name in base_tree:
                    obj = base_tree[name]
                    if isinstance(obj, pygit2.Tree):
                        sub = str(obj.id)
                builder.insert(name, pygit2.Oid(hex=self.write_tree(value, sub)), FileMode.TREE)
        return str(builder.write())

    @retried
    def blob_from_file(self, path: Path) -> str:
        """Store the file at ``path`` as a blob (streamed, not read into memory)."""
        return str(self.repo.create_blob_fromdisk(str(path)))

    def blob_from_chunks(self, chunks: Iterable[bytes], scratch: Path) -> str:
        """Store the bytes of ``chunks`` joined as a blob, never holding them all in memory.

        Up to 1 MiB is joined in memory; past that the chunks go to a temporary file in
        the folder ``scratch``, which libgit2 hashes and compresses as it reads it.
        """
        held: list[bytes] = []
        size = 0
        try:
            for chunk in (iterator := iter(chunks)):
                held.append(chunk)
                size += len(chunk)
                if size > _IN_MEMORY_BLOB:
                    return self._blob_spilled(held, iterator, scratch)
            return self.write_blob(b"".join(held))
        except pygit2.GitError:
            # libgit2 loses the reason when a blob of more than a few KiB does not fit
            # (the message is that of an earlier, unrelated lookup): look at the disk.
            if shutil.disk_usage(self.common_dir / "objects").free < _IN_MEMORY_BLOB:
                raise DiskFullError(DISK_FULL_MESSAGE) from None
            raise

    def _blob_spilled(self, held: list[bytes], rest: Iterator[bytes], scratch: Path) -> str:
        import tempfile  # only for a blob this large: a run's start does not import it

        try:
            with tempfile.NamedTemporaryFile(dir=scratch, prefix="blob-") as temp:
                temp.writelines(held)
                held.clear()
                temp.writelines(rest)
                temp.flush()
                return self.blob_from_file(Path(temp.name))
        except OSError as err:
            if is_disk_full(err):
                raise DiskFullError(DISK_FULL_MESSAGE) from None
            raise

    def without_entry(self, tree: str, name: str) -> str:
        """``tree`` with its top-level entry ``name`` removed (if present)."""
        root = self._tree(tree)
        if name not in root:
            return tree
        builder = self.repo.TreeBuilder(root)
        builder.remove(name)
        return str(builder.write())

    @retried
    def write_commit(self, tree: str, parents: list[str], message: str, sign: bool = False) -> str:
        """Create a commit object (no ref moves) and return its id.

        ``sign``: signed as ``git commit -S`` would sign it (:mod:`gitxp.git.signing`).
        """
        author, committer = self.signature("AUTHOR"), self.signature("COMMITTER")
        tree_id = pygit2.Oid(hex=tree)
        parent_ids: list[str | pygit2.Oid] = [pygit2.Oid(hex=p) for p in parents]
        if not sign:
            oid = self.repo.create_commit(None, author, committer, message, tree_id, parent_ids)
            return str(oid)
        # pygit2's stubs say Oid; libgit2 returns the commit's text.
        content = str(
            self.repo.create_commit_string(author, committer, message, tree_id, parent_ids)
        )
        signature = sign_payload(self, content, str(committer.email))
        return str(self.repo.create_commit_with_signature(content, signature))

    def signature_status(self, commit: str) -> SignatureStatus:
        """What ``git`` says of ``commit``'s signature (its own checks, its own config)."""
        fmt = "--format=%G?%x00%GS%x00%GK%x00%GG"
        proc = self.git("log", "-1", "--no-show-signature", fmt, commit, check=False)
        code, signer, key, message = [*proc.stdout.split("\0"), "", "", ""][:4]
        return SignatureStatus(code.strip() or "E", signer, key, message.strip())

    def commit_tree(self, commit: str) -> str:
        """The tree id of ``commit``."""
        return str(self._commit(commit).tree_id)

    def commit_parents(self, commit: str) -> list[str]:
        """The parent ids of ``commit``."""
        return [str(p) for p in self._commit(commit).parent_ids]

    def commit_message(self, commit: str) -> str:
        """The full message of ``commit``."""
        return str(self._commit(commit).message)

    def object_kind(self, oid: str) -> str | None:
        """``commit``, ``tree``, ``blob`` or ``tag`` for object ``oid`` (None: not here)."""
        try:
            kind, _size = self.repo.odb.read_header(pygit2.Oid(hex=oid))
        except (KeyError, ValueError, pygit2.GitError):
            return None
        return {1: "commit", 2: "tree", 3: "blob", 4: "tag"}.get(int(kind))

    def list_tree(self, commit: str, path: str = "") -> list[tuple[str, str, int]]:
        """Entries ``(name, oid, mode)`` of the tree at ``path`` in ``commit`` ([] if none)."""
        tree = self._commit(commit).tree
        if path:
            try:
                sub = self.repo[tree[path].id]
            except KeyError:
                return []
            if not isinstance(sub, pygit2.Tree):
                return []
            tree = sub
        return [(str(e.name), str(e.id), int(e.filemode)) for e in tree]

    def walk_files(
        self, commit: str, path: str = "", safe: bool = False
    ) -> Iterator[tuple[str, str, int]]:
        """Every file ``(path, oid, mode)`` below ``path`` in ``commit``'s tree.

        ``safe``: raise UnsafeNameError at the first entry whose name must not be written
        to disk (``..``, ``.git``, a name with ``/`` …: :func:`gitxp.git.fsck.unsafe_name`).
        """
        for name, oid, mode in self.list_tree(commit, path):
            full = f"{path}/{name}" if path else name
            if safe:
                check_name(full, name)
            if mode == FileMode.TREE:
                yield from self.walk_files(commit, full, safe)
            else:
                yield full, oid, mode

    def blob_data(self, oid: str) -> bytes:
        """The content of blob ``oid``."""
        if self.has_object(oid) and not isinstance(self.repo[oid], pygit2.Blob):
            raise RepoError(f"{oid} is not a file")
        return self.blob_bytes(oid)

    def find_commit(self, rev: str) -> str | None:
        """The commit any revision git accepts names (sha prefix, ref, ``x~2``), or None.

        Raises :class:`RunNotFoundError` for a sha prefix that several objects share.
        """
        try:
            obj = self.repo.revparse_single(rev)
        except pygit2.AmbiguousError:
            raise RunNotFoundError(
                f"{rev!r} is an ambiguous commit prefix; type more characters"
            ) from None
        except (KeyError, ValueError, pygit2.GitError, pygit2.InvalidSpecError):
            return None
        try:
            return str(obj.peel(pygit2.Commit).id)
        except (ValueError, pygit2.GitError, pygit2.InvalidSpecError):
            return None

    def _tree(self, oid: str) -> pygit2.Tree:
        obj = self.repo[oid]
        if not isinstance(obj, pygit2.Tree):
            raise RepoError(f"{oid} is not a tree")
        return obj

    def _commit(self, commit: str) -> pygit2.Commit:
        try:
            obj = self.repo.revparse_single(commit)
            return obj.peel(pygit2.Commit)
        except (KeyError, ValueError, pygit2.GitError, pygit2.InvalidSpecError):
            raise RunNotFoundError(f"no commit {commit!r} in {self.workdir}") from None

    # -- refs --------------------------------------------------------------------

    @retried
    def create_ref(self, name: str, target: str) -> None:
        """Create ``name`` pointing at ``target``; RefConflictError if it already exists.

        Created under the ref's lock in a transaction, as :meth:`update_ref` moves refs:
        libgit2's ``references.create`` reads all of ``packed-refs`` first, to check the
        new name against every packed ref (0.1 s at 100,000 packed run refs). A loose ref
        above or below ``name`` still makes the lock fail; a packed one is not looked
        for: gitxp's names (a run id; two for an attestation) are never above or below
        one another.
        """
        if not pygit2.reference_is_valid_name(name):
            raise pygit2.InvalidSpecError(f"the given reference name '{name}' is not valid")
        self._create(name, target)

    @retried
    def _create(self, name: str, target: str) -> None:
        with self.repo.transaction() as txn:
            txn.lock_ref(name)
            if self.ref_target(name) is not None:
                raise RefConflictError(f"{name} already exists")
            txn.set_target(name, pygit2.Oid(hex=target), message="gitxp: created")

    def update_ref(self, name: str, new: str, old: str, message: str = "gitxp") -> None:
        """Compare-and-swap: move ``name`` from ``old`` to ``new`` or raise RefConflictError."""
        try:
            self._swap(name, new, old, message)
        except pygit2.GitError as err:
            raise RefConflictError(f"cannot update {name}: {err}") from None

    @retried
    def _swap(self, name: str, new: str, old: str, message: str) -> None:
        with self.repo.transaction() as txn:
            txn.lock_ref(name)
            current = self.ref_target(name)
            if current != old:
                raise RefConflictError(f"{name} moved to {current} while gitxp expected {old}")
            txn.set_target(name, pygit2.Oid(hex=new), message=message)

    def delete_ref(self, name: str, old: str | None = None) -> None:
        """Delete ``name`` (only if it still points at ``old`` when given)."""
        try:
            self._remove(name, old)
        except pygit2.GitError as err:
            raise RefConflictError(f"cannot delete {name}: {err}") from None

    @retried
    def _remove(self, name: str, old: str | None) -> None:
        with self.repo.transaction() as txn:
            txn.lock_ref(name)
            current = self.ref_target(name)
            if current is None:
                return
            if old is not None and current != old:
                raise RefConflictError(f"{name} moved to {current}; not deleted")
            txn.remove(name)

    def ref_target(self, name: str) -> str | None:
        """The commit id ``name`` points at, or None."""
        ref = self.repo.references.get(name)
        return None if ref is None else str(ref.target)

    def refs(self, prefix: str = RUNS_PREFIX) -> dict[str, str]:
        """All refs below ``prefix``, name → target id."""
        out: dict[str, str] = {}
        if not self._may_hold(prefix):
            return out
        for ref in self.repo.references.iterator():
            name = ref.name
            if name.startswith(prefix):
                out[name] = str(ref.target)
        return out

    def _may_hold(self, prefix: str) -> bool:
        """False when no ref can be below ``prefix``: no loose folder of it and no line
        of ``packed-refs`` naming it (a listing walks every ref: 10,000 runs, 0.1 s)."""
        if not prefix.endswith("/") or (self.common_dir / prefix).is_dir():
            return True
        try:
            return prefix.encode() in (self.common_dir / "packed-refs").read_bytes()
        except FileNotFoundError:
            return False
        except OSError:
            return True

    def refs_stamp(
        self, prefix: str = RUNS_PREFIX, settle: float = 2.0, nested: bool = False
    ) -> tuple[int, ...] | None:
        """A value that changes whenever a ref below the folder ``prefix`` does, or None.

        It is the modification time of that loose-ref folder and of ``packed-refs``
        (creating, moving or deleting a loose ref renames a file in the folder); with
        ``nested``, of every folder below it too (branches such as ``feature/x``). As git
        does for its index, a stamp younger than ``settle`` seconds is not trusted (None):
        a change in the same clock tick could leave it unchanged.
        """
        top = self.common_dir / prefix.rstrip("/")
        folders = [top]
        if nested:
            folders += [Path(d) / name for d, names, _ in os.walk(top) for name in names]
        stamp: list[int] = []
        for path in (*folders, self.common_dir / "packed-refs"):
            try:
                info = path.stat()
            except OSError:
                stamp += [0, 0]
                continue
            if time.time() - info.st_mtime < settle:
                return None
            stamp += [info.st_mtime_ns, info.st_size]
        return tuple(stamp)


def _common_dir(git_dir: Path) -> Path:
    """The directory shared by all worktrees of the repository ``git_dir`` belongs to."""
    pointer = git_dir / "commondir"
    if pointer.is_file():
        return (git_dir / pointer.read_text().strip()).resolve()
    return git_dir
