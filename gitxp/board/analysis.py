"""Analysis across runs: chosen columns of many runs, runs grouped by config, sweeps.

- :func:`columns_of`: the values of a few columns for every run a ``where`` keeps (the
  parallel-coordinates plot and the scatter of the analysis page draw them);
- :func:`groups`: the runs grouped by the values of config keys (all seeds of a setting),
  with the mean and standard deviation of a metric at each step and of its summaries;
- :func:`sweep`: the runs of one sweep (the ``sweep`` field of run.json): progress by
  status, the best run by a metric, the failures and the varying config keys.
"""

from __future__ import annotations

import math
import statistics
import time
from typing import Any

from gitxp.board.listing import STATUSES, RunList, cell_reader, display_statuses, where_rows
from gitxp.errors import UsageError
from gitxp.git.repo import GitRepo
from gitxp.query.cache import RunTable

MAX_RUNS = 5000  # runs drawn in one plot (the newest that match)
MAX_GROUP_RUNS = 400  # runs whose series are read to group them
MAX_COLUMNS = 16
LOWER_IS_BETTER = ("loss", "err", "mse", "mae", "rmse", "perplexity", "nll", "wer", "cer")


def lower_is_better(metric: str) -> bool:
    """Whether smaller values of ``metric`` are better, guessed from its name."""
    name = metric.lower()
    return any(word in name for word in LOWER_IS_BETTER)


def _rows(
    runs: RunList, repo: GitRepo, where: str | None, limit: int
) -> tuple[RunTable, list[int], list[str]]:
    table = runs.table(repo)
    rows = list(range(len(table)))
    if where and rows:
        rows = where_rows(runs.frame(table), table, rows, where)
    return table, rows[:limit], display_statuses(table, time.time())


def columns_of(
    runs: RunList, repo: GitRepo, names: list[str], where: str | None = None
) -> dict[str, Any]:
    """``{ids, status, columns: {name: values}, matched}`` for the runs ``where`` keeps."""
    table, rows, status = _rows(runs, repo, where, MAX_RUNS)
    known = set(table.columns) | {"status", "duration", "id"}
    for name in names[:MAX_COLUMNS]:
        if name not in known:
            from gitxp.query.frames import unknown_column

            raise unknown_column(name, sorted(known))
    readers = {n: cell_reader(table, n, status) for n in names[:MAX_COLUMNS]}
    ids = cell_reader(table, "id", status)
    return {
        "ids": [ids(i) for i in rows],
        "status": [status[i] for i in rows],
        "names": [table.columns.get("name", [None] * len(table))[i] for i in rows],
        "columns": {n: [read(i) for i in rows] for n, read in readers.items()},
        "matched": len(rows),
        "capped": len(rows) == MAX_RUNS,
    }


def groups(
    runs: RunList,
    repo: GitRepo,
    by: list[str],
    metric: str,
    where: str | None = None,
    points: int = 400,
) -> dict[str, Any]:
    """The runs grouped by the values of the ``by`` columns, and ``metric`` per group:
    mean and standard deviation at each step (over the runs that logged that step), and
    the mean ± standard deviation of each run's last, min and max."""
    from gitxp.query.frames import read_metrics

    if not by:
        raise UsageError("choose the config keys to group runs by")
    table, rows, status = _rows(runs, repo, where, MAX_GROUP_RUNS)
    for name in by:
        if name not in table.columns:
            from gitxp.query.frames import unknown_column

            raise unknown_column(name, sorted(table.columns))
    readers = [cell_reader(table, n, status) for n in by]
    ids = cell_reader(table, "id", status)
    found: dict[str, dict[str, Any]] = {}
    for i in rows:
        values = [read(i) for read in readers]
        key = repr(values)
        group = found.setdefault(key, {"values": values, "runs": [], "series": []})
        group["runs"].append(ids(i))
        series = read_metrics(repo, table.commits[i]).get(metric)
        if series:
            group["series"].append(series)
    out = [_group(g, points) for g in found.values()]
    out.sort(key=lambda g: [_order(v) for v in g["values"]])
    return {
        "by": by,
        "metric": metric,
        "lower_is_better": lower_is_better(metric),
        "groups": out,
        "runs": len(rows),
        "capped": len(rows) == MAX_GROUP_RUNS,
    }


def _order(value: Any) -> tuple[int, Any]:
    return (0, value) if isinstance(value, (int, float)) else (1, str(value))


def _group(group: dict[str, Any], points: int) -> dict[str, Any]:
    from gitxp.board.series import finite

    by_step: dict[float, list[float]] = {}
    lasts, mins, maxes = [], [], []
    for series in group["series"]:
        numbers = []
        for step, value in zip(series.get("steps") or (), series.get("values") or (), strict=False):
            x, y = finite(step), finite(value)
            if x is None or y is None:
                continue
            by_step.setdefault(x, []).append(y)
            numbers.append(y)
        if numbers:
            lasts.append(numbers[-1])
            mins.append(min(numbers))
            maxes.append(max(numbers))
    steps = sorted(by_step)
    size = max(1, math.ceil(len(steps) / max(1, points)))
    curve_steps, mean, spread = [], [], []
    for start in range(0, len(steps), size):
        chunk = [y for x in steps[start : start + size] for y in by_step[x]]
        curve_steps.append(steps[start])
        mean.append(statistics.fmean(chunk))
        spread.append(statistics.pstdev(chunk) if len(chunk) > 1 else 0.0)
    return {
        "values": group["values"],
        "runs": group["runs"],
        "count": len(group["runs"]),
        "with_metric": len(group["series"]),
        "steps": curve_steps,
        "mean": mean,
        "std": spread,
        "summary": {
            name: _mean_std(v) for name, v in (("last", lasts), ("min", mins), ("max", maxes))
        },
    }


def _mean_std(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"mean": None, "std": None, "n": 0}
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return {"mean": statistics.fmean(values), "std": std, "n": len(values)}


def sweep(runs: RunList, repo: GitRepo, sweep_id: str, metric: str | None) -> dict[str, Any]:
    """The runs of sweep ``sweep_id``: counts by status, the best by ``metric`` (its min,
    or max when larger is better; by default the first metric they share), failures, the
    config keys that vary across them with each run's values."""
    table = runs.table(repo)
    rows = runs.sweeps.rows(repo, table, sweep_id)
    if not rows:
        raise UsageError(f"no runs of sweep {sweep_id!r}")
    status = display_statuses(table, time.time())
    ids = cell_reader(table, "id", status)
    counts = {s: 0 for s in STATUSES}
    for i in rows:
        counts[status[i]] = counts.get(status[i], 0) + 1
    config = [
        name
        for name in sorted(table.columns)
        if name.startswith("config.") and len({repr(table.columns[name][i]) for i in rows}) > 1
    ]
    metrics = sorted(
        {
            name.rsplit(".", 1)[0].removeprefix("metrics.")
            for name in table.columns
            if name.startswith("metrics.") and any(table.columns[name][i] is not None for i in rows)
        }
    )
    chosen = metric or (metrics[0] if metrics else None)
    best = None
    if chosen is not None:
        lower = lower_is_better(chosen)
        stat = f"metrics.{chosen}.{'min' if lower else 'max'}"
        values = table.columns.get(stat) or [None] * len(table)
        scored = [(values[i], i) for i in rows if isinstance(values[i], (int, float))]
        scored = [(v, i) for v, i in scored if math.isfinite(v)]
        if scored:
            value, index = (min if lower else max)(scored)
            best = {"id": ids(index), "value": value, "stat": stat}
    read = {n: cell_reader(table, n, status) for n in config}
    failed = [i for i in rows if status[i] in ("FAILED", "DIED", "PROBABLY_DEAD", "INTERRUPTED")]
    return {
        "sweep": sweep_id,
        "total": len(rows),
        "counts": {s: n for s, n in counts.items() if n},
        "done": sum(counts.get(s, 0) for s in ("COMPLETED", "FAILED", "INTERRUPTED", "DIED")),
        "metrics": metrics,
        "metric": chosen,
        "lower_is_better": chosen is not None and lower_is_better(chosen),
        "best": best,
        "failures": [{"id": ids(i), "status": status[i]} for i in failed],
        "config": config,
        "runs": [
            {
                "id": ids(i),
                "status": status[i],
                "config": {n: read[n](i) for n in config},
                "metrics": {
                    m: (table.columns.get(f"metrics.{m}.last") or [None] * len(table))[i]
                    for m in metrics
                },
            }
            for i in rows
        ],
    }


def sweep_list(runs: RunList, repo: GitRepo) -> dict[str, Any]:
    """Every sweep with its number of runs, the newest sweep first."""
    table = runs.table(repo)
    counts = runs.sweeps.counts(repo, table)
    return {"sweeps": [{"sweep": s, "runs": n} for s, n in counts.items()]}
