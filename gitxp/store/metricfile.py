"""Scalar metrics of a run in progress: fixed-size binary records in memory-mapped files.

Each process that logs gets its own pair of files in the spool's ``metrics/`` folder:

- ``<pid>-<n>.names``: the metric names, one JSON string a line; line *i* is name *i*.
  A name's line is written (one ``write``) before its first record.
- ``<pid>-<n>.bin``: one 40-byte little-endian record per scalar: name index, step, kind
  (0: the value is a float64, 1: an int64), value, time (float64 seconds since the epoch).
  The file is a shared memory map, so a record is in the kernel's page cache the moment
  ``log_scalar`` returns: it survives a SIGKILL of the writer, and logging costs no system
  call. The unused tail is zero bytes; a record with time 0 marks the end. The map's space
  is allocated for real (``posix_fallocate``) before it is used: a store into a page the
  file system cannot back would kill the program with SIGBUS. When the disk is full the
  writer stops recording, says so once on stderr, and the program goes on.

Fixed-size records let the reader turn a whole file into columns with ``memoryview``
slicing, in C: reading 100,000 scalars costs milliseconds, not a parse per line.
"""

from __future__ import annotations

import errno
import gc
import json
import mmap
import operator
import os
import struct
import sys
import time
from array import array
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import accumulate
from pathlib import Path
from typing import Any, NamedTuple, cast

from gitxp.errors import UsageError

_FLOAT = struct.Struct("<qqqdd")
_INT = struct.Struct("<qqqqd")
RECORD = _FLOAT.size  # 40 bytes, 5 fields of 8
_INITIAL_MAP = RECORD * 4096
_RESIDENT = 4 << 20  # bytes of written records a writer keeps mapped in its own memory
_INT64 = (-(2**63), 2**63 - 1)
_FULL = (errno.ENOSPC, errno.EDQUOT)

_KEYS = ("steps", "values", "timestamps")
# A series read by MetricsReader.read: lists for a small read; else "steps" an array('q'),
# "timestamps" an array('d'), "values" an array('d') (all floats), array('q') (all ints)
# or a list (both kinds).
ArraySeries = dict[str, Any]
_BATCH = 65536  # records read at a time by MetricsReader.read


def _number(name: str, value: Any) -> int | float:
    if hasattr(value, "item") and hasattr(value, "dtype"):
        try:
            value = value.item()
        except ValueError:  # a numpy array of more than one element
            raise UsageError(
                f"log_scalar({name!r}, …): an array of shape {getattr(value, 'shape', '?')} "
                "is not one number; log its elements one by one, or store it with add_artifact"
            ) from None
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)):
        return value
    raise UsageError(
        f"log_scalar({name!r}, …): value of type {type(value).__name__} is not a number; "
        "log numbers, and store other objects with add_artifact"
    )


def _step(name: str, step: Any) -> int:
    """``step`` as an int (numpy integers included); anything else is a usage error."""
    try:
        if isinstance(step, float):
            raise TypeError
        return operator.index(step)
    except TypeError:
        raise UsageError(
            f"log_scalar({name!r}, …, step={step!r}): the step must be an integer"
        ) from None


class MetricWriter:
    """Appends the scalars of one process to its own memory-mapped record file."""

    def __init__(self, folder: Path) -> None:
        self.pid = os.getpid()
        self._index: dict[str, int] = {}
        self._steps: dict[str, int] = {}
        self._pos = 0
        self._size = 0
        self._limit = 0  # where log() next takes the slow path: grow, or let pages go
        self._released = 0  # the pages before this offset are out of this process's memory
        self._map: mmap.mmap | None = None
        self._names_fd = self._fd = -1
        self.dropped = 0  # values not recorded because the disk was full
        stem = folder / f"{self.pid}-{time.monotonic_ns()}"
        flags = os.O_RDWR | os.O_CREAT | os.O_EXCL
        try:
            folder.mkdir(parents=True, exist_ok=True)
            self._names_fd = os.open(f"{stem}.names", flags | os.O_APPEND, 0o644)
            self._fd = os.open(f"{stem}.bin", flags, 0o644)
            os.posix_fallocate(self._fd, 0, _INITIAL_MAP)
        except OSError as err:
            self._stop(err)
            return
        self._size = self._limit = _INITIAL_MAP
        self._map = mmap.mmap(self._fd, self._size)

    def log(self, name: str, value: Any, step: int | None = None) -> int:
        """Record ``value`` for metric ``name``; ``step`` defaults to the last step + 1."""
        index = self._index.get(name)
        if index is None:
            index = self._new_name(name)
        number = _number(name, value)
        if step is None:
            step = self._steps.get(name, -1) + 1
        elif type(step) is not int:
            step = _step(name, step)
        if not _INT64[0] <= step <= _INT64[1]:
            raise UsageError(f"log_scalar({name!r}, …, step={step}): the step is too large")
        self._steps[name] = step
        if self._pos + RECORD > self._limit and not self._make_room():
            self.dropped += 1
            return step
        assert self._map is not None
        if type(number) is int and _INT64[0] <= number <= _INT64[1]:
            _INT.pack_into(self._map, self._pos, index, step, 1, number, time.time())
        else:
            _FLOAT.pack_into(self._map, self._pos, index, step, 0, float(number), time.time())
        self._pos += RECORD
        return step

    def _new_name(self, name: str) -> int:
        if not isinstance(name, str) or not name:
            raise UsageError("log_scalar: the metric name must be a non-empty string")
        index = self._index[name] = len(self._index)
        if self._map is not None:
            try:
                os.write(self._names_fd, (json.dumps(name) + "\n").encode())
            except OSError as err:
                self._stop(err)
        return index

    def _make_room(self) -> bool:
        """Grow the file when it is full, and let the pages written so far go from this
        process's memory: they stay in the page cache and the file (the map is shared),
        so a long run's writer holds a few MiB of records, not all of them. False once
        the disk is full."""
        if self._map is None:
            return False
        if self._pos + RECORD > self._size:
            try:
                os.posix_fallocate(self._fd, 0, self._size * 2)
            except OSError as err:
                self._stop(err)
                return False
            self._size *= 2
            self._map.resize(self._size)
        done = self._pos - self._pos % mmap.PAGESIZE
        if done > self._released:
            self._map.madvise(mmap.MADV_DONTNEED, self._released, done - self._released)
            self._released = done
        self._limit = min(self._size, self._pos + _RESIDENT)
        return True

    def _stop(self, err: OSError) -> None:
        """Stop recording (the disk is full): one warning, and the program goes on."""
        if err.errno not in _FULL:
            raise err
        if self._map is not None:
            self._map.flush()
            self._map.close()
            self._map = None
        self._size = self._limit = self._pos
        print(
            f"gitxp: warning: the disk is full ({err.strerror}): metrics logged from now on "
            "are not recorded; the program goes on",
            file=sys.stderr,
            flush=True,
        )

    def close(self) -> None:
        """Cut the file to what was written and release the map."""
        if self._map is not None:
            self._map.flush()
            self._map.close()
            self._map = None
        if self._fd >= 0:
            try:
                os.ftruncate(self._fd, self._pos)
            except OSError:
                pass  # the zero tail stays; readers stop at the first record with time 0
            os.close(self._fd)
        if self._names_fd >= 0:
            os.close(self._names_fd)
        self._fd = self._names_fd = -1


class _Columns(NamedTuple):
    """A run of records as columns: name index, step, value (int or float), time."""

    which: list[int]
    steps: list[int]
    values: list[Any]
    times: list[float]
    has_ints: bool


# A batch's records by name: the name indexes, and for each its steps, values, times.
Groups = tuple[list[int], list[list[int]], list[list[Any]], list[list[float]]]


def _columns(data: bytes) -> _Columns | None:
    """The records in ``data`` up to the zero tail of a file still being written."""
    count = len(data) // RECORD
    ints = memoryview(data)[: count * RECORD].cast("q")
    floats = ints.cast("B").cast("d")
    times = cast(list[float], floats[4::5].tolist())
    if times and times[-1] == 0.0:
        count = times.index(0.0)
        del times[count:]
    if count == 0:
        return None
    end = count * 5
    kinds = ints[2:end:5]
    values: list[Any] = floats[3:end:5].tolist()
    has_ints = any(kinds)
    if has_ints:
        as_int = ints[3:end:5].tolist()
        values = [i if k else v for k, i, v in zip(kinds.tolist(), as_int, values, strict=True)]
    return _Columns(ints[0:end:5].tolist(), ints[1:end:5].tolist(), values, times, has_ints)


def _groups(cols: _Columns) -> Groups:
    """The records of ``cols`` by name, in name index order; each name's order is kept.

    A training loop that logs the same names in the same order every step leaves a
    periodic file: each name's records are one strided slice. Anything else takes one
    stable sort of the record positions by name, applied to each column in C, then each
    name's slice. Every list returned is new: a caller may keep it as it is.
    """
    which = cols.which
    if which.count(which[0]) == len(which):
        return [which[0]], [cols.steps], [cols.values], [cols.times]
    period = _period(which)
    if period:
        head = which[:period]
        firsts = sorted(range(period), key=head.__getitem__)
        return (
            [head[j] for j in firsts],
            [cols.steps[j::period] for j in firsts],
            [cols.values[j::period] for j in firsts],
            [cols.times[j::period] for j in firsts],
        )
    counts = Counter(which)
    pick = operator.itemgetter(*sorted(range(len(which)), key=which.__getitem__))
    keys = sorted(counts)
    ends = list(accumulate(map(counts.__getitem__, keys)))
    slices = list(map(slice, [0, *ends[:-1]], ends))
    steps, values, times = (
        list(map(list(pick(column)).__getitem__, slices))
        for column in (cols.steps, cols.values, cols.times)
    )
    return keys, steps, values, times


def _period(which: list[int]) -> int:
    """P if every record is of the name P records before it and the first P are P
    different names; else 0."""
    try:
        period = which.index(which[0], 1)
    except ValueError:
        return 0
    if which[period:] != which[:-period] or len(set(which[:period])) != period:
        return 0
    return period


def _packed(values: list[Any], ints: bool) -> array[Any] | list[Any]:
    """``values`` in an ``array('d')`` if all are floats, ``array('q')`` if all are ints
    (``ints``: some may be), else the list itself."""
    if not ints:
        return array("d", values)
    kinds = set(map(type, values))
    return array("d" if kinds == {float} else "q", values) if len(kinds) == 1 else values


def _extend(
    series: ArraySeries, steps: list[int], values: list[Any], times: list[float], ints: bool
) -> None:
    """Append one batch's records of a name to its arrays."""
    series["steps"].extend(steps)
    series["timestamps"].extend(times)
    held = series["values"]
    more = _packed(values, ints)
    same = isinstance(more, array) and isinstance(held, array) and held.typecode == more.typecode
    if same or isinstance(held, list):  # a list: the name logged floats and ints both
        held.extend(more)
    else:  # from now on it has: a list of each value as logged
        series["values"] = [*held, *more]


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cycle collector while a read builds its lists and dicts: tens of
    thousands of them, none in a cycle, set it off again and again, and its full passes
    walk every object of the process (measured: 206 ms instead of 61 ms for 100,000
    values under 10,000 names, in a process holding another set of that size)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class MetricsReader:
    """Reads the metric files of a spool: all of them, or only what is new since a
    previous read. ``records_read`` counts the records parsed so far, so a test can tell
    a reader that reads only what is new from one that reads everything again.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.records_read = 0

    def read(self, since: dict[str, int]) -> tuple[dict[str, ArraySeries], dict[str, int]]:
        """The records after ``since`` by name, and how far this read reached: records
        read per file, the ``since`` of the next read (``{}``: from the start).

        Each name's steps, values and timestamps are in the order logged, file by file;
        names come in the order first logged. Up to :data:`_BATCH` × 2 records come as
        plain lists (quickest to build and to encode); more are read a batch at a time
        into compact arrays (:data:`ArraySeries`), so memory holds 8 bytes a number, not
        Python objects.
        """
        reached = dict(since)
        out: dict[str, ArraySeries] = {}
        with _collector_paused():
            if self._pending(reached) <= 2 * _BATCH:
                self._into_lists(out, reached)
            else:
                self._into_arrays(out, reached)
        return out, reached

    def _into_arrays(self, out: dict[str, ArraySeries], done: dict[str, int]) -> None:
        """Add the records after ``done`` to ``out`` as arrays, a batch at a time."""
        for labels, groups, ints in self._scan(done, batch=_BATCH):
            for index, steps, values, times in zip(*groups, strict=True):
                if index >= len(labels):
                    continue
                into = out.get(labels[index])
                if into is None:
                    out[labels[index]] = {
                        "steps": array("q", steps),
                        "values": _packed(values, ints),
                        "timestamps": array("d", times),
                    }
                else:
                    _extend(into, steps, values, times, ints)

    def _into_lists(self, metrics: dict[str, ArraySeries], done: dict[str, int]) -> None:
        """Add the records after ``done`` to ``metrics`` as lists, a file at a time."""
        for labels, (keys, steps, values, times), _ints in self._scan(done, batch=None):
            found = {
                labels[index]: {"steps": s, "values": v, "timestamps": t}
                for index, s, v, t in zip(keys, steps, values, times, strict=True)
                if index < len(labels)  # else its name line was lost with a crash
            }
            for name in found.keys() & metrics.keys():  # names met in an earlier file
                series, more = metrics[name], found.pop(name)
                for key in _KEYS:
                    series[key].extend(more[key])
            metrics.update(found)

    def _stems(self) -> list[str]:
        try:
            return sorted(n[: -len(".bin")] for n in os.listdir(self.folder) if n.endswith(".bin"))
        except FileNotFoundError:
            return []

    def _pending(self, done: dict[str, int]) -> int:
        """At most how many records are after ``done`` (a file's size counts its zero tail)."""
        total = 0
        for stem in self._stems():
            try:
                size = (self.folder / f"{stem}.bin").stat().st_size
            except FileNotFoundError:
                continue
            total += max(0, size // RECORD - done.get(stem, 0))
        return total

    def _scan(
        self, done: dict[str, int], batch: int | None
    ) -> Iterator[tuple[list[str], Groups, bool]]:
        """Each batch of new records (``batch`` at a time; None: a file at once): the names
        of its file, its records by name, whether some value may be an int. ``done``
        advances as they are read."""
        for stem in self._stems():
            labels: list[str] | None = None
            with open(self.folder / f"{stem}.bin", "rb") as handle:
                handle.seek(done.get(stem, 0) * RECORD)
                while True:
                    data = handle.read(-1 if batch is None else batch * RECORD)
                    cols = _columns(data)
                    if cols is None:
                        break
                    count = len(cols.which)
                    done[stem] = done.get(stem, 0) + count
                    self.records_read += count
                    if labels is None or max(cols.which) >= len(labels):
                        labels = self._names(stem)  # read after the records it names
                    yield labels, _groups(cols), cols.has_ints
                    if batch is None or count < batch:
                        break

    def _names(self, stem: str) -> list[str]:
        try:
            text = (self.folder / f"{stem}.names").read_text()
        except FileNotFoundError:
            return []
        try:  # all lines whole (the usual case): one parse
            return [str(name) for name in json.loads("[" + ",".join(text.splitlines()) + "]")]
        except ValueError:
            pass
        out = []
        for line in text.splitlines():
            try:
                out.append(str(json.loads(line)))
            except ValueError:
                break  # a line torn by a kill: the names before it are whole
        return out
