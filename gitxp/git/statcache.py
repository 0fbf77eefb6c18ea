"""gitxp's own stat cache: the user's index with stat data gitxp keeps fresh, kept aside.

git knows a file is unchanged without reading it when its stat data (times, size, inode)
matches what the index recorded. gitxp never writes the user's index, so once that data
is stale (files touched, a fresh checkout, rsync) every snapshot would hash the whole tree
again. Instead gitxp keeps, in ``<git-dir>/gitxp/statcache/`` (per worktree):

- ``index``: a real git index file with the user's entries (the same paths, ids, modes)
  and stat data gitxp checked, by hashing the file when it had to;
- ``index.json``: the checksum of the user's index it copies and its own (the two files
  are replaced one after the other: a reader checks that they belong together), files
  found different from the user's index, and entries too recent to be trusted yet.

:func:`working_index` hands the snapshot the cache when it copies the user's current index
and a sample of its entries matches the files; else the user's index when a sample of its
own stat data matches; else a full pass over a copy of the user's index, published as the
new cache. A file changed right after gitxp looked at it can keep its stat data (file
times come from a coarse clock): an entry whose mtime falls within ``MARGIN_NS`` of the
moment it was looked at is smudged (never matches) and checked again by the next snapshot.

Files are replaced atomically (a temporary file, then ``os.replace``): snapshots running at
once never corrupt them, a killed one leaves valid files, a cache that cannot be read is
ignored and rebuilt, and deleting the folder loses nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import stat
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pygit2
from pygit2.enums import FileMode
from pygit2.ffi import C, ffi

from gitxp.git.blobid import BlobIds
from gitxp.git.repo import GitRepo

CACHE_DIR = "statcache"
CACHE_INDEX = "index"
CACHE_META = "index.json"
META_FORMAT = 1
SAMPLE = 64  # entries whose stat data decides whether an index can be trusted as it is
# File times come from the kernel's coarse clock, a tick (<= 10 ms) behind the fine one.
MARGIN_NS = 20_000_000
_META_LIMIT = 64 * 1024 * 1024
_STALE_TEMP = 3600  # seconds after which a leftover temporary file is removed
_STAGE_MASK = 0x3000
_ASSUME_VALID = 0x8000
_EXTENDED_SPECIAL = (1 << 13) | (1 << 14)  # intent-to-add, skip-worktree
_EMPTY_BLOB = bytes.fromhex("e69de29bb2d1d6434b8b29ae775ad8c2e48c5391")

StatKey = tuple[int, int, int, int, int, int, int, int]


@dataclass
class _Meta:
    """What ``index.json`` says about ``index``."""

    user: str  # checksum of the user's index the cache copies
    cache: str  # checksum of the cache index itself
    tree: str  # id of the tree its entries make
    racy: list[str] = field(default_factory=list)
    modified: dict[str, list[int]] = field(default_factory=dict)


@dataclass
class WorkingIndex:
    """The index a snapshot starts from, and the id of the tree its entries make when
    gitxp knows it (then an equal HEAD tree means nothing is staged)."""

    index: pygit2.Index
    tree: str | None = None


@dataclass
class _Cache:
    index: pygit2.Index
    stamp: int  # the cache file's mtime (ns)
    meta: _Meta | None  # None: unknown, or describes another cache file


@dataclass
class _Checks:
    """How stat data is compared (git config) and where the files are."""

    workdir: bytes
    trust_ctime: bool
    filemode: bool


def cache_dir(repo: GitRepo) -> Path:
    """``<git-dir>/gitxp/statcache``: per worktree, as the user's index is."""
    return repo.git_dir / "gitxp" / CACHE_DIR


def working_index(repo: GitRepo) -> WorkingIndex:
    """The user's index (read, never written) with the freshest stat data gitxp knows;
    the caller may change it (the snapshot places the working tree in it)."""
    user_path = repo.git_dir / "index"
    try:
        fingerprint = _fingerprint(user_path)
    except FileNotFoundError:
        return WorkingIndex(pygit2.Index())
    checks = _checks(repo)
    folder = cache_dir(repo)
    meta = _read_meta(folder / CACHE_META)
    known = meta.modified if meta else {}
    cache = None
    if meta is not None and meta.user == fingerprint:
        cache = _load_cache(folder, meta)
        found = (cache.index, meta) if cache and cache.meta else None
        if found is not None and meta.racy:
            found = _guarded(repo, folder / CACHE_INDEX, None, checks, meta)
        if found is not None and _looks_fresh(found[0], checks, found[1].modified):
            return WorkingIndex(found[0], found[1].tree or None)
    user = _open_index(user_path)
    if user.conflicts is not None or _looks_fresh(user, checks, known):
        return WorkingIndex(user)  # a merge in progress: the cache holds no conflicts
    rebuilt = _guarded(repo, user_path, cache or _load_cache(folder, meta), checks, None)
    return WorkingIndex(user) if rebuilt is None else WorkingIndex(rebuilt[0], rebuilt[1].tree)


def _open_index(path: Path) -> pygit2.Index:
    """The index file at ``path`` (pygit2's constructor leaves a half-made object, and a
    warning on stderr, behind when the file is damaged)."""
    opened = ffi.new("git_index **")
    if C.git_index_open(opened, os.fsencode(path)) < 0:
        raise pygit2.GitError(f"cannot read the index {path}")
    return pygit2.Index.from_c(None, opened)


def _checks(repo: GitRepo) -> _Checks:
    def flag(name: str) -> bool:
        value = (repo.config_value(name) or "true").strip().lower()
        return value not in ("false", "no", "off", "0")

    return _Checks(os.fsencode(repo.workdir) + b"/", flag("core.trustctime"), flag("core.filemode"))


def _fingerprint(path: Path) -> str:
    """The checksum an index file ends with (its content hashed where git wrote none:
    ``index.skipHash``)."""
    with open(path, "rb") as handle:
        size = handle.seek(0, os.SEEK_END)
        handle.seek(max(0, size - 20))
        tail = handle.read()
        if tail.strip(b"\0"):
            return tail.hex()
        handle.seek(0)
        return hashlib.sha1(handle.read()).hexdigest()


def _identity(st: os.stat_result) -> tuple[int, int, int, int]:
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _load_cache(folder: Path, meta: _Meta | None) -> _Cache | None:
    """The cache index, with ``meta`` if that describes it; None if missing or unreadable."""
    path = folder / CACHE_INDEX
    try:
        before = os.stat(path)
        index = _open_index(path)
        trailer = _fingerprint(path)
        after = os.stat(path)
    except (OSError, pygit2.GitError):
        return None
    if _identity(before) != _identity(after):
        return None  # replaced while read: the next snapshot reads the new one
    return _Cache(index, before.st_mtime_ns, meta if meta and meta.cache == trailer else None)


def _read_meta(path: Path) -> _Meta | None:
    try:
        with open(path, "rb") as handle:
            raw = handle.read(_META_LIMIT + 1)
        data: Any = json.loads(raw) if len(raw) <= _META_LIMIT else None
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("format") != META_FORMAT:
        return None
    user, cache, tree, racy, modified = (
        data.get(k) for k in ("user_index", "cache", "tree", "racy", "modified")
    )
    if not (isinstance(user, str) and isinstance(cache, str) and isinstance(tree, str)):
        return None
    if not (isinstance(racy, list) and isinstance(modified, dict)):
        return None
    return _Meta(
        user,
        cache,
        tree,
        [path for path in racy if isinstance(path, str)],
        {
            path: key
            for path, key in modified.items()
            if isinstance(key, list) and len(key) == 8 and all(type(v) is int for v in key)
        },
    )


def _entry_key(entry: Any, trust_ctime: bool) -> StatKey:
    return (
        entry.mtime.seconds,
        entry.mtime.nanoseconds,
        entry.ctime.seconds if trust_ctime else 0,
        entry.ctime.nanoseconds if trust_ctime else 0,
        entry.ino,
        entry.file_size,
        entry.uid,
        entry.gid,
    )


def _int32(value: int) -> int:
    return (value + 2**31) % 2**32 - 2**31


def _stat_key(st: os.stat_result, trust_ctime: bool) -> StatKey:
    """``st`` as an index entry records it (32-bit fields, truncated as libgit2 does)."""
    m_sec, m_nsec = divmod(st.st_mtime_ns, 1_000_000_000)
    c_sec, c_nsec = divmod(st.st_ctime_ns, 1_000_000_000)
    return (
        _int32(m_sec),
        m_nsec,
        _int32(c_sec) if trust_ctime else 0,
        c_nsec if trust_ctime else 0,
        st.st_ino & 0xFFFFFFFF,
        st.st_size & 0xFFFFFFFF,
        st.st_uid,
        st.st_gid,
    )


def _racy(key: StatKey, stamp_ns: int) -> bool:
    """Whether a file with these times may have changed, keeping them, after stat data
    was taken at ``stamp_ns``. Whole-second times (a file system that keeps no more) are
    racy for the whole second."""
    if key[1] == 0:
        return key[0] >= stamp_ns // 1_000_000_000
    return key[0] * 1_000_000_000 + key[1] >= stamp_ns


def _entry_id(entry: Any) -> bytes:
    return bytes(ffi.buffer(ffi.addressof(entry, "id")))[:20]


def _looks_fresh(index: pygit2.Index, checks: _Checks, modified: dict[str, list[int]]) -> bool:
    """Whether a sample of ``index``'s entries matches the files' stat data (files known
    to differ from the user's index since gitxp hashed them count as matching)."""
    count = len(index)
    step = max(1, count // SAMPLE)
    for position in range(random.randrange(step) if count else 0, count, step):
        entry = C.git_index_get_byindex(index._index, position)
        if entry.mode == FileMode.COMMIT or _smudged(entry):
            continue  # smudged: racy, libgit2 hashes it
        path = ffi.string(entry.path)
        try:
            st = os.lstat(checks.workdir + path)
        except OSError:
            continue  # gone: the diff reports it, nothing to refresh
        key = _stat_key(st, checks.trust_ctime)
        if key != _entry_key(entry, checks.trust_ctime) and (
            modified.get(os.fsdecode(path)) != list(key)
        ):
            return False
    return True


def _guarded(
    repo: GitRepo, source: Path, cache: _Cache | None, checks: _Checks, repair: _Meta | None
) -> tuple[pygit2.Index, _Meta] | None:
    """:func:`_rebuild`, or None where the git dir cannot take the cache (read-only)."""
    try:
        return _rebuild(repo, source, cache, checks, repair)
    except (OSError, pygit2.GitError):
        return None


def _rebuild(
    repo: GitRepo, source: Path, cache: _Cache | None, checks: _Checks, repair: _Meta | None
) -> tuple[pygit2.Index, _Meta] | None:
    """Refresh a private copy of the index file ``source``, publish it as the cache and
    return it with what ``index.json`` now says of it. ``repair``: ``source`` is the
    cache, and only its racy entries are checked again; else ``source`` is the user's
    index, every entry is checked (with ``cache``'s stat data where it holds the same
    content), and None is returned when the index has entries the cache does not hold
    (conflicts, assume-unchanged, skip-worktree, intent-to-add) or changed while it was
    copied."""
    folder = cache_dir(repo)
    folder.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(folder)
    temp = _temporary(folder, CACHE_INDEX)
    try:
        before = os.stat(source)
        shutil.copyfile(source, temp)
        if _identity(os.stat(source)) != _identity(before):
            return None
        if repair is not None and _fingerprint(temp) != repair.cache:
            return None  # another snapshot replaced the cache meanwhile
        user = repair.user if repair else _fingerprint(temp)
        copy = _open_index(temp)
        refresh = _Refresh(repo, copy, before.st_mtime_ns, cache, checks, repair)
        if repair is not None:
            refresh.paths(repair.racy)
        elif not refresh.every_entry():
            return None
        tree = str(copy.write_tree(repo.repo))  # and the tree cache: no unchanged tree rewritten
        copy.write()
        published = _open_index(temp)
        meta = _Meta(user, _fingerprint(temp), tree, refresh.racy, refresh.modified)
        os.replace(temp, folder / CACHE_INDEX)
        _write_meta(folder, meta)
        return published, meta
    finally:
        temp.unlink(missing_ok=True)


class _Refresh:
    """Entries of ``index`` (a private copy) given their file's stat data when the file
    holds the entry's content: known from the index's own stat data, from the cache's, or
    by hashing the file."""

    def __init__(
        self,
        repo: GitRepo,
        index: pygit2.Index,
        own_stamp: int,
        cache: _Cache | None,
        checks: _Checks,
        repair: _Meta | None,
    ) -> None:
        self.index, self.own_stamp, self.cache, self.checks = index, own_stamp, cache, checks
        source = repair or (cache.meta if cache else None)
        self.known = source.modified if source else {}
        self.blobs = BlobIds(repo)
        self.racy: list[str] = []  # entries too recent to trust: checked again next time
        self.modified: dict[str, list[int]] = dict(repair.modified) if repair else {}

    def every_entry(self) -> bool:
        """Refresh every entry; False (and stop) at one the cache cannot hold."""
        for position in range(len(self.index)):
            entry = C.git_index_get_byindex(self.index._index, position)
            if entry.flags & (_STAGE_MASK | _ASSUME_VALID) or (
                entry.flags_extended & _EXTENDED_SPECIAL
            ):
                return False
            if entry.mode != FileMode.COMMIT:
                self._entry(entry)
        return True

    def paths(self, paths: Iterable[str]) -> None:
        for path in paths:
            entry = C.git_index_get_bypath(self.index._index, os.fsencode(path), 0)
            if entry != ffi.NULL and entry.mode != FileMode.COMMIT:
                self.modified.pop(path, None)
                self._entry(entry)

    def _entry(self, entry: Any) -> None:
        path = ffi.string(entry.path)
        looked = time.time_ns()
        try:
            st = os.lstat(self.checks.workdir + path)
        except OSError:
            return  # gone or unreadable: the diff reports it
        key = _stat_key(st, self.checks.trust_ctime)
        own = _entry_key(entry, self.checks.trust_ctime)
        trusted = own == key and _vouches(entry, own) and not _racy(own, self.own_stamp)
        if trusted or self._same_content(entry, path, st, key):
            racy = _racy(key, looked - MARGIN_NS)
            if racy:
                self.racy.append(os.fsdecode(path))
            _set_stat(entry, st, smudge=racy)
        else:
            self.modified[os.fsdecode(path)] = list(key)
            if own == key:
                _set_stat(entry, st, smudge=True)  # never matches: libgit2 hashes it

    def _same_content(self, entry: Any, path: bytes, st: os.stat_result, key: StatKey) -> bool:
        """Whether the file at ``path`` holds the entry's content (and mode)."""
        mode = entry.mode
        if stat.S_IFMT(mode) != stat.S_IFMT(st.st_mode):
            return False
        if self.checks.filemode and stat.S_ISREG(mode) and (mode & 0o100) != (st.st_mode & 0o100):
            return False
        oid = _entry_id(entry)
        if self.cache is not None:
            cached = C.git_index_get_bypath(self.cache.index._index, path, 0)
            if (
                cached != ffi.NULL
                and cached.mode == mode
                and _entry_id(cached) == oid
                and _entry_key(cached, self.checks.trust_ctime) == key
                and _vouches(cached, key)
                and not _racy(key, self.cache.stamp)
            ):
                return True
        if self.known.get(os.fsdecode(path)) == list(key):
            return False  # hashed before and found different: unchanged since
        return self.blobs.of(path, st) == oid


def _vouches(entry: Any, key: StatKey) -> bool:
    """Whether matching stat data may stand for the entry's content: not when smudged
    (size 0, as git and gitxp mark racy entries, with content that is not empty)."""
    return key[5] != 0 or _entry_id(entry) == _EMPTY_BLOB


def _smudged(entry: Any) -> bool:
    """Whether gitxp smudged ``entry`` (see :func:`_set_stat`)."""
    return entry.file_size == 0 and entry.mtime.seconds == 0 and entry.mtime.nanoseconds == 0


def _set_stat(entry: Any, st: os.stat_result, smudge: bool) -> None:
    """Give ``entry`` ``st``'s stat data; ``smudge``: a size of 0 and an mtime of 0 that
    no change of the file matches. In place, not by ``git_index_add``: the content is
    the same, so the index's tree cache stays valid (snapshots write no unchanged tree)."""
    m_sec, m_nsec = divmod(st.st_mtime_ns, 1_000_000_000)
    c_sec, c_nsec = divmod(st.st_ctime_ns, 1_000_000_000)
    entry.mtime.seconds, entry.mtime.nanoseconds = (0, 0) if smudge else (_int32(m_sec), m_nsec)
    entry.ctime.seconds, entry.ctime.nanoseconds = _int32(c_sec), c_nsec
    entry.dev = st.st_dev & 0xFFFFFFFF
    entry.ino = st.st_ino & 0xFFFFFFFF
    entry.uid, entry.gid = st.st_uid, st.st_gid
    entry.file_size = 0 if smudge else st.st_size & 0xFFFFFFFF


def _temporary(folder: Path, name: str) -> Path:
    """A name of this process's own beside ``folder / name`` (not tempfile: a run's
    supervisor does not import it)."""
    return folder / f"{name}.{os.getpid()}.{random.getrandbits(48):012x}.tmp"


def _write_meta(folder: Path, meta: _Meta) -> None:
    data = {
        "format": META_FORMAT,
        "user_index": meta.user,
        "cache": meta.cache,
        "tree": meta.tree,
        "racy": meta.racy,
        "modified": meta.modified,
    }
    temp = _temporary(folder, CACHE_META)
    try:
        temp.write_text(json.dumps(data, separators=(",", ":")))
        os.replace(temp, folder / CACHE_META)
    finally:
        temp.unlink(missing_ok=True)


def _remove_leftovers(folder: Path) -> None:
    """Temporary files of snapshots killed while writing them (an hour old)."""
    limit = time.time() - _STALE_TEMP
    for leftover in folder.glob("*.tmp*"):
        try:
            if leftover.stat().st_mtime < limit:
                leftover.unlink()
        except OSError:
            pass
