"""Commands that run many runs: sweep and worker."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from gitxp.cli.common import err, open_repo
from gitxp.cli.engines import engine_options

F = TypeVar("F", bound=Callable[..., Any])


def interpreter_options(func: F) -> F:
    """``--env current|venv`` and ``--python``: what runs the queued runs' scripts."""
    func = click.option(
        "--python", help="Interpreter for .py scripts (default: the one gitxp run would take)."
    )(func)
    return click.option(
        "--env",
        type=click.Choice(["current", "venv"]),
        default="current",
        show_default=True,
        help="current: that interpreter; venv: one built from each run's env lock.",
    )(func)


@click.command()
@click.option(
    "--remote", metavar="REMOTE", help="Take queued runs from REMOTE and push results there."
)
@click.option(
    "-j",
    "--jobs",
    default="1",
    show_default=True,
    metavar="N|auto",
    help="Worker processes side by side.",
)
@click.option("--sweep", "sweep_id", metavar="SWEEP", help="Only runs of this sweep.")
@click.option("--max-runs", type=int, metavar="N", help="Stop after N runs.")
@interpreter_options
def worker(
    remote: str | None,
    jobs: str,
    sweep_id: str | None,
    max_runs: int | None,
    env: str,
    python: str | None,
) -> None:
    """Take QUEUED runs one by one, run each from its snapshot, record (and push) it."""
    from gitxp.sweep.executors.local import jobs_option
    from gitxp.sweep.worker import work, write_summary

    summary = work(
        open_repo(),
        remote=remote,
        jobs=jobs_option(jobs),
        sweep_id=sweep_id,
        max_runs=max_runs,
        env=env,
        python=python,
        echo=err,
    )
    write_summary(summary)
    err(summary.text())
    sys.exit(1 if summary.failed or summary.not_pushed else 130 if summary.interrupted else 0)


@click.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.option("--trials", type=int, metavar="N", help="Draws of the random dimensions.")
@click.option("--seed", type=int, metavar="S", help="Seed of those draws (default 0).")
@click.option("--dry-run", is_flag=True, help="Print the planned runs; write nothing.")
@click.option("--rerun", is_flag=True, help="Run combinations that already have a COMPLETED run.")
@click.option(
    "-j", "--jobs", default="1", show_default=True, metavar="N|auto", help="Runs at a time."
)
@click.option(
    "--queue", "queue_only", is_flag=True, help="Only write the runs QUEUED, for 'gitxp worker'."
)
@click.option("--executor", default="local", show_default=True, help="local, slurm or dask.")
@click.option(
    "-X",
    "--executor-option",
    "executor_options",
    multiple=True,
    metavar="KEY=VALUE",
    help="An option of the executor (repeatable).",
)
@click.option(
    "--remote", metavar="REMOTE", help="A shared remote: queued runs go there, results come back."
)
@interpreter_options
@click.option("-n", "--name", help="A name for every run of the sweep.")
@click.option("-t", "--tag", "tags", multiple=True, help="A tag for every run (repeatable).")
@click.option(
    "--continue",
    "--resume",
    "continue_id",
    metavar="SWEEP",
    help="Run what SWEEP left: QUEUED, INTERRUPTED, DIED.",
)
@click.option(
    "--status",
    "status_id",
    metavar="SWEEP",
    help="Show SWEEP's runs, and the state of its Slurm tasks beside them.",
)
@engine_options
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def sweep(
    args: tuple[str, ...],
    trials: int | None,
    seed: int | None,
    dry_run: bool,
    rerun: bool,
    jobs: str,
    queue_only: bool,
    executor: str,
    executor_options: tuple[str, ...],
    remote: str | None,
    env: str,
    python: str | None,
    name: str | None,
    tags: tuple[str, ...],
    continue_id: str | None,
    status_id: str | None,
    engine_options: dict[str, str],
) -> None:
    """Run a grid or random sweep: gitxp sweep SCRIPT.py with lr=0.1,0.01 seed=range(3)"""
    from gitxp.errors import UsageError
    from gitxp.sweep.executors.local import jobs_option
    from gitxp.sweep.launch import (
        LaunchOptions,
        continue_sweep,
        describe,
        dry_run_text,
        launch,
        print_result,
    )
    from gitxp.sweep.prepare import SweepOptions, prepare

    jobs_option(jobs)  # a bad -j fails before anything is planned
    if status_id is not None:
        from gitxp.sweep.tasks import status_text, sweep_status

        click.echo(status_text(sweep_status(open_repo(), status_id, remote)))
        return
    pairs = dict(engine_options)
    for item in executor_options:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"-X {item!r}: write KEY=VALUE")
        pairs[key] = value
    options = LaunchOptions(
        jobs=jobs,
        executor=executor,
        executor_options=pairs,
        remote=remote,
        env=env,
        python=python,
        queue_only=queue_only,
    )
    repo = open_repo()
    requeued = None
    if continue_id is not None:
        if args:
            raise UsageError("--continue SWEEP takes no program: it runs the sweep's own")
        if remote is not None:  # what the workers left is on the shared remote
            from gitxp.share.sync import fetch

            fetch(repo, remote)
        planned_sweep, requeued = continue_sweep(repo, continue_id)
        err(f"gitxp: sweep {planned_sweep.id}: continuing with {len(planned_sweep.runs)} runs")
    else:
        planned_sweep = prepare(
            repo,
            list(args),
            SweepOptions(
                trials=trials, seed=seed, rerun=rerun, python=python, name=name, tags=list(tags)
            ),
        )
        if dry_run:
            click.echo(dry_run_text(planned_sweep))
            return
        err(describe(planned_sweep))
        if not planned_sweep.runs:
            err("gitxp: nothing to run")
            return
    result = launch(repo, planned_sweep, options, echo=err, requeued=requeued)
    if not queue_only:
        print_result(result, click.echo)
        sys.exit(result.exit_code())
