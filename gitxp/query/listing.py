"""What ``gitxp ls`` and ``gitxp show`` print: runs as readable text or JSON."""

from __future__ import annotations

import json
import math
import re
import time
from datetime import UTC, datetime
from typing import Any

from gitxp.configuration.dicts import iterate_flattened
from gitxp.git.repo import GitRepo
from gitxp.query.attested import attestation_json
from gitxp.query.cache import RunTable
from gitxp.store.attestations import attestations_of
from gitxp.store.ids import is_run_id
from gitxp.store.notes import merged_tags, record_note
from gitxp.store.runs import RunRecord, RunRef, damaged_info, list_runs, record, resolve

LS_COLUMNS_KEY = "gitxp.lsColumns"  # git config: the columns a plain `gitxp ls` shows
STALE_AFTER = 120.0  # seconds without a heartbeat before a RUNNING run looks dead


_JSON_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|-?Infinity|NaN')


def strict_json(data: Any) -> str:
    """``data`` as standard JSON: NaN and infinities (which JSON lacks) become null."""
    text = json.dumps(data, indent=2, ensure_ascii=False)  # non-ASCII as it is
    return _JSON_TOKENS.sub(lambda m: m.group() if m.group()[0] == '"' else "null", text)


def load_records(
    repo: GitRepo, status: str | None = None, limit: int | None = None
) -> list[RunRecord]:
    """Runs newest first, optionally only those with ``status``, at most ``limit``."""
    out = []
    for ref in list_runs(repo):
        rec = RunRecord.load(repo, ref)
        if status and rec.info.get("status", "").upper() != status.upper():
            continue
        out.append(rec)
        if limit is not None and len(out) >= limit:
            break
    return out


def display_status(info: dict[str, Any], now: float | None = None) -> str:
    """The status, with RUNNING runs whose heartbeat stopped marked as probably dead."""
    status = str(info.get("status", "?"))
    beat = record.parse_time(info.get("heartbeat"))
    stale = beat is not None and (now or time.time()) - beat.timestamp() > STALE_AFTER
    if status == "RUNNING" and stale:
        return "RUNNING?"
    return status


def duration(info: dict[str, Any]) -> float | None:
    """Seconds from start to stop (or to the last heartbeat while running)."""
    start = record.parse_time(info.get("start_time"))
    end = record.parse_time(info.get("stop_time") or info.get("heartbeat"))
    if start is None or end is None:
        return None
    return (end - start).total_seconds()


def format_duration(seconds: float | None) -> str:
    """``3.2s``, ``4m05s``, ``2h13m``."""
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def local_time(text: str | None) -> str:
    """An ISO time from a record shown in the local zone, to the minute."""
    moment = record.parse_time(text)
    return "" if moment is None else moment.astimezone().strftime("%Y-%m-%d %H:%M")


def differing_config(records: list[RunRecord]) -> list[str]:
    """Dotted config keys whose values differ between ``records`` (``seed`` left out)."""
    values: dict[str, set[str]] = {}
    for rec in records:
        for key, value in iterate_flattened(rec.config):
            values.setdefault(key, set()).add(json.dumps(value, sort_keys=True))
    keys = [
        k
        for k, v in values.items()
        if len(v) > 1 or any(k not in dict(iterate_flattened(r.config)) for r in records)
    ]
    return sorted(k for k in keys if k != "seed")


def unique_prefix_length(ids: list[str], minimum: int = 8) -> int:
    """The shortest prefix length (≥ ``minimum``) that tells all ``ids`` apart."""
    length = minimum
    while length < 26 and len({i[:length] for i in ids}) < len(ids):
        length += 1
    return length


def ls_rows(records: list[RunRecord]) -> tuple[list[str], list[list[str]]]:
    """The header and rows of the ``gitxp ls`` table."""
    keys = differing_config(records)
    width = unique_prefix_length([r.ref.id for r in records])
    header = ["ID", "EXPERIMENT", "STATUS", "START", "DURATION", "RESULT", *keys]
    rows = []
    for rec in records:
        info = rec.info
        flat = dict(iterate_flattened(rec.config))
        label = info.get("experiment") or ""
        if info.get("name"):
            label = f"{label}/{info['name']}" if label else str(info["name"])
        rows.append(
            [
                rec.ref.id[:width],
                label,
                display_status(info),
                local_time(info.get("start_time")),
                format_duration(duration(info)),
                record.short_result(info.get("result"), 24),
                *[_cell(flat.get(k)) for k in keys],
            ]
        )
    return header, rows


def ls_output(
    repo: GitRepo,
    status: str | None = None,
    limit: int | None = None,
    as_json: bool = False,
    where: str | None = None,
    sort: str | None = None,
    columns: str | None = None,
    tag: str | None = None,
    on: str | None = None,
    same_as: str | None = None,
) -> tuple[str, str]:
    """What ``gitxp ls`` prints: (stdout text, a note for stderr); both may be empty.

    Runs come from the query layer (:mod:`gitxp.query.frames`): ``where`` is a pandas query
    expression, ``sort`` column names (``-name``: descending), ``columns`` the columns to
    show instead of the default ones (default: git config ``gitxp.lsColumns``), ``tag``
    keeps the runs with that tag, ``on`` the runs on that commit's history
    (:mod:`gitxp.query.history`), ``same_as`` (a run) the runs with its input identity.
    """
    from gitxp.query.frames import pick_columns, select_rows

    runs, rows = select_rows(repo, where=where, status=status, sort=sort, tag=tag)
    if on is not None:
        from gitxp.query.history import runs_on

        matched = runs_on(repo, on)
        rows = [i for i in rows if runs.columns["id"][i] in matched]
    if same_as is not None:
        rows = same_inputs(repo, runs, rows, same_as)
    if limit is not None:
        rows = rows[: max(limit, 0)]
    chosen = None
    if columns:
        from gitxp.query.frames import column_order

        chosen = pick_columns(column_order(runs.columns), columns)
    elif not as_json and repo.config_value(LS_COLUMNS_KEY):
        chosen = configured_columns(runs, str(repo.config_value(LS_COLUMNS_KEY)))
    if as_json:
        if chosen is not None:
            return strict_json(query_json(runs, rows, chosen)), ""
        damage = runs.columns.get("damage") or [None] * len(runs)
        data = []
        for i in rows:
            rec = RunRecord.load(repo, RunRef(runs.columns["id"][i], runs.refs[i], runs.commits[i]))
            if damage[i] and not rec.problems:  # run.json is sound, another file is not
                rec = RunRecord(repo, rec.ref, damaged_info(rec.ref.id, damage[i]), [damage[i]])
            data.append(run_json(rec))
        return strict_json(data), ""
    if not rows:
        if len(runs) == 0:
            return "", "no runs yet: record one with 'gitxp run SCRIPT.py'"
        return "", f"no run matches (of {len(runs)})"
    shown = None if chosen is None else [c for c in chosen if c != "id"]
    problems = runs.columns.get("damage") or [None] * len(runs)
    damaged = [runs.columns["id"][i] for i in rows if problems[i]]
    note = ""
    if damaged:
        name = damaged[0][:12] if is_run_id(damaged[0]) else damaged[0]
        note = (
            f"{len(damaged)} damaged run{'s' if len(damaged) > 1 else ''}: 'gitxp show "
            f"{name}' says what is wrong, 'gitxp rm' deletes them"
        )
    return table(*query_rows(runs, rows, shown)), note


def configured_columns(runs: RunTable, spec: str) -> list[str] | None:
    """The columns of ``gitxp.lsColumns`` that these runs have (None: none of them)."""
    from gitxp.errors import UsageError
    from gitxp.query.frames import column_order, pick_columns

    names = column_order(runs.columns)
    chosen: list[str] = []
    for item in spec.split(","):
        try:
            chosen += [c for c in pick_columns(names, item) if c not in chosen]
        except UsageError:  # a column no run has yet: left out, not an error
            continue
    return chosen or None


def same_inputs(repo: GitRepo, runs: RunTable, rows: list[int], spec: str) -> list[int]:
    """The ``rows`` whose input identity is that of run ``spec`` (``ls --same-as``)."""
    from gitxp.errors import UsageError

    wanted = RunRecord.load(repo, resolve(repo, spec)).info.get("inputs")
    if not wanted:
        raise UsageError(
            f"run {spec} recorded no input identity (it predates it); nothing to compare"
        )
    inputs = runs.columns.get("inputs") or [None] * len(runs)
    return [i for i in rows if inputs[i] == wanted]


def query_rows(
    runs: RunTable, rows: list[int], columns: list[str] | None = None
) -> tuple[list[str], list[list[str]]]:
    """The ``gitxp ls`` table of ``rows`` of a query table, with the cells of :func:`ls_rows`.

    ``columns`` (query column names) replace the columns after ID.
    """
    ids = [runs.columns["id"][i] for i in rows] if rows else []
    width = unique_prefix_length(runs.columns.get("id") or [])  # unique among all runs, as %h
    view = _Rows(runs)
    if columns is None:
        tagged = any(view.get("tags", i) for i in rows)
        swept = any(view.get("sweep", i) for i in rows)
        attested = any(view.get("reproductions", i) for i in rows)
        keys = ["reproductions"] * attested + ["tags"] * tagged + ["sweep"] * swept
        keys += _differing_columns(runs, rows)
        header = ["ID", "EXPERIMENT", "STATUS", "START", "DURATION", "RESULT"]
        header += [_HEADERS.get(k, k.removeprefix("config.")) for k in keys]
    else:
        keys = columns
        header = ["ID", *(c if "." in c else c.upper() for c in columns)]
    out = []
    for i, run_id in zip(rows, ids, strict=True):
        if columns is None:
            label = view.get("experiment", i) or ""
            name = view.get("name", i)
            if name:
                label = f"{label}/{name}" if label else str(name)
            cells = [
                label,
                view.status(i),
                view.local_time("start", i),
                format_duration(view.duration(i)),
                record.short_result(view.get("result", i), 24),
            ]
        else:
            cells = []
        cells += [view.cell(k, i) for k in keys]
        out.append([run_id[:width], *cells])
    return header, out


def query_json(runs: RunTable, rows: list[int], columns: list[str]) -> list[dict[str, Any]]:
    """``columns`` of ``rows`` as JSON data (times as ISO 8601 UTC)."""
    view = _Rows(runs)
    out = []
    for i in rows:
        item: dict[str, Any] = {}
        for name in columns:
            value = view.duration(i) if name == "duration" else view.get(name, i)
            if name in _TIME_COLUMNS and value is not None:
                value = record.iso(value / 1e6)
            item[name] = value
        out.append(item)
    return out


_TIME_COLUMNS = ("start", "stop", "heartbeat")
_HEADERS = {"tags": "TAGS", "sweep": "SWEEP", "reproductions": "REPRODUCED"}


class _Rows:
    """Cells of a query table as ``ls`` shows them (times there are microseconds)."""

    def __init__(self, runs: RunTable) -> None:
        self.columns = runs.columns
        self.now = time.time()

    def get(self, name: str, i: int) -> Any:
        column = self.columns.get(name)
        return None if column is None else column[i]

    def status(self, i: int) -> str:
        """Like :func:`display_status`."""
        status = str(self.get("status", i) or "?")
        beat = self.get("heartbeat", i)
        if status == "RUNNING" and beat is not None and self.now - beat / 1e6 > STALE_AFTER:
            return "RUNNING?"
        return status

    def duration(self, i: int) -> float | None:
        """Like :func:`duration`."""
        start = self.get("start", i)
        end = self.get("stop", i) or self.get("heartbeat", i)
        return None if start is None or end is None else (end - start) / 1e6

    def local_time(self, name: str, i: int) -> str:
        """Like :func:`local_time`."""
        micros = self.get(name, i)
        if micros is None:
            return ""
        moment = datetime.fromtimestamp(micros / 1e6, tz=UTC)
        return moment.astimezone().strftime("%Y-%m-%d %H:%M")

    def cell(self, name: str, i: int) -> str:
        if name == "status":
            return self.status(i)
        if name in _TIME_COLUMNS:
            return self.local_time(name, i) or "-"
        if name == "duration":
            return format_duration(self.duration(i)) or "-"
        value = self.get(name, i)
        if name == "sweep":
            return str(value)[:11] if value else "-"
        if name == "result":
            return record.short_result(value, 24) or "-"
        if name == "tags" and isinstance(value, list):
            return ",".join(map(str, value)) or "-"
        if name == "reproductions":
            ok = self.get("reproductions_ok", i) or 0
            return f"{'yes' if ok else 'no'} {ok}/{value}" if value else "-"
        if type(value) is int or (type(value) is float and math.isfinite(value)):
            return repr(value)  # what json.dumps writes, faster
        return _cell(value)


def _differing_columns(runs: RunTable, rows: list[int]) -> list[str]:
    """``config.*`` columns whose values differ between ``rows`` (``seed`` left out)."""
    keys = []
    for name, column in runs.columns.items():
        if not name.startswith("config.") or name == "config.seed":
            continue
        if len({_value_key(column[i]) for i in rows}) > 1:
            keys.append(name)
    return sorted(keys)


def _value_key(value: Any) -> Any:
    """A hashable stand-in for ``value``: equal exactly when their JSON is."""
    if value is None or type(value) in (str, int, bool):
        return (type(value), value)
    if type(value) is float and math.isfinite(value):
        return (float, value)
    return json.dumps(value, sort_keys=True, default=str)


def table(header: list[str], rows: list[list[str]]) -> str:
    """Left-aligned columns separated by two spaces."""
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=False)]
    lines = [
        "  ".join(str(c).ljust(w) for c, w in zip(line, widths, strict=False)).rstrip()
        for line in [header, *rows]
    ]
    return "\n".join(lines)


def text_of(value: Any) -> str:
    """JSON text of ``value`` with non-ASCII characters as they are (not ``\\u`` escapes)."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def run_json(rec: RunRecord, full: bool = False) -> dict[str, Any]:
    """One run as JSON data (``full`` adds metrics, host, env lock and output).

    ``tags`` are the run's own and its note's, ``note`` the note's text (None: no note).
    """
    note = record_note(rec)
    data = {**rec.info, "ref": rec.ref.ref, "commit": rec.ref.commit, "config": rec.config}
    data.update(tags=merged_tags(rec.info.get("tags"), note), note=note.text or None)
    data["attestations"] = [attestation_json(a) for a in attestations_of(rec.repo, rec.ref.id)]
    if full:
        data.update(
            metrics=rec.metrics,
            host=rec.host,
            env_lock=rec.env_lock,
            output=rec.output,
            snapshot_commit=rec.snapshot_commit,
        )
    return data
