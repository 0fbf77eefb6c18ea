"""gitxp's own stat cache: the user's index with stat data gitxp keeps fresh, kept aside.

git knows a file is unchanged without reading it when the file's stat data (times, size,
inode) matches what the index recorded. gitxp never writes the user's index, so once that
data is stale (files touched, a fresh checkout, rsync) every snapshot would hash the whole
tree again. Instead gitxp keeps, under ``<git-dir>/gitxp/statcache/``:

- ``index``: a real git index file holding the user's entries (the same paths, ids and
  modes as the user's index) with stat data gitxp checked by hashing the files;
- ``index.json``: which user index it copies (that file's checksum), the checksum of
  ``index`` itself (the two files are replaced one after the other, so a reader checks
  that they belong together), the files found different from the user's index, and
  whether some entries were too recent to be trusted yet.

:func:`working_index` gives the snapshot its starting index: this cache when it copies the
user's current index and a sample of its entries still matches the files; else the user's
index itself when a sample of *its* stat data matches; else it checks every entry, hashes
the files whose stat data changed, and publishes the result as the new cache.

Racy files: a file changed right after gitxp looked at it may keep its stat data (file
times come from a coarse clock). The cache file's own mtime is set to a moment just before
the snapshot began (``MARGIN_NS`` earlier), and libgit2 re-hashes every entry whose mtime
is not older than that, as git does with its index. Entries refreshed that recently are
smudged (size 0) and the next snapshot checks them again.

Each file is replaced atomically (a temporary file, then ``os.replace``): snapshots running
at the same time never corrupt it, a killed one leaves a valid file, and a cache that
cannot be read is ignored and rebuilt. Deleting the folder loses nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pygit2
from pygit2.enums import FileMode
from pygit2.ffi import C, ffi

from gitxp.git.repo import GitRepo

CACHE_DIR = "statcache"
CACHE_INDEX = "index"
CACHE_META = "index.json"
META_FORMAT = 1
SAMPLE = 64
# File times come from the kernel's coarse clock, up to a tick (≤ 10 ms) behind the clock
# gitxp reads: the cache is stamped this much before the snapshot began.
MARGIN_NS = 100_000_000
_META_LIMIT = 64 * 1024 * 1024
_CHUNK = 1 << 20
_STALE_TEMP = 3600  # seconds after which a leftover temporary file is removed
_STAGE_MASK = 0x3000
_ASSUME_VALID = 0x8000
_EXTENDED_SPECIAL = (1 << 13) | (1 << 14)  # intent-to-add, skip-worktree
_S_IFMT = 0o170000
_S_IFLNK = 0o120000

StatKey = tuple[int, int, int, int, int, int, int, int]


@dataclass
class _Meta:
    """What ``index.json`` says about ``index``."""

    user: str
    cache: str
    recheck: bool = False
    modified: dict[str, list[int]] = field(default_factory=dict)


@dataclass
class _Cache:
    index: pygit2.Index
    stamp: int  # the cache file's mtime (ns): entries as new or newer are racy
    bound: bool  # whether it copies the user's current index
    meta: _Meta | None

    @property
    def trusted(self) -> bool:
        """Whether snapshots may start from it as it is."""
        return self.bound and self.meta is not None and not self.meta.recheck


@dataclass
class _Checks:
    """How the stat data of the working tree is compared (git config)."""

    workdir: bytes
    trust_ctime: bool
    filemode: bool


def cache_dir(repo: GitRepo) -> Path:
    """``<git-dir>/gitxp/statcache``: per worktree, as the user's index is."""
    return repo.git_dir / "gitxp" / CACHE_DIR


def working_index(repo: GitRepo) -> pygit2.Index:
    """The user's index (read, never written) with the freshest stat data gitxp knows.

    The returned index is gitxp's to change: the snapshot places the working tree in it.
    """
    start = time.time_ns()
    user_path = repo.git_dir / "index"
    try:
        fingerprint = _fingerprint(user_path)
    except FileNotFoundError:
        return pygit2.Index()
    checks = _checks(repo)
    folder = cache_dir(repo)
    cache = _load_cache(folder, fingerprint)
    modified = cache.meta.modified if cache and cache.meta else {}
    if cache is not None and cache.trusted and _looks_fresh(cache.index, checks, modified):
        return cache.index
    user = _open_index(user_path)
    if _looks_fresh(user, checks, modified):
        return user
    try:
        refreshed = _rebuild(repo, user_path, cache, checks, start)
    except (OSError, pygit2.GitError):
        return user  # a read-only or full git dir: no cache this time
    return user if refreshed is None else refreshed


def _open_index(path: Path) -> pygit2.Index:
    """The index file at ``path`` (pygit2's constructor leaves a half-made object behind,
    and a warning on stderr, when the file is damaged)."""
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
    """The checksum an index file ends with (its whole content hashed if git left it out:
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


def _load_cache(folder: Path, fingerprint: str) -> _Cache | None:
    """The cache index and what its metadata says, or None if missing or unreadable."""
    path = folder / CACHE_INDEX
    try:
        before = os.stat(path)
        index = _open_index(path)
        trailer = _fingerprint(path)
        after = os.stat(path)
    except (OSError, pygit2.GitError, ValueError):
        return None
    if _identity(before) != _identity(after):
        return None  # replaced while being read: the next snapshot reads the new one
    meta = _read_meta(folder / CACHE_META)
    if meta is not None and meta.cache != trailer:
        meta = None  # describes another cache file (one written at the same time)
    bound = meta is not None and meta.user == fingerprint
    return _Cache(index, before.st_mtime_ns, bound, meta)


def _read_meta(path: Path) -> _Meta | None:
    try:
        with open(path, "rb") as handle:
            raw = handle.read(_META_LIMIT + 1)
        data: Any = json.loads(raw) if len(raw) <= _META_LIMIT else None
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("format") != META_FORMAT:
        return None
    user, cache, recheck, modified = (
        data.get("user_index"),
        data.get("cache"),
        data.get("recheck"),
        data.get("modified"),
    )
    if not (isinstance(user, str) and isinstance(cache, str) and isinstance(recheck, bool)):
        return None
    if not isinstance(modified, dict):
        return None
    kept = {
        path: key
        for path, key in modified.items()
        if isinstance(key, list) and len(key) == 8 and all(type(v) is int for v in key)
    }
    return _Meta(user, cache, recheck, kept)


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
    """``st`` as an index entry records it (32-bit fields, as libgit2 truncates them)."""
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
    """Whether a file with these times may have changed after an index stamped
    ``stamp_ns`` recorded it. Whole-second times (a file system that keeps no more)
    are racy for the whole second."""
    if key[1] == 0:
        return key[0] >= stamp_ns // 1_000_000_000
    return key[0] * 1_000_000_000 + key[1] >= stamp_ns


def _looks_fresh(index: pygit2.Index, checks: _Checks, modified: dict[str, list[int]]) -> bool:
    """Whether a sample of ``index``'s entries still matches the files' stat data
    (files already known to differ from the user's index count as matching)."""
    count = len(index)
    step = max(1, count // SAMPLE)
    for position in range(random.randrange(step) if count else 0, count, step):
        entry = C.git_index_get_byindex(index._index, position)
        if entry.mode == FileMode.COMMIT:
            continue
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


def _rebuild(
    repo: GitRepo, user_path: Path, cache: _Cache | None, checks: _Checks, start: int
) -> pygit2.Index | None:
    """Check every entry of a private copy of the user's index, publish it as the cache
    and return it read back (stamped ``start - MARGIN_NS``); None if the user's index
    has entries the cache does not hold (conflicts, assume-unchanged, skip-worktree,
    intent-to-add) or changed while it was copied."""
    folder = cache_dir(repo)
    folder.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(folder)
    temp = folder / f"{CACHE_INDEX}.{os.getpid()}.{random.getrandbits(48):012x}.tmp"
    try:
        before = os.stat(user_path)
        shutil.copyfile(user_path, temp)
        if _identity(os.stat(user_path)) != _identity(before):
            return None
        os.utime(temp, ns=(before.st_atime_ns, before.st_mtime_ns))
        fingerprint = _fingerprint(temp)
        copy = _open_index(temp)
        result = _Refresh(repo, copy, before.st_mtime_ns, cache, checks, start - MARGIN_NS)
        if not result.run():
            return None
        copy.write_tree(repo.repo)  # the tree cache, so that snapshots write no trees
        copy.write()
        stamp = start - MARGIN_NS
        os.utime(temp, ns=(stamp, stamp))
        published = _open_index(temp)
        meta = _Meta(fingerprint, _fingerprint(temp), result.recheck, result.modified)
        os.replace(temp, folder / CACHE_INDEX)
        _write_meta(folder, meta)
        return published
    finally:
        temp.unlink(missing_ok=True)


class _Refresh:
    """One pass over every entry of ``index`` (a private copy of the user's index): each
    entry whose file still holds its content gets the file's stat data, known from the
    index's own stat data, from the cache's, or by hashing the file."""

    def __init__(
        self,
        repo: GitRepo,
        index: pygit2.Index,
        own_stamp: int,
        cache: _Cache | None,
        checks: _Checks,
        new_stamp: int,
    ) -> None:
        self.repo, self.index, self.cache, self.checks = repo, index, cache, checks
        self.own_stamp, self.new_stamp = own_stamp, new_stamp
        self.known = cache.meta.modified if cache and cache.meta else {}
        self.filters = _Filters(repo)
        self.recheck = False  # some entries are too recent to be trusted yet
        self.modified: dict[str, list[int]] = {}  # files whose content is not their entry's

    def run(self) -> bool:
        """Refresh every entry; False (and stop) at an entry the cache cannot hold."""
        for position in range(len(self.index)):
            entry = C.git_index_get_byindex(self.index._index, position)
            if entry.flags & (_STAGE_MASK | _ASSUME_VALID) or (
                entry.flags_extended & _EXTENDED_SPECIAL
            ):
                return False
            if entry.mode != FileMode.COMMIT:
                self._entry(entry)
        return True

    def _entry(self, entry: Any) -> None:
        path = ffi.string(entry.path)
        try:
            st = os.lstat(self.checks.workdir + path)
        except OSError:
            return  # gone or unreadable: the diff reports it
        key = _stat_key(st, self.checks.trust_ctime)
        own = _entry_key(entry, self.checks.trust_ctime)
        fresh = own == key and not _racy(own, self.own_stamp)
        if fresh or self._same_content(entry, path, st, key):
            racy_now = _racy(key, self.new_stamp)
            self.recheck = self.recheck or racy_now
            _set_stat(entry, st, smudge=racy_now)
        else:
            self.modified[os.fsdecode(path)] = list(key)
            if own == key:
                _set_stat(entry, st, smudge=True)  # libgit2 hashes it each time

    def _same_content(self, entry: Any, path: bytes, st: os.stat_result, key: StatKey) -> bool:
        """Whether the file at ``path`` holds the entry's content (and mode)."""
        mode = entry.mode
        if (mode & _S_IFMT) != (st.st_mode & _S_IFMT):
            return False
        if (
            self.checks.filemode
            and mode != _S_IFLNK
            and (bool(mode & 0o100) != bool(st.st_mode & 0o100))
        ):
            return False
        oid = _entry_id(entry)
        if self.cache is not None:
            cached = C.git_index_get_bypath(self.cache.index._index, path, 0)
            if (
                cached != ffi.NULL
                and cached.mode == mode
                and _entry_id(cached) == oid
                and _entry_key(cached, self.checks.trust_ctime) == key
                and not _racy(key, self.cache.stamp)
            ):
                return True
        if self.known.get(os.fsdecode(path)) == list(key):
            return False  # hashed before and found different: unchanged since
        return self._content_id(path, st) == oid

    def _content_id(self, path: bytes, st: os.stat_result) -> bytes | None:
        """The blob id of the file as git stores it (None if it changed while read)."""
        full = self.checks.workdir + path
        if (st.st_mode & _S_IFMT) == _S_IFLNK:
            try:
                target = os.readlink(full)
            except OSError:
                return None
            return hashlib.sha1(b"blob %d\0" % len(target) + target).digest()
        if self.filters.apply(path):
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


def _entry_id(entry: Any) -> bytes:
    return bytes(ffi.buffer(ffi.addressof(entry, "id")))[:20]


class _Filters:
    """Which files git may convert on their way into git (end-of-line conversion, ident,
    a filter driver): asked of libgit2 only where an attributes file could apply, as
    asking costs more than hashing a small file."""

    def __init__(self, repo: GitRepo) -> None:
        self.repo = repo
        self.workdir = os.fsencode(repo.workdir)
        autocrlf = (repo.config_value("core.autocrlf") or "false").strip().lower()
        config_home = os.environ.get("XDG_CONFIG_HOME") or os.path.expanduser("~/.config")
        anywhere = [
            repo.common_dir / "info" / "attributes",
            Path(config_home) / "git" / "attributes",
            Path("/etc/gitattributes"),
        ]
        configured = repo.config_value("core.attributesFile")
        if configured:
            anywhere.append(Path(os.path.expanduser(configured)))
        self.everywhere = autocrlf not in ("false", "no", "off", "0") or any(
            path.exists() for path in anywhere
        )
        self.folders: dict[bytes, bool] = {}

    def apply(self, path: bytes) -> bool:
        """Whether ``path`` (relative to the working tree) may be converted."""
        if self.everywhere or self._attributes_above(path.rpartition(b"/")[0]):
            return self._libgit2_filters(path)
        return False

    def _attributes_above(self, folder: bytes) -> bool:
        """Whether ``folder`` or a folder above it holds a ``.gitattributes``."""
        known = self.folders.get(folder)
        if known is None:
            here = os.path.lexists(os.path.join(self.workdir, folder, b".gitattributes"))
            known = here or (bool(folder) and self._attributes_above(folder.rpartition(b"/")[0]))
            self.folders[folder] = known
        return known

    def _libgit2_filters(self, path: bytes) -> bool:
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


def _set_stat(entry: Any, st: os.stat_result, smudge: bool) -> None:
    """Give ``entry`` (in place) ``st``'s stat data, size 0 when ``smudge`` (libgit2 then
    hashes the file whatever its times say). In place, not through ``git_index_add``:
    the content is unchanged, so the index's tree cache stays valid and snapshots built on
    it write no trees for unchanged folders."""
    m_sec, m_nsec = divmod(st.st_mtime_ns, 1_000_000_000)
    c_sec, c_nsec = divmod(st.st_ctime_ns, 1_000_000_000)
    entry.mtime.seconds, entry.mtime.nanoseconds = _int32(m_sec), m_nsec
    entry.ctime.seconds, entry.ctime.nanoseconds = _int32(c_sec), c_nsec
    entry.dev = st.st_dev & 0xFFFFFFFF
    entry.ino = st.st_ino & 0xFFFFFFFF
    entry.uid, entry.gid = st.st_uid, st.st_gid
    entry.file_size = 0 if smudge else st.st_size & 0xFFFFFFFF


def _write_meta(folder: Path, meta: _Meta) -> None:
    data = {
        "format": META_FORMAT,
        "user_index": meta.user,
        "cache": meta.cache,
        "recheck": meta.recheck,
        "modified": meta.modified,
    }
    temp = folder / f"{CACHE_META}.{os.getpid()}.{random.getrandbits(48):012x}.tmp"
    try:
        temp.write_text(json.dumps(data, separators=(",", ":")))
        os.replace(temp, folder / CACHE_META)
    finally:
        temp.unlink(missing_ok=True)


def _remove_leftovers(folder: Path) -> None:
    """Temporary files of snapshots that were killed while writing (an hour old)."""
    limit = time.time() - _STALE_TEMP
    for leftover in folder.glob("*.tmp*"):
        try:
            if leftover.stat().st_mtime < limit:
                leftover.unlink()
        except OSError:
            pass
