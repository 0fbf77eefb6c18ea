"""Logging from any Python process of a run: ``gitxp.log_scalar`` and friends.

A script started by ``gitxp run`` (and every subprocess it starts) finds its run through
the ``GITXP_SPOOL`` environment variable; an ``Experiment`` recording itself registers
its spool with :func:`activate`. Outside a run these functions warn once and record
nothing, so a script still works when started without gitxp.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from gitxp.store.spool import CONFIG_ENV, SPOOL_ENV, Spool

# Set by ``gitxp run --resume``: where the previous run's artifacts were extracted, and its id.
RESUME_DIR_ENV = "GITXP_RESUME_DIR"
RESUMED_FROM_ENV = "GITXP_RESUMED_FROM"

_state: dict[str, Spool | None] = {"active": None, "env": None}
_warned: set[str] = set()


def activate(spool: Spool | None) -> None:
    """Make ``spool`` the run this process logs to (None: back to the environment's)."""
    _state["active"] = spool


def current_spool() -> Spool | None:
    """The spool of the run this process belongs to, if any."""
    active = _state["active"]
    if active is not None:
        return active
    path = os.environ.get(SPOOL_ENV)
    if not path:
        return None
    env_spool = _state["env"]
    if env_spool is None or str(env_spool.path) != path:
        env_spool = _state["env"] = Spool(path)
    return env_spool


def _spool_or_warn(what: str) -> Spool | None:
    spool = current_spool()
    if spool is None and what not in _warned:
        _warned.add(what)
        print(
            f"gitxp: no run is active, {what} is not recorded; start the script with "
            "'gitxp run SCRIPT.py' or use gitxp.Experiment",
            file=sys.stderr,
        )
    return spool


def log_scalar(name: str, value: Any, step: int | None = None) -> int | None:
    """Record ``value`` of metric ``name`` at ``step`` (default: the last step + 1)."""
    spool = _spool_or_warn("log_scalar")
    return None if spool is None else spool.log_scalar(name, value, step)


def add_artifact(
    filename: str | os.PathLike[str],
    name: str | None = None,
    metadata: dict[str, Any] | None = None,
    content_type: str | None = None,
) -> str | None:
    """Store a copy of ``filename`` in the run as artifact ``name``."""
    spool = _spool_or_warn("add_artifact")
    if spool is None:
        return None
    return spool.add_artifact(filename, name, metadata, content_type)


def set_result(value: Any) -> None:
    """Set the run's result (may be called again; the last value wins)."""
    spool = _spool_or_warn("set_result")
    if spool is not None:
        spool.event("result", value=value)


def add_info(**values: Any) -> None:
    """Merge ``values`` into the run's free-form ``info`` record."""
    spool = _spool_or_warn("add_info")
    if spool is not None:
        spool.event("info", value=values)


def config() -> dict[str, Any]:
    """The ``with`` values the run was started with (``{}`` outside a run)."""
    raw = os.environ.get(CONFIG_ENV)
    return dict(json.loads(raw)) if raw else {}


def resumed_from() -> str | None:
    """The id of the run this run resumes (``gitxp run --resume``), or None."""
    return os.environ.get(RESUMED_FROM_ENV) or None


def previous_artifacts() -> dict[str, Path]:
    """The artifacts of the run this run resumes: name → path of a readable copy.

    Empty when the run is not a resumption (or the previous run stored no artifacts).
    """
    root = os.environ.get(RESUME_DIR_ENV)
    if not root or not os.path.isdir(root):
        return {}
    base = Path(root)
    return {
        path.relative_to(base).as_posix(): path
        for path in sorted(base.rglob("*"))
        if path.is_file()
    }


def resume_artifact(name: str) -> Path | None:
    """The path of artifact ``name`` of the run this run resumes, or None.

    A training loop loads its last checkpoint with it::

        checkpoint = gitxp.resume_artifact("model.pt")
        if checkpoint is not None:
            state = torch.load(checkpoint)
    """
    return previous_artifacts().get(name)
