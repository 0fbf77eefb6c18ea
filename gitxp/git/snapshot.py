"""The built-in pre-run hook's snapshot: the tree ``git add -A`` would stage, built aside.

The user's index is read into an in-memory index that is never written back (with the
stat data of gitxp's own cache, :mod:`gitxp.git.statcache`, when the user's is stale); the
working tree is compared against it (libgit2's diffs, as ``git status`` does), and every
changed or new file is stored as a blob and placed in that in-memory index. HEAD,
branches, the index file and the working tree stay exactly as they were.

Untracked files are left out (and listed in ``skipped`` with the reason) when they look
like secrets (:mod:`gitxp.git.secrets`: ``.env``, ``*.pem``, ``id_rsa*`` …, decided by
``.gitxpignore`` and ``gitxp.skipSecrets``) or are larger than ``gitxp.maxUntrackedSize``.
"""

from __future__ import annotations

import os
import stat
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pygit2
from pygit2.enums import DeltaStatus, DiffOption, FileMode, FileStatus

from gitxp.git.repo import GitRepo
from gitxp.git.retry import retried
from gitxp.git.secrets import SecretRules
from gitxp.git.statcache import working_index

RESERVED_DIR = ".gitxp"
DEFAULT_MAX_UNTRACKED = 10 * 1024 * 1024
_CHANGED = FileStatus.WT_NEW | FileStatus.WT_MODIFIED | FileStatus.WT_TYPECHANGE
_STAGED = (
    FileStatus.INDEX_NEW
    | FileStatus.INDEX_MODIFIED
    | FileStatus.INDEX_DELETED
    | FileStatus.INDEX_RENAMED
    | FileStatus.INDEX_TYPECHANGE
)
# What `git status` calls each kind of change between the index and the working tree.
_WORKTREE_STATUS: dict[DeltaStatus, int] = {
    DeltaStatus.ADDED: FileStatus.WT_NEW,
    DeltaStatus.UNTRACKED: FileStatus.WT_NEW,
    DeltaStatus.DELETED: FileStatus.WT_DELETED,
    DeltaStatus.MODIFIED: FileStatus.WT_MODIFIED,
    DeltaStatus.TYPECHANGE: FileStatus.WT_TYPECHANGE,
    DeltaStatus.UNREADABLE: FileStatus.WT_UNREADABLE,
    DeltaStatus.CONFLICTED: FileStatus.CONFLICTED,
}
_STAGED_STATUS: dict[DeltaStatus, int] = {
    DeltaStatus.ADDED: FileStatus.INDEX_NEW,
    DeltaStatus.DELETED: FileStatus.INDEX_DELETED,
    DeltaStatus.MODIFIED: FileStatus.INDEX_MODIFIED,
    DeltaStatus.TYPECHANGE: FileStatus.INDEX_TYPECHANGE,
    DeltaStatus.CONFLICTED: FileStatus.CONFLICTED,
}
_WORKTREE_DIFF = (
    DiffOption.INCLUDE_UNTRACKED | DiffOption.RECURSE_UNTRACKED_DIRS | DiffOption.INCLUDE_TYPECHANGE
)


@dataclass(frozen=True)
class Snapshot:
    """The source tree of a run and what it says about the working tree."""

    tree: str
    base: str | None
    branch: str | None
    detached: bool
    dirty: bool
    skipped: list[dict[str, object]] = field(default_factory=list)
    # Submodules with uncommitted changes: their commit is in the tree, their edits not.
    dirty_submodules: list[dict[str, object]] = field(default_factory=list)


def parse_size(text: str) -> int:
    """``"10M"`` → 10485760; plain numbers are bytes (k, m, g suffixes, base 1024)."""
    units = {"k": 1024, "m": 1024**2, "g": 1024**3}
    value = text.strip().lower().removesuffix("b").removesuffix("i")
    factor = units.get(value[-1:], 1)
    number = value[:-1] if value[-1:] in units else value
    return int(float(number) * factor)


def max_untracked_size(repo: GitRepo) -> int:
    """The size limit for untracked files: ``git config gitxp.maxUntrackedSize`` or 10 MiB."""
    configured = repo.config_value("gitxp.maxUntrackedSize")
    if configured:
        try:
            return parse_size(configured)
        except ValueError:
            pass
    return DEFAULT_MAX_UNTRACKED


def skip_secrets(repo: GitRepo) -> bool:
    """Whether the built-in secret patterns apply: ``git config gitxp.skipSecrets`` (true)."""
    value = (repo.config_value("gitxp.skipSecrets") or "true").strip().lower()
    return value not in ("false", "no", "off", "0")


@retried
def take_snapshot(repo: GitRepo, max_untracked: int | None = None) -> Snapshot:
    """Build the snapshot tree of ``repo``'s working tree without changing anything.

    Taken again from the start when a file changes while it is read.
    """
    limit = max_untracked_size(repo) if max_untracked is None else max_untracked
    git = repo.repo
    head = repo.head()
    start = working_index(repo)
    index = start.index
    skipped: list[dict[str, object]] = []
    dirty_submodules: list[dict[str, object]] = []
    rules: SecretRules | None = None  # read at the first untracked file
    dirty = False
    conflicts = index.conflicts
    if conflicts is not None:
        # A merge in progress: like `git add -A`, take the working-tree version.
        paths = {entry.path for sides in conflicts for entry in sides if entry is not None}
        dirty = dirty or bool(paths)  # the snapshot holds the unresolved working-tree files
        for path in sorted(paths):
            del conflicts[path]
            _place(git, index, repo.workdir, path)
    for path, flags in _status(git, index, head.commit, start.tree).items():
        if path.startswith(RESERVED_DIR + "/") or path == RESERVED_DIR:
            continue
        dirty = dirty or bool(
            flags & (_CHANGED | FileStatus.WT_DELETED | _STAGED | FileStatus.CONFLICTED)
        )
        if flags & FileStatus.WT_DELETED:
            _remove(index, path)
        elif flags & _CHANGED:
            if flags & FileStatus.WT_NEW:
                size = _untracked_size(repo.workdir / path)
                clean = path.rstrip("/")
                if rules is None:
                    rules = SecretRules.load(repo.workdir, skip_secrets(repo))
                pattern = rules.match(clean)
                if pattern is not None:
                    skipped.append(
                        {"path": clean, "size": size, "reason": "secret", "pattern": pattern}
                    )
                    continue
                if size > limit:
                    skipped.append({"path": clean, "size": size, "reason": "too large"})
                    continue
            _place(git, index, repo.workdir, path)
        if flags & _CHANGED and (repo.workdir / path.rstrip("/")).is_dir():
            sub = _dirty_submodule(repo.workdir / path.rstrip("/"))
            if sub is not None:
                dirty_submodules.append({"path": path.rstrip("/"), **sub})
    # `.gitxp` is written by gitxp only: never take it from the working tree.
    tree = repo.without_entry(str(index.write_tree(git)), RESERVED_DIR)
    return Snapshot(tree, head.commit, head.branch, head.detached, dirty, skipped, dirty_submodules)


def _status(
    git: pygit2.Repository, index: pygit2.Index, head: str | None, tree: str | None
) -> dict[str, int]:
    """``git status`` of the working tree against ``index`` (not the user's index file):
    path → FileStatus flags, staged changes against ``head`` included (none when the tree
    of the index, ``tree`` if known, is HEAD's)."""
    # The diffs read the working tree and ignore rules of this repository (pygit2 keeps
    # the repository of an index opened from a file unset).
    index._repo = git  # type: ignore[assignment]
    found: dict[str, int] = {}
    for delta in index.diff_to_workdir(_WORKTREE_DIFF).deltas:
        found[delta.new_file.path] = _WORKTREE_STATUS.get(delta.status, 0)
    staged: list[tuple[str, int]]
    if head is None:
        staged = [(str(entry.path), FileStatus.INDEX_NEW) for entry in index]
    else:
        head_tree = git[head].peel(pygit2.Tree)
        staged = []
        if str(head_tree.id) != tree:
            deltas = index.diff_to_tree(head_tree, DiffOption.INCLUDE_TYPECHANGE).deltas
            staged = [(d.new_file.path, _STAGED_STATUS.get(d.status, 0)) for d in deltas]
    for path, flag in staged:
        found[path] = found.get(path, 0) | flag
    return found


def _place(git: pygit2.Repository, index: pygit2.Index, workdir: Path, path: str) -> None:
    """Put the working-tree state of ``path`` into ``index`` (a file, link or repo)."""
    clean = path.rstrip("/")
    full = workdir / clean
    try:
        st = os.lstat(full)
    except FileNotFoundError:
        _remove(index, clean)
        return
    if stat.S_ISDIR(st.st_mode):
        head = _nested_head(full)
        if head is not None:
            index.add(pygit2.IndexEntry(clean, head, FileMode.COMMIT))
        return
    if stat.S_ISLNK(st.st_mode):
        mode = FileMode.LINK
        oid = git.create_blob(os.readlink(full).encode("utf-8", "surrogateescape"))
    else:
        mode = FileMode.BLOB_EXECUTABLE if st.st_mode & 0o100 else FileMode.BLOB
        oid = git.create_blob_fromworkdir(clean)
    index.add(pygit2.IndexEntry(clean, oid, mode))


def _nested_head(path: Path) -> pygit2.Oid | None:
    """The HEAD commit of the repository at ``path`` (a submodule), or None."""
    try:
        sub = pygit2.Repository(str(path))
        return None if sub.head_is_unborn else pygit2.Oid(hex=str(sub.head.target))
    except pygit2.GitError:
        return None


def _dirty_submodule(path: Path) -> dict[str, object] | None:
    """``{commit, changed}`` of the repository at ``path`` if its files differ from its
    HEAD (what the snapshot leaves out of it), else None."""
    try:
        sub = pygit2.Repository(str(path))
        changed = [p for p, f in sub.status().items() if f != FileStatus.IGNORED]
        commit = None if sub.head_is_unborn else str(sub.head.target)
    except pygit2.GitError:
        return None
    return {"commit": commit, "changed": len(changed)} if changed else None


def _untracked_size(path: Path) -> int:
    try:
        st = os.lstat(path)
    except OSError:
        return 0
    return 0 if stat.S_ISDIR(st.st_mode) else st.st_size


def _remove(index: pygit2.Index, path: str) -> None:
    try:
        index.remove(path)
    except (OSError, KeyError, pygit2.GitError):
        pass


def warn_left_out(repo: GitRepo, snap: Snapshot) -> None:
    """Say on stderr what the snapshot of a run being started leaves out, once per run."""
    if snap.skipped:
        limit = max_untracked_size(repo)
        names = ", ".join(f"{s['path']} ({s['size']} bytes)" for s in snap.skipped[:5])
        more = f" and {len(snap.skipped) - 5} more" if len(snap.skipped) > 5 else ""
        print(
            f"gitxp: warning: untracked files over {limit} bytes are not recorded: {names}"
            f"{more}; raise the limit with 'git config gitxp.maxUntrackedSize 100M', or "
            "commit them (or .gitignore them to silence this)",
            file=sys.stderr,
        )
    for sub in snap.dirty_submodules:
        commit = str(sub.get("commit") or "no commit")[:12]
        print(
            f"gitxp: warning: submodule {sub['path']} has {sub['changed']} uncommitted "
            f"change(s); the run records its commit {commit} only (commit them in the "
            "submodule to record them)",
            file=sys.stderr,
        )
