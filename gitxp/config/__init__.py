"""The configuration subsystem (pure Python: stdlib + PyYAML).

* :mod:`gitxp.config.withargs` - parsing ``with KEY=VALUE NAME ...`` tokens;
* :mod:`gitxp.config.dicts` - dotted paths, merging, normalising, read-only views;
* :mod:`gitxp.config.scope` - config scopes (``@ex.config``), config dicts and files;
* :mod:`gitxp.config.resolve` - precedence, seed, added/modified keys, unknown-key check;
* :mod:`gitxp.config.ingredients` - resolving an experiment together with its ingredients;
* :mod:`gitxp.config.printing` - the text of ``print_config``.

``gitxp.config`` is also the name of the run-time function :func:`gitxp.api.config`. Importing
this package replaces the attribute ``gitxp.config``, so the package is made callable and
forwards calls to that function: ``gitxp.config()`` works whichever was imported first.
"""

from __future__ import annotations

import sys
import types
from typing import Any

from gitxp.config.dicts import (
    ReadOnlyDict,
    ReadOnlyList,
    get_by_dotted_path,
    iterate_flattened,
    make_read_only,
    nearest_key,
    normalize_config,
    normalize_value,
    recursive_update,
    set_by_dotted_path,
)
from gitxp.config.ingredients import ConfigUnit, resolve_units
from gitxp.config.resolve import (
    ResolvedConfig,
    check_unknown_keys,
    format_config,
    resolve_config,
)
from gitxp.config.scope import ConfigDict, ConfigScope, load_config_file
from gitxp.config.withargs import WithArgs, parse_with_args, split_with

__all__ = [
    "ConfigDict",
    "ConfigScope",
    "ConfigUnit",
    "ReadOnlyDict",
    "ReadOnlyList",
    "ResolvedConfig",
    "WithArgs",
    "check_unknown_keys",
    "format_config",
    "get_by_dotted_path",
    "iterate_flattened",
    "load_config_file",
    "make_read_only",
    "nearest_key",
    "normalize_config",
    "normalize_value",
    "parse_with_args",
    "recursive_update",
    "resolve_config",
    "resolve_units",
    "set_by_dotted_path",
    "split_with",
]


class _CallablePackage(types.ModuleType):
    """This package's module type: calling it calls :func:`gitxp.api.config`."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from gitxp.api import config

        return config(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
