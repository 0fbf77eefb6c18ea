"""The ``gitxp`` command line: a thin shell over functions tests and users can call.

The commands live in ``runs``, ``views``, ``history``, ``share``, ``sacred`` and ``sweeps``;
the group imports a command's module only when that command is asked for (``gitxp run``
loads none of the others), and each command imports what it calls inside its function,
so ``gitxp run`` never loads pandas.
"""

from __future__ import annotations

import errno
import importlib
import os
import sys
import warnings
from typing import TextIO

import click

from gitxp.errors import DISK_FULL_MESSAGE, DiskFullError, GitxpError, GitxpWarning

__all__ = ["COMMANDS", "cli", "main"]

# Command name -> (module of gitxp.cli, the click command's name in it).
COMMANDS = {
    "run": ("runs", "run"),
    "ls": ("runs", "ls"),
    "show": ("runs", "show"),
    "tag": ("runs", "tag"),
    "note": ("runs", "note"),
    "recover": ("runs", "recover"),
    "export": ("views", "export"),
    "plot": ("views", "plot"),
    "board": ("views", "board"),
    "reproduce": ("history", "reproduce"),
    "verify": ("history", "verify"),
    "diff": ("history", "diff_"),
    "checkout": ("history", "checkout"),
    "branch": ("history", "branch_"),
    "rm": ("history", "rm"),
    "gc": ("history", "gc"),
    "lineage": ("history", "lineage"),
    "bisect": ("history", "bisect"),
    "push": ("share", "push"),
    "fetch": ("share", "fetch"),
    "hooks": ("share", "hooks"),
    "bundle": ("share", "bundle"),
    "import": ("sacred", "import_"),
    "sweep": ("sweeps", "sweep"),
    "worker": ("sweeps", "worker"),
}


class LazyGroup(click.Group):
    """A group that imports the module of a command from :data:`COMMANDS` on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMANDS, *self.commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            module, name = COMMANDS[cmd_name]
            command = getattr(importlib.import_module(f"gitxp.cli.{module}"), name)
            self.add_command(command, cmd_name)
        return self.commands.get(cmd_name)


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"]},
    invoke_without_command=True,
)
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


cli.add_command(help_)


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
    import tempfile
    import traceback

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
