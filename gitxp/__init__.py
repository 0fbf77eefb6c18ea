"""gitxp: git-native experiment tracking. Every run is a commit on ``refs/gitxp/runs/<id>``.

``import gitxp`` stays cheap: the names below are imported on first use.
"""

from __future__ import annotations

import importlib

# No runtime import of typing: a Ctrl-C while gitxp loads must meet as little of gitxp's
# own code as possible (see gitxp/__main__.py).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "log_scalar": "gitxp.api",
    "add_artifact": "gitxp.api",
    "use_artifact": "gitxp.api",
    "set_result": "gitxp.api",
    "add_info": "gitxp.api",
    "previous_artifacts": "gitxp.api",
    "resume_artifact": "gitxp.api",
    "resumed_from": "gitxp.api",
    "Experiment": "gitxp.experiment.experiment",
    "Ingredient": "gitxp.experiment.ingredient",
    "GitxpError": "gitxp.errors",
    "runs": "gitxp.query.frames",
    "metrics": "gitxp.query.frames",
    "load_run": "gitxp.query.runview",
    "plot_metric": "gitxp.query.plot",
    "plot_scatter": "gitxp.query.plot",
    # Sacred's top-level names (``from sacred import SETTINGS`` -> ``from gitxp import …``)
    "SETTINGS": "gitxp.experiment.settings",
    "cli_option": "gitxp.experiment.commandline",
    "host_info_gatherer": "gitxp.experiment.observing",
}
# Submodules that are also attributes: ``gitxp.config`` is both the in-script function and
# Sacred's ``sacred.config`` path (one callable module, see gitxp/config.py); ``gitxp.sweep``
# the sweep package and ``gitxp.sweep(...)`` (gitxp/sweep/__init__.py).
_SUBMODULES = ("config", "observers", "utils", "ingredient", "experiment", "sweep")

__all__ = sorted([*_LAZY, *_SUBMODULES])


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"gitxp.{name}")
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'gitxp' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
