"""The options of ``gitxp sweep`` that configure a cluster executor (Slurm, Dask).

Each becomes an executor option of the same name (``--cpus-per-task 4`` is
``cpus-per-task=4``); ``-X KEY=VALUE`` sets the same options, and git config
``gitxp.slurm.<name>`` / ``gitxp.dask.scheduler`` gives their defaults.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import click

# (flag, metavar, help); the executor option is the flag without its dashes.
ENGINE_FLAGS = (
    ("--scheduler", "tcp://HOST:PORT", "dask: the Dask scheduler to submit to."),
    ("--partition", "NAME", "slurm: sbatch --partition."),
    ("--time", "LIMIT", "slurm: sbatch --time, each task's time limit (1:00:00)."),
    ("--gres", "LIST", "slurm: sbatch --gres (gpu:1)."),
    ("--cpus-per-task", "N", "slurm: sbatch --cpus-per-task."),
    ("--mem", "SIZE", "slurm: sbatch --mem (16G)."),
    ("--sbatch-file", "FILE", "slurm: extra #SBATCH lines for the job script."),
)


def engine_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add :data:`ENGINE_FLAGS` to a command; it gets them as ``engine_options``, a dict of
    the ones given."""
    names = [flag[2:] for flag, _, _ in ENGINE_FLAGS]

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        given = {}
        for name in names:
            value = kwargs.pop(name.replace("-", "_"))
            if value is not None:
                given[name] = value
        return func(*args, engine_options=given, **kwargs)

    for flag, metavar, text in reversed(ENGINE_FLAGS):
        wrapper = click.option(flag, metavar=metavar, help=text)(wrapper)
    return wrapper
