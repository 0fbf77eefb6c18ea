"""Executors: what starts ``gitxp worker`` processes for a sweep, behind one small interface.

An executor only starts workers; the workers take the sweep's queued runs by claiming
their refs, and git carries inputs and results (DESIGN.md §7). ``submit`` starts work
for planned runs and returns handles, ``status`` tells how each handle stands in the
engine's own terms, ``cancel`` stops them. A new engine (Ray, Kubernetes …) is one
module here with a ``create(options)`` function, named in :data:`EXECUTORS`.

Executor modules are imported only when asked for, so ``gitxp`` without an engine's
package installed works, and asking for that engine says in one line what to install.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from gitxp.errors import ExecutorError
from gitxp.sweep.plan import PlannedRun, Sweep

# name → (module, the extra that installs its engine, the engine's Python packages)
EXECUTORS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "local": ("gitxp.sweep.executors.local", "", ()),
    "slurm": ("gitxp.sweep.executors.slurm", "slurm", ()),
    "dask": ("gitxp.sweep.executors.dask", "dask", ("distributed", "dask")),
}

STATES = ("pending", "running", "done", "failed", "cancelled", "unknown")


@dataclass(frozen=True)
class Handle:
    """One unit of work an executor started: a worker process, a Slurm task, a future."""

    executor: str
    id: str
    detail: str = ""


@dataclass(frozen=True)
class HandleStatus:
    """How a handle stands: one of :data:`STATES`, and the engine's own words for it."""

    handle: Handle
    state: str
    detail: str = ""

    @property
    def finished(self) -> bool:
        """Whether the handle will do nothing more."""
        return self.state in ("done", "failed", "cancelled")


class Executor(Protocol):
    """Starts workers for a sweep's planned runs, reports on them, stops them."""

    def submit(self, sweep: Sweep, planned: Sequence[PlannedRun]) -> list[Handle]:
        """Start work for ``planned`` (queued already); returns a handle per unit started."""
        ...

    def status(self, handles: Sequence[Handle]) -> list[HandleStatus]:
        """How each of ``handles`` stands, in their order."""
        ...

    def cancel(self, handles: Sequence[Handle]) -> None:
        """Stop ``handles``: running runs end INTERRUPTED, the rest stay QUEUED."""
        ...


def get_executor(name: str, options: Mapping[str, str]) -> Executor:
    """The executor ``name`` made with ``options``; one-line errors for what is missing."""
    if name not in EXECUTORS:
        raise ExecutorError(f"unknown executor {name!r}; choose one of {', '.join(EXECUTORS)}")
    module_name, extra, packages = EXECUTORS[name]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        missing = (err.name or "").split(".")[0]
        if err.name == module_name:
            raise ExecutorError(f"the {name} executor is not part of this gitxp version") from None
        if missing in packages or extra:
            raise ExecutorError(
                f"the {name} executor needs {missing or 'its engine'}: pip install 'gitxp[{extra}]'"
            ) from None
        raise
    executor: Executor = module.create(options)
    return executor


def option_int(options: Mapping[str, str], key: str, default: int) -> int:
    """An integer option; ExecutorError naming it when it is not one."""
    text = options.get(key)
    if text is None or text == "":
        return default
    try:
        return int(text)
    except ValueError:
        raise ExecutorError(f"executor option {key}={text!r} must be an integer") from None
