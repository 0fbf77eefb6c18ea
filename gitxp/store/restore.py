"""Bringing a run's sources back: ``gitxp checkout``, ``gitxp branch`` and temporary worktrees.

A run's snapshot commit holds the sources plus gitxp's ``.gitxp/`` records. Everything here
works on the *source commit* of a run instead: a commit whose tree is the snapshot tree
without ``.gitxp/``, whose parent is the run's base commit, and whose author and committer
are copied from the snapshot commit, so the same run always gives the same commit id.
When the run was made from a clean working tree its sources are exactly the base commit,
and the base commit itself is used.

- :func:`temporary_worktree`: a linked ``git worktree`` at the source commit, in a fresh
  temporary folder, removed afterwards (``gitxp reproduce``, ``gitxp run --resume``).
- :func:`checkout`: writes the run's sources into the user's working tree.
- :func:`branch`: a branch at the source commit: a good run becomes a line of development.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import stat
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from gitxp.errors import UnsafeNameError, UnsafePathError, UsageError
from gitxp.git.fsck import unsafe_path
from gitxp.git.repo import GitRepo
from gitxp.git.snapshot import Snapshot, take_snapshot
from gitxp.store.runs import RunRecord, record

WORKTREE_PREFIX = "gitxp-wt-"
_LOCK = "in-use.lock"
_LINK = 0o120000
_GITLINK = 0o160000
_EXEC = 0o100755
_PROTECTED = frozenset({".git", record.RECORD_DIR})


def source_tree(repo: GitRepo, rec: RunRecord) -> str:
    """The tree of the run's sources: the snapshot tree without ``.gitxp/``."""
    return repo.without_entry(repo.commit_tree(rec.snapshot_commit), record.RECORD_DIR)


def source_commit(repo: GitRepo, rec: RunRecord) -> str:
    """The commit holding exactly the run's sources (see the module docstring)."""
    tree = source_tree(repo, rec)
    base = rec.info.get("base_commit")
    if base and repo.has_commit(base) and repo.commit_tree(base) == tree:
        return str(base)
    label = rec.info.get("name") or rec.info.get("experiment") or "run"
    message = (
        f"Sources of gitxp run {rec.ref.id[:10]}: {label}\n\n"
        f"The working tree as run {rec.ref.id} recorded it, without gitxp's "
        f"{record.RECORD_DIR}/ records.\n\n"
        f"Gitxp-Source-Of: {rec.ref.id}\n"
    )
    parents = [str(base)] if base and repo.has_commit(base) else []
    return repo.write_commit_like(tree, parents, message, like=rec.snapshot_commit)


def recorded_snapshot(repo: GitRepo, rec: RunRecord) -> Snapshot:
    """The run's sources as a :class:`Snapshot`, to record a new run of the same sources."""
    info = rec.info
    return Snapshot(
        tree=source_tree(repo, rec),
        base=info.get("base_commit"),
        branch=info.get("branch"),
        detached=bool(info.get("detached")),
        dirty=bool(info.get("dirty")),
        skipped=list(info.get("skipped_files") or []),
    )


def refuse_unsafe(rec: RunRecord, paths: Iterable[str], what: str = "file") -> None:
    """Raise UnsafePathError if any of ``paths`` of run ``rec`` must not be written to disk."""
    for path in paths:
        why = unsafe_path(path)
        if why is not None:
            raise _unsafe(rec, what, UnsafeNameError(path, why))


def safe_tree_files(repo: GitRepo, rec: RunRecord, tree: str) -> dict[str, tuple[str, int]]:
    """``repo.tree_files(tree)``, refused whole (UnsafePathError) if one name is unsafe.

    Every name is checked before anything is written: a run whose tree holds ``..``,
    ``.git`` or a name with ``/`` (as a hostile or broken remote can send, and plain
    ``git fetch`` does not check) writes nothing at all.
    """
    try:
        return repo.tree_files(tree, safe=True)
    except UnsafeNameError as err:
        raise _unsafe(rec, "file", err) from None


def _unsafe(rec: RunRecord, what: str, err: UnsafeNameError) -> UnsafePathError:
    return UnsafePathError(
        f"run {rec.ref.id}: {what} {err}; gitxp writes none of the run's files "
        f"('gitxp rm {rec.ref.id}' deletes it)"
    )


def open_worktree(repo: GitRepo, rec: RunRecord) -> tuple[Path, int]:
    """Check the run's sources out in a new linked worktree in a fresh temporary folder.

    Returns its path and a descriptor holding the folder's lock: while it is held the
    worktree is in use; once the holder is gone, :func:`remove_stale_worktrees` removes it.
    """
    safe_tree_files(repo, rec, source_tree(repo, rec))
    return worktree_at(repo, source_commit(repo, rec))


def worktree_at(repo: GitRepo, commit: str) -> tuple[Path, int]:
    """:func:`open_worktree` for any commit (``gitxp bisect`` walks code history in one)."""
    parent = Path(tempfile.mkdtemp(prefix=WORKTREE_PREFIX)).resolve()
    fd = os.open(parent / _LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX)
    path = parent / (repo.workdir.name or "sources")
    try:
        repo.add_worktree(path, commit)
    except BaseException:
        os.close(fd)
        shutil.rmtree(parent, ignore_errors=True)
        raise
    return path, fd


def close_worktree(repo: GitRepo, path: Path, fd: int, keep: bool = False) -> None:
    """Remove a worktree made by :func:`open_worktree` (or keep it, unlocked for good)."""
    try:
        if keep:
            (path.parent / _LOCK).unlink(missing_ok=True)  # kept on purpose: not stale
        else:
            repo.remove_worktree(path)
            shutil.rmtree(path.parent, ignore_errors=True)
    finally:
        os.close(fd)


@contextmanager
def temporary_worktree(repo: GitRepo, rec: RunRecord, keep: bool = False) -> Iterator[Path]:
    """A fresh linked worktree holding the run's sources; removed on exit unless ``keep``.

    The worktree shares the repository's objects and refs, so a run recorded from it lands
    in the user's repository. The user's working tree, index, HEAD and branches are not
    touched; git's record of the worktree is removed with it.
    """
    path, fd = open_worktree(repo, rec)
    try:
        yield path
    finally:
        close_worktree(repo, path, fd, keep)


def remove_stale_worktrees(repo: GitRepo) -> list[Path]:
    """Remove gitxp's worktrees that nobody uses any more (a reproduction was killed).

    A worktree is gitxp's when its folder was made by :func:`open_worktree`; it is stale
    when that folder is gone, or when its lock file is there but not held. Worktrees kept
    with ``--keep-worktree`` have no lock file and stay.
    """
    removed = []
    for path in repo.worktree_paths():
        if not path.parent.name.startswith(WORKTREE_PREFIX):
            continue
        if not path.exists():
            repo.prune_worktree_admin(path)
            removed.append(path)
            continue
        try:
            fd = os.open(path.parent / _LOCK, os.O_RDWR)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        try:
            repo.remove_worktree(path)
            shutil.rmtree(path.parent, ignore_errors=True)
        finally:
            os.close(fd)
        removed.append(path)
    return removed


def extract_artifacts(repo: GitRepo, rec: RunRecord, target: Path) -> list[str]:
    """Write the run's artifacts below ``target``; returns their names.

    Refused whole (UnsafePathError) when an artifact's name is unsafe; a symbolic link
    among them is written as a file holding its target, never followed.
    """
    folder = f"{record.RECORD_DIR}/artifacts"
    try:
        found = list(repo.walk_files(rec.ref.commit, folder, safe=True))
    except UnsafeNameError as err:
        raise _unsafe(rec, "artifact", err) from None
    files = [(path[len(folder) + 1 :], oid) for path, oid, _ in found]
    for name, oid in files:
        _write_file(target, name, oid, 0o100644, repo)
    return [name for name, _ in files]


# -- gitxp checkout ---------------------------------------------------------------------


@dataclass
class CheckoutResult:
    """What :func:`checkout` changed in the working tree."""

    written: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    submodules: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def checkout(repo: GitRepo, rec: RunRecord, force: bool = False) -> CheckoutResult:
    """Make the working tree hold exactly the run's sources.

    Afterwards a snapshot of the working tree (what ``git add -A`` would stage) is the
    run's source tree. HEAD, the index and the branches stay as they are, so ``git status``
    shows how the run differs from HEAD. Refuses (unless ``force``) when a file that would
    change or disappear holds uncommitted work: content that differs from HEAD.
    Ignored files the run does not contain are left alone.
    """
    recorded = safe_tree_files(repo, rec, source_tree(repo, rec))
    wanted = {p: v for p, v in recorded.items() if _allowed(p)}
    current = repo.tree_files(take_snapshot(repo).tree)
    head = repo.head().commit
    committed = repo.tree_files(repo.commit_tree(head)) if head else {}
    changes = sorted(p for p in set(wanted) | set(current) if wanted.get(p) != current.get(p))
    at_risk = [p for p in changes if current.get(p) != committed.get(p) and p in current]
    # Files git does not see (ignored, or too large to snapshot) that the run would replace.
    at_risk += [p for p in changes if p not in current and _on_disk_differs(repo, p, wanted.get(p))]
    leaving = {p for p in changes if p not in wanted}
    at_risk += [p for p in changes if p in wanted and _blocked(repo.workdir, p, leaving)]
    if at_risk and not force:
        shown = ", ".join(sorted(at_risk)[:5]) + (" …" if len(at_risk) > 5 else "")
        raise UsageError(
            f"checkout would overwrite uncommitted work in {shown}; commit or stash it "
            "first, or pass --force"
        )
    result = CheckoutResult(unchanged=len(set(wanted) - set(changes)))
    for path in changes:
        if path not in wanted and _allowed(path):
            _remove_file(repo.workdir, path)
            result.removed.append(path)
    for path in changes:
        if path in wanted:
            oid, mode = wanted[path]
            if mode == _GITLINK:
                (repo.workdir / path).mkdir(parents=True, exist_ok=True)
                result.submodules.append(path)
                continue
            _write_file(repo.workdir, path, oid, mode, repo)
            result.written.append(path)
    result.skipped = [str(s.get("path")) for s in rec.info.get("skipped_files") or []]
    return result


def _allowed(path: str) -> bool:
    return not any(part in _PROTECTED for part in path.split("/"))


def _on_disk_differs(repo: GitRepo, path: str, want: tuple[str, int] | None) -> bool:
    full = repo.workdir / path
    if not os.path.lexists(full) or (os.path.isdir(full) and not os.path.islink(full)):
        return False
    if want is None:
        return False
    try:
        if os.path.islink(full):
            return os.readlink(full).encode("utf-8", "surrogateescape") != repo.blob_data(want[0])
        return repo.hash_file(full) != want[0]
    except OSError:
        return True


def _blocked(workdir: Path, path: str, leaving: set[str]) -> bool:
    """Whether a folder of ``path`` is a link or file on disk that checkout may not remove."""
    folder = ""
    for part in path.split("/")[:-1]:
        folder = f"{folder}/{part}" if folder else part
        full = workdir / folder
        if os.path.islink(full) or (os.path.lexists(full) and not full.is_dir()):
            return folder not in leaving
    return False


def _safe_parent(workdir: Path, path: str) -> Path:
    """The folder of ``path`` below ``workdir``, made of real directories only."""
    folder = workdir
    for part in path.split("/")[:-1]:
        folder = folder / part
        if os.path.islink(folder) or (os.path.lexists(folder) and not folder.is_dir()):
            os.unlink(folder)
        if not folder.exists():
            folder.mkdir()
    return folder


def _write_file(workdir: Path, path: str, oid: str, mode: int, repo: GitRepo) -> None:
    """Write blob ``oid`` as ``path`` below ``workdir`` (never through a link), streamed."""
    target = _safe_parent(workdir, path) / path.rsplit("/", 1)[-1]
    if os.path.lexists(target):
        if os.path.isdir(target) and not os.path.islink(target):
            shutil.rmtree(target)
        else:
            os.unlink(target)
    if mode == _LINK:
        os.symlink(repo.blob_data(oid).decode("utf-8", "surrogateescape"), target)
        return
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(target, flags, 0o777 if mode == _EXEC else 0o666)
    with os.fdopen(fd, "wb") as handle:
        repo.copy_blob(oid, handle)
    if mode == _EXEC and not os.stat(target).st_mode & stat.S_IXUSR:
        os.chmod(target, os.stat(target).st_mode | stat.S_IXUSR)


def _remove_file(workdir: Path, path: str) -> None:
    target = workdir / path
    if os.path.islink(target) or target.is_file():
        os.unlink(target)
    elif target.is_dir():  # a submodule or nested repository: leave its contents alone
        return
    folder = target.parent
    while folder != workdir and folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
        folder = folder.parent


# -- gitxp branch -------------------------------------------------------------------------


def branch(repo: GitRepo, rec: RunRecord, name: str, force: bool = False) -> str:
    """Create branch ``name`` at the run's source commit; returns that commit id.

    The branch never contains ``.gitxp/``: gitxp's records stay on the run ref, and the
    branch is an ordinary line of development whose first commit (if the run had
    uncommitted changes) holds them, on top of the run's base commit.
    """
    commit = source_commit(repo, rec)
    repo.set_branch(name, commit, force=force)
    return commit
