"""Reading runs from git as flat rows: what the query cache (:mod:`gitxp.query.cache`) holds.

A row holds a run's ``run.json`` fields (its own tags as ``run_tags``), its snapshot
commit (``snapshot``, where the run's git note hangs), its config flattened to
``config.<dotted key>`` and ``metrics.<name>.last|min|max``. Times are integer
microseconds since the Unix epoch (UTC); everything else is plain JSON data.

A first query over thousands of runs reads all of them, so this is written for speed: one
lookup of each run's commit, tree and ``.gitxp/`` folder, objects read without re-hashing,
host facts and configs parsed once per blob, metrics taken from run.json's summary (the
series only for runs recorded before summaries, with their per-step arrays skipped), the
config.yaml that ``record.dump_yaml`` writes parsed without PyYAML's slow constructor.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Container, Mapping, Sequence
from datetime import datetime
from typing import Any

from gitxp.errors import BlobTooLargeError
from gitxp.git.repo import RUNS_PREFIX, CommitFolder, GitRepo, unverified_reads
from gitxp.store import checked, record
from gitxp.store.checked import RecordProblem
from gitxp.store.live import live_metrics
from gitxp.store.notes import snapshot_from
from gitxp.store.runs import DAMAGED

STATS = ("last", "min", "max")

# run.json fields copied into a row as they are (times are converted, see _TIMES).
_FIELDS = (
    "experiment",
    "name",
    "status",
    "result",
    "exit_code",
    "base_commit",
    "branch",
    "dirty",
    "seed",
    "comment",
    "sweep",
    "inputs",
)
_TIMES = {"start": "start_time", "stop": "stop_time", "heartbeat": "heartbeat"}
# The bulky per-step arrays of metrics.json, skipped when only a summary is needed.
_ARRAYS = re.compile(rb'("(?:steps|timestamps|values)"\s*:\s*)\[([^\]]*)\]')
_VALUES = re.compile(rb'"values"\s*:\s*\[([^\]]*)\]')
_NUMBERS = re.compile(rb"[-+0-9.eE,\sNaInfity]*")  # JSON numbers, NaN, ±Infinity


def read_columns(repo: GitRepo, runs: Sequence[tuple[str, str]]) -> dict[str, list[Any]]:
    """The rows of ``runs`` (``(ref, commit)`` pairs) by column: ``name → values`` in the
    order of ``runs`` (None where a run has no such column), read from their record
    commits one at a time, so that no more than one row is held as a dict."""
    columns: dict[str, list[Any]] = {}
    memo: dict[str, Any] = {}  # parsed host.json / config.yaml by blob id: often shared
    with unverified_reads():
        for index, (ref, commit) in enumerate(runs):
            for name, value in read_row(repo, ref, commit, memo).items():
                column = columns.get(name)
                if column is None:
                    column = columns[name] = [None] * len(runs)
                column[index] = value
    return columns


_RECORD_FILES = ("run.json", "config.yaml", "host.json")


def read_row(
    repo: GitRepo, ref: str, commit: str, memo: dict[str, Any] | None = None
) -> dict[str, Any]:
    """One run's flat row from the ``.gitxp/`` folder of ``commit``.

    ``memo`` keeps parsed host facts and configs by blob id across calls: runs of one
    machine share their host.json, and repeated configs their config.yaml. A run whose
    record fails the checks of :mod:`gitxp.store.checked` is a row with status DAMAGED
    and a ``damage`` column that says what is wrong.
    """
    memo = {} if memo is None else memo
    run_id = ref.removeprefix(RUNS_PREFIX)
    try:
        return _sound_row(repo, run_id, ref, commit, memo)
    except RecordProblem as err:
        return {
            "id": run_id,
            "ref": ref,
            "commit": commit,
            "status": DAMAGED,
            "damage": str(err),
            "run_tags": [],
        }


def _sound_row(
    repo: GitRepo, run_id: str, ref: str, commit: str, memo: dict[str, Any]
) -> dict[str, Any]:
    folder = repo.commit_folder(commit, record.RECORD_DIR)
    if folder.kind != "commit":
        raise RecordProblem(f"its ref points at {folder.kind or 'a missing object'}, not a commit")
    files = _files(folder, _RECORD_FILES, memo)
    run_file = files.get("run.json")
    info, summary = checked.run_record(None if run_file is None else run_file[1], run_id)
    row: dict[str, Any] = {"id": run_id, "ref": ref, "commit": commit}
    texts = memo.setdefault("texts", {})  # a text many runs share (branch, status…) kept once
    for name in _FIELDS:
        value = info.get(name)
        row[name] = texts.setdefault(value, value) if type(value) is str else value
    for column, key in _TIMES.items():
        row[column] = micros(info.get(key))
    row["run_tags"] = [texts.setdefault(t, t) for t in info.get("tags") or ()]
    row["snapshot"] = snapshot_from(commit, folder.parents, info.get("base_commit"))
    host = _memo(memo, files.get("host.json"), lambda f: checked.mapping(f[1], "host.json"))
    row["host"] = host.get("hostname") if isinstance(host, dict) else None
    scalars, once = memo.setdefault("scalars", {}), memo.setdefault("once", set())
    config = files.get("config.yaml")
    if config is not None and config[0] not in memo and config[0] not in once:
        once.add(config[0])  # most configs are one run's own: kept only once seen twice
        row.update(_config_items(config, scalars))
    else:
        row.update(_memo(memo, config, lambda f: _config_items(f, scalars)) or ())
    if summary is None:  # a run recorded before summaries: summarise its series
        summary = _series_summary(repo, folder, commit, info)
    for name, stats in summary.items():
        for stat, value in zip(STATS, stats, strict=True):
            row[f"metrics.{name}.{stat}"] = value
    return row


def _files(
    folder: CommitFolder, names: Sequence[str], known: Container[str]
) -> dict[str, tuple[str, bytes | None]]:
    try:
        return folder.files(names, known=known, max_size=checked.MAX_BYTES)
    except BlobTooLargeError as err:
        name = err.path.rsplit("/", 1)[-1]
        raise RecordProblem(f"{name} is too large ({err.size:,} bytes)") from None


def _series_summary(
    repo: GitRepo, folder: CommitFolder, commit: str, info: dict[str, Any]
) -> dict[str, tuple[float, float, float]]:
    metrics = _files(folder, ("metrics.json",), ()).get("metrics.json")
    raw = metrics[1] if metrics is not None else None
    if metrics is None and info.get("status") == "RUNNING":  # format 2 heartbeat: chunks
        joined = live_metrics(repo, commit)
        raw = json.dumps(joined).encode() if joined else None
    return {} if raw is None else checked_metric_summary(raw)


def micros(text: Any) -> int | None:
    """An ISO 8601 time from a record as microseconds since the epoch (None if absent)."""
    if not isinstance(text, str) or not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return round(moment.timestamp() * 1_000_000)


def flatten(value: Mapping[str, Any], prefix: str) -> list[tuple[str, Any]]:
    """``(prefix.dotted.key, leaf)`` pairs; an empty dict is a leaf, like the config's own."""
    out: list[tuple[str, Any]] = []
    stack = [(prefix, value)]
    while stack:
        path, node = stack.pop()
        for key, sub in node.items():
            if isinstance(sub, Mapping) and sub:
                stack.append((f"{path}.{key}", sub))
            else:
                out.append((sys.intern(f"{path}.{key}"), sub))  # one name for all runs
    return out


def metric_summary(raw: bytes) -> dict[str, tuple[float, float, float]]:
    """``{name: (last, min, max)}`` of a metrics.json, without parsing steps and timestamps.

    The per-step arrays become ``0`` before the JSON is parsed; the ``values`` arrays,
    found in document order (the order of the parsed keys), are parsed alone. Anything
    unexpected falls back to parsing the whole file, where values that are not numbers
    are left out.
    """
    fast = _fast_summary(raw)
    return fast if fast is not None else _slow_metric_summary(raw)


def checked_metric_summary(raw: bytes) -> dict[str, tuple[float, float, float]]:
    """:func:`metric_summary`, raising RecordProblem for a metrics.json that is not sound."""
    fast = _fast_summary(raw)
    if fast is not None:
        return fast
    return _summaries(checked.metrics(raw))


def _fast_summary(raw: bytes) -> dict[str, tuple[float, float, float]] | None:
    """:func:`metric_summary` for the layout gitxp writes, or None for anything else."""
    if len(raw) > checked.MAX_BYTES["metrics.json"]:
        return None
    try:
        found = _ARRAYS.findall(raw)
        if not all(_NUMBERS.fullmatch(array) for _key, array in found):
            return None
        arrays = _VALUES.findall(raw)
        skeleton = json.loads(_ARRAYS.sub(rb"\g<1>0", raw))
        if not isinstance(skeleton, dict):
            return None
        names = [
            name
            for name, series in skeleton.items()
            if isinstance(series, dict) and series.get("values") == 0
        ]
        if len(names) != len(arrays) or len(names) != len(skeleton):
            return None
        return {
            str(name): _stats(list(map(float, array.split(b","))))
            for name, array in zip(names, arrays, strict=True)
            if array.strip()
        }
    except (ValueError, TypeError, AttributeError, RecursionError):
        return None


def _stats(numbers: list[float]) -> tuple[float, float, float]:
    """(last, min, max); NaN values count as last but not for min and max."""
    low, high = min(numbers), max(numbers)
    if low != low or high != high:  # NaN came first: min/max need the others
        finite = [x for x in numbers if x == x] or [numbers[-1]]
        low, high = min(finite), max(finite)
    return numbers[-1], low, high


def _slow_metric_summary(raw: bytes) -> dict[str, tuple[float, float, float]]:
    """:func:`metric_summary` by parsing the whole file (any layout a reader accepts)."""
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        return {}
    return _summaries(data)


def _summaries(data: Any) -> dict[str, tuple[float, float, float]]:
    out = {}
    for name, series in data.items() if isinstance(data, dict) else ():
        values = series.get("values") if isinstance(series, dict) else None
        numbers = [
            float(v)
            for v in values or ()
            if isinstance(v, (int, float)) and not isinstance(v, bool)
        ]
        if numbers:
            out[str(name)] = _stats(numbers)
    return out


def _config_items(file: tuple[str, bytes | None], scalars: dict[str, Any]) -> list[tuple[str, Any]]:
    fast = lambda data: _fast_yaml(data, scalars)  # noqa: E731
    return flatten(checked.mapping(file[1] or b"", "config.yaml", fast=fast), "config")


def load_config(data: bytes, scalars: dict[str, Any] | None = None) -> Any:
    """A config.yaml parsed as ``yaml.safe_load`` would (None if it is not valid YAML).

    The block mappings of one-line scalars that ``record.dump_yaml`` writes take a fast
    path (PyYAML's constructor costs more than reading the run); ``scalars`` caches the
    scalar texts it resolved. Anything else goes to PyYAML's safe loader.
    """
    import yaml

    fast = _fast_yaml(data, {} if scalars is None else scalars)
    if fast is not None:
        return fast
    try:
        return yaml.load(data, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # safe
    except (yaml.YAMLError, RecursionError):
        return None


def _fast_yaml(data: bytes, scalars: dict[str, Any]) -> dict[str, Any] | None:
    """:func:`_simple_yaml` of ``data``, or None for a document it does not take."""
    try:
        return _simple_yaml(data.decode(), scalars)
    except (_NotSimpleError, UnicodeDecodeError):
        return None


class _NotSimpleError(Exception):
    """The text is more than a block mapping of one-line scalars."""


_YAML_LINES = re.compile(r"^( *)([A-Za-z_][A-Za-z0-9_]*):(?: (.*))?$", re.MULTILINE)
_YAML_ODD_BREAKS = re.compile("[\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")  # beside \n
_YAML_INT = re.compile(r"-?(?:0|[1-9][0-9]*)")
_YAML_FLOAT = re.compile(r"-?[0-9]+\.[0-9]+")
_YAML_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_YAML_WORDS = frozenset(
    f(w)
    for w in ("y", "n", "yes", "no", "true", "false", "on", "off", "null")
    for f in (str.lower, str.title, str.upper)
)


def _simple_yaml(text: str, scalars: dict[str, Any]) -> dict[str, Any]:
    """A block mapping of one-line scalars, as ``record.dump_yaml`` writes configs.

    Anything else raises _NotSimpleError, and so does a document beyond the limits of
    :func:`gitxp.store.checked.check_shape` (one value a line, one level a mapping), so
    what this returns needs no check of its shape.
    """
    lines = _YAML_LINES.findall(text)
    if (
        len(lines) != text.count("\n") + (not text.endswith("\n"))
        or len(lines) >= checked.MAX_NODES
        or _YAML_ODD_BREAKS.search(text)
    ):
        raise _NotSimpleError  # a line that is not "key: scalar" or "key:", or too many
    root: dict[str, Any] = {}
    # (indentation of the mapping's keys or None until its first key, mapping,
    #  the mapping holding it, its key there, indentation of that key)
    stack: list[list[Any]] = [[0, root, None, None, -1]]
    for spaces, key, value in lines:
        if key in _YAML_WORDS:
            raise _NotSimpleError
        indent = len(spaces)
        top = stack[-1]
        if top[0] is None:  # the first line after "key:"
            if indent > top[4]:
                top[0] = indent
            else:  # "key:" with nothing below is null
                top[2][top[3]] = None
                stack.pop()
        while stack[-1][0] > indent:
            stack.pop()
        entry = stack[-1]
        if entry[0] != indent or key in entry[1]:
            raise _NotSimpleError
        if value == "":
            if len(stack) >= checked.MAX_DEPTH - 1:
                raise _NotSimpleError
            child: dict[str, Any] = {}
            entry[1][key] = child
            stack.append([None, child, entry[1], key, indent])
        else:
            entry[1][key] = _scalar(value, scalars)
    if stack[-1][0] is None:
        stack[-1][2][stack[-1][3]] = None
    if not root:
        raise _NotSimpleError  # an empty document is null, not {}
    return root


def _scalar(text: str, scalars: dict[str, Any]) -> Any:
    if text in scalars:
        return scalars[text]
    if _YAML_INT.fullmatch(text):
        value: Any = int(text)
    elif _YAML_FLOAT.fullmatch(text):
        value = float(text)
    elif _YAML_WORD.fullmatch(text) and text not in _YAML_WORDS:
        value = text
    elif text[0] in "|>&*!%@`?#" or ": " in text or " #" in text or text[-1] == ":":
        raise _NotSimpleError
    else:
        import yaml

        try:
            value = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        except yaml.YAMLError:
            raise _NotSimpleError from None
        if isinstance(value, (dict, list)):
            if value:
                raise _NotSimpleError  # flow collections: leave them to PyYAML whole
            return type(value)()  # a fresh {} or [] for every config
    scalars[text] = value
    return value


def _memo(memo: dict[str, Any], file: tuple[str, bytes | None] | None, load: Any) -> Any:
    """``load(file)``, or what it gave (or raised: RecordProblem) for the same blob id before."""
    if file is None:
        return None
    oid = file[0]
    if oid not in memo:
        try:
            memo[oid] = load(file)
        except RecordProblem as err:
            memo[oid] = err
    found = memo[oid]
    if isinstance(found, RecordProblem):
        raise found
    return found
