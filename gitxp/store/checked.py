"""Record files read as what they are: input from anyone who could push a run.

A run's ``.gitxp/`` files may come from a teammate's machine, a broken gitxp, or someone
hostile. Everything that reads them goes through here, with limits on what is parsed, so
that no record can exhaust memory or time, and with a check of what a sound record holds,
so that a damaged run is reported as damaged (one line saying what is wrong) instead of
failing every command that meets it:

- sizes: at most :data:`MAX_BYTES` per file (``metrics.json`` 256 MiB, others less);
- nesting: at most :data:`MAX_DEPTH` levels of lists and mappings;
- YAML: the safe loader only (no ``!!python/…`` tags), no self-referring values, and at
  most :data:`MAX_NODES` values once aliases are expanded (a 1 KB "billion laughs"
  document would expand to a billion);
- types: the fields of ``run.json`` that gitxp reads have the types gitxp writes (fields
  it does not know are kept as they are); ``metrics.json`` holds series of numbers, and
  run.json's ``metrics_summary`` numbers that agree with each other; ``host.json`` and
  ``config.yaml`` are mappings.

Each function raises :class:`RecordProblem` whose text names the file and the problem.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from gitxp.store.ids import is_run_id
from gitxp.store.record import SUMMARY_VERSION, as_float

MAX_BYTES = {
    "run.json": 16 << 20,
    "config.yaml": 16 << 20,
    "host.json": 4 << 20,
    "metrics.json": 256 << 20,
}
MAX_DEPTH = 100
MAX_NODES = 1_000_000

_HEX = re.compile(r"[0-9a-f]{40}")
_TEXT_FIELDS = (
    "experiment",
    "name",
    "cwd",
    "status",
    "fail_trace",
    "branch",
    "comment",
    "capture",
    "reproduction_of",
    "resumed_from",
    "inputs",
)
_REAL = (int, float)
_TIME_FIELDS = ("start_time", "stop_time", "heartbeat")
_FLAG_FIELDS = ("detached", "dirty")
_INT_FIELDS = ("exit_code", "seed")


class RecordProblem(ValueError):
    """What is wrong with a record file, one line that names the file."""


def parse_json(data: bytes, name: str, shape: bool = True) -> Any:
    """``data`` parsed as JSON, within the limits of the module docstring.

    ``shape=False`` leaves out :func:`check_shape` (JSON has no aliases, so only its depth
    can go wrong, and the caller checks a fixed shape itself: ``metrics.json``).
    """
    _check_size(data, name)
    try:
        value = json.loads(data)
    except RecursionError:
        raise RecordProblem(f"{name} is nested more than {MAX_DEPTH} levels deep") from None
    except ValueError as err:
        raise RecordProblem(f"{name} is not JSON ({_first_line(err)})") from None
    if shape and not _surely_small(data):
        check_shape(value, name)
    return value


def _surely_small(data: bytes) -> bool:
    """Whether JSON ``data`` is within the limits of :func:`check_shape` without a walk:
    every value takes at least a byte, and every level of nesting an opening bracket."""
    return len(data) <= MAX_NODES and data.count(b"[") + data.count(b"{") <= MAX_DEPTH


def parse_yaml(data: bytes, name: str, fast: Callable[[bytes], Any] | None = None) -> Any:
    """``data`` parsed by the safe YAML loader, within the limits.

    ``fast`` is tried first: a parser of a subset of YAML whose results are within the
    limits by construction (no shape check), returning None for a document it does not
    take.
    """
    import yaml

    _check_size(data, name)
    if fast is not None:
        value = fast(data)
        if value is not None:
            return value
    try:
        value = yaml.load(data, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except RecursionError:
        raise RecordProblem(f"{name} is nested more than {MAX_DEPTH} levels deep") from None
    except yaml.constructor.ConstructorError as err:
        tag = f" ({err.problem.split('tag ')[-1]})" if err.problem and "tag" in err.problem else ""
        raise RecordProblem(f"{name} holds a value that is not plain data{tag}") from None
    except (yaml.YAMLError, UnicodeDecodeError, ValueError) as err:
        if "maximum nesting depth" in str(err):  # libyaml's own limit
            raise RecordProblem(f"{name} is nested more than {MAX_DEPTH} levels deep") from None
        raise RecordProblem(f"{name} is not valid YAML ({_first_line(err)})") from None
    check_shape(value, name)
    return value


def check_shape(value: Any, name: str) -> None:
    """Refuse ``value`` when it nests too deep, refers to itself or expands too far.

    Values reached twice (YAML aliases) count each time they are reached, without being
    walked again: the count is what a copy with every alias expanded would hold.
    """
    sizes: dict[int, int] = {}  # id → expanded size of a container already walked
    on_path: set[int] = set()
    stack: list[list[Any]] = [[value, None, 0, 1]]  # node, its children left, depth, size
    while stack:
        top = stack[-1]
        node = top[0]
        if top[1] is None:  # reached: a leaf, a container seen before, or a new one
            if not isinstance(node, (dict, list)):
                size = 1
            elif id(node) in sizes:
                size = sizes[id(node)]
            elif id(node) in on_path:
                raise RecordProblem(f"{name} holds a value that contains itself")
            elif top[2] >= MAX_DEPTH:
                raise RecordProblem(f"{name} is nested more than {MAX_DEPTH} levels deep")
            else:
                on_path.add(id(node))
                top[1] = iter(list(node.values()) if isinstance(node, dict) else list(node))
                continue
        else:
            child = next(top[1], _DONE)
            if child is not _DONE:
                stack.append([child, None, top[2] + 1, 1])
                continue
            on_path.discard(id(node))
            size = sizes[id(node)] = top[3]
        stack.pop()
        total = stack[-1][3] + size if stack else size
        if total > MAX_NODES:
            raise RecordProblem(f"{name} expands to more than {MAX_NODES:,} values (aliases?)")
        if stack:
            stack[-1][3] = total


_DONE = object()


def run_info(data: bytes | None, run_id: str) -> dict[str, Any]:
    """The checked ``run.json`` of run ``run_id`` (None: the commit has no run.json)."""
    return run_record(data, run_id)[0]


def run_record(
    data: bytes | None, run_id: str
) -> tuple[dict[str, Any], dict[str, tuple[float, float, float]] | None]:
    """:func:`run_info` and its :func:`metrics_summary`, checked once."""
    if not is_run_id(run_id):
        raise RecordProblem(f"its ref name {run_id!r} is not a run id")
    if data is None:
        raise RecordProblem("it is not a gitxp run commit (no .gitxp/run.json)")
    info = parse_json(data, "run.json")
    if not isinstance(info, dict):
        raise RecordProblem(f"run.json holds {_kind(info)}, not an object")
    if info.get("id") != run_id:
        raise RecordProblem(f"run.json names run {str(info.get('id'))[:30]!r}, not {run_id}")
    for key in _TEXT_FIELDS:
        _expect(info, key, str)
    for key in _TIME_FIELDS:
        if _expect(info, key, str) is not None:
            try:
                datetime.fromisoformat(info[key])
            except ValueError:
                raise RecordProblem(f"run.json: {key} is not a time ({info[key][:40]!r})") from None
    for key in _FLAG_FIELDS:
        _expect(info, key, bool)
    for key in _INT_FIELDS:
        _expect(info, key, int)
    base = _expect(info, "base_commit", str)
    if base is not None and not _HEX.fullmatch(base):
        raise RecordProblem("run.json: base_commit is not a commit id")
    _expect_list(info, "command", lambda v: isinstance(v, str), "text")
    _expect_list(info, "tags", lambda v: isinstance(v, str), "text")
    _expect_list(info, "skipped_files", _is_skipped, "objects with a path and a size")
    for key in ("artifacts", "resources"):
        _expect_list(info, key, _is_file_entry, "objects with a name and a size")
    for key in ("config_docs", "info"):
        _expect(info, key, dict)
    return info, metrics_summary(info)


def metrics(data: bytes) -> dict[str, dict[str, list[Any]]]:
    """The checked ``metrics.json``: name → ``steps``, ``values``, ``timestamps``."""
    parsed = parse_json(data, "metrics.json", shape=False)
    if not isinstance(parsed, dict):
        raise RecordProblem(f"metrics.json holds {_kind(parsed)}, not an object")
    for name, series in parsed.items():
        if not isinstance(series, dict):
            raise RecordProblem(f"metrics.json: {name[:40]!r} is {_kind(series)}, not a series")
        for key in ("steps", "values", "timestamps"):
            column = series.get(key)
            if column is None and key != "values":
                continue
            if not isinstance(column, list) or not all(map(_is_number, column)):
                raise RecordProblem(f"metrics.json: {name[:40]!r} {key} are not numbers")
        if any(type(step) is not int for step in series.get("steps") or ()):
            raise RecordProblem(f"metrics.json: {name[:40]!r} steps are not whole numbers")
    return parsed


def metrics_summary(info: dict[str, Any]) -> dict[str, tuple[float, float, float]] | None:
    """The ``metrics_summary`` of a checked run.json as ``{name: (last, min, max)}``.

    None when the run has none, or one of a version this gitxp does not know: the reader
    then summarises the series itself. A summary of a known version that is not sound
    (entries that are not objects, numbers that are not numbers, a count that is not a
    whole number, a min above its max) raises RecordProblem.
    """
    found = info.get("metrics_summary")
    if found is None:
        return None
    version = found.get("version") if isinstance(found, dict) else None
    if type(version) is not int:
        raise RecordProblem("run.json: metrics_summary is not an object with a version")
    if version != SUMMARY_VERSION:
        return None
    entries = found.get("metrics")
    if not isinstance(entries, dict):
        raise RecordProblem(f"run.json: metrics_summary holds {_kind(entries)}, not an object")
    out = {}
    for name, entry in entries.items():
        try:
            stats = (entry["last"], entry["min"], entry["max"])
            count, step = entry["count"], entry.get("last_step")
        except (TypeError, KeyError, AttributeError):  # not an object, or a stat missing
            raise RecordProblem(
                f"run.json: metrics_summary {name[:40]!r} is not a summary"
            ) from None
        if not (type(stats[0]) in _REAL and type(stats[1]) in _REAL and type(stats[2]) in _REAL):
            raise RecordProblem(f"run.json: metrics_summary {name[:40]!r} is not numbers")
        if type(count) is not int or count < 1 or (step is not None and type(step) is not int):
            raise RecordProblem(f"run.json: metrics_summary {name[:40]!r} count or step is wrong")
        last, low, high = (x if type(x) is float else as_float(x) for x in stats)
        if low > high or last < low or last > high:  # comparisons with NaN are all false
            raise RecordProblem(f"run.json: metrics_summary {name[:40]!r}: min, max, last disagree")
        out[name] = (last, low, high)
    return out


def mapping(data: bytes, name: str, fast: Callable[[bytes], Any] | None = None) -> dict[str, Any]:
    """The checked ``host.json`` or ``config.yaml`` (``.yaml``: parsed as YAML, ``fast``
    tried first: :func:`parse_yaml`): a mapping."""
    value = parse_yaml(data, name, fast=fast) if name.endswith(".yaml") else parse_json(data, name)
    if value is None and name.endswith(".yaml"):
        return {}
    if not isinstance(value, dict):
        raise RecordProblem(f"{name} holds {_kind(value)}, not a mapping")
    return value


def _check_size(data: bytes, name: str) -> None:
    limit = MAX_BYTES.get(name, 16 << 20)
    if len(data) > limit:
        raise RecordProblem(f"{name} is larger than {limit >> 20} MiB ({len(data):,} bytes)")


def _expect(info: dict[str, Any], key: str, kind: type) -> Any:
    value = info.get(key)
    if value is None:
        return None
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise RecordProblem(f"run.json: {key} is {_kind(value)}, not {_kind(kind())}")
    return value


def _expect_list(info: dict[str, Any], key: str, ok: Callable[[Any], bool], what: str) -> None:
    value = info.get(key)
    if value is not None and (not isinstance(value, list) or not all(map(ok, value))):
        raise RecordProblem(f"run.json: {key} is not a list of {what}")


def _is_skipped(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("path"), str)


def _is_file_entry(value: Any) -> bool:
    size = value.get("size") if isinstance(value, dict) else None
    return (
        isinstance(value, dict)
        and isinstance(value.get("name"), str)
        and (size is None or (type(size) is int and size >= 0))
        and isinstance(value.get("metadata") or {}, dict)
    )


def _is_number(value: Any) -> bool:
    return type(value) in (int, float) or value is None


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a true/false value"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "text"
    if isinstance(value, (int, float)):
        return "a number"
    return "null" if value is None else f"a {type(value).__name__}"


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return " ".join(text[0].split())[:80] if text else type(err).__name__
