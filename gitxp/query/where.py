"""``where`` expressions: pandas ``query`` text over the run frame, made forgiving.

Dotted column names work as they are (``config.lr > 0.01``): :func:`rewrite_where` puts
them in backquotes. ``tags.contains('best')`` is true for the runs with that tag (the
``tags`` column holds lists). A column whose runs recorded values of different kinds
(``lr=0.1`` in one run, ``lr=fast`` in another) does not break the query: an ordering
comparison between kinds that do not compare (text and a number) is false for that run,
and a :class:`~gitxp.errors.GitxpWarning` names the runs it was false for.

pandas is imported inside the functions.
"""

from __future__ import annotations

import difflib
import math
import operator
import re
import warnings
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from gitxp.errors import GitxpWarning, UsageError

if TYPE_CHECKING:
    import pandas as pd

LIST_COLUMNS = ("tags",)
_CONTAINS = "gitxp_contains"
_IDENT_START = re.compile(r"[A-Za-z_]")
_IDENT_CHAR = re.compile(r"[A-Za-z0-9_]")
_DOTTED = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
_OPEN = re.compile(r"\s*\(")


def filter_where(frame: pd.DataFrame, expr: str) -> pd.DataFrame:
    """The rows of ``frame`` for which the pandas ``query`` expression ``expr`` is true."""
    import pandas as pd

    text = rewrite_where(expr, list(frame.columns))
    try:  # syntax first, on a same-length copy, so the error points into ``expr``
        compile(rewrite_where(expr, list(frame.columns), plain=True), "<where>", "eval")
    except SyntaxError as err:
        near = _near(expr, err.offset)
        raise UsageError(f"invalid where expression {expr!r}: {err.msg}{near}") from None
    try:
        mask = _evaluate(frame, text, expr)
    except pd.errors.UndefinedVariableError as err:
        found = re.search(r"name '([^']+)' is not defined", str(err))
        raise unknown_column(found.group(1) if found else str(err), frame.columns, expr) from None
    except SyntaxError as err:
        raise UsageError(f"invalid where expression {expr!r}: {err.msg}") from None
    except Exception as err:
        raise UsageError(f"where expression {expr!r} failed: {err}") from None
    if not isinstance(mask, pd.Series) or not (
        pd.api.types.is_bool_dtype(mask.dtype) or mask.isna().all()
    ):
        raise UsageError(
            f"where expression {expr!r} is not a condition; compare columns, e.g. "
            "'status == \"COMPLETED\" and config.lr > 0.01'"
        )
    return frame[mask.fillna(False).astype(bool)]


def _evaluate(frame: pd.DataFrame, text: str, expr: str) -> Any:
    """``text`` evaluated over ``frame``; again with forgiving values if kinds clash."""
    names = {_CONTAINS: _contains}
    try:
        # The python engine whether numexpr is installed or not: .str methods work alike.
        return frame.eval(text, engine="python", local_dict=names)
    except TypeError:
        seen: set[Any] = set()
        lenient = _lenient_frame(frame, seen)
        if lenient is None:
            raise
        mask = lenient.eval(text, engine="python", local_dict=names)
    if seen:
        ids = [
            str(frame.at[label, "id"]) if "id" in frame.columns else str(label) for label in seen
        ]
        ids.sort()
        shown = ", ".join(i[:12] for i in ids[:10]) + (", …" if len(ids) > 10 else "")
        warnings.warn(
            f"where {expr!r}: a comparison of values of different kinds was taken as false "
            f"for {len(ids)} run{'s' if len(ids) != 1 else ''}: {shown}",
            GitxpWarning,
            stacklevel=2,
        )
    return mask


def _contains(column: pd.Series, item: Any) -> pd.Series:
    """``tags.contains(item)``: whether each run's list holds ``item``."""
    return column.map(lambda value: isinstance(value, list) and item in value).astype(bool)


# -- values of mixed kinds -----------------------------------------------------------------


class _Lenient:
    """An ordering comparison with a value it does not compare with is false, and noted."""

    _plain: Callable[[Any], Any]
    row: Any
    seen: set[Any]

    def _order(self, other: Any, op: Callable[[Any, Any], Any]) -> Any:
        other = other._plain(other) if isinstance(other, _Lenient) else other
        try:
            return op(self._plain(self), other)
        except TypeError:
            self.seen.add(self.row)
            return False

    def __lt__(self, other: Any) -> Any:
        return self._order(other, operator.lt)

    def __le__(self, other: Any) -> Any:
        return self._order(other, operator.le)

    def __gt__(self, other: Any) -> Any:
        return self._order(other, operator.gt)

    def __ge__(self, other: Any) -> Any:
        return self._order(other, operator.ge)


class _Str(_Lenient, str):
    _plain = str


class _Int(_Lenient, int):
    _plain = int


class _Float(_Lenient, float):
    _plain = float


class _List(_Lenient, list[Any]):
    _plain = list


class _Dict(_Lenient, dict[Any, Any]):
    _plain = dict


_WRAPPERS: dict[type, Callable[[Any], Any]] = {
    str: _Str,
    int: _Int,
    bool: _Int,
    float: _Float,
    list: _List,
    dict: _Dict,
}
_KINDS = {str: "text", int: "number", bool: "number", float: "number", list: "list", dict: "map"}


def _lenient_frame(frame: pd.DataFrame, seen: set[Any]) -> pd.DataFrame | None:
    """A shallow copy of ``frame`` whose mixed-kind columns compare leniently (or None)."""
    import numpy as np

    out = None
    for name in frame.columns:
        column = frame[name]
        if column.dtype != object:
            continue
        values = column.tolist()
        kinds = {_KINDS.get(type(v), "other") for v in values if not _missing(v)}
        if len(kinds) < 2:
            continue
        wrapped = np.empty(len(values), dtype=object)
        wrapped[:] = [_wrap(v, label, seen) for v, label in zip(values, frame.index, strict=True)]
        out = frame.copy(deep=False) if out is None else out
        out[name] = wrapped
    return out


def _wrap(value: Any, row: Any, seen: set[Any]) -> Any:
    wrapper = _WRAPPERS.get(type(value))
    if wrapper is None or _missing(value):
        return value
    out: Any = wrapper(value)
    out.row, out.seen = row, seen
    return out


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


# -- names in the expression ---------------------------------------------------------------


def rewrite_where(expr: str, columns: Sequence[str], plain: bool = False) -> str:
    """``expr`` with every known column name that is not a Python name in backquotes.

    Strings and already backquoted names stay as they are; ``tags.contains(x)`` becomes
    a call of :func:`_contains`. A dotted name starting with
    ``config.`` or ``metrics.`` that names no column raises :class:`UsageError`.
    ``plain``: such names (and backquoted ones) become Python names of the same length
    instead, for a syntax check whose error offsets match ``expr``.
    """
    quoted = sorted((c for c in columns if not c.isidentifier()), key=len, reverse=True)
    out: list[str] = []
    i = 0
    while i < len(expr):
        char = expr[i]
        if char in "'\"`":
            end = _closing(expr, i)
            out.append("_" * (end - i) if plain and char == "`" else expr[i:end])
            i = end
            continue
        boundary = i == 0 or not (_IDENT_CHAR.match(expr[i - 1]) or expr[i - 1] == ".")
        if boundary and _IDENT_START.match(char):
            name = next((c for c in quoted if _is_name_at(expr, i, c)), None)
            if name is not None:
                out.append(re.sub(r"\W", "_", name) if plain else f"`{name}`")
                i += len(name)
                continue
            dotted = _DOTTED.match(expr, i)
            assert dotted is not None
            word = dotted.group(0)
            head = word.split(".", 1)[0]
            call = _OPEN.match(expr, dotted.end())
            if not plain and call and word.endswith(".contains") and word[:-9] in LIST_COLUMNS:
                out.append(f"@{_CONTAINS}({word[:-9]}, ")
                i = call.end()
                continue
            if "." in word and head in ("config", "metrics") and head not in columns:
                raise unknown_column(word, columns, expr)
            out.append(word)
            i = dotted.end()
            continue
        out.append(char)
        i += 1
    return "".join(out)


def unknown_column(name: str, columns: Iterable[str], expr: str | None = None) -> UsageError:
    """An error naming the unknown column ``name`` and the columns closest to it."""
    names = list(columns)
    close = difflib.get_close_matches(name, names, n=5, cutoff=0.6)
    tail = name.split(".")[-1] if "." in name else name
    for column in names:
        parts = column.split(".")
        if (tail in parts[1:] or column.endswith("." + name)) and column not in close:
            close.append(column)
    where = f" in {expr!r}" if expr is not None else ""
    hint = f"; close: {', '.join(close[:6])}" if close else ""
    listing = "" if close else _some_columns(names)
    return UsageError(f"unknown column {name!r}{where}{hint}{listing}")


def _some_columns(names: list[str]) -> str:
    shown = [n for n in names if not n.startswith(("config.", "metrics."))][:8]
    shown += [n for n in names if n.startswith("config.")][:4]
    shown += [n for n in names if n.startswith("metrics.")][:3]
    return f"; columns include {', '.join(shown)} ('gitxp export' writes them all)"


def _closing(expr: str, start: int) -> int:
    """The index just past the string or backquoted name that opens at ``start``."""
    quote = expr[start]
    i = start + 1
    while i < len(expr):
        if expr[i] == "\\" and quote != "`":
            i += 2
            continue
        if expr[i] == quote:
            return i + 1
        i += 1
    return len(expr)


def _is_name_at(expr: str, i: int, name: str) -> bool:
    end = i + len(name)
    return expr.startswith(name, i) and (end == len(expr) or not _IDENT_CHAR.match(expr[end]))


def _near(expr: str, offset: int | None) -> str:
    """`` near 'token'``: the text of ``expr`` where a syntax error was found."""
    if not offset:
        return ""
    rest = expr[offset - 1 :].split()
    return f" near {rest[0]!r}" if rest else " at the end"
