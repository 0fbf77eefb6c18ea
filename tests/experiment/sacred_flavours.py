"""The same tests against gitxp and against Sacred: one fixture gives either library.

A test that takes the ``lib`` fixture (tests/experiment/conftest.py) runs twice: with
gitxp (runs recorded in a real repository) and with Sacred itself (installed by the dev
extra), which proves the assertion describes Sacred's behaviour. Import paths are the
ones ``sed s/sacred/gitxp/`` gives.
"""

from __future__ import annotations

import importlib
import warnings
from pathlib import Path
from types import SimpleNamespace
from typing import Any

FLAVOURS = ["gitxp", "sacred"]
QUIET = {"--loglevel": "ERROR"}


def load(flavour: str, repo: Path) -> SimpleNamespace:
    """The names a Sacred user imports, from ``flavour`` (``gitxp`` or ``sacred``)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sacred 0.8 imports pkg_resources
        top = importlib.import_module(flavour)
        modules = {
            name: importlib.import_module(f"{flavour}.{name}")
            for name in ("config", "utils", "observers", "experiment", "ingredient")
        }

    def experiment(name: str, **kw: Any) -> Any:
        if flavour == "sacred":
            kw.setdefault("save_git_info", False)
        else:
            kw.setdefault("base_dir", repo)
        return modules["experiment"].Experiment(name, **kw)

    return SimpleNamespace(
        flavour=flavour,
        Experiment=experiment,
        Ingredient=modules["ingredient"].Ingredient,
        SETTINGS=top.SETTINGS,
        cli_option=top.cli_option,
        host_info_gatherer=top.host_info_gatherer,
        **modules,
    )
