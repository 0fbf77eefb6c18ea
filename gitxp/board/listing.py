"""The run list, paged on the server: filter, status, sort, then one window of rows.

``/api/runs`` answers with the rows ``offset`` to ``offset + limit`` of the runs that the
``where`` expression and the status chips keep, sorted by any column (missing values
last, either way), with every column's name, the count of each shown status before the
status filter, and the columns to show by default. The page asks for more windows as the
table is scrolled, so a repository of 20,000 runs sends a few hundred rows, not all.

``tags`` (the run's own tags and its note's) and ``note`` come from the query layer
(git notes, see :mod:`gitxp.store.notes`): ``tags.contains('best')`` filters by a tag.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from gitxp.board.sweeps import SweepIndex
from gitxp.errors import UsageError
from gitxp.git.repo import NOTES_REF, RUNS_PREFIX, GitRepo
from gitxp.query.cache import RunTable
from gitxp.query.listing import STALE_AFTER

STATUSES = ("RUNNING", "PROBABLY_DEAD", "COMPLETED", "FAILED", "INTERRUPTED", "DIED", "QUEUED")
MAX_LIMIT = 1000  # rows in one answer
RECENT = 200  # newest runs the default columns are chosen from
_HIDDEN = ("ref", "commit")
_FIXED = ("id", "status", "experiment", "name", "start", "duration", "heartbeat", "result")


@dataclass(frozen=True)
class ListQuery:
    """What the page asks of the list."""

    where: str | None = None
    experiment: str | None = None
    sort: str = "start"
    descending: bool = True
    statuses: frozenset[str] | None = None  # None: every status
    on: str | None = None  # only runs on this commit's history (gitxp ls --on)
    offset: int = 0
    limit: int = 200


class RunList:
    """The board's view of the run table, kept between requests while the refs stay put.

    The query layer's cache is a file; reading 20,000 rows from it on every scroll would
    cost more than the answer, so the last table is kept here with the refs it matched.
    Safe to share between threads.
    """

    def __init__(self) -> None:
        self.sweeps = SweepIndex()
        self._lock = threading.Lock()
        self._stamp: tuple[Any, ...] | None = None
        self._listed: dict[str, str] | None = None
        self._table: RunTable | None = None
        self._frame: tuple[RunTable, Any] | None = None
        self._branches: tuple[tuple[int, ...] | None, list[str]] = (None, [])

    def table(self, repo: GitRepo) -> RunTable:
        """The run table, up to date with the refs (listed again only when they moved)."""
        from gitxp.query.cache import run_table

        runs_stamp = repo.refs_stamp(RUNS_PREFIX)
        stamp = None if runs_stamp is None else (*runs_stamp, repo.ref_target(NOTES_REF))
        with self._lock:
            if self._table is not None and stamp is not None and stamp == self._stamp:
                return self._table
        listed = repo.refs(RUNS_PREFIX)
        listed_notes = repo.ref_target(NOTES_REF)
        with self._lock:
            same_notes = self._table is not None and self._table.notes == listed_notes
            if self._table is not None and listed == self._listed and same_notes:
                self._stamp = stamp
                return self._table
        table = run_table(repo)
        with self._lock:
            self._stamp, self._listed, self._table = stamp, listed, table
        return table

    def frame(self, table: RunTable) -> Any:
        """The query layer's pandas frame of ``table``, built once per table."""
        from gitxp.query.frames import build_frame

        with self._lock:
            if self._frame is not None and self._frame[0] is table:
                return self._frame[1]
        frame = build_frame(table)
        with self._lock:
            self._frame = (table, frame)
        return frame

    def branches(self, repo: GitRepo) -> list[str]:
        """The repository's branch names, for the page's branch menu. Listing them walks
        every ref (20,000 runs: 0.17 s), so they are kept while no branch folder and
        ``packed-refs`` changed."""
        stamp = repo.refs_stamp("refs/heads/", nested=True)
        with self._lock:
            if stamp is not None and self._branches[0] == stamp:
                return self._branches[1]
        names = sorted(r.removeprefix("refs/heads/") for r in repo.refs("refs/heads/"))
        with self._lock:
            self._branches = (stamp, names)
        return names

    def page(self, repo: GitRepo, query: ListQuery) -> dict[str, Any]:
        """One window of the run list (see the module docstring), with a version key."""
        table = self.table(repo)
        rows = self._matching(table, query)
        if query.on:
            from gitxp.query.history import runs_on

            on = runs_on(repo, query.on)
            ids = table.columns.get("id") or []
            rows = [i for i in rows if ids[i] in on]
        now = time.time()
        status = display_statuses(table, now)
        counts: dict[str, int] = {}
        for i in rows:
            counts[status[i]] = counts.get(status[i], 0) + 1
        wanted = query.statuses
        if wanted is not None:
            rows = [i for i in rows if status[i] in wanted or status[i] not in STATUSES]
        names = [c for c in column_order(table) if c not in _HIDDEN]
        if query.sort not in names:
            raise UsageError(f"cannot sort by {query.sort!r}: no such column")
        rows = sort_rows(rows, cell_reader(table, query.sort, status), query.descending)
        limit = max(0, min(query.limit, MAX_LIMIT))
        window = rows[max(0, query.offset) : max(0, query.offset) + limit]
        readers = [cell_reader(table, name, status) for name in names]
        out_rows = [[read(i) for read in readers] for i in window]
        body = {
            "columns": names,
            "rows": out_rows,
            "offset": max(0, query.offset),
            "matched": len(rows),
            "total": len(table),
            "counts": counts,
        }
        return {
            **body,
            "version": _digest(body),
            "defaults": default_columns(table),
            "repo": repo.workdir.name,
            "repo_key": repo_key(repo),
            "branches": self.branches(repo),
            "stale_after": STALE_AFTER,
            "now": now,
        }

    def _matching(self, table: RunTable, query: ListQuery) -> list[int]:
        experiments = table.columns.get("experiment") or [None] * len(table)
        rows = [
            i
            for i in range(len(table))
            if query.experiment is None or experiments[i] == query.experiment
        ]
        if not query.where or not rows:
            return rows
        return where_rows(self.frame(table), table, rows, query.where)


def where_rows(frame: Any, table: RunTable, rows: list[int], where: str) -> list[int]:
    """The rows of ``rows`` that ``where`` keeps (``frame``: the query layer's of ``table``)."""
    from gitxp.query.where import filter_where

    chosen = frame.loc[rows] if len(rows) < len(table) else frame
    return [int(i) for i in filter_where(chosen, where).index]


def column_order(table: RunTable) -> list[str]:
    """The query layer's column order for ``table``."""
    from gitxp.query.frames import column_order as order

    return order(table.columns)


def display_statuses(table: RunTable, now: float) -> list[str]:
    """Each row's status, ``PROBABLY_DEAD`` for a RUNNING run whose heartbeat is stale."""
    statuses = table.columns.get("status") or [None] * len(table)
    beats = table.columns.get("heartbeat") or [None] * len(table)
    limit = (now - STALE_AFTER) * 1e6
    return [
        "PROBABLY_DEAD" if s == "RUNNING" and b is not None and b < limit else str(s or "UNKNOWN")
        for s, b in zip(statuses, beats, strict=True)
    ]


def cell_reader(table: RunTable, name: str, status: list[str]) -> Callable[[int], Any]:
    """A function from row number to the page's value of column ``name``.

    Times are milliseconds since the epoch, ``duration`` seconds (to the heartbeat while
    a run goes on); floats that are not finite stay (the server sends them as strings).
    """
    cols = table.columns

    def col(key: str) -> list[Any]:
        return cols.get(key) or [None] * len(table)

    if name == "id":
        return lambda i: table.refs[i].removeprefix(RUNS_PREFIX)
    if name == "status":
        return lambda i: status[i]
    if name in ("start", "stop", "heartbeat"):
        values = col(name)
        return lambda i: None if values[i] is None else values[i] / 1000
    if name == "duration":
        start, stop, beat = col("start"), col("stop"), col("heartbeat")

        def duration(i: int) -> float | None:
            end = stop[i] if stop[i] is not None else beat[i]
            return None if start[i] is None or end is None else (end - start[i]) / 1e6

        return duration
    values = col(name)
    return values.__getitem__


def sort_rows(rows: list[int], read: Callable[[int], Any], descending: bool) -> list[int]:
    """``rows`` ordered by ``read(row)``: numbers by value, anything else as text; missing
    values last in either direction; ties keep the table's order (newest first)."""
    present: list[tuple[tuple[int, Any], int]] = []
    missing: list[tuple[tuple[int, Any], int]] = []
    for i in rows:
        value = read(i)
        (missing if value is None or value == [] else present).append((_sort_key(value), i))
    present.sort(key=lambda pair: pair[0], reverse=descending)  # stable either way
    return [i for _key, i in present] + [i for _key, i in missing]


def _sort_key(value: Any) -> tuple[int, Any]:
    if isinstance(value, bool):
        return (0, float(value))
    if isinstance(value, (int, float)):
        return (0, float(value))
    if isinstance(value, str):
        return (1, _natural(value))
    return (1, _natural(str(value)))


def _natural(text: str) -> tuple[Any, ...]:
    """``run10`` after ``run9``: digits compare as numbers, the rest without case."""
    import re

    return tuple(
        (0, int(part), "") if part.isdigit() else (1, 0, part.lower())
        for part in re.split(r"(\d+)", text)
        if part
    )


def default_columns(table: RunTable) -> list[str]:
    """The columns shown before any choice: the fixed ones, the config keys that vary most
    across the newest runs, and the metrics most of those runs share."""
    recent = range(min(len(table), RECENT))
    config: list[tuple[int, int, str]] = []
    metrics: list[tuple[int, str]] = []
    for name, values in table.columns.items():
        if name.startswith("config.") and name != "config.seed":
            seen = {repr(values[i]) for i in recent if values[i] is not None}
            present = sum(values[i] is not None for i in recent)
            if len(seen) > 1:
                config.append((-len(seen), -present, name))
        elif name.startswith("metrics.") and name.endswith(".last"):
            present = sum(values[i] is not None for i in recent)
            if present * 2 >= len(recent):
                metrics.append((-present, name))
    varying = [name for *_rank, name in sorted(config)[:6]]
    shared = [name for _rank, name in sorted(metrics)[:4]]
    return [*_FIXED, *varying, *shared, "tags"]


def repo_key(repo: GitRepo) -> str:
    """A short key of this repository (its git folder), for settings kept in the browser."""
    where = str(repo.state_dir.parent.resolve())
    return hashlib.blake2b(where.encode(), digest_size=6).hexdigest()


def parse_query(params: dict[str, str]) -> ListQuery:
    """The :class:`ListQuery` of the request parameters (``sort=-start`` is descending)."""
    sort = params.get("sort") or "-start"
    descending = sort.startswith("-")
    statuses = params.get("status")
    return ListQuery(
        where=(params.get("where") or "").strip() or None,
        experiment=params.get("experiment") or None,
        sort=sort.lstrip("+-") or "start",
        descending=descending,
        statuses=None if statuses is None else frozenset(_split(statuses)),
        on=(params.get("on") or "").strip() or None,
        offset=_int(params.get("offset"), 0, "offset"),
        limit=_int(params.get("limit"), 200, "limit"),
    )


def _split(text: str) -> Sequence[str]:
    return [s.strip() for s in text.split(",") if s.strip()]


def _int(text: str | None, default: int, name: str) -> int:
    if text is None or text == "":
        return default
    try:
        return int(text)
    except ValueError:
        raise UsageError(f"{name} must be a whole number, not {text!r}") from None


def _digest(body: dict[str, Any]) -> str:
    import json

    text = json.dumps(body, sort_keys=True, default=str, allow_nan=True)
    return hashlib.blake2b(text.encode(), digest_size=12).hexdigest()
