"""Sacred's ``sacred.observers`` import path.

``RunObserver`` is gitxp's own (Sacred's interface, every event a no-op). Sacred's storage
observers (``FileStorageObserver``, ``MongoObserver``, ``SqlObserver``, ``TinyDbObserver``
…) are Sacred's own classes, imported from Sacred on first use: a gitxp ``Experiment``
feeds them the events Sacred would (docs/coming-from-sacred.md), while the run is
recorded in git as always. A shim: the code is in :mod:`gitxp.experiment.observing`.
"""

from __future__ import annotations

import importlib
from typing import Any

from gitxp.errors import UsageError
from gitxp.experiment.observing import RunObserver

__all__ = ["RunObserver"]

_FROM_SACRED = (
    "FileStorageObserver",
    "GoogleCloudStorageObserver",
    "MongoObserver",
    "QueueObserver",
    "QueuedMongoObserver",
    "S3Observer",
    "SlackObserver",
    "SqlObserver",
    "TelegramObserver",
    "TinyDbObserver",
    "TinyDbReader",
)


def __getattr__(name: str) -> Any:
    if name not in _FROM_SACRED:
        raise AttributeError(f"module 'gitxp.observers' has no attribute {name!r}")
    try:
        module = importlib.import_module("sacred.observers")
    except ImportError as err:
        raise UsageError(
            f"gitxp.observers.{name} is Sacred's observer: install Sacred ('pip install "
            f"sacred') to use it ({err}); gitxp itself records every run in git"
        ) from None
    value = getattr(module, name)
    globals()[name] = value
    return value
