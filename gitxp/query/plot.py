"""Plots of runs with matplotlib, headless: metric curves and config-vs-result scatters.

The figures are drawn on a plain :class:`matplotlib.figure.Figure` with the Agg canvas,
so no display is needed and the user's pyplot state and backend are left alone. The file
format follows the extension: ``.png``, ``.svg`` or ``.pdf``.

A metric plot has one line per run. Each run is named in the legend by the config values
that differ between the runs plotted (``lr=0.01, optimizer.name=adam``), with the run id
added where that does not tell runs apart. The legend sits outside the axes.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gitxp.errors import UsageError
from gitxp.git.repo import unverified_reads
from gitxp.query.cache import RunTable
from gitxp.query.frames import (
    RepoLike,
    open_repo,
    read_metrics,
    resolve_runs,
    select,
    select_rows,
    unknown_metric,
)
from gitxp.query.where import unknown_column

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

FORMATS = (".png", ".svg", ".pdf")
MAX_LEGEND = 30  # more runs than this: no legend, the title says how many


def check_output(path: str | os.PathLike[str]) -> Path:
    """``path`` if its extension is a format gitxp plots to, else a UsageError."""
    target = Path(path)
    if target.suffix.lower() not in FORMATS:
        raise UsageError(
            f"cannot plot to {os.fspath(path)!r}: use a file ending in {', '.join(FORMATS)}"
        )
    if not target.parent.exists():
        raise UsageError(f"cannot write {os.fspath(path)!r}: folder {target.parent} does not exist")
    return target


def plot_metric(
    metric: str,
    runs: Sequence[str] | None = None,
    repo: RepoLike = ".",
    *,
    where: str | None = None,
    experiment: str | None = None,
    status: str | None = None,
    x: str = "step",
    smooth: int = 1,
    logy: bool = False,
    ax: Axes | None = None,
    output: str | os.PathLike[str] | None = None,
) -> Figure:
    """Plot ``metric`` of the runs chosen, one line per run; returns the Figure.

    Runs: ``runs`` (id prefixes, ``latest~N``) if given, else every run that logged the
    metric; ``where``/``experiment``/``status`` narrow either. ``x``: ``step`` or
    ``time`` (seconds since each run started). ``smooth``: a moving average over that many
    values (the raw curve stays, faint). ``ax``: draw on these axes (a notebook's
    subplot) instead of a new figure. ``output``: also save to this ``.png``/``.svg``/
    ``.pdf``. In Jupyter the returned Figure shows inline.
    """
    return draw_metric(metric, runs, repo, where, experiment, status, x, smooth, logy, ax, output)[
        0
    ]


def draw_metric(
    metric: str,
    runs: Sequence[str] | None,
    repo: RepoLike,
    where: str | None,
    experiment: str | None,
    status: str | None,
    x: str = "step",
    smooth: int = 1,
    logy: bool = False,
    ax: Axes | None = None,
    output: str | os.PathLike[str] | None = None,
) -> tuple[Figure, int]:
    """:func:`plot_metric`, and the number of runs drawn (what ``gitxp plot`` reports)."""
    target = None if output is None else check_output(output)
    if x not in ("step", "time"):
        raise UsageError(f"--x {x!r}: use step or time")
    if smooth < 1:
        raise UsageError(f"--smooth {smooth}: use a window of 1 value or more")
    git = open_repo(repo)
    table, rows = _chosen(git, runs, where, experiment, status)
    have = sorted({n for i in rows for n in _metrics_of(table, i)})
    if metric not in have:
        raise unknown_metric(metric, have)
    rows = [i for i in rows if metric in _metrics_of(table, i)]
    labels, legend_title = run_labels(table, rows)
    fig, ax = _axes(ax)
    colors = _colors(len(rows))
    with unverified_reads():
        for color, i, label in zip(colors, rows, labels, strict=True):
            series = read_metrics(git, table.commits[i]).get(metric) or {}
            xs, ys = _xy(series, x, table.columns["start"][i] if "start" in table.columns else None)
            if smooth > 1:
                ax.plot(xs, ys, color=color, alpha=0.25, linewidth=1)
                ys = _moving_average(ys, smooth)
            ax.plot(xs, ys, color=color, linewidth=1.5, label=label)
    if logy:
        ax.set_yscale("log")
    if x == "step":
        from matplotlib.ticker import MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("step" if x == "step" else "time since the run started (s)")
    ax.set_ylabel(metric)
    ax.grid(True, alpha=0.3)
    title = f"{metric}: {len(rows)} run{'s' if len(rows) != 1 else ''}"
    if smooth > 1:
        title += f", moving average of {smooth}"
    if len(rows) > MAX_LEGEND:
        title += " (too many for a legend)"
    elif fig.axes == [ax]:  # the figure is the plot's own: the legend beside the axes
        fig.legend(loc="outside right upper", title=legend_title, fontsize="small")
    else:
        ax.legend(title=legend_title, fontsize="small")
    ax.set_title(title)
    if target is not None:
        _save(fig, target)
    return fig, len(rows)


def plot_scatter(
    x: str,
    y: str,
    runs: Sequence[str] | None = None,
    repo: RepoLike = ".",
    *,
    where: str | None = None,
    experiment: str | None = None,
    status: str | None = None,
    logy: bool = False,
    ax: Axes | None = None,
    output: str | os.PathLike[str] | None = None,
) -> Figure:
    """One point per run: column ``x`` (e.g. ``config.lr``) against ``y`` (``result``).

    ``ax`` and ``output`` as in :func:`plot_metric`; returns the Figure.
    """
    return draw_scatter(x, y, runs, repo, where, experiment, status, logy, ax, output)[0]


def draw_scatter(
    x: str,
    y: str,
    runs: Sequence[str] | None,
    repo: RepoLike,
    where: str | None,
    experiment: str | None,
    status: str | None,
    logy: bool = False,
    ax: Axes | None = None,
    output: str | os.PathLike[str] | None = None,
) -> tuple[Figure, int]:
    """:func:`plot_scatter`, and the number of runs drawn."""
    target = None if output is None else check_output(output)
    git = open_repo(repo)
    chosen = select(git, where, experiment, status)
    frame = chosen.frame
    for name in (x, y):
        if name not in frame.columns:
            raise unknown_column(name, frame.columns)
    if runs:
        frame = frame.loc[[i for i in resolve_runs(git, chosen.table, runs) if i in frame.index]]
    both = frame[[x, y]].dropna()
    if both.empty:
        raise UsageError(f"no run chosen has values for both {x} and {y}")
    fig, ax = _axes(ax)
    ax.scatter(_axis_values(both[x]), _axis_values(both[y]), s=28, alpha=0.8)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.grid(True, alpha=0.3)
    ax.set_title(f"{y} against {x}: {len(both)} run{'s' if len(both) != 1 else ''}")
    if target is not None:
        _save(fig, target)
    return fig, len(both)


def run_labels(table: RunTable, rows: list[int]) -> tuple[list[str], str]:
    """Legend labels for ``rows`` from the config values that differ between them."""
    keys = []
    for name, column in table.columns.items():
        varies = len({_text(column[i]) for i in rows}) > 1
        if name.startswith("config.") and name != "config.seed" and varies:
            keys.append(name)
    keys.sort()
    ids = [table.columns["id"][i] for i in rows]
    short = [run_id[:10] for run_id in ids]
    labels = [
        ", ".join(
            f"{k.removeprefix('config.')}={_text(table.columns[k][i])}"
            for k in keys
            if table.columns[k][i] is not None
        )
        for i in rows
    ]
    if not keys:
        names = table.columns.get("name") or [None] * len(table)
        return [
            f"{s} {names[i]}" if names[i] else s for s, i in zip(short, rows, strict=True)
        ], "run"
    if len(set(labels)) < len(labels):
        labels = [f"{s}: {label}" for s, label in zip(short, labels, strict=True)]
    return labels, "config"


def _chosen(
    git: Any,
    runs: Sequence[str] | None,
    where: str | None,
    experiment: str | None,
    status: str | None,
) -> tuple[RunTable, list[int]]:
    table, rows = select_rows(git, where, experiment, status)
    if runs:
        allowed = set(rows)
        rows = [i for i in resolve_runs(git, table, runs) if i in allowed]
        if not rows:
            raise UsageError("none of the runs named matches --where/--status/--experiment")
    return table, rows


def _metrics_of(table: RunTable, i: int) -> set[str]:
    return {
        name[8:].removesuffix(".last")
        for name, column in table.columns.items()
        if name.startswith("metrics.") and name.endswith(".last") and column[i] is not None
    }


def _xy(series: dict[str, Any], x: str, start: int | None) -> tuple[list[float], list[float]]:
    values = [float(v) if v is not None else float("nan") for v in series.get("values") or ()]
    if x == "step":
        steps = list(series.get("steps") or range(len(values)))
        return [float(s) for s in steps[: len(values)]], values
    stamps = [float(t) for t in (series.get("timestamps") or ())[: len(values)]]
    origin = start / 1e6 if start is not None else (stamps[0] if stamps else 0.0)
    return [t - origin for t in stamps], values[: len(stamps)]


def _moving_average(values: list[float], window: int) -> list[float]:
    import numpy as np

    data = np.asarray(values, dtype="float64")
    if data.size == 0:
        return []
    sums = np.cumsum(np.insert(data, 0, 0.0))
    counts = np.minimum(np.arange(1, data.size + 1), window)
    ends = np.arange(1, data.size + 1)
    return list((sums[ends] - sums[ends - counts]) / counts)


def _axis_values(series: Any) -> list[Any]:
    """Numbers stay numbers; anything else is plotted as text categories."""
    import pandas as pd

    if pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype):
        return list(series.astype("float64"))
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        return list(series)
    return [_text(v) for v in series]


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)


def _colors(count: int) -> list[Any]:
    from matplotlib import colormaps

    if count <= 10:
        return [colormaps["tab10"](i) for i in range(count)]
    if count <= 20:
        return [colormaps["tab20"](i) for i in range(count)]
    cmap = colormaps["viridis"]
    return [cmap(i / max(count - 1, 1)) for i in range(count)]


def _axes(ax: Axes | None) -> tuple[Figure, Axes]:
    """``ax`` and its figure, or a new figure (Agg canvas: no display needed) and axes."""
    if ax is not None:
        fig = ax.get_figure()
        if fig is None:
            raise UsageError("ax= must be axes of a matplotlib figure")
        return fig, ax  # type: ignore[return-value]  # a SubFigure draws the same
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 5), layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


def _save(fig: Figure, target: Path) -> None:
    import matplotlib

    # SVG text stays text (searchable, editable) instead of outlines.
    with matplotlib.rc_context({"svg.fonttype": "none"}):
        fig.savefig(target, dpi=120, format=target.suffix.lower().lstrip("."))
