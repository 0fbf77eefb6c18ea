"""The ``gitxp`` command line: a thin shell over functions tests and users can call.

The commands live in ``cli_runs``, ``cli_views``, ``cli_history`` and ``cli_share``; each
imports what it calls inside the command function, so ``gitxp run`` never loads pandas.
"""

from __future__ import annotations

import errno
import os
import sys
import tempfile
import traceback
import warnings
from typing import TextIO

import click

from gitxp.cli.common import open_repo
from gitxp.cli.history import (
    bisect,
    branch_,
    checkout,
    diff_,
    gc,
    lineage,
    reproduce,
    rm,
    verify,
)
from gitxp.cli.runs import ls, note, recover, run, show, tag
from gitxp.cli.sacred import import_
from gitxp.cli.share import bundle, fetch, hooks, push
from gitxp.cli.sweeps import sweep, worker
from gitxp.cli.views import board, export, plot
from gitxp.errors import DISK_FULL_MESSAGE, DiskFullError, GitxpError, GitxpWarning

__all__ = ["cli", "main", "open_repo"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]}, invoke_without_command=True)
@click.version_option(package_name="gitxp")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Git-native experiment tracking: every run is a commit on refs/gitxp/runs/<id>.

    'gitxp help COMMAND' (or 'gitxp COMMAND -h') explains a command; shell completion:
    docs/guide.md.
    """
    if ctx.invoked_subcommand is None:
        click.echo(ctx.get_help())


@click.command("help")
@click.argument("words", nargs=-1, metavar="[COMMAND [SUBCOMMAND]]")
@click.pass_context
def help_(ctx: click.Context, words: tuple[str, ...]) -> None:
    """Show the help of COMMAND (of gitxp without one)."""
    root = ctx.find_root()
    here = click.Context(
        root.command, info_name="gitxp", parent=None, **root.command.context_settings
    )
    for word in words:
        group = here.command
        sub = group.get_command(here, word) if isinstance(group, click.Group) else None
        if sub is None:
            raise click.UsageError(
                f"no command {' '.join([*words[: words.index(word)], word])!r}", root
            )
        here = click.Context(sub, info_name=word, parent=here)
    click.echo(here.command.get_help(here))


for _command in (
    run,
    ls,
    show,
    tag,
    note,
    recover,
    export,
    plot,
    board,
    reproduce,
    verify,
    diff_,
    checkout,
    branch_,
    rm,
    gc,
    push,
    fetch,
    hooks,
    bundle,
    lineage,
    bisect,
    help_,
    import_,
    sweep,
    worker,
):
    cli.add_command(_command)


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    """gitxp's own warnings as one ``gitxp: warning:`` line; others as Python shows them."""
    if issubclass(category, GitxpWarning):
        click.echo(f"gitxp: warning: {message}", err=True)
    else:
        click.echo(warnings.formatwarning(message, category, filename, lineno, line), err=True)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI; errors become one line and an exit code."""
    try:
        with warnings.catch_warnings():  # restores showwarning afterwards
            warnings.showwarning = _show_warning
            cli.main(args=argv, prog_name="gitxp", standalone_mode=False)
    except GitxpError as err:
        click.echo(f"gitxp: error: {err}", err=True)
        sys.exit(err.exit_code)
    except click.exceptions.Abort:
        click.echo("gitxp: interrupted", err=True)
        sys.exit(130)
    except click.UsageError as err:
        where = err.ctx.command_path if err.ctx is not None else "gitxp"
        click.echo(f"gitxp: error: {err.format_message()} (see '{where} --help')", err=True)
        sys.exit(err.exit_code)
    except click.ClickException as err:
        click.echo(f"gitxp: error: {err.format_message()}", err=True)
        sys.exit(err.exit_code)
    except KeyboardInterrupt:
        click.echo("gitxp: interrupted", err=True)
        sys.exit(130)
    except SystemExit:
        raise
    except OSError as err:
        if err.errno not in (errno.ENOSPC, errno.EDQUOT):
            _crash(err)
        click.echo(f"gitxp: error: {DISK_FULL_MESSAGE} ({err.strerror})", err=True)
        sys.exit(DiskFullError.exit_code)
    except Exception as err:  # a bug in gitxp: keep the details, show one line
        _crash(err)


def _crash(err: Exception) -> None:
    """An internal error: the traceback in a crash log, one line on stderr, exit 3."""
    try:
        fd, path = tempfile.mkstemp(prefix="gitxp-crash-", suffix=".log")
        with os.fdopen(fd, "w") as handle:
            traceback.print_exc(file=handle)
    except OSError:
        path = "no crash log: it could not be written"
    click.echo(
        f"gitxp: internal error: {type(err).__name__}: {err} (details in {path}; please report it)",
        err=True,
    )
    sys.exit(3)
