"""Which Python starts a user's script, and gitxp's in-script API for one that lacks gitxp.

``gitxp run train.py`` starts the interpreter the user's shell would start for ``python``:
``--python`` first, then the active virtual environment (``$VIRTUAL_ENV``), the active
conda environment (``$CONDA_PREFIX``), ``python`` and ``python3`` on ``PATH``, and only
then gitxp's own interpreter. gitxp may live in an environment of its own (pipx, uv
tool): the project's packages are in the user's, and so is what the env lock records.

A script that imports gitxp under an interpreter without gitxp gets the in-script API
from a folder put on ``PYTHONPATH`` for that run: links to the running gitxp package and
to the pure-Python dependencies the interpreter lacks (PyYAML). It holds only what is
missing, so nothing the user installed is shadowed, and it has no distribution metadata,
so the env lock of the interpreter stays what the user installed.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import sys
from collections.abc import Mapping, Set
from dataclasses import dataclass
from pathlib import Path

from gitxp.errors import UsageError

__all__ = ["API_PACKAGES", "Interpreter", "api_path", "user_python"]

# Distribution name → top-level package: what ``import gitxp`` needs in a script.
API_PACKAGES = {"gitxp": "gitxp", "pyyaml": "yaml"}


@dataclass(frozen=True)
class Interpreter:
    """An interpreter and what chose it (``--python``, ``$VIRTUAL_ENV``, ``PATH`` …)."""

    path: str
    chosen_by: str


def user_python(explicit: str | None = None, env: Mapping[str, str] | None = None) -> Interpreter:
    """The Python the user's shell would run for ``python`` (see the module docstring)."""
    env = os.environ if env is None else env
    search = env.get("PATH", os.defpath)
    if explicit:
        found = shutil.which(explicit, path=search) if os.sep not in explicit else explicit
        if found is None or not _runnable(found):
            raise UsageError(f"--python {explicit}: no such interpreter (or not executable)")
        return Interpreter(os.path.abspath(found), "--python")
    for variable in ("VIRTUAL_ENV", "CONDA_PREFIX"):
        root = env.get(variable)
        if root and _runnable(os.path.join(root, "bin", "python")):
            return Interpreter(os.path.join(os.path.abspath(root), "bin", "python"), f"${variable}")
    for name in ("python", "python3"):
        found = shutil.which(name, path=search)
        if found:
            return Interpreter(os.path.abspath(found), "PATH")
    return Interpreter(sys.executable, "gitxp's own interpreter")


def _runnable(path: str) -> bool:
    return os.path.isfile(path) and os.access(path, os.X_OK)


def api_path(state_dir: Path, installed: Set[str]) -> Path | None:
    """A folder that makes ``import gitxp`` work in an interpreter with ``installed``
    distributions (normalised names), or None when gitxp is installed there already."""
    if "gitxp" in installed:
        return None
    links: dict[str, str] = {}
    for dist, package in API_PACKAGES.items():
        if dist in installed:
            continue
        spec = importlib.util.find_spec(package)
        locations = list(spec.submodule_search_locations or []) if spec else []
        if locations:
            links[package] = locations[0]
    key = hashlib.sha256(repr(sorted(links.items())).encode()).hexdigest()[:16]
    folder = state_dir / "pythonpath" / key
    if not folder.is_dir():
        staging = folder.with_name(f".{key}.{os.getpid()}")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        for package, target in links.items():
            (staging / package).symlink_to(target, target_is_directory=True)
        try:
            os.rename(staging, folder)
        except OSError:  # another run made it meanwhile
            shutil.rmtree(staging, ignore_errors=True)
    return folder
