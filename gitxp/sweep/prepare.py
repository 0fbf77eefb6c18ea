"""A sweep ready to queue: one snapshot, each run's input identity, what to skip.

The working tree is snapshot once, the env lock and host facts taken once; every planned
run gets the input identity the recorder will write into its run.json, and a run whose
identity already has a COMPLETED run is skipped unless ``rerun``.
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from gitxp.configuration.withargs import split_with
from gitxp.errors import ConfigError
from gitxp.git.repo import GitRepo
from gitxp.git.snapshot import Snapshot, take_snapshot
from gitxp.machine.lock import env_lock
from gitxp.query.cache import run_table
from gitxp.store import record
from gitxp.store.ids import new_run_id
from gitxp.supervise.runner import RunOptions, plan, run_spec
from gitxp.sweep.plan import PlannedRun, Sweep, split_sweep_args

SWEEP_PREFIX = "sw-"


@dataclass
class SweepOptions:
    """The options of ``gitxp sweep`` that shape the plan."""

    trials: int | None = None
    seed: int | None = None
    rerun: bool = False
    python: str | None = None
    name: str | None = None
    tags: list[str] = field(default_factory=list)


def new_sweep_id() -> str:
    """A sweep id: ``sw-`` and a ULID (sortable by time, unique without coordination)."""
    return SWEEP_PREFIX + new_run_id()


def completed_inputs(repo: GitRepo) -> dict[str, str]:
    """Input identity → the newest COMPLETED run with it."""
    table = run_table(repo)
    status, inputs = table.columns.get("status", []), table.columns.get("inputs", [])
    out: dict[str, str] = {}
    for i in reversed(range(len(table))):  # oldest first, so the newest wins
        if status[i] == "COMPLETED" and isinstance(inputs[i], str):
            out[inputs[i]] = table.refs[i].rsplit("/", 1)[-1]
    return out


def source_commit(repo: GitRepo, snap: Snapshot, sweep_id: str) -> str:
    """A commit holding exactly the snapshot's sources: the base commit when clean."""
    if snap.base and not snap.dirty and repo.commit_tree(snap.base) == snap.tree:
        return snap.base
    message = f"Sources of gitxp sweep {sweep_id}\n\nGitxp-Sweep: {sweep_id}\n"
    return repo.write_commit(snap.tree, [snap.base] if snap.base else [], message)


def check_experiment(command: list[str], here: Path, python: str) -> None:
    """For an Experiment script, check the sweep's keys before anything is queued.

    ``SCRIPT.py … print_config with …`` runs the script's config scopes only (nothing is
    recorded); an unknown key or named config makes it exit 2 with one ``gitxp: error:``
    line, which becomes this sweep's error. Other scripts are not checked.
    """
    script = here / command[0]
    try:
        is_experiment = script.suffix == ".py" and "Experiment(" in script.read_text()
    except (OSError, UnicodeDecodeError):
        return
    if not is_experiment:
        return
    before, tokens = split_with(command)
    check = [python, *before, "print_config", "with", *tokens]
    try:
        proc = subprocess.run(
            check, cwd=here, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL
        )
    except (OSError, subprocess.TimeoutExpired):
        return
    errors = [line for line in proc.stderr.splitlines() if line.startswith("gitxp: error: ")]
    if proc.returncode == 2 and errors:
        raise ConfigError(f"{command[0]}: {errors[-1].removeprefix('gitxp: error: ')}")


def prepare(repo: GitRepo, args: list[str], options: SweepOptions, cwd: str | None = None) -> Sweep:
    """Plan the sweep of ``args`` (``SCRIPT.py [ARGS] with …`` or ``CMD … with …``)."""
    here = Path(cwd or os.getcwd()).resolve()
    program, combos = split_sweep_args(args, here, options.trials, options.seed)
    sweep_id = new_sweep_id()
    snap = take_snapshot(repo)
    done = {} if options.rerun else completed_inputs(repo)
    run_options = RunOptions(cwd=str(here), python=options.python)
    planned: list[PlannedRun] = []
    skipped: list[str] = []
    seen: set[str] = set()
    lock = ""
    started = time.time()
    for index, combo in enumerate(combos):
        command = [*program, "with", *combo.tokens]
        launch = plan(command, run_options)
        lock = lock or env_lock(launch.python, repo.state_dir / "cache", repo.workdir)
        spec = run_spec(launch, run_options, lock)
        inputs = record.input_identity(snap.tree, launch.config, lock, spec.command, launch.named)
        if inputs in done:
            skipped.append(done[inputs])
            continue
        if inputs in seen:  # two draws of the same values: one run
            continue
        seen.add(inputs)
        planned.append(
            PlannedRun(
                new_run_id(started + index / 1000),  # ids sort in the plan's order
                sweep_id,
                dict(launch.config),
                list(launch.named),
                command,
                inputs,
                index,
            )
        )
    if planned:
        check_experiment(planned[0].command, here, plan(planned[0].command, run_options).python)
    record_cwd = os.path.relpath(here, repo.workdir)
    return Sweep(
        sweep_id,
        source_commit(repo, snap, sweep_id),
        tuple(planned),
        tuple(skipped),
        source=snap,
        cwd=str(here),
        record_cwd="." if record_cwd.startswith("..") else record_cwd,
        python=options.python,
        name=options.name,
        tags=tuple(options.tags),
    )
