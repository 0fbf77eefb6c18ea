"""``gitxp.sweep(...)``: a sweep from Python, its runs as a pandas frame when it is done.

    frame = gitxp.sweep("train.py", lr=[0.1, 0.01], seed=range(3), jobs=2)
    frame = gitxp.sweep("train.py with lr=0.1,0.01 'seed=range(3)'")

Keyword values: a list, tuple or range is a grid; a string such as
``"loguniform(1e-4,1e-1)"`` a sweep function; anything else one value for every run.
Dotted keys go in ``config={"model.depth": [2, 4]}``.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from gitxp.git.repo import GitRepo
from gitxp.query.frames import runs
from gitxp.sweep.launch import LaunchOptions, launch, stderr
from gitxp.sweep.plan import FUNCTIONS, render
from gitxp.sweep.prepare import SweepOptions, prepare

if TYPE_CHECKING:
    import pandas as pd


def grid_words(values: Mapping[str, Any]) -> list[str]:
    """``with`` words for keyword values (see the module docstring)."""
    words = []
    for key, value in values.items():
        if isinstance(value, list | tuple | range):
            words.append(f"{key}=" + ",".join(render(v) for v in value))
        elif isinstance(value, str) and value.split("(", 1)[0] in FUNCTIONS and value.endswith(")"):
            words.append(f"{key}={value}")
        else:
            words.append(f"{key}={render(value)}")
    return words


def sweep(
    program: str | Sequence[str],
    *,
    repo: str | os.PathLike[str] = ".",
    jobs: int | str = 1,
    trials: int | None = None,
    seed: int | None = None,
    rerun: bool = False,
    executor: str = "local",
    executor_options: Mapping[str, str] | None = None,
    remote: str | None = None,
    env: str = "current",
    python: str | None = None,
    config: Mapping[str, Any] | None = None,
    **grid: Any,
) -> pd.DataFrame:
    """Run a sweep to its end; one row per run of it (and per COMPLETED run it skipped)."""
    args = shlex.split(program) if isinstance(program, str) else [str(a) for a in program]
    words = grid_words({**(config or {}), **grid})
    if words:
        args = [*args, *([] if "with" in args else ["with"]), *words]
    git_repo = GitRepo(repo)
    planned = prepare(
        git_repo,
        args,
        SweepOptions(trials=trials, seed=seed, rerun=rerun, python=python),
        cwd=str(repo),
    )
    options = LaunchOptions(
        jobs=str(jobs),
        executor=executor,
        executor_options=dict(executor_options or {}),
        remote=remote,
        env=env,
        python=python,
    )
    if planned.runs:
        launch(git_repo, planned, options, echo=stderr)
    wanted = {r.run_id for r in planned.runs} | set(planned.skipped)
    frame = runs(git_repo)
    return frame[frame["id"].isin(wanted)].reset_index(drop=True)
