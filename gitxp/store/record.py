"""The record format: what the ``.gitxp/`` folder of a run commit holds, and its messages.

``.gitxp/`` in a run commit's tree (format 2):

- ``format``: the text ``gitxp-run 2``; readers accept every older format number.
- ``run.json``: id, experiment, name, command, cwd, status, times (ISO 8601, UTC, with
  zone), heartbeat, exit code, result, failure trace, base commit and branch, dirty flag,
  skipped files, seed, comment, tags, info, artifacts and resources listed with sizes.
  ``inputs``: the run's input identity (:func:`input_identity`); ``sweep``: the id of the
  sweep the run belongs to, if any; ``queued_args``: the ``gitxp run`` arguments of a
  QUEUED run, which a worker runs (docs/format.md). ``metrics_summary``: in final record
  commits, each metric's count, last, min, max and last step (:func:`summarize_metrics`),
  so a query reads the run without its series.
- ``config.yaml``: the resolved config.
- ``env.lock``: the installed distributions (``pip install -r env.lock``).
- ``host.json``: host facts.
- ``metrics.json``: ``{name: {"steps": [...], "values": [...], "timestamps": [...]}}``,
  timestamps in seconds since the Unix epoch.
- ``output.log``: captured stdout/stderr with ``\\r``/``\\b`` applied.
- ``live/``: in heartbeat commits only (format 2), the chunks of output and metrics each
  beat added instead of the whole two files above (:mod:`gitxp.store.live`).
- ``artifacts/<name>``: the files added as artifacts; ``resources/<name>`` likewise.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import time
from array import array
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

FORMAT = 2
FORMAT_TEXT = f"gitxp-run {FORMAT}\n"
RECORD_DIR = ".gitxp"
FINAL_STATUSES = frozenset({"COMPLETED", "FAILED", "INTERRUPTED", "DIED", "QUEUED"})
_SERIES_KEYS = ("steps", "values", "timestamps")
_ENCODED_AT_ONCE = 65536  # numbers of a series encoded in one piece by metrics_chunks
SUMMARY_VERSION = 1  # of run.json's metrics_summary; readers fall back to the series otherwise


def canonical_json(data: Any) -> str:
    """``data`` as canonical JSON: sorted keys, no spaces, non-ASCII kept."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def input_identity(
    source_tree: str,
    config: Any,
    env_lock: str,
    command: list[str] | None = None,
    named: list[str] | None = None,
) -> str:
    """A run's input identity (DESIGN.md §7): SHA-256 over its source tree id, its config
    as canonical JSON, its env lock, and what selects the program: the command before
    ``with`` without its interpreter, and the named configs. Same identity: the same
    experiment."""
    program = list(command or [])
    if "with" in program:
        program = program[: program.index("with")]
    if program and program[0].rsplit("/", 1)[-1].startswith("python"):
        program = program[1:]
    selects = canonical_json({"program": program, "named": list(named or [])})
    digest = hashlib.sha256()
    for part in (source_tree, canonical_json(config), env_lock, selects):
        data = part.encode()
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)
    return "sha256:" + digest.hexdigest()


def iso(timestamp: float | None) -> str | None:
    """``timestamp`` (seconds since the epoch) as ISO 8601 in UTC with its zone."""
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, tz=UTC).isoformat(timespec="milliseconds")


def parse_time(text: str | None) -> datetime | None:
    """The inverse of :func:`iso`."""
    return None if not text else datetime.fromisoformat(text)


def dump_json(data: Any) -> bytes:
    """Stable, readable JSON bytes for a record file."""
    return (json.dumps(data, indent=2, sort_keys=False, ensure_ascii=False) + "\n").encode()


def dump_metrics(metrics: Mapping[str, Mapping[str, Sequence[Any]]]) -> bytes:
    """``metrics.json`` of ``metrics`` as bytes (:func:`metrics_chunks` joined)."""
    return b"".join(metrics_chunks(metrics))


def metrics_chunks(metrics: Mapping[str, Mapping[str, Sequence[Any]]]) -> Iterator[bytes]:
    """``metrics.json``, one line per metric, as a stream of chunks.

    Each series' ``steps``, ``values`` and ``timestamps`` may be lists or arrays; a long
    one is encoded :data:`_ENCODED_AT_ONCE` numbers at a time, so the whole text is never
    in memory. Indented JSON would put every number on its own line and needs the
    pure-Python encoder (3× slower for 100,000 scalars); this uses the C encoder and
    stays readable.
    """
    if not metrics:
        yield b"{}\n"
        return
    lead = "{\n  "
    lines: list[str] = []  # short series not yet yielded, one line each
    held = 0
    for name, series in metrics.items():
        label = json.dumps(name, ensure_ascii=False) + ": "
        columns = [_as_list(series[key]) for key in _SERIES_KEYS]
        longest = max(map(len, columns))
        if longest <= _ENCODED_AT_ONCE:
            lines.append(label + json.dumps(dict(zip(_SERIES_KEYS, columns, strict=True))))
            held += longest
            if held < _ENCODED_AT_ONCE:
                continue
        if lines:
            yield (lead + ",\n  ".join(lines)).encode()
            lead, lines, held = ",\n  ", [], 0
        if longest <= _ENCODED_AT_ONCE:
            continue
        prefix = lead + label + "{"
        lead = ",\n  "
        for key, values in zip(_SERIES_KEYS, columns, strict=True):
            yield f'{prefix}"{key}": ['.encode()
            prefix = "], "
            for start in range(0, len(values), _ENCODED_AT_ONCE):
                part = json.dumps(_as_list(values[start : start + _ENCODED_AT_ONCE]))
                yield (part[1:-1] if start == 0 else ", " + part[1:-1]).encode()
        yield b"]}"
    if lines:
        yield (lead + ",\n  ".join(lines)).encode()
    yield b"\n}\n"


def _as_list(values: Sequence[Any]) -> Any:
    """``values`` as ``json.dumps`` takes them: a short array as a list; a long array
    stays an array, sliced into lists by :func:`metrics_chunks`."""
    if type(values) is array and len(values) <= _ENCODED_AT_ONCE:
        return values.tolist()
    return values


def metric_stats(numbers: Sequence[float]) -> tuple[float, float, float]:
    """``(last, min, max)`` of a series' values; NaN counts as last but not for min and max
    (unless every value is NaN). The writer of summaries and every reader use this."""
    low, high = min(numbers), max(numbers)
    if low != low or high != high:  # NaN came first: min/max need the others
        finite = [x for x in numbers if x == x] or [numbers[-1]]
        low, high = min(finite), max(finite)
    return as_float(numbers[-1]), as_float(low), as_float(high)


def is_number(value: Any) -> bool:
    """A metric value a reader counts: an int or a float (not a bool, not null)."""
    return type(value) in (int, float)


def as_float(value: float) -> float:
    """A metric value as a float; an integer beyond float range is infinite (as JSON's
    ``1e400`` reads) instead of an OverflowError."""
    try:
        return float(value)
    except OverflowError:
        return float("inf") if value > 0 else float("-inf")


def summarize_metrics(metrics: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """run.json's ``metrics_summary`` of ``metrics`` (what metrics.json holds): per name
    with values, ``count``, ``last``, ``min``, ``max`` (floats, :func:`metric_stats`) and
    ``last_step``; values that are not numbers are left out, as readers of the series do."""
    summary: dict[str, Any] = {}
    for name, series in metrics.items():
        values: Sequence[Any] = series.get("values") or ()
        steps: Sequence[Any] = series.get("steps") or ()
        whole = isinstance(values, array) or all(map(is_number, values))  # arrays: numbers
        numbers = values if whole else [v for v in values if is_number(v)]
        if not numbers:
            continue
        last = next(i for i in range(len(values) - 1, -1, -1) if is_number(values[i]))
        step = steps[last] if last < len(steps) else None
        summary[name] = dict(
            zip(("last", "min", "max"), metric_stats(numbers), strict=True),
            count=len(numbers),
            last_step=step if type(step) is int else None,
        )
    return {"version": SUMMARY_VERSION, "metrics": summary}


def dump_yaml(data: Any) -> bytes:
    """Readable YAML bytes that keep the config's key order.

    Exactly what ``yaml.safe_dump`` writes (block style, keys in order). Nested mappings of
    numbers, booleans, nulls and word-like strings, most configs, are written here
    without importing PyYAML (it costs a run's start several milliseconds); anything else
    goes to PyYAML.
    """
    lines: list[str] = []
    if isinstance(data, dict) and (not data or _plain_block(data, "", lines)):
        return ("{}\n" if not data else "\n".join(lines) + "\n").encode()
    import yaml

    text: str = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=False)
    return text.encode()


# A string PyYAML writes unquoted and reads back as the same string: a word that no YAML 1.1
# resolver takes for a bool or null (numbers, dates and ``.inf`` start with no letter).
_PLAIN_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_./-]{0,99}")
_YAML11_WORDS = frozenset(
    case(word)
    for word in ("yes", "no", "true", "false", "on", "off", "null")
    for case in (str.lower, str.title, str.upper)
)


def _plain_scalar(value: Any) -> str | None:
    """``value`` as PyYAML's safe dumper writes it in block style, or None if not simple."""
    kind = type(value)
    if value is None:
        return "null"
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        return str(value)
    if kind is float:
        if value != value:
            return ".nan"
        if value in (math.inf, -math.inf):
            return ".inf" if value > 0 else "-.inf"
        text = repr(value).lower()
        return text.replace("e", ".0e", 1) if "." not in text and "e" in text else text
    if kind is str and _PLAIN_WORD.fullmatch(value) and value not in _YAML11_WORDS:
        return value
    return None


def _plain_block(mapping: dict[Any, Any], indent: str, lines: list[str]) -> bool:
    """Append the block lines of ``mapping``; False if some key or value is not simple."""
    for key, value in mapping.items():
        name = _plain_scalar(key) if type(key) is str else None
        if name is None:
            return False
        if type(value) is dict:
            if not value:
                lines.append(f"{indent}{name}: {{}}")
                continue
            lines.append(f"{indent}{name}:")
            if not _plain_block(value, indent + "  ", lines):
                return False
            continue
        if type(value) is list and not value:
            lines.append(f"{indent}{name}: []")
            continue
        text = _plain_scalar(value)
        if text is None:
            return False
        lines.append(f"{indent}{name}: {text}")
    return True


def load_yaml(data: bytes | None) -> Any:
    """Parse a YAML record file (None stays None)."""
    import yaml

    return None if data is None else yaml.safe_load(data.decode())


def short_result(value: Any, width: int = 40) -> str:
    """A one-line rendering of a run's result for summaries."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def commit_message(run: dict[str, Any]) -> str:
    """A one-line summary plus trailers, so ``git log`` on a run ref is informative."""
    label = run.get("name") or run.get("experiment") or "run"
    status = run.get("status", "RUNNING")
    summary = f"gitxp run {run['id'][:10]}: {label} ({status}"
    if run.get("result") is not None:
        summary += f", result {short_result(run['result'], 30)}"
    summary += ")"
    trailers = [
        ("Gitxp-Run", run["id"]),
        ("Gitxp-Status", status),
        ("Gitxp-Experiment", run.get("experiment") or ""),
        ("Gitxp-Name", run.get("name") or ""),
        ("Gitxp-Command", " ".join(run.get("command") or [])),
        ("Gitxp-Base", run.get("base_commit") or ""),
    ]
    lines = [f"{k}: {_one_line(v)}" for k, v in trailers if v]
    return summary + "\n\n" + "\n".join(lines) + "\n"


def parse_trailers(message: str) -> dict[str, str]:
    """The ``Gitxp-*`` trailers of a run commit message."""
    out: dict[str, str] = {}
    for line in message.splitlines():
        key, sep, value = line.partition(": ")
        if sep and key.startswith("Gitxp-"):
            out[key] = value
    return out


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def fold_end(run: dict[str, Any], events: dict[str, Any], status: str, final: bool) -> str:
    """Fold a spool's end, failure, result and info events into ``run`` (its run.json),
    with the heartbeat time now; returns the status the record takes."""
    end = events.get("end", {})
    now = time.time()
    if final or end:
        status = end.get("status", status)
        run["stop_time"] = iso(end.get("time", now))
    run["status"] = status
    run["heartbeat"] = iso(now)
    if end.get("exit_code") is not None:
        run["exit_code"] = end["exit_code"]
    # A trace the run's own code reported beats the supervisor's "exit code N".
    failure = events.get("failure", {}).get("trace") or end.get("fail_trace")
    if failure and status != "COMPLETED":
        run["fail_trace"] = failure
    if "result" in events:
        run["result"] = events["result"].get("value")
    if "result" in end:
        run["result"] = end["result"]
    run["info"] = events.get("info", {})
    return status


def fold_events(run: dict[str, Any], events: dict[str, Any]) -> dict[str, bytes]:
    """Fold a spool's config and meta events into ``run``; returns the files they make
    (``config.yaml``)."""
    files: dict[str, bytes] = {}
    if "config" in events:
        event = events["config"]
        files["config.yaml"] = dump_yaml(event.get("config"))
        run["config_docs"] = event.get("docs") or run.get("config_docs", {})
        if event.get("seed") is not None:
            run["seed"] = event["seed"]
    if events.get("meta"):
        run.update(events["meta"].get("value") or {})
    return files
