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
import subprocess
from collections.abc import Container, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pygit2
from pygit2.enums import FileMode

from gitxp.errors import RepoError, RunNotFoundError

RUNS_PREFIX = "refs/gitxp/runs/"
NOTES_REF = "refs/notes/gitxp"  # tags and notes of runs (gitxp board), on snapshot commits

# A value in a tree mapping: bytes become a blob, a nested mapping becomes a tree, and
# (oid, mode) places an existing object.
TreeValue = bytes | Mapping[str, "TreeValue"] | tuple[str, int]


@dataclass(frozen=True)
class HeadInfo:
    """Where the user's HEAD was: commit id (None in a repo with no commits) and branch."""

    commit: str | None
    branch: str | None
    detached: bool


class RefConflictError(RepoError):
    """A compare-and-swap ref update found another value than the one expected."""


@dataclass(frozen=True)
class Identity:
    """Who made a commit: name, email and time (seconds since the epoch)."""

    name: str
    email: str
    time: int


@dataclass(frozen=True)
class FileChange:
    """One file of a tree diff: status letter (A, D, M, R, T …) and line counts."""

    path: str
    old_path: str
    status: str
    additions: int
    deletions: int
    binary: bool


@dataclass(frozen=True)
class TreeDiff:
    """The difference between two trees: changed files and the unified patch text."""

    files: list[FileChange]
    patch: str


# Variables that would point the git command at another repository than ours.
_GIT_LOCATION_ENV = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_COMMON_DIR",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_NAMESPACE",
)


class GitRepo:
    """An opened non-bare repository with a working tree."""

    def __init__(self, path: str | os.PathLike[str] = ".") -> None:
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
        if self.repo.is_bare or self.repo.workdir is None:
            raise RepoError(
                f"{found.rstrip('/')} is a bare repository; gitxp records runs from a "
                "working tree: clone it and run there"
            )
        self.workdir = Path(self.repo.workdir).resolve()
        self.git_dir = Path(self.repo.path).resolve()
        self.common_dir = _common_dir(self.git_dir)

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

    def signature(self) -> pygit2.Signature:
        """The user's git identity, or a gitxp identity naming this host."""
        try:
            return self.repo.default_signature
        except (KeyError, pygit2.GitError):
            host = socket.gethostname() or "localhost"
            return pygit2.Signature("gitxp", f"gitxp@{host}")

    def config_value(self, key: str) -> str | None:
        """A git config value (``gitxp.remote`` …) or None."""
        try:
            value = self.repo.config[key]
        except (KeyError, pygit2.GitError):
            return None
        return str(value)

    # -- objects -----------------------------------------------------------------

    def write_blob(self, data: bytes) -> str:
        """Store ``data`` as a blob and return its id."""
        return str(self.repo.create_blob(data))

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

    def blob_from_file(self, path: Path) -> str:
        """Store the file at ``path`` as a blob (streamed, not read into memory)."""
        return str(self.repo.create_blob_fromdisk(str(path)))

    def without_entry(self, tree: str, name: str) -> str:
        """``tree`` with its top-level entry ``name`` removed (if present)."""
        root = self._tree(tree)
        if name not in root:
            return tree
        builder = self.repo.TreeBuilder(root)
        builder.remove(name)
        return str(builder.write())

    def write_commit(self, tree: str, parents: list[str], message: str) -> str:
        """Create a commit object (no ref moves) and return its id."""
        sig = self.signature()
        oid = self.repo.create_commit(
            None, sig, sig, message, pygit2.Oid(hex=tree), [pygit2.Oid(hex=p) for p in parents]
        )
        return str(oid)

    def commit_tree(self, commit: str) -> str:
        """The tree id of ``commit``."""
        return str(self._commit(commit).tree_id)

    def commit_parents(self, commit: str) -> list[str]:
        """The parent ids of ``commit``."""
        return [str(p) for p in self._commit(commit).parent_ids]

    def commit_message(self, commit: str) -> str:
        """The full message of ``commit``."""
        return str(self._commit(commit).message)

    def read_path(self, commit: str, path: str) -> bytes | None:
        """The content of the blob at ``path`` in ``commit``'s tree, or None."""
        tree = self._commit(commit).tree
        try:
            entry = tree[path]
        except KeyError:
            return None
        obj = self.repo[entry.id]
        return bytes(obj.data) if isinstance(obj, pygit2.Blob) else None

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

    def walk_files(self, commit: str, path: str = "") -> Iterator[tuple[str, str, int]]:
        """Every file ``(path, oid, mode)`` below ``path`` in ``commit``'s tree."""
        for name, oid, mode in self.list_tree(commit, path):
            full = f"{path}/{name}" if path else name
            if mode == FileMode.TREE:
                yield from self.walk_files(commit, full)
            else:
                yield full, oid, mode

    def folder_files(
        self,
        commit: str,
        folder: str,
        names: Iterable[str],
        known: Container[str] = (),
    ) -> dict[str, tuple[str, bytes | None]]:
        """Files ``names`` directly in ``folder`` of ``commit``'s tree: name → (blob id, data).

        Names that are missing are left out; the data is None for blob ids in ``known``
        (the caller has them already). The query layer reads thousands of run records
        with this: one commit, tree and subtree lookup each, no rev-parse.
        """
        try:
            sub = self.repo[commit].peel(pygit2.Tree)[folder]
        except (KeyError, ValueError, pygit2.GitError):
            return {}
        if not isinstance(sub, pygit2.Tree):
            return {}
        out: dict[str, tuple[str, bytes | None]] = {}
        for name in names:
            try:
                blob = sub[name]
            except KeyError:
                continue
            if isinstance(blob, pygit2.Blob):
                oid = str(blob.id)
                out[name] = (oid, None if oid in known else blob.data)
        return out

    def blob_data(self, oid: str) -> bytes:
        """The content of blob ``oid``."""
        obj = self.repo[oid]
        if not isinstance(obj, pygit2.Blob):
            raise RepoError(f"{oid} is not a file")
        return bytes(obj.data)

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

    def create_ref(self, name: str, target: str) -> None:
        """Create ``name`` pointing at ``target``; fails if it already exists."""
        try:
            self.repo.references.create(name, pygit2.Oid(hex=target), force=False)
        except pygit2.AlreadyExistsError:
            raise RefConflictError(f"{name} already exists") from None

    def update_ref(self, name: str, new: str, old: str, message: str = "gitxp") -> None:
        """Compare-and-swap: move ``name`` from ``old`` to ``new`` or raise RefConflictError."""
        try:
            with self.repo.transaction() as txn:
                txn.lock_ref(name)
                current = self.ref_target(name)
                if current != old:
                    raise RefConflictError(f"{name} moved to {current} while gitxp expected {old}")
                txn.set_target(name, pygit2.Oid(hex=new), message=message)
        except pygit2.GitError as err:
            raise RefConflictError(f"cannot update {name}: {err}") from None

    def delete_ref(self, name: str, old: str | None = None) -> None:
        """Delete ``name`` (only if it still points at ``old`` when given)."""
        try:
            with self.repo.transaction() as txn:
                txn.lock_ref(name)
                current = self.ref_target(name)
                if current is None:
                    return
                if old is not None and current != old:
                    raise RefConflictError(f"{name} moved to {current}; not deleted")
                txn.remove(name)
        except pygit2.GitError as err:
            raise RefConflictError(f"cannot delete {name}: {err}") from None

    def ref_target(self, name: str) -> str | None:
        """The commit id ``name`` points at, or None."""
        ref = self.repo.references.get(name)
        return None if ref is None else str(ref.target)

    def refs(self, prefix: str = RUNS_PREFIX) -> dict[str, str]:
        """All refs below ``prefix``, name → target id."""
        out: dict[str, str] = {}
        for ref in self.repo.references.iterator():
            name = ref.name
            if name.startswith(prefix):
                out[name] = str(ref.target)
        return out

    # -- trees, diffs, identities (reproduce, diff, checkout, branch) ----------------

    def tree_files(self, tree: str | None) -> dict[str, tuple[str, int]]:
        """Every non-tree entry below ``tree``: path → (oid, mode); None is the empty tree."""
        out: dict[str, tuple[str, int]] = {}
        if tree is None:
            return out
        stack: list[tuple[pygit2.Tree, str]] = [(self._tree(tree), "")]
        while stack:
            node, prefix = stack.pop()
            for entry in node:
                path = prefix + str(entry.name)
                if entry.filemode == FileMode.TREE:
                    stack.append((self._tree(str(entry.id)), path + "/"))
                else:
                    out[path] = (str(entry.id), int(entry.filemode))
        return out

    def author(self, commit: str) -> Identity:
        """The author of ``commit``."""
        sig = self._commit(commit).author
        return Identity(str(sig.name), str(sig.email), int(sig.time))

    def has_commit(self, commit: str) -> bool:
        """Whether ``commit`` is a commit in the object database."""
        try:
            obj = self.repo.get(commit)
        except (ValueError, pygit2.GitError):
            return False
        return isinstance(obj, pygit2.Commit)

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        """Whether ``ancestor`` is ``descendant`` or one of its ancestors."""
        if ancestor == descendant:
            return True
        try:
            return bool(
                self.repo.descendant_of(pygit2.Oid(hex=descendant), pygit2.Oid(hex=ancestor))
            )
        except (ValueError, pygit2.GitError):
            return False

    def write_commit_like(self, tree: str, parents: list[str], message: str, like: str) -> str:
        """A commit with the author and committer of commit ``like``.

        The same tree, parents and message give the same commit id every time.
        """
        model = self._commit(like)
        oid = self.repo.create_commit(
            None,
            model.author,
            model.committer,
            message,
            pygit2.Oid(hex=tree),
            [pygit2.Oid(hex=p) for p in parents],
        )
        return str(oid)

    def diff_trees(self, old: str | None, new: str | None, context_lines: int = 3) -> TreeDiff:
        """The changes from tree ``old`` to tree ``new`` (None: the empty tree), renames found."""
        empty = str(self.repo.TreeBuilder().write())
        diff = self._tree(old or empty).diff_to_tree(
            self._tree(new or empty), context_lines=context_lines
        )
        diff.find_similar()
        files = []
        for patch in diff:
            if patch is None:
                continue
            delta = patch.delta
            _, additions, deletions = patch.line_stats
            files.append(
                FileChange(
                    path=str(delta.new_file.path),
                    old_path=str(delta.old_file.path),
                    status=str(delta.status_char()),
                    additions=int(additions),
                    deletions=int(deletions),
                    binary=bool(delta.is_binary),
                )
            )
        return TreeDiff(files, diff.patch or "")

    # -- branches (gitxp branch) ---------------------------------------------------

    def branch_target(self, name: str) -> str | None:
        """The commit branch ``name`` points at, or None when there is no such branch."""
        return self.ref_target(f"refs/heads/{name}")

    def set_branch(self, name: str, commit: str, force: bool = False) -> None:
        """Create branch ``name`` at ``commit`` (move it only with ``force``)."""
        full = f"refs/heads/{name}"
        if not pygit2.reference_is_valid_name(full):
            raise RepoError(f"{name!r} is not a valid branch name")
        current = self.head()
        if force and not current.detached and current.branch == name:
            raise RepoError(f"branch {name} is checked out here; switch to another branch first")
        try:
            self.repo.references.create(full, pygit2.Oid(hex=commit), force=force)
        except pygit2.AlreadyExistsError:
            raise RepoError(
                f"branch {name} already exists; choose another name or pass --force"
            ) from None

    # -- the git command (worktrees, gc) ---------------------------------------------

    def git(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run the ``git`` command on this repository and return its result."""
        env = {k: v for k, v in os.environ.items() if k not in _GIT_LOCATION_ENV}
        try:
            proc = subprocess.run(
                ["git", *args],
                cwd=self.workdir,
                env=env,
                capture_output=True,
                text=True,
                stdin=subprocess.DEVNULL,
            )
        except FileNotFoundError:
            raise RepoError(
                "the git command is not installed or not on PATH; gitxp needs it for "
                "worktrees and gc"
            ) from None
        if check and proc.returncode != 0:
            lines = proc.stderr.strip().splitlines()
            why = lines[-1] if lines else f"exit status {proc.returncode}"
            raise RepoError(f"git {args[0] if args else ''} failed: {why}")
        return proc

    def add_worktree(self, path: Path, commit: str) -> None:
        """Check ``commit`` out, detached, in a new linked worktree at ``path``.

        Hooks do not run (``post-checkout`` of the user's project is not ours to trigger).
        """
        self.git(
            "-c",
            "core.hooksPath=/dev/null",
            "worktree",
            "add",
            "--detach",
            "--quiet",
            str(path),
            commit,
        )

    def remove_worktree(self, path: Path) -> None:
        """Remove the linked worktree at ``path``, files it holds included."""
        self.git("worktree", "remove", "--force", "--force", str(path), check=False)
        if path.exists():  # git refused (or was interrupted): clean up by hand
            shutil.rmtree(path, ignore_errors=True)
        self.prune_worktree_admin(path)

    def prune_worktree_admin(self, path: Path) -> None:
        """Drop git's record of the linked worktree that was at ``path`` if it is gone."""
        admin_root = self.common_dir / "worktrees"
        if path.exists() or not admin_root.is_dir():
            return
        for admin in admin_root.iterdir():
            try:
                where = Path((admin / "gitdir").read_text().strip()).parent
            except OSError:
                continue
            if where == path or where.resolve() == path.resolve():
                shutil.rmtree(admin, ignore_errors=True)

    def worktree_paths(self) -> list[Path]:
        """The paths of this repository's linked worktrees (as git records them)."""
        admin_root = self.common_dir / "worktrees"
        out = []
        if admin_root.is_dir():
            for admin in sorted(admin_root.iterdir()):
                try:
                    out.append(Path((admin / "gitdir").read_text().strip()).parent)
                except OSError:
                    continue
        return out

    def object_counts(self) -> dict[str, int]:
        """``git count-objects -v`` as numbers (sizes in KiB)."""
        out: dict[str, int] = {}
        for line in self.git("count-objects", "-v").stdout.splitlines():
            key, sep, value = line.partition(":")
            if sep and value.strip().isdigit():
                out[key.strip()] = int(value)
        return out

    # -- sharing runs (gitxp push / fetch): objects out, refs in ---------------------

    def has_object(self, oid: str) -> bool:
        """Whether object ``oid`` is in the object database."""
        try:
            return pygit2.Oid(hex=oid) in self.repo
        except ValueError:
            return False

    def read_object(self, oid: str) -> tuple[int, bytes]:
        """The git type number (1 commit, 2 tree, 3 blob, 4 tag) and content of ``oid``."""
        kind, data = self.repo.odb.read(pygit2.Oid(hex=oid))
        return int(kind), bytes(data)

    def objects_to_send(self, want: list[str], have: list[str]) -> list[tuple[str, str]]:
        """Every object reachable from ``want`` that is not reachable from ``have``.

        Like ``git rev-list --objects want --not have``: commits are walked by libgit2
        and the trees of the commits where the walk stops (the other side has them) are
        left out, so a second push of the same runs sends nothing and a run pushed
        while RUNNING, pushed again when finished, sends only its new record commit.
        ``have`` may name objects this repository lacks; they are ignored.

        Returns ``(id, name)`` pairs, each commit followed by its new trees and files; the
        name is the entry's file name, ``/`` for a commit's root tree, "" for a commit
        (a hint for delta compression: objects of one name tend to look alike).
        """
        repo = self.repo
        walker = repo.walk(None, pygit2.enums.SortMode.NONE)
        for oid in want:
            walker.push(pygit2.Oid(hex=oid))
        for oid in have:
            obj = repo.get(oid)
            if isinstance(obj, pygit2.Commit):
                walker.hide(obj.id)
        commits = list(walker)
        new = {c.id for c in commits}
        seen: set[pygit2.Oid] = set()
        for commit in commits:
            for parent in commit.parent_ids:
                edge = repo.get(parent) if parent not in new else None
                if isinstance(edge, pygit2.Commit):
                    self._mark_tree(edge.tree_id, seen, None)
        out: list[tuple[str, str]] = []
        for commit in commits:
            out.append((str(commit.id), ""))
            self._mark_tree(commit.tree_id, seen, out)
        return out

    def _mark_tree(
        self, tree: pygit2.Oid, seen: set[pygit2.Oid], out: list[tuple[str, str]] | None
    ) -> None:
        """Add ``tree`` and everything below it to ``seen`` (and to ``out`` when given)."""
        if tree in seen:
            return
        seen.add(tree)
        if out is not None:
            out.append((str(tree), "/"))
        stack = [tree]
        while stack:
            node = self.repo[stack.pop()]
            assert isinstance(node, pygit2.Tree)
            for entry in node:
                oid = entry.id
                if oid in seen or entry.filemode == FileMode.COMMIT:  # submodule commits
                    continue
                seen.add(oid)
                if out is not None:
                    out.append((str(oid), str(entry.name)))
                if entry.filemode == FileMode.TREE:
                    stack.append(oid)

    def negotiation_haves(self, common: list[str], limit: int = 256) -> list[str]:
        """Commits to offer as "have" when fetching, most useful first.

        Local branch tips and the commits of ``common`` (ref values the remote
        advertised that this repository already holds), then ancestors of the branch
        tips, newest first, up to ``limit`` of them.
        """
        repo = self.repo
        tips: list[str] = []
        for ref in repo.references.iterator():
            if ref.name.startswith(("refs/heads/", "refs/remotes/")):
                obj = repo.get(ref.target) if isinstance(ref.target, pygit2.Oid) else None
                if isinstance(obj, pygit2.Commit):
                    tips.append(str(obj.id))
        out = list(dict.fromkeys([*tips, *(c for c in common if self.has_commit(c))]))
        if tips:
            taken = set(out)
            walker = repo.walk(None, pygit2.enums.SortMode.TIME)
            for tip in tips:
                walker.push(pygit2.Oid(hex=tip))
            for count, commit in enumerate(walker):
                if count >= limit:
                    break
                if str(commit.id) not in taken:
                    out.append(str(commit.id))
        return out

    def update_refs(
        self, updates: Mapping[str, tuple[str | None, str]], message: str = "gitxp"
    ) -> None:
        """Move several refs at once, each from an expected old target (None: absent).

        All of them move or none does: every ref is locked and checked first, and a
        single mismatch raises RefConflictError before anything is written.
        """
        if not updates:
            return
        try:
            with self.repo.transaction() as txn:
                for name in updates:
                    txn.lock_ref(name)
                for name, (old, new) in updates.items():
                    current = self.ref_target(name)
                    if current != old:
                        raise RefConflictError(
                            f"{name} moved to {current} while gitxp expected {old}"
                        )
                    txn.set_target(name, pygit2.Oid(hex=new), message=message)
        except pygit2.GitError as err:
            raise RefConflictError(f"cannot update refs: {err}") from None

    # -- git notes (tags and notes of runs: gitxp board) -----------------------------

    def notes(self, ref: str = NOTES_REF) -> dict[str, str]:
        """Every note of the notes ref ``ref``: annotated object id → note text."""
        if self.ref_target(ref) is None:
            return {}
        try:
            notes = self.repo.notes(ref)  # type: ignore[call-arg]  # the stub lacks ref
            return {str(n.annotated_id): str(n.message) for n in notes}
        except pygit2.GitError:
            return {}

    def note(self, oid: str, ref: str = NOTES_REF) -> str | None:
        """The note on object ``oid`` under ``ref``, or None."""
        try:
            return str(self.repo.lookup_note(oid, ref).message)
        except (KeyError, ValueError, pygit2.GitError):
            return None

    def set_note(self, oid: str, text: str, ref: str = NOTES_REF) -> None:
        """Write ``text`` as the note on object ``oid`` (replacing one); "" removes it.

        A notes commit is written on ``ref`` as ``git notes`` does, so plain git reads it
        (``git notes --ref gitxp show <commit>``) and push/fetch of ``ref`` share it.
        """
        sig = self.signature()
        for attempt in range(5):  # another writer moved the notes ref: try again
            try:
                if text:
                    self.repo.create_note(text, sig, sig, oid, ref, True)
                else:
                    try:
                        found = self.repo.lookup_note(oid, ref)
                    except KeyError:
                        return
                    found.remove(sig, sig, ref)
                return
            except pygit2.GitError as err:
                if attempt == 4:
                    raise RepoError(f"cannot write the note of {oid[:12]}: {err}") from None


@contextmanager
def unverified_reads() -> Iterator[None]:
    """Read objects without re-hashing each one, as git's own commands do.

    libgit2 checks every object it reads against its id by default; for bulk reads of
    small records that check costs more than the read (``git fsck`` still checks).
    """
    pygit2.option(pygit2.enums.Option.ENABLE_STRICT_HASH_VERIFICATION, 0)
    try:
        yield
    finally:
        pygit2.option(pygit2.enums.Option.ENABLE_STRICT_HASH_VERIFICATION, 1)


def _common_dir(git_dir: Path) -> Path:
    """The directory shared by all worktrees of the repository ``git_dir`` belongs to."""
    pointer = git_dir / "commondir"
    if pointer.is_file():
        return (git_dir / pointer.read_text().strip()).resolve()
    return git_dir
