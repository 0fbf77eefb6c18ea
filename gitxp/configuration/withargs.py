"""Parsing of the ``with`` part of a command line (``prog run with variant1 lr=0.1 opt.m=0.9``).

Each token after ``with`` is split on its first ``=``. ``KEY=VALUE`` is a config update whose
dotted KEY addresses a nested entry; the VALUE is read as a Python literal (``1``, ``1e-3``,
``True``, ``None``, ``[1, 2]``, ``{'a': 1}``, ``'quoted'``) and kept as a plain string if it is
not one (``name=Bob`` gives ``"Bob"``). ``nan``, ``inf`` and ``-inf`` (any case) are the
floats. What cannot be meant as text is refused: an empty value (``lr=``; write ``lr="''"``
for empty text) and a value that opens a literal it does not close (``x=[1,``). A token
without ``=`` names a named config, an ingredient's named config (``ing.name``) or a config
file; the caller resolves it.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from gitxp.configuration.dicts import (
    MAX_CONFIG_DEPTH,
    check_depth,
    normalize_value,
    set_by_dotted_path,
)
from gitxp.errors import ConfigError

__all__ = ["WithArgs", "parse_value", "parse_with_args", "split_with"]

_QUOTES = ("'", '"', "`")
_OPENERS = "[{('\""  # a value starting so means a literal, never text
_FLOATS = ("nan", "inf", "-inf", "+inf")


@dataclass(frozen=True)
class WithArgs:
    """The parsed ``with`` tokens.

    ``updates`` is nested (``b.c=2`` gives ``{"b": {"c": 2}}``); ``named`` keeps the tokens
    without ``=`` in the order given.
    """

    updates: dict[str, Any] = field(default_factory=dict)
    named: tuple[str, ...] = ()


def split_with(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """Split ``argv`` at the first literal ``with`` token into ``(before, after)``.

    ``after`` is empty when there is no ``with`` (or nothing follows it).
    """
    args = list(argv)
    if "with" not in args:
        return args, []
    index = args.index("with")
    return args[:index], args[index + 1 :]


def parse_value(text: str, key: str = "") -> Any:
    """Read one update value: a Python literal if it is one, else the string itself.

    Tuples become lists. Literals that cannot be stored in a config (sets, bytes, complex
    numbers) raise ConfigError naming ``key``.
    """
    if text.lower() in _FLOATS:
        return float(text)
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError) as err:
        if not text:
            raise ConfigError(
                f"no value for '{key}'; write {key}=VALUE (for empty text: {key}=\"''\")"
            ) from None
        if text[0] in _OPENERS:
            reason = err.msg if isinstance(err, SyntaxError) else "not a literal"
            raise ConfigError(
                f"'{key}={text}' is not a valid value ({reason}); close it, like "
                f"{key}=[1,2], or quote it as text: {key}=\"'{text}'\""
            ) from None
        return text
    return normalize_value(value, key)


def _key_problem(key: str) -> str:
    """Describe what is wrong with a dotted update key, or return '' if it is fine."""
    if not key:
        return "empty key; write KEY=VALUE"
    for part in key.split("."):
        if not part:
            return "empty key part; write KEY=VALUE with a dotted KEY like a.b"
        if part.startswith("$"):
            return f"key part '{part}' starts with '$'; config keys may not start with '$'"
        if any(ch.isspace() for ch in part):
            return (
                f"key '{key}' contains whitespace; keys are names like a.b, "
                "quote the whole token for the shell as 'KEY=VALUE'"
            )
        if any(q in part for q in _QUOTES):
            return (
                f"key '{key}' contains a quote; quote the whole token instead, "
                """e.g. 'name="Bob"'"""
            )
        if "[" in part or "]" in part:
            return (
                f"key '{key}' indexes a list; list elements cannot be set one by one, "
                "set the whole list like a=[1,2]"
            )
        if part.startswith("py/"):
            return f"key part '{part}' looks like a jsonpickle tag; rename it"
    return ""


def parse_with_args(tokens: Sequence[str]) -> WithArgs:
    """Parse the tokens that follow ``with`` into nested updates and named-config tokens.

    Positions in error messages count from 1 over ``tokens``. Later updates override earlier
    ones; setting a key below one that an earlier token set to a non-dict is an error.
    """
    updates: dict[str, Any] = {}
    named: list[str] = []
    for position, token in enumerate(tokens, start=1):
        where = f"with: token {position} '{token}'"
        if not token.strip():
            continue
        if "=" not in token:
            name = token.strip()
            if any(ch.isspace() for ch in name):
                raise ConfigError(
                    f"{where}: a named config or file name cannot contain whitespace; "
                    "write KEY=VALUE for an update"
                )
            named.append(name)
            continue
        raw_key, _, raw_value = token.partition("=")
        key = raw_key.strip()
        problem = _key_problem(key)
        if problem:
            raise ConfigError(f"{where}: {problem}")
        try:
            value = parse_value(raw_value.strip(), key)
            check_depth(value, f"the value of {key}")
            if key.count(".") > MAX_CONFIG_DEPTH:
                raise ConfigError(f"the key is more than {MAX_CONFIG_DEPTH} levels deep")
            set_by_dotted_path(updates, key, value)
        except RecursionError:
            raise ConfigError(f"{where}: the value is nested too deeply; flatten it") from None
        except ConfigError as exc:
            raise exc.prefixed(where) from exc
    return WithArgs(updates=updates, named=tuple(named))
