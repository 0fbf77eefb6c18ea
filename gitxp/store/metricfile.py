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

import bisect
import errno
import json
import mmap
import operator
import os
import struct
import sys
import time
from pathlib import Path
from typing import Any, cast

from gitxp.errors import UsageError

_FLOAT = struct.Struct("<qqqdd")
_INT = struct.Struct("<qqqqd")
RECORD = _FLOAT.size  # 40 bytes, 5 fields of 8
_INITIAL_MAP = RECORD * 4096
_INT64 = (-(2**63), 2**63 - 1)
_FULL = (errno.ENOSPC, errno.EDQUOT)

Series = dict[str, list[Any]]


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
        self._size = _INITIAL_MAP
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
        if self._pos + RECORD > self._size and not self._grow():
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

    def _grow(self) -> bool:
        """Double the file, its blocks allocated first; False once the disk is full."""
        if self._map is None:
            return False
        try:
            os.posix_fallocate(self._fd, 0, self._size * 2)
        except OSError as err:
            self._stop(err)
            return False
        self._size *= 2
        self._map.resize(self._size)
        return True

    def _stop(self, err: OSError) -> None:
        """Stop recording (the disk is full): one warning, and the program goes on."""
        if err.errno not in _FULL:
            raise err
        if self._map is not None:
            self._map.flush()
            self._map.close()
            self._map = None
        self._size = self._pos
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


class MetricsReader:
    """Reads the metric files of a spool incrementally: each call reads only new records."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._done: dict[str, int] = {}
        self.metrics: dict[str, Series] = {}

    def update(self) -> dict[str, Series]:
        """Read what was appended since the last call; returns all metrics so far, by name."""
        try:
            names = sorted(n for n in os.listdir(self.folder) if n.endswith(".bin"))
        except FileNotFoundError:
            return self.metrics
        for name in names:
            self._read_file(name[: -len(".bin")])
        return self.metrics

    def _read_file(self, stem: str) -> None:
        done = self._done.get(stem, 0)
        with open(self.folder / f"{stem}.bin", "rb") as handle:
            handle.seek(done * RECORD)
            data = handle.read()
        count = len(data) // RECORD
        if count == 0:
            return
        ints = memoryview(data[: count * RECORD]).cast("q")
        floats = ints.cast("B").cast("d")
        times = cast(list[float], floats[4::5].tolist())
        if times[-1] == 0.0:  # the zero tail of a file still being written
            count = times.index(0.0)
            times = times[:count]
        if count == 0:
            return
        self._done[stem] = done + count
        labels = self._names(stem)
        which = ints[0 : count * 5 : 5].tolist()
        steps = ints[1 : count * 5 : 5].tolist()
        kinds = ints[2 : count * 5 : 5].tolist()
        values: list[Any] = floats[3 : count * 5 : 5].tolist()
        if any(kinds):
            as_int = ints[3 : count * 5 : 5].tolist()
            values = [i if k else v for k, i, v in zip(kinds, as_int, values, strict=True)]
        if len(set(which)) > 1:  # group by name with one stable sort: order kept per name
            order = sorted(range(count), key=which.__getitem__)
            which = [which[i] for i in order]
            steps = [steps[i] for i in order]
            values = [values[i] for i in order]
            times = [times[i] for i in order]
        start = 0
        while start < count:
            index = which[start]
            end = bisect.bisect_right(which, index, start)
            picked = (steps[start:end], values[start:end], times[start:end])
            start = end
            if index >= len(labels):
                continue  # its name line was lost with a crash: nothing to file it under
            series = self.metrics.setdefault(
                labels[index], {"steps": [], "values": [], "timestamps": []}
            )
            series["steps"].extend(picked[0])
            series["values"].extend(picked[1])
            series["timestamps"].extend(picked[2])

    def _names(self, stem: str) -> list[str]:
        try:
            lines = (self.folder / f"{stem}.names").read_text().splitlines()
        except FileNotFoundError:
            return []
        out = []
        for line in lines:
            try:
                out.append(str(json.loads(line)))
            except ValueError:
                break
        return out
