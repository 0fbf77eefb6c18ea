"""Knowing, without reading the working tree, that a new snapshot would equal the last.

A loop of runs in one Python process (a sweep from a notebook) would take a full snapshot
per run: at 50k files that is a ``git status`` over every file, each time. A
:class:`TreeWatch` asks Linux's inotify to report every change under the working tree
instead, so "nothing changed" costs one non-blocking ``read``.

The contract: :meth:`TreeWatch.arm` is called right *before* a full snapshot; once it has
returned, every directory the snapshot reads is watched, so any change from then on is
reported. :meth:`TreeWatch.quiet` then says whether anything the snapshot depends on may
have changed since: a file or directory that is tracked or not ignored, an ignore rule,
the index, HEAD and the commit it names, the repository's config or info/exclude, one of
the git config, ignore and attributes files outside the repository (their folders are
watched too), or the variables that find them. Whatever cannot be told for sure counts
as a change:

* a queue overflow, a directory moved, a ``.gitignore`` or git-dir file changed: every
  watch is placed again (from the top) before the next snapshot;
* a nested repository (submodule), a file reached from another device, a file system
  whose changes inotify may miss (NFS, SMB, FUSE …: only local ones are trusted), a watch
  refused (``fs.inotify.max_user_watches``), another platform than Linux, or a process
  forked from the one that opened the watch: no watch at all, every snapshot is full.

Files with more than one hard link get a watch of their own (a write through a link
outside the tree is not reported to the directory). Not seen, as by every inotify user:
writes through a memory map (only closing a file opened for writing is reported), and a
hard link made from outside to a file of the tree after the watch started, then written
through.

``GITXP_WATCH=off`` turns watching off; ``GITXP_WATCH=N`` allows at most N watches.
"""

from __future__ import annotations

import bisect
import ctypes
import errno
import os
import stat
import struct
import sys
import weakref
from pathlib import Path

import pygit2

from gitxp.git.repo import GitRepo, HeadInfo

__all__ = ["WATCH_ENV", "TreeWatch"]

WATCH_ENV = "GITXP_WATCH"

_MODIFY, _ATTRIB, _CLOSE_WRITE = 0x2, 0x4, 0x8
_MOVED_FROM, _MOVED_TO, _CREATE, _DELETE = 0x40, 0x80, 0x100, 0x200
_DELETE_SELF, _MOVE_SELF, _UNMOUNT, _OVERFLOW, _IGNORED = 0x400, 0x800, 0x2000, 0x4000, 0x8000
_ONLYDIR, _DONT_FOLLOW, _ISDIR = 0x01000000, 0x02000000, 0x40000000
_CHANGES = _MODIFY | _ATTRIB | _CLOSE_WRITE | _MOVED_FROM | _MOVED_TO | _CREATE | _DELETE
_SELF = _DELETE_SELF | _MOVE_SELF
_DIR_MASK = _CHANGES | _SELF | _ONLYDIR | _DONT_FOLLOW
_FILE_MASK = _MODIFY | _ATTRIB | _CLOSE_WRITE | _SELF | _DONT_FOLLOW
_EVENT = struct.Struct("iIII")

# statfs(2) f_type of file systems whose every change on this machine inotify reports.
_LOCAL_FS = {
    0xEF53,  # ext2/3/4
    0x58465342,  # xfs
    0x9123683E,  # btrfs
    0x01021994,  # tmpfs
    0x794C7630,  # overlayfs (containers)
    0xF2F52010,  # f2fs
    0x2FC12FC1,  # zfs
    0xCA451A4E,  # bcachefs
    0x858458F6,  # ramfs
}
# In the git directory: what a snapshot reads (index, HEAD, config, rules under info/).
_GIT_NAMES = frozenset(
    {"HEAD", "index", "config", "config.worktree", "packed-refs", "commondir", "info"}
)
_INFO_NAMES = frozenset({"exclude", "attributes", "sparse-checkout"})
_RULE_FILES = frozenset({".gitignore"})  # a change may change what must be watched
_ALWAYS = frozenset({".gitxpignore", ".gitattributes", ".gitmodules"})
_RESERVED = ".gitxp"


class _Unsure(Exception):
    """Something a watch cannot vouch for: watching stops, every snapshot is full."""


def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)  # the interpreter's own C library
        for name in ("inotify_init1", "inotify_add_watch", "statfs"):
            getattr(libc, name)
    except (OSError, AttributeError):
        return None
    libc.inotify_add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
    libc.statfs.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
    return libc


def _limit() -> int | None:
    """None: watching is off; else the most watches to place (0: no limit of ours)."""
    value = os.environ.get(WATCH_ENV, "").strip().lower()
    if value in ("0", "off", "false", "no"):
        return None
    return int(value) if value.isdigit() else 0


class TreeWatch:
    """Changes under one repository's working tree, as reported by inotify."""

    def __init__(self, repo: GitRepo, libc: ctypes.CDLL, limit: int) -> None:
        self.repo = repo
        self._libc = libc
        self._limit = limit
        self._pid = os.getpid()
        self._fd = -1
        self._closer: weakref.finalize | None = None
        self._dirs: dict[int, str] = {}  # watch → directory ("" the top), work tree
        self._files: dict[int, set[str]] = {}  # watch → names of a file with hard links
        self._git: dict[int, frozenset[str]] = {}  # watch → names that matter, git dirs
        self._index: pygit2.Index | None = None
        self._dev = 0
        self._env: tuple[tuple[str, str], ...] = ()  # the variables that find git's files
        self._head: HeadInfo | None = None
        self._new_dirs: set[str] = set()
        self._new_files: set[str] = set()
        self._verdicts: dict[tuple[str, bool], bool] = {}  # relevant? per path, one read
        self._changed = self._rebuild = True
        self.overflows = 0  # queue overflows seen (for tests and benchmarks)

    @classmethod
    def open(cls, repo: GitRepo) -> TreeWatch | None:
        """A watch of ``repo``'s working tree, or None where none can be trusted."""
        limit = _limit()
        libc = _libc()
        if limit is None or libc is None or repo.bare:
            return None
        return cls(repo, libc, limit)

    @property
    def watches(self) -> int:
        """How many inotify watches this watch holds now."""
        return len(self._dirs) + len(self._files) + len(self._git)

    @property
    def active(self) -> bool:
        """False once watching stopped (every snapshot is then full)."""
        return self._fd >= 0 or self._rebuild

    def arm(self) -> bool:
        """Get ready for a full snapshot, to be taken right after this returns.

        Returns False (and stops watching) when the working tree cannot be watched.
        """
        if not self.active:
            return False
        try:
            self._own()
            self._drain()
            env, head = _git_env(), self.repo.head()
            if self._rebuild or env != self._env:
                self._reset()
            else:
                for rel in sorted(self._new_dirs):
                    self._watch_tree(rel)
                for rel in sorted(self._new_files):
                    self._watch_file(rel, None)
        except (_Unsure, OSError, pygit2.GitError):
            self.close()
            return False
        self._new_dirs.clear()
        self._new_files.clear()
        self._env, self._head = env, head
        self._changed = False
        return True

    def quiet(self) -> bool:
        """True if nothing a snapshot reads changed since the last :meth:`arm`."""
        if self._fd < 0:
            return False
        try:
            self._own()
            self._drain()
            if self._changed or self._rebuild:
                return False
            if _git_env() != self._env:
                self._rebuild = True
                return False
            if self.repo.head() != self._head:  # a commit moves a branch, not HEAD
                return False
        except (_Unsure, OSError, pygit2.GitError):
            self.close()
            return False
        return True

    def close(self) -> None:
        """Stop watching for good."""
        self._rebuild = False
        self._stop()

    # -- placing watches ---------------------------------------------------------------

    def _own(self) -> None:
        if os.getpid() != self._pid:  # a forked child shares the queue: never read it
            self._fd = -1
            raise _Unsure("forked")

    def _stop(self) -> None:
        if self._closer is not None:
            self._closer()
            self._closer = None
        self._fd = -1
        self._dirs.clear()
        self._files.clear()
        self._git.clear()
        self._index = None

    def _reset(self) -> None:
        """Every watch from the beginning: git dirs first, then the index, then the tree."""
        self._stop()
        fd = self._libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if fd < 0:
            raise _Unsure(os.strerror(ctypes.get_errno()))
        self._fd = fd
        self._closer = weakref.finalize(self, os.close, fd)
        self._rebuild = False
        repo = self.repo
        if (repo.config_value("core.ignorecase") or "").lower() == "true":
            raise _Unsure("core.ignorecase: the index is not in the order read here")
        for folder, names in self._rule_folders().items():
            wd = self._add(folder, _DIR_MASK)
            self._git[wd] = self._git.get(wd, frozenset()) | names
        index_file = repo.git_dir / "index"
        self._index = pygit2.Index(str(index_file)) if index_file.exists() else pygit2.Index()
        self._dev = os.lstat(repo.workdir).st_dev
        self._check_fs(repo.workdir)
        self._watch_tree("")

    def _add(self, path: Path, mask: int) -> int:
        if self._limit and self.watches >= self._limit:
            raise _Unsure("watch limit")
        wd = int(self._libc.inotify_add_watch(self._fd, os.fsencode(path), mask))
        if wd < 0:
            err = ctypes.get_errno()
            if err in (errno.ENOENT, errno.ENOTDIR):
                raise FileNotFoundError(err, os.strerror(err), str(path))
            raise _Unsure(f"{path}: {os.strerror(err)}")
        return wd

    def _check_fs(self, path: Path) -> None:
        buf = ctypes.create_string_buffer(512)
        if self._libc.statfs(os.fsencode(path), buf) != 0:
            raise _Unsure("statfs")
        if ctypes.c_long.from_buffer(buf).value & 0xFFFFFFFF not in _LOCAL_FS:
            raise _Unsure("file system not local")

    def _watch_tree(self, top: str) -> None:
        """Watch ``top`` and every directory below it that a snapshot reads."""
        workdir = self.repo.workdir
        stack = [top]
        while stack:
            rel = stack.pop()
            folder = workdir / rel if rel else workdir
            try:
                wd = self._add(folder, _DIR_MASK)  # before listing: nothing slips between
                entries = list(os.scandir(folder))
            except (FileNotFoundError, NotADirectoryError):
                if not rel:
                    raise
                continue  # gone again: its parent reported that
            if self._dirs.setdefault(wd, rel) != rel:
                raise _Unsure("one folder under two names (a bind mount)")
            prefix = rel + "/" if rel else ""
            for entry in entries:
                name = entry.name
                if name == ".git" or (not rel and name == _RESERVED):
                    if rel:
                        raise _Unsure("nested repository")
                elif entry.is_dir(follow_symlinks=False):
                    if entry.stat(follow_symlinks=False).st_dev != self._dev:
                        raise _Unsure("another device")
                    child = prefix + name
                    if not self._ignored(child, True) or self._tracked(child, True):
                        stack.append(child)
                elif entry.is_file(follow_symlinks=False):
                    st = entry.stat(follow_symlinks=False)
                    if st.st_nlink > 1 or st.st_dev != self._dev:
                        self._watch_file(prefix + name, st)

    def _watch_file(self, rel: str, st: os.stat_result | None) -> None:
        try:
            st = st or os.lstat(self.repo.workdir / rel)
        except FileNotFoundError:
            return
        if stat.S_ISDIR(st.st_mode):
            self._watch_tree(rel)
        elif st.st_dev != self._dev:
            raise _Unsure("another device")
        elif stat.S_ISREG(st.st_mode) and st.st_nlink > 1:
            self._files.setdefault(self._add(self.repo.workdir / rel, _FILE_MASK), set()).add(rel)

    # -- what is in the tree ---------------------------------------------------------

    def _tracked(self, rel: str, isdir: bool) -> bool:
        index = self._index
        if index is None:
            return True
        if not isdir:
            return rel in index
        prefix = rel + "/"  # the index is sorted by path: one binary search

        def path(position: int) -> str:
            return str(index[position].path)

        first = bisect.bisect_left(range(len(index)), prefix, key=path)
        return first < len(index) and path(first).startswith(prefix)

    def _ignored(self, rel: str, isdir: bool) -> bool:
        return bool(self.repo.repo.path_is_ignored(rel + "/" if isdir else rel))

    def _relevant(self, rel: str, isdir: bool) -> bool:
        if rel == _RESERVED or rel.startswith(_RESERVED + "/"):
            return False
        verdict = self._verdicts.get((rel, isdir))
        if verdict is None:
            verdict = not self._ignored(rel, isdir) or self._tracked(rel, isdir)
            self._verdicts[(rel, isdir)] = verdict
        return verdict

    # -- reading events ---------------------------------------------------------------

    def _drain(self) -> None:
        self._verdicts.clear()  # the rules may have changed since the last read
        while self._fd >= 0:
            try:
                data = os.read(self._fd, 65536)
            except BlockingIOError:
                return
            offset = 0
            while offset < len(data):
                wd, mask, _cookie, size = _EVENT.unpack_from(data, offset)
                start = offset + _EVENT.size
                name = data[start : start + size].rstrip(b"\0").decode("utf-8", "surrogateescape")
                offset = start + size
                self._event(wd, mask, name)

    def _event(self, wd: int, mask: int, name: str) -> None:
        if mask & _OVERFLOW:
            self.overflows += 1
            self._changed = self._rebuild = True
            return
        names = self._git.get(wd)  # a folder can be both (a repository in the home folder)
        if names is not None and (mask & (_SELF | _IGNORED) or name in names):
            self._changed = self._rebuild = True
        if wd in self._files:
            if mask & _IGNORED:
                del self._files[wd]
            elif any(self._relevant(rel, False) for rel in self._files[wd]):
                self._changed = True
        elif wd in self._dirs:
            self._dir_event(wd, mask, name)

    def _dir_event(self, wd: int, mask: int, name: str) -> None:
        folder = self._dirs[wd]
        if mask & (_IGNORED | _SELF | _UNMOUNT):
            if mask & _IGNORED:
                del self._dirs[wd]
            if not folder or mask & (_MOVE_SELF | _UNMOUNT):
                self._changed = self._rebuild = True
            return
        if not name:
            return  # the directory's own attributes: not in a snapshot
        rel = f"{folder}/{name}" if folder else name
        isdir = bool(mask & _ISDIR)
        if name in _RULE_FILES or name == ".git":
            self._changed = self._rebuild = True
        elif name in _ALWAYS:
            self._changed = True
        elif self._changed and not mask & (_CREATE | _MOVED_TO | _MOVED_FROM):
            return  # changed already: only what to watch from the next arm still matters
        elif self._relevant(rel, isdir):
            self._changed = True
            if isdir and mask & (_MOVED_FROM | _MOVED_TO):
                self._rebuild = True  # watches below it now have the wrong names
            elif isdir and mask & _CREATE:
                self._new_dirs.add(rel)
            elif mask & (_CREATE | _MOVED_TO):
                self._new_files.add(rel)

    # -- where git's own files are ----------------------------------------------------

    def _rule_folders(self) -> dict[Path, frozenset[str]]:
        """Folders to watch for the files git reads besides the work tree, each with the
        names in it that matter: the git dirs, then the config, ignore and attributes
        files outside (a missing one by its nearest existing folder)."""
        repo = self.repo
        found: dict[Path, frozenset[str]] = {}

        def want(folder: Path, names: frozenset[str]) -> None:
            found[folder] = found.get(folder, frozenset()) | names

        for folder in (repo.git_dir, repo.common_dir):
            want(folder, _GIT_NAMES)
            want(folder / "info", _INFO_NAMES)
        for path in self._outside_files():
            for target in dict.fromkeys([path, Path(os.path.realpath(path))]):
                folder, name = target.parent, target.name
                while not folder.is_dir() and folder != folder.parent:
                    folder, name = folder.parent, folder.name
                want(folder, frozenset({name}))
        return {folder: names for folder, names in found.items() if folder.is_dir()}

    def _outside_files(self) -> list[Path]:
        home = Path(os.environ.get("HOME") or os.path.expanduser("~"))
        xdg = Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config")
        files = [home / ".gitconfig", Path("/etc/gitconfig")]
        files += [xdg / "git" / name for name in ("config", "ignore", "attributes")]
        files += [
            Path(os.environ[k])
            for k in ("GIT_CONFIG_GLOBAL", "GIT_CONFIG_SYSTEM")
            if os.environ.get(k)
        ]
        for entry in self.repo.repo.config:
            key = str(entry.name).lower()
            if key in ("core.excludesfile", "core.attributesfile") or (
                key.startswith(("include.", "includeif.")) and key.endswith(".path")
            ):
                value = Path(os.path.expanduser(str(entry.value)))
                relative = [home / value, self.repo.common_dir / value]  # which file said it
                files += [value] if value.is_absolute() else relative
        return files


def _git_env() -> tuple[tuple[str, str], ...]:
    """The variables that tell git (and so a snapshot) where its files are, and more."""
    return tuple(
        sorted(
            (k, v)
            for k, v in os.environ.items()
            if k.startswith("GIT_") or k in ("HOME", "XDG_CONFIG_HOME")
        )
    )
