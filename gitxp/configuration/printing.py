"""The text of ``print_config``: one ``key = value  # doc`` line per entry, nested by indent.

Each line starts with a marker column: ``*`` modified, ``+`` added, ``~`` type changed (the
doc then names the old type), blank otherwise. With ``color=True`` the lines are also
coloured with ANSI codes (modified blue, added green, type changed red, docs grey).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gitxp.configuration.dicts import ResolvedConfig

__all__ = ["LEGEND", "format_config", "format_value"]

LEGEND = "Configuration (* modified, + added, ~ typechanged, # doc):"

_BLUE, _GREEN, _RED, _GREY, _RESET = "\x1b[34m", "\x1b[32m", "\x1b[31m", "\x1b[90m", "\x1b[0m"
_MARKS = {"~": _RED, "+": _GREEN, "*": _BLUE}
_MAX_DOC_COLUMN = 48


def format_value(value: Any) -> str:
    """A config value as it would be typed after ``with KEY=`` (a Python literal)."""
    return repr(value)


def _legend(color: bool) -> str:
    if not color:
        return LEGEND
    parts = [
        f"{_BLUE}* modified{_RESET}",
        f"{_GREEN}+ added{_RESET}",
        f"{_RED}~ typechanged{_RESET}",
        f"{_GREY}# doc{_RESET}",
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


def format_config(resolved: ResolvedConfig, *, color: bool = False) -> str:
    """Render a resolved config for ``print_config`` (legend line first, no trailing newline)."""
    lines: list[tuple[str, str, str]] = []  # (marker, body, doc)
    for path, depth, key, value in _entries(resolved.config):
        if path in resolved.typechanged:
            marker = "~"
        elif path in resolved.added:
            marker = "+"
        elif path in resolved.modified:
            marker = "*"
        else:
            marker = " "
        indent = "  " * depth
        if isinstance(value, Mapping) and value:
            body = f"{indent}{key}:"
        else:
            body = f"{indent}{key} = {format_value(value)}"
        doc = resolved.docs.get(path, "")
        if path in resolved.typechanged:
            old = resolved.typechanged[path][0].__name__
            doc = f"{doc} (type was {old})" if doc else f"type was {old}"
        lines.append((marker, body, doc))

    width = min(max((len(body) for _, body, doc in lines if doc), default=0), _MAX_DOC_COLUMN)
    out = [_legend(color)]
    for marker, body, doc in lines:
        text = f"{marker} {body}"
        if color and marker in _MARKS:
            text = f"{_MARKS[marker]}{text}{_RESET}"
        if doc:
            pad = " " * max(width - len(body), 0)
            comment = f"# {doc}"
            if color:
                comment = f"{_GREY}{comment}{_RESET}"
            text = f"{text}{pad}  {comment}"
        out.append(text)
    return "\n".join(out)
