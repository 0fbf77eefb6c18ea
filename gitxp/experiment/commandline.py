"""The command line of an experiment script: ``python train.py [COMMAND] [with UPDATE…] [options]``.

Sacred's grammar and flags, parsed without docopt::

    prog [(with UPDATE...)] [options]
    prog help [COMMAND]
    prog (-h | --help)
    prog COMMAND [(with UPDATE...)] [options]

Options may stand anywhere, also after the updates. Long options are accepted with ``-``
or ``_`` (``--beat-interval`` and ``--beat_interval``), with their value as the next word
or after ``=``; short flags can be stacked (``-qu``). Sacred's observer flags (``-m``,
``-F``, ``-s``, ``-t``, ``-S``) add Sacred's observers (:data:`OBSERVER_OPTIONS`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from gitxp.configuration.dicts import nearest_key
from gitxp.errors import UsageError, UsageValueError

__all__ = [
    "OBSERVER_OPTIONS",
    "OPTIONS",
    "CLIOption",
    "Option",
    "ParsedArgs",
    "RunOptions",
    "cli_option",
    "format_usage",
    "parse_argv",
]


@dataclass(frozen=True)
class Option:
    """One command-line option."""

    short: str
    long: str
    attr: str
    arg: str | None
    help: str
    apply: Callable[[Any, Any], None] | None = None  # a custom option: ``apply(value, run)``


class CLIOption:
    """A custom command-line option made by :func:`cli_option` (Sacred's ``CLIOption``).

    Pass it to ``Experiment(additional_cli_options=[...])``. When the option is given, its
    function is called as ``function(value, run)`` after the Run is made and before it
    starts; ``value`` is True for a flag, else the text given.
    """

    def __init__(
        self, apply_function: Callable[[Any, Any], None], short: str, long: str, is_flag: bool
    ) -> None:
        if not re.match(r"-\w$", short):
            raise UsageValueError(
                f"Short flag malformed. One correct short flag would be: `-j` (got {short!r})"
            )
        if not re.match(r"--[\w-]+\w$", long):
            raise UsageValueError(
                "Long flag malformed. One correct long flag would be: `--my-pretty-flag` "
                f"(got {long!r})"
            )
        self.apply_function = apply_function
        self.short_flag = short
        self.long_flag = long
        self.is_flag = is_flag
        self.__doc__ = apply_function.__doc__
        self.__name__ = getattr(apply_function, "__name__", long)

    def __call__(self, args: Any, run: Any) -> None:
        self.apply_function(args, run)

    def get_flag(self) -> str:
        """The long flag (Sacred's name)."""
        return self.long_flag

    def get_short_flag(self) -> str:
        """The short flag (Sacred's name)."""
        return self.short_flag

    def as_option(self) -> Option:
        """The option as the parser knows it."""
        doc = (self.__doc__ or "").strip().splitlines()
        arg = None if self.is_flag else self.long_flag.lstrip("-").upper().replace("-", "_")
        return Option(self.short_flag, self.long_flag, "", arg, doc[0] if doc else "", self)


def cli_option(short: str, long: str, is_flag: bool = False) -> Callable[..., CLIOption]:
    """Decorator: ``@cli_option("-o", "--own")`` on ``def f(args, run)`` makes a custom option."""

    def decorate(function: Callable[[Any, Any], None]) -> CLIOption:
        return CLIOption(function, short, long, is_flag)

    return decorate


OPTIONS: tuple[Option, ...] = (
    Option(
        "-b",
        "--beat-interval",
        "beat_interval",
        "SECONDS",
        "Seconds between heartbeats that save the run (<= 0: none) [default: 10].",
    ),
    Option(
        "-C", "--capture", "capture", "MODE", "Capture stdout/stderr: fd, sys or no [default: fd]."
    ),
    Option("-c", "--comment", "comment", "COMMENT", "A comment stored with the run."),
    Option(
        "-d",
        "--debug",
        "debug",
        None,
        "Do not filter gitxp frames from tracebacks; let errors propagate.",
    ),
    Option("-D", "--pdb", "pdb", None, "Start the post-mortem debugger when main fails."),
    Option(
        "-e",
        "--enforce-clean",
        "enforce_clean",
        None,
        "Refuse to run if the working tree has uncommitted changes.",
    ),
    Option("-f", "--force", "force", None, "Accept unknown config keys (no checks)."),
    Option("-h", "--help", "help", None, "Print this help and exit."),
    Option("-i", "--id", "id", "ID", "Use this run id (26 characters, as gitxp ls shows)."),
    Option(
        "-l",
        "--loglevel",
        "loglevel",
        "LEVEL",
        "Log level: DEBUG, INFO, WARNING, ERROR, CRITICAL or a number.",
    ),
    Option("-n", "--name", "name", "NAME", "A name for this run."),
    Option("-p", "--print-config", "print_config", None, "Print the config before running."),
    Option("-P", "--priority", "priority", "PRIORITY", "Priority of a queued run (a number)."),
    Option(
        "-q",
        "--queue",
        "queue",
        None,
        "Record the run as QUEUED (snapshot and config) without running it.",
    ),
    Option("-u", "--unobserved", "unobserved", None, "Run without recording anything."),
)

# Sacred's observer flags: each adds Sacred's own observer to the run (Sacred must be
# installed), which then gets Sacred's events while gitxp records the run in git.
_SACRED_FLAGS = (
    ("-m", "--mongo_db", "sacred.observers.mongo", "mongo_db_option"),
    ("-F", "--file_storage", "sacred.observers.file_storage", "file_storage_option"),
    ("-s", "--sql", "sacred.observers.sql", "sql_option"),
    ("-t", "--tiny_db", "sacred.observers.tinydb_hashfs.tinydb_hashfs", "tiny_db_option"),
    ("-S", "--s3", "sacred.observers.s3_observer", "s3_option"),
)


def _sacred_flag(long: str, module: str, name: str) -> Callable[[Any, Any], None]:
    def apply(value: Any, run: Any) -> None:
        import importlib

        try:
            getattr(importlib.import_module(module), name).apply_function(value, run)
        except ImportError as err:
            raise UsageError(
                f"{long} adds Sacred's observer, which needs a package that is not "
                f"installed ({err}); install it or drop the flag: the run is stored in this "
                "git repository under refs/gitxp/runs/ either way (see 'gitxp ls')"
            ) from None

    return apply


OBSERVER_OPTIONS: tuple[Option, ...] = tuple(
    Option(
        short, long, "", "ARG", "Add Sacred's observer (needs Sacred).", _sacred_flag(long, m, n)
    )
    for short, long, m, n in _SACRED_FLAGS
)

_BY_SHORT = {opt.short: opt for opt in OPTIONS}
_BY_LONG = {opt.long: opt for opt in OPTIONS}


def _canonical_long(text: str) -> str:
    return "--" + text.lstrip("-").replace("_", "-").lower()


@dataclass
class RunOptions:
    """The options of one run, from the command line or ``ex.run(options=…)``."""

    beat_interval: float = 10.0
    capture: str | None = None
    comment: str | None = None
    debug: bool = False
    pdb: bool = False
    enforce_clean: bool = False
    force: bool = False
    help: bool = False
    id: str | None = None
    loglevel: int | None = None
    name: str | None = None
    print_config: bool = False
    priority: float | None = None
    queue: bool = False
    unobserved: bool = False
    raw: dict[str, Any] = field(default_factory=dict)

    def set(self, option: Option, value: Any) -> None:
        """Set ``option`` from a command-line string or a Python value."""
        self.raw[option.long] = value
        if not option.attr:  # a custom option: applied to the run, see CLIOption
            return
        if option.arg is None:
            setattr(self, option.attr, bool(value))
        elif value is None:
            return
        elif option.attr == "beat_interval":
            self.beat_interval = _number(option, value)
        elif option.attr == "priority":
            self.priority = _number(option, value)
        elif option.attr == "loglevel":
            self.loglevel = parse_loglevel(value)
        elif option.attr == "capture":
            if value not in ("fd", "sys", "no"):
                raise UsageError(f"--capture {value!r}: use fd, sys or no")
            self.capture = value
        else:
            setattr(self, option.attr, str(value))

    @classmethod
    def from_mapping(
        cls, options: Mapping[str, Any] | None, extra: Sequence[Option] = ()
    ) -> RunOptions:
        """Options given as a dict: ``{"--name": "x", "--unobserved": True}`` (Sacred's keys;
        ``name``, ``beat_interval`` and short forms like ``-u`` work too)."""
        result = cls()
        for key, value in (options or {}).items():
            if key in ("COMMAND", "UPDATE", "help", "with"):
                continue
            if value in (None, False) and any(o.long == key for o in extra):
                continue
            result.set(_lookup(str(key), extra), value)
        return result

    def custom(self, extra: Sequence[Option]) -> list[tuple[Option, Any]]:
        """The custom options that were given, with their values."""
        return [(o, self.raw[o.long]) for o in extra if self.raw.get(o.long) not in (None, False)]


def _number(option: Option, value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise UsageError(f"{option.long} {value!r}: expected a number") from None


_LEVELS = {
    "CRITICAL": 50,
    "FATAL": 50,
    "ERROR": 40,
    "WARN": 30,
    "WARNING": 30,
    "INFO": 20,
    "DEBUG": 10,
    "NOTSET": 0,
}


def parse_loglevel(value: Any) -> int:
    """A log level from a name (``debug``, ``INFO``) or a number."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = str(value).strip()
    if text.lstrip("-").isdigit():
        return int(text)
    if text.upper() in _LEVELS:
        return _LEVELS[text.upper()]
    raise UsageError(f"--loglevel {text!r}: use DEBUG, INFO, WARNING, ERROR, CRITICAL or a number")


def _lookup(key: str, extra: Sequence[Option] = ()) -> Option:
    for own in extra:
        if key == own.short or _canonical_long(key) == _canonical_long(own.long):
            return own
    if key.startswith("-") and not key.startswith("--") and len(key) == 2:
        option = _BY_SHORT.get(key)
    else:
        option = _BY_LONG.get(_canonical_long(key))
    if option is None:
        known = [o.long for o in (*OPTIONS, *extra)]
        guess = nearest_key(_canonical_long(key), known)
        hint = f" (did you mean {guess}?)" if guess else ""
        raise UsageError(f"unknown option {key}{hint}; see --help for the options")
    return option


@dataclass
class ParsedArgs:
    """A parsed command line."""

    command: str | None = None
    updates: list[str] = field(default_factory=list)
    options: RunOptions = field(default_factory=RunOptions)
    help: bool = False
    help_command: str | None = None


def parse_argv(argv: Sequence[str], extra: Sequence[Option] = ()) -> ParsedArgs:
    """Parse the arguments after the program name (``extra``: custom options)."""
    parsed = ParsedArgs()
    words: list[str] = []
    in_with = False
    args = list(argv)
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if arg == "--":
            words.extend(args[i:])
            break
        if arg.startswith("-") and len(arg) > 1 and not _is_number(arg):
            i = _take_option(parsed.options, arg, args, i, extra)
            continue
        if arg == "with" and not in_with:
            in_with = True
            continue
        if in_with:
            parsed.updates.append(arg)
        else:
            words.append(arg)
    if parsed.options.help:
        parsed.help = True
    if words and words[0] == "help":
        parsed.help = True
        if len(words) > 2:
            raise UsageError(f"help takes one command, got: {' '.join(words[1:])}")
        parsed.help_command = words[1] if len(words) > 1 else None
        return parsed
    if len(words) > 1:
        raise UsageError(
            f"unexpected argument '{words[1]}' after command '{words[0]}'; config updates "
            f"go after 'with', e.g. {words[0]} with {words[1] if '=' in words[1] else 'a=1'}"
        )
    parsed.command = words[0] if words else None
    return parsed


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _take_option(
    options: RunOptions, arg: str, args: list[str], i: int, extra: Sequence[Option]
) -> int:
    """Apply the option word ``arg``; returns the index of the next word."""
    if arg.startswith("--"):
        key, eq, inline = arg.partition("=")
        option = _lookup(key, extra)
        if option.arg is None:
            if eq:
                raise UsageError(f"{option.long} takes no value")
            options.set(option, True)
            return i
        if eq:
            options.set(option, inline)
            return i
        if i >= len(args):
            raise UsageError(f"{option.long} needs a value ({option.arg})")
        options.set(option, args[i])
        return i + 1
    letters = arg[1:]
    for pos, letter in enumerate(letters):
        option = _lookup("-" + letter, extra)
        if option.arg is None:
            options.set(option, True)
            continue
        rest = letters[pos + 1 :]
        if rest:
            options.set(option, rest.lstrip("="))
            return i
        if i >= len(args):
            raise UsageError(f"{option.short}/{option.long} needs a value ({option.arg})")
        options.set(option, args[i])
        return i + 1
    return i


def format_usage(
    program: str,
    doc: str | None,
    commands: Sequence[tuple[str, str]],
    extra: Sequence[Option] = (),
) -> str:
    """The full help text: usage lines, the experiment's doc, options and commands."""
    lines = [
        "Usage:",
        f"  {program} [(with UPDATE...)] [options]",
        f"  {program} help [COMMAND]",
        f"  {program} (-h | --help)",
        f"  {program} COMMAND [(with UPDATE...)] [options]",
        "",
    ]
    if doc and doc.strip():
        lines += [doc.strip(), ""]
    lines.append("Options:")
    for opt in (*OPTIONS, *extra):
        flag = f"{opt.short} {opt.long}" + (f"={opt.arg}" if opt.arg else "")
        lines.append(f"  {flag:<28}{opt.help}")
    lines += [
        "",
        "Arguments:",
        "  COMMAND   Name of the command to run (default: the main function)",
        "  UPDATE    Config updates like lr=0.1 or opt.momentum=0.9, named configs, or "
        "config files",
        "",
        "Commands:",
    ]
    width = max((len(name) for name, _ in commands), default=0) + 2
    for name, summary in commands:
        lines.append(f"  {name:<{width}}{summary}")
    lines += ["", "Runs are stored in git: list them with 'gitxp ls', inspect with 'gitxp show'."]
    return "\n".join(lines)


def option_defaults(extra: Sequence[Option] = ()) -> dict[str, Any]:
    """Every long option with its default value (Sacred's ``get_default_options``)."""
    defaults = RunOptions()
    values = {opt.long: getattr(defaults, opt.attr) for opt in OPTIONS}
    values.update({opt.long: False if opt.arg is None else None for opt in extra})
    return values
