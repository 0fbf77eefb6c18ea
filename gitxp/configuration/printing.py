"""The text of ``print_config``, laid out as Sacred prints it.

With ``color=True`` (what ``print_config`` prints, on a terminal or not, as Sacred does) the
text is Sacred's byte for byte: a coloured legend, then one ``key = value`` line per entry
indented two spaces per level, the line blue when modified, green when added, red when its
type changed, and docs dimmed after column 37. With ``color=False`` (``NO_COLOR`` set) the
same lines carry a marker in the first column instead: ``*`` modified, ``+`` added, ``~``
type changed (the doc then names the old type).
"""

from __future__ import annotations

import pprint
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gitxp.configuration.dicts import ResolvedConfig

__all__ = ["LEGEND", "format_config", "format_value"]

LEGEND = "Configuration (* modified, + added, ~ typechanged, # doc):"

_BLUE, _GREEN, _RED, _DIM, _RESET = "\x1b[34m", "\x1b[32m", "\x1b[31m", "\x1b[2m", "\x1b[0m"
_COLORS = {"~": _RED, "+": _GREEN, "*": _BLUE}
_DOC_COLUMN = 35  # Sacred pads ``key = value`` to this width before the doc


def format_value(value: Any) -> str:
    """A config value as Sacred prints it (``pprint``: a Python literal for data)."""
    return pprint.pformat(value)


def _legend(color: bool) -> str:
    if not color:
        return LEGEND
    parts = [
        f"{_BLUE}modified{_RESET}",
        f"{_GREEN}added{_RESET}",
        f"{_RED}typechanged{_RESET}",
        f"{_DIM}doc{_RESET}",
    ]
    return f"Configuration ({', '.join(parts)}):"


def _entries(config: Mapping[str, Any], prefix: str = "") -> list[tuple[str, int, str, Any]]:
    """``(path, depth, key, value)`` rows: at each level, plain entries before sub-dicts."""
    depth = prefix.count(".") + 1 if prefix else 0
    leaves = [(k, v) for k, v in config.items() if not (isinstance(v, Mapping) and v)]
    nested = [(k, v) for k, v in config.items() if isinstance(v, Mapping) and v]
    rows: list[tuple[str, int, str, Any]] = []
    for key, value in leaves + nested:
        path = f"{prefix}.{key}" if prefix else str(key)
        rows.append((path, depth, str(key), value))
        if isinstance(value, Mapping) and value:
            rows.extend(_entries(value, path))
    return rows


def _marker(resolved: ResolvedConfig, path: str) -> str:
    if path in resolved.typechanged:
        return "~"
    if path in resolved.added:
        return "+"
    if path in resolved.modified:
        return "*"
    return " "


def format_config(resolved: ResolvedConfig, *, color: bool = False) -> str:
    """Render a resolved config for ``print_config`` (legend line first, no trailing newline)."""
    out = [_legend(color)]
    for path, depth, key, value in _entries(resolved.config):
        marker = _marker(resolved, path)
        indent = " " * (2 + 2 * depth)
        if isinstance(value, Mapping) and value:
            assign = f"{indent}{key}:"
        else:
            assign = f"{indent}{key} = {format_value(value)}"
        if not color:
            assign = marker + assign[1:]
        doc = resolved.docs.get(path, "")
        if path in resolved.typechanged and not color:
            old = resolved.typechanged[path][0].__name__
            doc = f"{doc} (type was {old})" if doc else f"type was {old}"
        if doc:
            comment = f"{_DIM}# {doc}{_RESET}" if color else f"# {doc}"
            if len(assign) <= _DOC_COLUMN:
                assign = f"{assign:<{_DOC_COLUMN}}  {comment}"
            else:
                assign = f"{assign}    {comment}"
        if color and marker in _COLORS:
            assign = f"{_COLORS[marker]}{assign}{_RESET}"
        out.append(assign)
    return "\n".join(out)
