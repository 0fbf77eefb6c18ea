"""GitRepo's trees, diffs, branches and worktrees: what reproduce, diff, checkout, branch,
rm and gc need. Mixed into :class:`gitxp.git.repo.GitRepo`; import that, not this.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import pygit2
from pygit2.enums import FileMode

from gitxp.errors import RepoError
from gitxp.git.fsck import check_name


@dataclass(frozen=True)
class HeadInfo:
    """Where the user's HEAD was: commit id (None in a repo with no commits) and branch."""

    commit: str | None
    branch: str | None
    detached: bool


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


STREAM_FROM = 8 << 20  # blobs this large or larger are streamed to disk by git cat-file

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


class HistoryMixin:
    """Tree, diff, branch and worktree operations of :class:`gitxp.git.repo.GitRepo`."""

    repo: pygit2.Repository
    workdir: Path
    git_dir: Path
    common_dir: Path

    if TYPE_CHECKING:

        def _commit(self, commit: str) -> pygit2.Commit: ...
        def _tree(self, oid: str) -> pygit2.Tree: ...
        def head(self) -> HeadInfo: ...
        def ref_target(self, name: str) -> str | None: ...

    # -- trees, diffs, identities (reproduce, diff, checkout, branch) ----------------

    def tree_files(self, tree: str | None, safe: bool = False) -> dict[str, tuple[str, int]]:
        """Every non-tree entry below ``tree``: path → (oid, mode); None is the empty tree.

        ``safe``: raise UnsafeNameError at the first entry whose name must not be written
        to disk (``..``, ``.git``, a name with ``/`` …: :func:`gitxp.git.fsck.unsafe_name`).
        """
        out: dict[str, tuple[str, int]] = {}
        if tree is None:
            return out
        stack: list[tuple[pygit2.Tree, str]] = [(self._tree(tree), "")]
        while stack:
            node, prefix = stack.pop()
            for entry in node:
                path = prefix + str(entry.name)
                if safe:
                    check_name(path, str(entry.name))
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

    # -- code history (ls --on) ------------------------------------------------------

    def first_parent_history(self, rev: str, limit: int) -> list[tuple[str, str, str | None]]:
        """Up to ``limit`` commits from ``rev`` back along first parents, newest first:
        (commit, its tree, its first parent's tree or None)."""
        out: list[tuple[str, str, str | None]] = []
        commit: pygit2.Commit | None = self._commit(rev)
        while commit is not None and len(out) < limit:
            try:
                parent = commit.parents[0] if commit.parents else None
            except (KeyError, pygit2.GitError):  # a shallow clone's edge
                parent = None
            out.append((str(commit.id), str(commit.tree_id), parent and str(parent.tree_id)))
            commit = parent
        return out

    def merge_base(self, a: str, b: str) -> str | None:
        """The best common ancestor of commits ``a`` and ``b`` (None when unrelated)."""
        try:
            found = self.repo.merge_base(pygit2.Oid(hex=a), pygit2.Oid(hex=b))
        except (ValueError, pygit2.GitError):
            return None
        return str(found) if found else None

    def patch_id(self, old: str | None, new: str) -> str | None:
        """git's patch id of the change from tree ``old`` (None: empty) to tree ``new``;
        None when the trees are the same. Equal changes on other bases share it."""
        empty = str(self.repo.TreeBuilder().write())
        diff = self._tree(old or empty).diff_to_tree(self._tree(new))
        return str(diff.patchid) if len(diff) else None

    # -- files out of git (checkout, artifacts) --------------------------------------

    def copy_blob(self, oid: str, out: BinaryIO) -> None:
        """Write the content of blob ``oid`` to the open file ``out``.

        A blob of :data:`STREAM_FROM` bytes or more is streamed by ``git cat-file``
        straight into the file (git inflates a loose or whole packed blob piece by piece),
        so checking out a 256 MB file does not hold 256 MB in this process; a smaller one,
        or where the git command fails, is written from libgit2's copy without another.
        """
        kind, size = self.repo.odb.read_header(pygit2.Oid(hex=oid))
        if kind != pygit2.enums.ObjectType.BLOB:
            raise RepoError(f"{oid} is not a file")
        if size >= STREAM_FROM:
            out.flush()
            start = out.tell()
            env = {k: v for k, v in os.environ.items() if k not in _GIT_LOCATION_ENV}
            try:
                done = (
                    subprocess.run(
                        ["git", "cat-file", "blob", oid],
                        cwd=self.workdir,
                        env=env,
                        stdin=subprocess.DEVNULL,
                        stdout=out.fileno(),
                        stderr=subprocess.DEVNULL,
                    ).returncode
                    == 0
                    and out.seek(0, os.SEEK_END) - start == size
                )
            except OSError:
                done = False
            if done:
                return
            out.seek(start)
            out.truncate()
        blob = self.repo[pygit2.Oid(hex=oid)]
        out.write(memoryview(blob))  # type: ignore[arg-type]  # a Blob is a buffer

    def hash_file(self, path: Path) -> str:
        """The blob id the file at ``path`` would have (read in pieces, nothing stored)."""
        return str(pygit2.hashfile(str(path)))

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
