"""What the command modules share: opening the repository, prompts, common options."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar

import click

from gitxp.git.repo import GitRepo

F = TypeVar("F", bound=Callable[..., Any])


def open_repo(seal: bool = True) -> GitRepo:
    """The repository around the current directory, with dead runs sealed first."""
    repo = GitRepo(os.getcwd())
    if seal:
        from gitxp.store.sealing import seal_dead_runs

        for run in seal_dead_runs(repo):
            if run.status is None:
                click.echo(
                    f"gitxp: warning: the disk is full: run {run.run_id} has ended but is "
                    "recorded only once there is space",
                    err=True,
                )
            else:
                click.echo(
                    f"gitxp: sealed run {run.run_id} whose process had ended (status {run.status})",
                    err=True,
                )
    return repo


_SELECT_OPTIONS = [
    click.option("-w", "--where", metavar="EXPR", help="A pandas query: 'config.lr > 0.01'."),
    click.option("--experiment", help="Only runs of this experiment."),
    click.option("--status", help="Only runs with this status."),
]


def select_options(func: F) -> F:
    for option in reversed(_SELECT_OPTIONS):
        func = option(func)
    return func


def err(text: str) -> None:
    click.echo(text, err=True)


def confirm(question: str) -> bool:
    try:
        return click.confirm(question, default=False, err=True)
    except click.exceptions.Abort:  # no answer (stdin closed): no
        click.echo("", err=True)
        return False
