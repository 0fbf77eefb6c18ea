"""Sacred's ``sacred.config`` import path, and the in-script ``gitxp.config()``.

Two things share the name ``gitxp.config``: the function a script started by ``gitxp run``
calls for its ``with`` values, and the module Sacred code imports from
(``from gitxp.config import ConfigScope``). They are one object: this module, made
callable, so ``gitxp.config()`` and ``from gitxp.config import ConfigDict`` both work in
any order in one process (``import gitxp.config`` binds ``gitxp.config`` to the module, and
``gitxp.__getattr__`` returns the same module).

A Sacred-path shim: the code lives in :mod:`gitxp.configuration` and :mod:`gitxp.api`.
"""

from __future__ import annotations

import sys
import types
from typing import Any

from gitxp.api import config as _with_values
from gitxp.configuration.dicts import ConfigSummary
from gitxp.configuration.scope import ConfigDict, ConfigScope, load_config_file

__all__ = ["ConfigDict", "ConfigScope", "ConfigSummary", "load_config_file"]


class _CallableModule(types.ModuleType):
    """This module's type: calling it is :func:`gitxp.api.config`."""

    def __call__(self, defaults: Any = None) -> dict[str, Any]:
        """:func:`gitxp.api.config`: the ``with`` values, merged over ``defaults`` if given."""
        return _with_values(defaults)


sys.modules[__name__].__class__ = _CallableModule
