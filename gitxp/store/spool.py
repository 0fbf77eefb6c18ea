"""The spool: where a run in progress writes what happens, append-only and crash-safe.

A spool is a folder under ``<git-dir>/gitxp/spool/<run-id>/`` on the machine running the
run. Everything in it is only ever appended to, so a process killed at any moment leaves
every record it finished writing:

- ``meta.json``: written once when the run starts (what the record commit needs to know).
- ``events.jsonl``: one JSON object a line: config, result, info, artifacts, the end.
- ``metrics/``: scalars, in memory-mapped record files, one pair per process
  (:mod:`gitxp.store.metricfile`): a value survives SIGKILL of its writer the moment
  ``log_scalar`` returns.
- ``output.log``: the captured stdout/stderr bytes, as the terminal received them.
- ``artifacts/``: copies of the files added as artifacts.
- ``outcome``: 48 KiB allocated when the run starts, for the events that decide how a run
  is recorded (``end``, ``result``, ``failure``) when ``events.jsonl`` cannot grow because
  the disk is full: each has a slot, rewritten in place, so it needs no new space.

A full disk never raises into the run's code: what cannot be written is dropped with one
warning on stderr (the outcome goes to its slot), and the program goes on.

This module is imported by the processes of a run to log: it uses the standard library
only, and never git.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gitxp.errors import UsageError
from gitxp.store.metricfile import MetricWriter

if TYPE_CHECKING:
    from gitxp.git.repo import GitRepo

SPOOL_ENV = "GITXP_SPOOL"
RUN_ID_ENV = "GITXP_RUN_ID"
CONFIG_ENV = "GITXP_CONFIG"
RESERVED_ARTIFACT_NAMES = frozenset({"run.json", "config.yaml", "metrics.json", "output.log"})
OUTCOME_FILE = "outcome"
_SLOT = 16384
_SLOTS = {"end": 0, "result": 1, "failure": 2}
_FULL = (errno.ENOSPC, errno.EDQUOT)


def disk_full(err: OSError) -> bool:
    """Whether ``err`` says the disk (or the user's quota) is full."""
    return err.errno in _FULL


def _warn_full(what: str, err: OSError) -> None:
    print(
        f"gitxp: warning: the disk is full ({err.strerror}): {what}; the program goes on",
        file=sys.stderr,
        flush=True,
    )


def to_jsonable(value: Any) -> Any:
    """``value`` as plain JSON data: numpy scalars and arrays become numbers and lists."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_jsonable(v) for v in value]
    if hasattr(value, "tolist") and hasattr(value, "dtype"):
        return to_jsonable(value.tolist())
    if hasattr(value, "item") and hasattr(value, "dtype"):
        return to_jsonable(value.item())
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return repr(value)


# The event the run's own code writes when its command line is wrong (an unknown config
# key or command, a flag that does not apply): the supervisor then records nothing.
USAGE_ERROR = "usage_error"


class Spool:
    """The spool folder of one run, as seen by a process that writes to it."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._writer: MetricWriter | None = None
        self._events_fd: int | None = None
        self._events_pid = 0
        self._full_warned = False

    @classmethod
    def create(cls, path: Path) -> Spool:
        """Make a new, empty spool folder (its sub-folders are made when first written)."""
        path.mkdir(parents=True)
        (path / "output.log").touch()
        fd = os.open(path / OUTCOME_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            os.posix_fallocate(fd, 0, _SLOT * len(_SLOTS))
        finally:
            os.close(fd)
        return cls(path)

    def write_meta(self, meta: dict[str, Any]) -> None:
        """Write ``meta.json`` atomically (a reader sees all of it or none)."""
        temp = self.path / "meta.json.tmp"
        temp.write_text(json.dumps(to_jsonable(meta), indent=1))
        os.replace(temp, self.path / "meta.json")

    @property
    def output_path(self) -> Path:
        """Where captured output is appended."""
        return self.path / "output.log"

    # -- writers -----------------------------------------------------------------

    def log_scalar(self, name: str, value: Any, step: int | None = None) -> int:
        """Append one scalar; returns the step it was stored under."""
        writer = self._writer
        if writer is None or writer.pid != os.getpid():
            writer = self._writer = MetricWriter(self.path / "metrics")
        return writer.log(name, value, step)

    def event(self, kind: str, **fields: Any) -> None:
        """Append one event line (``kind`` plus ``fields``) to ``events.jsonl``."""
        if self._events_fd is None or self._events_pid != os.getpid():
            flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND
            self._events_fd = os.open(self.path / "events.jsonl", flags, 0o644)
            self._events_pid = os.getpid()
        record = {"kind": kind, "time": time.time(), **to_jsonable(fields)}
        line = (json.dumps(record) + "\n").encode()
        try:
            os.write(self._events_fd, line)
        except OSError as err:
            if not disk_full(err):
                raise
            if kind not in _SLOTS or not self._keep(kind, record):
                self._full(f"the run's {kind} is not recorded", err)

    def _keep(self, kind: str, record: dict[str, Any]) -> bool:
        """Write ``record`` into its slot of the ``outcome`` file (space allocated already)."""
        data = json.dumps(record).encode()
        if len(data) >= _SLOT and isinstance(record.get("fail_trace"), str):
            record = {**record, "fail_trace": record["fail_trace"][-(_SLOT // 2) :]}
            data = json.dumps(record).encode()
        if len(data) >= _SLOT:
            return False
        try:
            fd = os.open(self.path / OUTCOME_FILE, os.O_WRONLY)
        except OSError:
            return False
        try:
            os.pwrite(fd, data + b"\n" + bytes(_SLOT - len(data) - 1), _SLOTS[kind] * _SLOT)
        except OSError:
            return False
        finally:
            os.close(fd)
        return True

    def _full(self, what: str, err: OSError) -> None:
        if not self._full_warned:
            self._full_warned = True
            _warn_full(what, err)

    def add_artifact(
        self,
        filename: str | os.PathLike[str],
        name: str | None = None,
        metadata: dict[str, Any] | None = None,
        content_type: str | None = None,
    ) -> str:
        """Copy ``filename`` into the spool as artifact ``name`` (default: its base name)."""
        source = Path(filename)
        if not source.is_file():
            raise UsageError(f"add_artifact: {source} is not a file")
        name = name or source.name
        clean = Path(name)
        if clean.is_absolute() or ".." in clean.parts or not clean.parts:
            raise UsageError(f"add_artifact: name {name!r} must be a relative path inside the run")
        target = self.path / "artifacts" / clean
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            import shutil  # only when an artifact is added: the API stays quick to import

            shutil.copyfile(source, target)
        except OSError as err:
            if not disk_full(err):
                raise
            target.unlink(missing_ok=True)
            self._full(f"artifact {clean.as_posix()} is not recorded", err)
            return clean.as_posix()
        self.event(
            "artifact",
            name=clean.as_posix(),
            source=str(source.resolve()),
            metadata=metadata or {},
            content_type=content_type,
        )
        return clean.as_posix()

    def close(self) -> None:
        """Finish this process's writes (the metrics file is cut to size)."""
        if self._writer is not None and self._writer.pid == os.getpid():
            self._writer.close()
        self._writer = None
        if self._events_fd is not None and self._events_pid == os.getpid():
            os.close(self._events_fd)
        self._events_fd = None


def lock_spool(spool_path: Path, block: bool) -> int | None:
    """Hold the spool's lock (released by the kernel when the holder dies), or None."""
    try:
        fd = os.open(spool_path / "lock", os.O_RDWR | os.O_CREAT, 0o644)
    except FileNotFoundError:  # the spool was removed meanwhile: its run has ended
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if block else fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


class SpoolState:
    """Everything a spool holds, folded into the values a record needs.

    A plain class, not a dataclass: the in-script API imports this module, and
    ``dataclasses`` (with ``inspect``) would add a good part of its import time.
    """

    def __init__(self, meta: dict[str, Any]) -> None:
        self.meta = meta
        self.events: dict[str, Any] = {}
        self.artifacts: dict[str, dict[str, Any]] = {}
        self.resources: dict[str, dict[str, Any]] = {}
        self.uses: dict[str, dict[str, Any]] = {}  # (run, path) → use


def spool_root(repo: GitRepo) -> Path:
    """The folder holding the spools of this repository's runs in progress."""
    return repo.state_dir / "spool"


def read_meta(path: Path) -> dict[str, Any]:
    """The ``meta.json`` of the spool at ``path``."""
    return dict(json.loads((path / "meta.json").read_text()))


def read_events(path: Path, state: SpoolState) -> None:
    """Fold ``events.jsonl`` into ``state``: the last value of each kind wins."""
    try:
        raw = (path / "events.jsonl").read_bytes()
    except FileNotFoundError:
        return
    for line in raw.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue  # a line torn by a kill: everything before it is intact
        kind = event.pop("kind", None)
        if kind == "artifact":
            state.artifacts[event["name"]] = event
        elif kind == "resource":
            state.resources[event["name"]] = event
        elif kind == "use":  # an artifact of another run (lineage)
            event.pop("time", None)
            state.uses[f"{event.get('run')}:{event.get('path')}"] = event
        elif kind == "info":
            state.events.setdefault("info", {}).update(event.get("value") or {})
        elif isinstance(kind, str):
            state.events[kind] = event
    _read_outcome(path, state)


def _read_outcome(path: Path, state: SpoolState) -> None:
    """Fold in the slots of the ``outcome`` file that are newer than their events."""
    try:
        raw = (path / OUTCOME_FILE).read_bytes()
    except OSError:
        return
    for kind, slot in _SLOTS.items():
        text = raw[slot * _SLOT : (slot + 1) * _SLOT].split(b"\n", 1)[0]
        if not text.strip(b"\0"):
            continue
        try:
            event = json.loads(text)
        except ValueError:
            continue
        if not isinstance(event, dict):
            continue
        event.pop("kind", None)
        known = state.events.get(kind)
        if known is None or known.get("time", 0) < event.get("time", 0):
            state.events[kind] = event


def new_locked_spool(root: Path, run_id: str, taken: UsageError) -> tuple[Spool, int]:
    """A new locked spool for ``run_id`` under ``root`` and the descriptor holding its lock.

    The spool is built and locked under a hidden name, then renamed into place: a gitxp
    command running at the same moment must never see it unlocked (it would take it for
    the spool of a dead run and remove it). Two runs given the same id at once race for
    that rename; the loser gets ``taken``.
    """
    from gitxp.errors import DISK_FULL_MESSAGE, DiskFullError
    from gitxp.git.retry import is_disk_full

    try:
        staging = Spool.create(root / f".new-{run_id}-{os.getpid()}-{time.monotonic_ns()}")
    except OSError as err:
        if is_disk_full(err):
            raise DiskFullError(DISK_FULL_MESSAGE) from None
        raise
    lock_fd = lock_spool(staging.path, block=True)
    assert lock_fd is not None
    try:
        os.rename(staging.path, root / run_id)
    except BaseException as err:
        os.close(lock_fd)
        import shutil

        shutil.rmtree(staging.path, ignore_errors=True)
        if isinstance(err, OSError) and err.errno in (errno.EEXIST, errno.ENOTEMPTY):
            raise taken from None
        raise
    return Spool(root / run_id), lock_fd


def folder_entries(
    repo: GitRepo,
    spool_path: Path,
    entries: dict[str, dict[str, Any]],
    folder: str,
    files: dict[str, Any],
    blobs: dict[tuple[str, int, int], str],
) -> list[dict[str, Any]]:
    """The spool's ``folder`` (artifacts, resources) as a tree put in ``files``, and the
    listing for run.json. ``blobs`` remembers files already written to git, by stat."""
    listed: list[dict[str, Any]] = []
    tree: dict[str, Any] = {}
    for name, event in sorted(entries.items()):
        path = spool_path / folder / name
        try:
            st = path.stat()
        except FileNotFoundError:
            continue
        key = (str(path), st.st_size, st.st_mtime_ns)
        oid = blobs.get(key)
        if oid is None:
            oid = blobs[key] = repo.blob_from_file(path)
        node = tree
        *parents, leaf = name.split("/")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = (oid, 0o100644)
        listed.append(
            {
                "name": name,
                "size": st.st_size,
                "content_type": event.get("content_type"),
                "metadata": event.get("metadata") or {},
            }
        )
    if tree:
        files[folder] = tree
    return listed
