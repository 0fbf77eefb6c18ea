"""What the command modules share: opening the repository, prompts, common options."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar

import click
import click.shell_completion

from gitxp.git.repo import GitRepo

F = TypeVar("F", bound=Callable[..., Any])


def open_repo(seal: bool = True, read_only: bool = False) -> GitRepo:
    """The repository around the current directory, with dead runs sealed first.

    ``read_only`` commands also open a bare repository (a CI mirror: nothing to seal).
    """
    repo = GitRepo(os.getcwd(), bare_ok=read_only)
    if seal and not repo.bare:
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


def complete_runs(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[click.shell_completion.CompletionItem]:
    """Shell completion of a RUN: the run ids starting with what was typed, newest first."""
    from click.shell_completion import CompletionItem

    from gitxp.errors import GitxpError
    from gitxp.store.runs import list_runs

    try:
        runs = list_runs(GitRepo(os.getcwd(), bare_ok=True))
    except GitxpError:
        return []
    typed = incomplete.upper()
    return [CompletionItem(r.id) for r in runs if r.id.startswith(typed)][:200]


def complete_remotes_and_runs(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[click.shell_completion.CompletionItem]:
    """Shell completion of ``[REMOTE] [RUN]…``: remote names, then run ids."""
    from click.shell_completion import CompletionItem

    from gitxp.errors import GitxpError

    try:
        names = GitRepo(os.getcwd(), bare_ok=True).remote_names()
    except GitxpError:
        names = []
    remotes = [CompletionItem(n) for n in names if n.startswith(incomplete)]
    return remotes + complete_runs(ctx, param, incomplete)


def err(text: str) -> None:
    click.echo(text, err=True)


def confirm(question: str) -> bool:
    try:
        return click.confirm(question, default=False, err=True)
    except click.exceptions.Abort:  # no answer (stdin closed): no
        click.echo("", err=True)
        return False
