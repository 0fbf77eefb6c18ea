"""Export query results to files: CSV, Parquet, JSON or JSON Lines, chosen by extension.

``export_runs`` writes the frame of :func:`gitxp.query.frames.runs` (one row per run),
``--metrics`` the long frame of :func:`gitxp.query.frames.metrics`. Values that a format cannot
hold as they are (lists such as ``tags``, dicts, columns mixing numbers and text) are
written as JSON text in CSV and Parquet; JSON keeps them as JSON. Times are ISO 8601 in
UTC in the text formats and UTC timestamps in Parquet.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gitxp.errors import UsageError
from gitxp.query.frames import RepoLike, metrics, open_repo, pick_columns, reading_order, select

if TYPE_CHECKING:
    import pandas as pd

FORMATS = {".csv": "CSV", ".parquet": "Parquet", ".json": "JSON", ".jsonl": "JSON Lines"}


def format_of(path: str | os.PathLike[str]) -> str:
    """The file extension of ``path`` if gitxp can write it, else a UsageError."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        known = ", ".join(f"{ext} ({name})" for ext, name in FORMATS.items())
        got = f"{suffix!r}" if suffix else "no extension"
        raise UsageError(f"cannot export to {os.fspath(path)!r} ({got}); use one of: {known}")
    return suffix


def export_runs(
    path: str | os.PathLike[str],
    repo: RepoLike = ".",
    *,
    where: str | None = None,
    experiment: str | None = None,
    status: str | None = None,
    sort: str | Sequence[str] | None = None,
    columns: str | Sequence[str] | None = None,
    with_metrics: bool = False,
    metric_names: Sequence[str] | None = None,
) -> int:
    """Write the runs chosen (or, ``with_metrics``, their logged values) to ``path``.

    Returns the number of rows written.
    """
    format_of(path)  # before any work: a wrong extension fails at once
    git = open_repo(repo)
    frame = select(git, where, experiment, status, sort).frame.reset_index(drop=True)
    if with_metrics:
        frame = metrics(frame, names=metric_names, repo=git)
    if columns is not None:
        frame = frame[pick_columns(frame.columns, columns)]
    elif not with_metrics:
        frame = frame[reading_order(frame.columns)]  # as gitxp.runs() shows them
    write_frame(frame, path)
    return len(frame)


def write_frame(frame: pd.DataFrame, path: str | os.PathLike[str]) -> None:
    """Write ``frame`` to ``path`` in the format its extension names."""
    suffix = format_of(path)
    target = Path(path)
    if target.parent and not target.parent.exists():
        raise UsageError(f"cannot write {os.fspath(path)!r}: folder {target.parent} does not exist")
    if suffix == ".csv":
        _text_ready(frame).to_csv(target, index=False)
    elif suffix == ".parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise UsageError(
                "Parquet export needs pyarrow: pip install pyarrow (or export to .csv/.json)"
            ) from None
        _parquet_ready(frame).to_parquet(target, index=False)
    else:
        records = json_records(frame)
        with open(target, "w", encoding="utf-8") as handle:
            if suffix == ".jsonl":
                for item in records:
                    handle.write(json.dumps(item, ensure_ascii=False, allow_nan=False) + "\n")
            else:
                json.dump(records, handle, ensure_ascii=False, allow_nan=False)
                handle.write("\n")


def json_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows of ``frame`` as plain JSON data: times ISO 8601, NaN and infinities null."""
    columns = [_json_column(frame[name]) for name in frame.columns]
    names = [str(name) for name in frame.columns]
    return [dict(zip(names, values, strict=True)) for values in zip(*columns, strict=True)]


def _json_column(series: pd.Series) -> list[Any]:
    import pandas as pd

    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        return [None if t is pd.NaT or t != t else t.isoformat() for t in series]
    values = series.astype(object).where(series.notna(), None)
    return [_json_value(v) for v in values]


def _json_value(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, (list, tuple)):
        return [_json_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    if hasattr(value, "item"):  # numpy scalars
        return _json_value(value.item())
    return str(value)


def _nested(value: Any) -> bool:
    return isinstance(value, (list, dict, tuple))


def _as_json_text(value: Any) -> Any:
    if value is None or (isinstance(value, float) and value != value):
        return None
    return json.dumps(value, sort_keys=True, default=str)


def _object_columns(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if frame[c].dtype == object]


def _text_ready(frame: pd.DataFrame) -> pd.DataFrame:
    """Lists and dicts as JSON text; times as ISO 8601 (for CSV)."""
    out = frame.copy()
    for name in _object_columns(out):
        if out[name].map(_nested).any():
            out[name] = out[name].map(lambda v: v if isinstance(v, str) else _as_json_text(v))
    for name in out.columns:
        if str(out[name].dtype).startswith("datetime64"):
            out[name] = out[name].map(lambda t: None if t is None or t != t else t.isoformat())
    return out


def _parquet_ready(frame: pd.DataFrame) -> pd.DataFrame:
    """Columns Arrow can type: string lists stay lists, anything mixed becomes JSON text."""
    out = frame.copy()
    for name in _object_columns(out):
        values = [v for v in out[name] if v is not None]
        kinds = {type(v) for v in values}
        if kinds <= {list} and all(isinstance(x, str) for v in values for x in v):
            continue  # e.g. tags: list<string>
        if kinds <= {str}:
            continue
        out[name] = out[name].map(lambda v: v if isinstance(v, str) else _as_json_text(v))
    return out
