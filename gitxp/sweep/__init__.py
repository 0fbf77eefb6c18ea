"""Sweeps: many runs of one snapshot, queued as run refs and taken by workers (docs/sweeps.md).

``gitxp.sweep`` is this package and also the function ``gitxp.sweep(...)``
(:func:`gitxp.sweep.api.sweep`): calling the package calls that function. A package and
a public function cannot share the name ``gitxp.sweep`` otherwise, because importing
the package sets the attribute.
"""

from __future__ import annotations

import sys
import types
from typing import Any


class _CallableModule(types.ModuleType):
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from gitxp.sweep.api import sweep

        return sweep(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
