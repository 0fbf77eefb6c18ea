"""The query layer: runs as pandas frames, filtered with ``where`` expressions.

Everything a user sees of many runs (``gitxp ls``, ``export``, ``plot``, and the Python
API ``gitxp.runs()`` / ``gitxp.metrics()``) reads through here. Rows come from
:mod:`gitxp.query.cache` (the derived cache keyed by (ref, commit)); this module turns them
into typed frames:

- ``runs()``: one row per run, newest first. ``start``/``stop``/``heartbeat`` are UTC
  datetimes, ``duration`` seconds (to the last heartbeat while running), numbers are
  numbers, ``config.<dotted key>`` and ``metrics.<name>.last|min|max`` columns follow
  the fixed ones (see :data:`BASE_COLUMNS`; ``runs()`` puts them in
  :func:`reading_order`). ``tags`` is a list (the run's own tags,
  then those of its git note), ``note`` the note's text; in ``where``,
  ``tags.contains('best')`` is true for the runs tagged ``best``. ``reproduced`` is True
  when a reproduction of the run matched, False when reproductions exist and none did,
  None when nobody reproduced it (``reproductions``/``reproductions_ok``: how many).
- ``metrics()``: the long frame ``run, name, step, value, timestamp``.

pandas is imported inside the functions, never when ``gitxp`` is imported.
"""

from __future__ import annotations

import difflib
import fnmatch
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gitxp.errors import BlobTooLargeError, RunNotFoundError, UsageError
from gitxp.git.repo import RUNS_PREFIX, GitRepo, unverified_reads
from gitxp.query.cache import RunTable, run_table
from gitxp.query.where import filter_where, unknown_column
from gitxp.store.live import live_metrics

if TYPE_CHECKING:
    import pandas as pd

BASE_COLUMNS = (
    "id",
    "experiment",
    "name",
    "status",
    "start",
    "stop",
    "duration",
    "heartbeat",
    "result",
    "exit_code",
    "host",
    "base_commit",
    "branch",
    "dirty",
    "seed",
    "tags",
    "note",
    "reproduced",
    "reproductions",
    "reproductions_ok",
    "comment",
    "sweep",
    "inputs",
    "ref",
    "commit",
)
TIME_COLUMNS = ("start", "stop", "heartbeat")
METRIC_COLUMNS = ("run", "name", "step", "value", "timestamp")
_STAT_ORDER = {"last": 0, "min": 1, "max": 2}

RepoLike = GitRepo | str | os.PathLike[str]


def open_repo(repo: RepoLike) -> GitRepo:
    """``repo`` itself, or the repository around the path ``repo``."""
    return repo if isinstance(repo, GitRepo) else GitRepo(repo)


# -- runs ----------------------------------------------------------------------------------


@dataclass
class Selection:
    """The full run table and a frame of the selected rows (index: row in ``table``)."""

    table: RunTable
    frame: pd.DataFrame


def runs(
    repo: RepoLike = ".",
    where: str | None = None,
    experiment: str | None = None,
    status: str | None = None,
    *,
    sort: str | Sequence[str] | None = None,
    columns: str | Sequence[str] | None = None,
    tag: str | None = None,
) -> pd.DataFrame:
    """One row per run, newest first (see the module docstring for the columns).

    ``where`` is a pandas ``query`` expression in which dotted column names work as they
    are (``config.lr > 0.01 and metrics.loss.min < 0.2``); ``experiment`` and ``status``
    (any case) keep only those runs; ``sort`` names columns, ``-column`` for descending;
    ``columns`` keeps only those columns (``fnmatch`` patterns like ``config.*`` work);
    ``tag`` keeps the runs with that tag (their own or their note's).
    """
    chosen = select(open_repo(repo), where, experiment, status, sort, tag, reading=True)
    frame = chosen.frame.reset_index(drop=True)
    if columns is not None:
        return frame[pick_columns(frame.columns, columns)]
    return frame  # in reading order already: a reordered frame would be a copy


READING_FRONT = ("id", "experiment", "name", "status", "start", "duration", "result", "tags")


def reading_order(columns: Iterable[str]) -> list[str]:
    """The columns of :func:`runs` as a notebook shows them: who and how first, then
    ``note``, ``config.*``, ``metrics.*``, then the bookkeeping (times, host, git, ref)."""
    names = list(columns)
    front = [c for c in (*READING_FRONT, "note") if c in names]
    middle = [c for c in names if c.startswith(("config.", "metrics."))]
    return [*front, *middle, *(c for c in names if c not in front and c not in middle)]


def select(
    repo: GitRepo,
    where: str | None = None,
    experiment: str | None = None,
    status: str | None = None,
    sort: str | Sequence[str] | None = None,
    tag: str | None = None,
    reading: bool = False,
) -> Selection:
    """The runs matching the filters, sorted; the frame's index points into the table
    (``reading``: its columns in :func:`reading_order`)."""
    table = run_table(repo)
    frame = build_frame(table, reading)
    if tag is not None:
        frame = frame[frame["tags"].map(lambda tags: tag in (tags or ())).astype(bool)]
    if experiment is not None:
        frame = frame[frame["experiment"] == experiment]
    if status is not None:
        frame = frame[frame["status"].fillna("").astype(str).str.upper() == status.upper()]
    if where and len(table):  # no runs: nothing to filter (and no config columns to name)
        frame = filter_where(frame, where)
    if sort:
        frame = sort_frame(frame, sort)
    return Selection(table, frame)


def select_rows(
    repo: GitRepo,
    where: str | None = None,
    experiment: str | None = None,
    status: str | None = None,
    sort: str | Sequence[str] | None = None,
    tag: str | None = None,
) -> tuple[RunTable, list[int]]:
    """The run table and the row numbers of the runs chosen, in order.

    Without ``where`` and ``sort`` no frame is built (and pandas is not imported): this
    keeps a plain ``gitxp ls`` as fast as listing the refs.
    """
    if where or sort:
        chosen = select(repo, where, experiment, status, sort, tag)
        return chosen.table, [int(i) for i in chosen.frame.index]
    table = run_table(repo)
    statuses = table.columns.get("status") or [None] * len(table)
    experiments = table.columns.get("experiment") or [None] * len(table)
    tags = table.columns.get("tags") or [[]] * len(table)
    wanted = None if status is None else status.upper()
    rows = [
        i
        for i in range(len(table))
        if (wanted is None or str(statuses[i] or "").upper() == wanted)
        and (experiment is None or experiments[i] == experiment)
        and (tag is None or tag in (tags[i] or ()))
    ]
    return table, rows


def build_frame(table: RunTable, reading: bool = False) -> pd.DataFrame:
    """The typed frame of every row of ``table`` (index: row number), its columns in
    :func:`column_order` (``reading``: in :func:`reading_order`)."""
    import numpy as np
    import pandas as pd

    size = len(table)
    data: dict[str, Any] = {}
    names = column_order(table.columns)
    for name in reading_order(names) if reading else names:
        values = table.columns.get(name)
        if values is None:
            values = [None] * size
        if name in TIME_COLUMNS:
            micros = np.array(values, dtype="float64")
            data[name] = pd.to_datetime(micros, unit="us", utc=True)
        elif name == "duration":
            start = np.array(table.columns.get("start") or [None] * size, dtype="float64")
            stop = np.array(table.columns.get("stop") or [None] * size, dtype="float64")
            beat = np.array(table.columns.get("heartbeat") or [None] * size, dtype="float64")
            data[name] = (np.where(np.isnan(stop), beat, stop) - start) / 1e6
        else:
            data[name] = _typed(values)
    return pd.DataFrame(data, index=pd.RangeIndex(size))


def column_order(columns: Iterable[str]) -> list[str]:
    """The fixed columns, then ``config.*`` by name, then ``metrics.*`` by name and stat."""
    names = set(columns)
    config = sorted(n for n in names if n.startswith("config."))
    metrics = sorted(
        (n for n in names if n.startswith("metrics.")),
        key=lambda n: (n.rsplit(".", 1)[0], _STAT_ORDER.get(n.rsplit(".", 1)[-1], 9)),
    )
    damage = ["damage"] if "damage" in names else []  # only where a run is damaged
    return [*BASE_COLUMNS, *damage, *config, *metrics]


def _typed(values: list[Any]) -> Any:
    """A column for ``values``: numbers numeric, true/false boolean, text as strings."""
    import numpy as np
    import pandas as pd

    kinds = set(map(type, values))
    complete = type(None) not in kinds
    kinds.discard(type(None))
    try:
        if kinds == {bool}:
            return np.array(values, dtype=bool) if complete else pd.array(values, "boolean")
        if kinds == {int}:
            return np.array(values, dtype="int64") if complete else pd.array(values, "Int64")
        if kinds == {int, float} or kinds == {float}:
            return np.array(values, dtype="float64")
    except OverflowError:  # integers beyond 64 bits stay Python ints
        pass
    if kinds == {str}:
        return pd.array(values, dtype="str")
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array


# -- where, sort, columns ------------------------------------------------------------------


def sort_frame(frame: pd.DataFrame, spec: str | Sequence[str]) -> pd.DataFrame:
    """``frame`` sorted by columns (``-name``: descending), missing values last."""
    keys = [s.strip() for s in (spec.split(",") if isinstance(spec, str) else spec)]
    names, ascending = [], []
    for key in keys:
        if not key:
            continue
        name = key[1:] if key[0] in "-+" else key
        if name not in frame.columns:
            raise unknown_column(name, frame.columns)
        names.append(name)
        ascending.append(key[0] != "-")
    if not names:
        return frame
    try:
        return frame.sort_values(names, ascending=ascending, na_position="last", kind="stable")
    except TypeError:  # a column of mixed kinds (numbers and text): order by text
        return frame.sort_values(
            names,
            ascending=ascending,
            na_position="last",
            kind="stable",
            key=lambda s: s if s.dtype != object else s.map(_sort_text),
        )


def pick_columns(columns: Iterable[str], spec: str | Sequence[str]) -> list[str]:
    """Names from ``columns`` chosen by ``spec``: comma-separated or a list of names or
    ``fnmatch`` patterns (``config.*``), in the order given."""
    names = list(columns)
    items = [s.strip() for s in (spec.split(",") if isinstance(spec, str) else spec)]
    out: list[str] = []
    for item in filter(None, items):
        if any(c in item for c in "*?["):
            found = [c for c in names if fnmatch.fnmatchcase(c, item)]
            if not found:
                raise unknown_column(item, names)
        elif item in names:
            found = [item]
        else:
            raise unknown_column(item, names)
        out += [c for c in found if c not in out]
    return out


def _sort_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)


# -- metrics -------------------------------------------------------------------------------


def metrics(
    runs: Any = None,
    names: str | Sequence[str] | None = None,
    repo: RepoLike = ".",
) -> pd.DataFrame:
    """The long frame ``run, name, step, value, timestamp`` of every logged value.

    ``runs``: None (every run), a frame from :func:`runs` (its ``id`` column), one run
    (id prefix, ``latest``, ``latest~N``, ref) or a list of them. ``names``: a metric name
    or a list (default: all). Rows are newest run first, then by name and step.
    """
    import numpy as np
    import pandas as pd

    git = open_repo(repo)
    table = run_table(git)
    chosen = resolve_runs(git, table, runs)
    wanted = [names] if isinstance(names, str) else None if names is None else list(names)
    if wanted is not None:
        known = {c[8:].rsplit(".", 1)[0] for c in table.columns if c.startswith("metrics.")}
        have = {n for n in known if any(_has_metric(table, i, n) for i in chosen)}
        missing = [n for n in wanted if n not in have]
        if missing:
            raise unknown_metric(missing[0], sorted(have))
    run_col: list[str] = []
    name_col: list[str] = []
    steps: list[Any] = []
    values: list[Any] = []
    stamps: list[Any] = []
    with unverified_reads():
        for index in chosen:
            series_by_name = read_metrics(git, table.commits[index])
            run_id = table.columns["id"][index]
            for name in sorted(series_by_name):
                if wanted is not None and name not in wanted:
                    continue
                series = series_by_name[name]
                count = len(series.get("values") or ())
                run_col += [run_id] * count
                name_col += [name] * count
                steps += list(series.get("steps") or range(count))[:count]
                values += list(series.get("values") or ())
                times = list(series.get("timestamps") or ())[:count]
                stamps += times + [None] * (count - len(times))
    frame = pd.DataFrame(
        {
            "run": pd.array(run_col, dtype="str"),
            "name": pd.array(name_col, dtype="str"),
            "step": np.array(steps, dtype="int64"),
            "value": np.array(values, dtype="float64"),
            "timestamp": pd.to_datetime(
                np.round(np.array(stamps, dtype="float64") * 1e6), unit="us", utc=True
            ),
        }
    )
    return frame


def resolve_runs(repo: GitRepo, table: RunTable, runs: Any) -> list[int]:
    """Row numbers in ``table`` for ``runs`` (see :func:`metrics`), in the order given."""
    from gitxp.store.runs import RunRef, resolve

    positions = {ref: i for i, ref in enumerate(table.refs)}
    if runs is None:
        return list(range(len(table)))
    if hasattr(runs, "columns") and "id" in getattr(runs, "columns", ()):
        specs = [str(v) for v in runs["id"]]
    elif isinstance(runs, str):
        specs = [runs]
    else:
        specs = [str(v) for v in runs]
    refs = [
        RunRef(ref.removeprefix(RUNS_PREFIX), ref, commit)
        for ref, commit in zip(table.refs, table.commits, strict=True)
    ]
    out = []
    for spec in specs:
        found = resolve(repo, spec, refs)
        if found.ref not in positions:
            raise RunNotFoundError(f"no run {spec!r}")
        out.append(positions[found.ref])
    return list(dict.fromkeys(out))


def unknown_metric(name: str, existing: Sequence[str]) -> UsageError:
    """An error naming the unknown metric ``name`` and the metrics that exist."""
    if not existing:
        return UsageError(f"no metric {name!r}: the runs chosen logged no metrics")
    close = difflib.get_close_matches(name, existing, n=3)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    return UsageError(f"no metric {name!r}{hint}; the runs logged: {', '.join(existing)}")


def _has_metric(table: RunTable, index: int, name: str) -> bool:
    column = table.columns.get(f"metrics.{name}.last")
    return column is not None and column[index] is not None


def read_metrics(repo: GitRepo, commit: str) -> dict[str, dict[str, list[Any]]]:
    """The metrics.json of run commit ``commit``: ``{name: {steps, values, timestamps}}``.

    A metrics.json that is too large or not sound (:mod:`gitxp.store.checked`) reads as
    no metrics (a run without a metrics summary is listed as damaged for it), and every
    other run's metrics still read.
    """
    from gitxp.store import checked

    try:
        folder = repo.commit_folder(commit, ".gitxp")
        found = folder.files(["metrics.json"], max_size=checked.MAX_BYTES)
        file = found.get("metrics.json")
        if file is None:  # a heartbeat commit (format 2): the chunks so far
            return live_metrics(repo, commit) or {}
        return {} if file[1] is None else checked.metrics(file[1])
    except (BlobTooLargeError, checked.RecordProblem, RunNotFoundError):  # not a commit
        return {}
