"""Sacred's ``sacred.utils`` import path, for the names Sacred code imports from it.

A shim, not a grab-bag: the exceptions live in :mod:`gitxp.errors`, the output filter in
:mod:`gitxp.store.textlog`.
"""

from gitxp.errors import (
    ConfigAddedError,
    ConfigError,
    MissingConfigError,
    NamedConfigNotFoundError,
    SacredError,
    SacredInterrupt,
    TimeoutInterrupt,
)
from gitxp.store.textlog import apply_backspaces_and_linefeeds

__all__ = [
    "ConfigAddedError",
    "ConfigError",
    "MissingConfigError",
    "NamedConfigNotFoundError",
    "SacredError",
    "SacredInterrupt",
    "TimeoutInterrupt",
    "apply_backspaces_and_linefeeds",
]
