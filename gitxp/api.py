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


def use_artifact(run: str, path: str) -> Path:
    """Artifact ``path`` of another ``run`` as an input of this one: a read-only file.

    The use is recorded (``run.json`` ``uses``, and the producer's commit becomes a parent
    of this run's record commit), so ``gitxp lineage`` can follow it. Outside a run the
    file is still returned.
    """
    from gitxp.git.repo import GitRepo
    from gitxp.store.uses import take_artifact

    use, target = take_artifact(GitRepo(os.getcwd()), run, path)
    spool = current_spool()
    if spool is not None:
        spool.event("use", **use)
    return target


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


def config(defaults: Any = None) -> dict[str, Any]:
    """The run's config: ``defaults`` with the ``with`` values merged over them.

    ``defaults`` is the script's own parameters: a dict (``{"alpha": 1e-4, "epochs":
    10}``), an ``argparse.Namespace`` (``gitxp.config(parser.parse_args())``), a Hydra /
    OmegaConf ``DictConfig``, or any mapping (``click.get_current_context().params``).
    With defaults given, the merged result is recorded as the run's config, so a query
    for ``config.alpha`` finds every run, whether or not ``with`` set it; a ``with`` key
    the defaults lack is kept, with a warning. Without defaults: the ``with`` values
    (``{}`` outside a run).
    """
    raw = os.environ.get(CONFIG_ENV)
    given = dict(json.loads(raw)) if raw else {}
    if defaults is None:
        return given
    from gitxp.configuration.dicts import nearest_key, normalize_value, recursive_update

    base = normalize_value(storable(plain_parameters(defaults)), "config")
    for key in given:
        if key not in base:
            guess = nearest_key(key, base)
            hint = f" (did you mean '{guess}'?)" if guess else ""
            print(
                f"gitxp: with {key}=…: the script's parameters have no '{key}'{hint}; "
                "recorded anyway",
                file=sys.stderr,
            )
    merged = recursive_update(base, given)
    record_config(merged)
    return merged


def plain_parameters(values: Any) -> dict[str, Any]:
    """``values`` (a mapping, an argparse Namespace, an OmegaConf config) as a plain dict."""
    if type(values).__name__ in ("DictConfig", "ListConfig"):
        from omegaconf import OmegaConf  # Hydra's config type: only when given one

        container = OmegaConf.to_container(values, resolve=True)
        if not isinstance(container, dict):
            raise TypeError("gitxp.config() takes a mapping of parameters, not a list")
        return {str(k): v for k, v in container.items()}
    if hasattr(values, "keys") and hasattr(values, "__getitem__"):
        keys = list(values.keys())  # a mapping-like object's keys (click's params …)
        return {str(k): values[k] for k in keys}
    if hasattr(values, "__dict__") and not isinstance(values, type):  # argparse.Namespace
        return {k: v for k, v in vars(values).items() if not k.startswith("_")}
    raise TypeError(
        f"gitxp.config() takes a dict, an argparse Namespace or a DictConfig, "
        f"not {type(values).__name__}"
    )


def storable(value: Any) -> Any:
    """``value`` with what a config cannot hold (paths, open files, enums…) as text."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, dict):
        return {str(k): storable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [storable(v) for v in value]
    if hasattr(value, "tolist") and hasattr(value, "dtype"):  # numpy arrays and scalars
        return storable(value.tolist())
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return getattr(value, "name", None) if hasattr(value, "read") else str(value)


def record_config(values: dict[str, Any]) -> None:
    """Record ``values`` as the run's config (the last call wins; nothing outside a run)."""
    spool = current_spool()
    if spool is not None:
        spool.event("config", config=values)


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
