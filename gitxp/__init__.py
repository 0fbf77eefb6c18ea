"""gitxp: git-native experiment tracking. Every run is a commit on ``refs/gitxp/runs/<id>``.

``import gitxp`` stays cheap: the names below are imported on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "log_scalar": "gitxp.api",
    "add_artifact": "gitxp.api",
    "set_result": "gitxp.api",
    "add_info": "gitxp.api",
    "config": "gitxp.api",
    "previous_artifacts": "gitxp.api",
    "resume_artifact": "gitxp.api",
    "resumed_from": "gitxp.api",
    "Experiment": "gitxp.experiment.experiment",
    "Ingredient": "gitxp.experiment.ingredient",
    "GitxpError": "gitxp.errors",
    "runs": "gitxp.query.frames",
    "metrics": "gitxp.query.frames",
    "load_run": "gitxp.query.runview",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'gitxp' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
