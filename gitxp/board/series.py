"""Metric series for the board's charts: cut to what a chart can show, summarised.

A chart ``points`` pixels wide cannot show more than about two values a pixel column, so
:func:`downsample` keeps, for each of ``points`` buckets of consecutive points, the one
with the smallest and the one with the largest value (in their order), plus the first
and last point: every peak and dip survives, a line of 100,000 points becomes one of at
most ``2 * points + 2``. Asked for a range of x (a zoomed chart), it cuts to that range
first (with one point beyond each end, so the line reaches the edges), which gives the
full resolution back as the range narrows.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

MAX_POINTS = 4000  # buckets one request may ask for
DEFAULT_POINTS = 1000


@dataclass(frozen=True)
class Window:
    """What to send of a series: x by ``step`` or ``time`` (seconds since its first point),
    only ``lo`` ≤ x ≤ ``hi`` when given, at most about ``2 * points`` points."""

    points: int = DEFAULT_POINTS
    x: str = "step"
    lo: float | None = None
    hi: float | None = None


def finite(value: Any) -> float | None:
    """``value`` as a float, or None when it is missing or not finite."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def xs_of(series: dict[str, list[Any]], axis: str) -> list[float | None]:
    """The x of each point: its step, or seconds since the series' first timestamp."""
    if axis == "time":
        stamps = [finite(t) for t in series.get("timestamps") or ()]
        first = next((t for t in stamps if t is not None), 0.0)
        return [None if t is None else t - first for t in stamps]
    return [finite(s) for s in series.get("steps") or ()]


def downsample(series: dict[str, list[Any]], window: Window) -> dict[str, Any]:
    """``{t0, steps, values, timestamps, total, shown, summary}`` of ``series`` for
    ``window`` (``t0``: the first timestamp, where the time axis starts)."""
    steps = list(series.get("steps") or ())
    values = [finite(v) for v in series.get("values") or ()]
    stamps = list(series.get("timestamps") or ())
    count = min(len(steps), len(values))
    xs = xs_of(series, window.x)[:count]
    keep = _in_window(xs, window.lo, window.hi)
    points = max(1, min(window.points, MAX_POINTS))
    if len(keep) > 2 * points + 2:
        keep = _extremes(keep, values, points)
    first = next((t for t in map(finite, stamps) if t is not None), None)
    return {
        "t0": first,
        "steps": [steps[i] for i in keep],
        "values": [values[i] for i in keep],
        "timestamps": [stamps[i] if i < len(stamps) else None for i in keep],
        "total": count,
        "shown": len(keep),
        "summary": summary(values[:count]),
    }


def _in_window(xs: Sequence[float | None], lo: float | None, hi: float | None) -> list[int]:
    if lo is None and hi is None:
        return list(range(len(xs)))
    low = -math.inf if lo is None else lo
    high = math.inf if hi is None else hi
    inside = [i for i, x in enumerate(xs) if x is not None and low <= x <= high]
    if not inside:
        return []
    first, last = inside[0], inside[-1]
    before = [first - 1] if first > 0 else []
    after = [last + 1] if last + 1 < len(xs) else []
    return before + inside + after


def _extremes(keep: list[int], values: Sequence[float | None], points: int) -> list[int]:
    """For each of ``points`` buckets of ``keep``: its lowest and highest value (and a gap
    where it has missing values), plus the first and last point."""
    out = [keep[0]]
    size = len(keep)
    for bucket in range(points):
        start, stop = bucket * size // points, (bucket + 1) * size // points
        low = high = gap = None
        for i in keep[start:stop]:
            value = values[i]
            if value is None:
                gap = i if gap is None else gap
                continue
            if low is None or value < values[low]:  # type: ignore[operator]
                low = i
            if high is None or value > values[high]:  # type: ignore[operator]
                high = i
        picked = {i for i in (low, high, gap) if i is not None}
        out.extend(sorted(picked))
    out.append(keep[-1])
    return sorted(set(out))


def summary(values: Sequence[float | None]) -> dict[str, Any]:
    """Last, min and max of the finite values, and how many there are."""
    numbers = [v for v in values if v is not None]
    if not numbers:
        return {"last": None, "min": None, "max": None, "count": 0}
    return {"last": numbers[-1], "min": min(numbers), "max": max(numbers), "count": len(numbers)}


def parse_window(params: dict[str, str]) -> Window:
    """The :class:`Window` of request parameters ``points``, ``x``, ``lo``, ``hi``."""
    from gitxp.errors import UsageError

    def number(name: str) -> float | None:
        text = params.get(name)
        if text is None or text == "":
            return None
        try:
            value = float(text)
        except ValueError:
            raise UsageError(f"{name} must be a number, not {text!r}") from None
        if not math.isfinite(value):
            raise UsageError(f"{name} must be a finite number")
        return value

    points = number("points")
    axis = params.get("x") or "step"
    if axis not in ("step", "time"):
        raise UsageError("x must be 'step' or 'time'")
    return Window(
        points=DEFAULT_POINTS if points is None else max(1, int(points)),
        x=axis,
        lo=number("lo"),
        hi=number("hi"),
    )
