"""The ``gitxp`` command line: a thin shell over functions tests and users can call."""

from __future__ import annotations

import json
import os
import sys
import tempfile
import traceback
from collections.abc import Callable
from typing import Any, TypeVar

import click

from gitxp.errors import GitxpError
from gitxp.repo import GitRepo

F = TypeVar("F", bound=Callable[..., Any])


def open_repo(seal: bool = True) -> GitRepo:
    """The repository around the current directory, with dead runs sealed first."""
    repo = GitRepo(os.getcwd())
    if seal:
        from gitxp.recorder import seal_dead_runs

        for run_id in seal_dead_runs(repo):
            click.echo(f"gitxp: sealed run {run_id} whose process had died (status DIED)", err=True)
    return repo


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="gitxp")
def cli() -> None:
    """Git-native experiment tracking: every run is a commit on refs/gitxp/runs/<id>."""


@cli.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.option("-n", "--name", help="A name for this run.")
@click.option("-c", "--comment", help="A comment stored with the run.")
@click.option("-t", "--tag", "tags", multiple=True, help="A tag (repeatable).")
@click.option(
    "-C",
    "--capture",
    type=click.Choice(["no", "sys", "fd"]),
    default="fd",
    show_default=True,
    help="How to capture stdout/stderr.",
)
@click.option(
    "-b",
    "--beat-interval",
    type=float,
    default=10.0,
    show_default=True,
    help="Seconds between heartbeat commits (<= 0: none).",
)
@click.option("--python", help="Interpreter for a .py script (default: gitxp's own).")
@click.option("-i", "--id", "run_id", help="Use this run id instead of a new one.")
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def run(
    args: tuple[str, ...],
    name: str | None,
    comment: str | None,
    tags: tuple[str, ...],
    capture: str,
    beat_interval: float,
    python: str | None,
    run_id: str | None,
) -> None:
    """Record a run: gitxp run SCRIPT.py [ARGS] [with K=V …]  or  gitxp run -- CMD …"""
    from gitxp.runner import RunOptions
    from gitxp.runner import run as run_

    options = RunOptions(
        name=name,
        comment=comment,
        tags=list(tags),
        capture=capture,
        beat_interval=beat_interval,
        python=python,
        run_id=run_id,
    )
    code = run_(open_repo(), list(args), options)
    sys.exit(code)


@cli.command("ls")
@click.option("--status", help="Only runs with this status (COMPLETED, FAILED, …).")
@click.option("--limit", type=int, help="At most this many runs.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON, one object per run.")
def ls(status: str | None, limit: int | None, as_json: bool) -> None:
    """List runs, newest first."""
    from gitxp.listing import load_records, ls_rows, run_json, table

    records = load_records(open_repo(), status=status, limit=limit)
    if as_json:
        click.echo(json.dumps([run_json(r) for r in records], indent=2))
        return
    if not records:
        click.echo("no runs yet: record one with 'gitxp run SCRIPT.py'", err=True)
        return
    click.echo(table(*ls_rows(records)))


@cli.command()
@click.argument("run_spec", metavar="RUN")
@click.option("--json", "as_json", is_flag=True, help="Print everything as JSON.")
@click.option("--env", "full_env", is_flag=True, help="List every package of the env lock.")
@click.option(
    "--output",
    "output_lines",
    type=int,
    default=20,
    show_default=True,
    help="Lines of captured output to show (-1: all).",
)
def show(run_spec: str, as_json: bool, full_env: bool, output_lines: int) -> None:
    """Show everything recorded about RUN (id prefix, ref, latest, latest~N)."""
    from gitxp.listing import run_json, show_text
    from gitxp.store import RunRecord, resolve

    repo = open_repo()
    rec = RunRecord.load(repo, resolve(repo, run_spec))
    if as_json:
        click.echo(json.dumps(run_json(rec, full=True), indent=2))
    else:
        click.echo(show_text(rec, output_lines=output_lines, full_env=full_env))


@cli.command()
def recover() -> None:
    """Seal runs whose recording process died (status DIED), keeping all they logged."""
    from gitxp.recorder import seal_dead_runs

    sealed = seal_dead_runs(open_repo(seal=False))
    for run_id in sealed:
        click.echo(f"sealed {run_id} (DIED)")
    if not sealed:
        click.echo("nothing to recover")


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI; errors become one line and an exit code."""
    try:
        cli.main(args=argv, prog_name="gitxp", standalone_mode=False)
    except GitxpError as err:
        click.echo(f"gitxp: error: {err}", err=True)
        sys.exit(err.exit_code)
    except click.exceptions.Abort:
        click.echo("gitxp: interrupted", err=True)
        sys.exit(130)
    except click.ClickException as err:
        err.show()
        sys.exit(err.exit_code)
    except KeyboardInterrupt:
        click.echo("gitxp: interrupted", err=True)
        sys.exit(130)
    except SystemExit:
        raise
    except Exception as err:  # a bug in gitxp: keep the details, show one line
        fd, path = tempfile.mkstemp(prefix="gitxp-crash-", suffix=".log")
        with os.fdopen(fd, "w") as handle:
            traceback.print_exc(file=handle)
        click.echo(
            f"gitxp: internal error: {type(err).__name__}: {err} "
            f"(details in {path}; please report it)",
            err=True,
        )
        sys.exit(3)
