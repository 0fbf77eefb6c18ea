"""``Experiment``: Sacred's API, with every run recorded as a git commit.

Change ``from sacred import Experiment`` to ``from gitxp import Experiment`` and drop the
observers: ``python train.py with lr=0.1`` records a run on ``refs/gitxp/runs/<id>`` in
the repository around the script; under ``gitxp run train.py with lr=0.1`` the same run is
recorded by the ``gitxp run`` supervisor. ``ex.run()`` from Python records a run too.
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from gitxp.configuration.dicts import join_path
from gitxp.errors import GitxpError, UsageError, UsageKeyError
from gitxp.experiment import builtin_commands as builtins
from gitxp.experiment.captured import CapturedFunction
from gitxp.experiment.commandline import (
    OBSERVER_OPTIONS,
    CLIOption,
    Option,
    RunOptions,
    format_usage,
    option_defaults,
    parse_argv,
)
from gitxp.experiment.execution import execute, start_facts
from gitxp.experiment.expinfo import discover_dependencies, discover_sources
from gitxp.experiment.ingredient import Ingredient, caller_globals
from gitxp.experiment.lifecycle import (
    RecorderSink,
    Sink,
    SupervisedSink,
    UnobservedSink,
    claim_supervised,
    format_failure,
    report_usage_error,
)
from gitxp.experiment.observing import Observing, sacred_host_info
from gitxp.experiment.randomness import end_seeding
from gitxp.experiment.runobj import Run
from gitxp.experiment.runsetup import find_command, prepare_config
from gitxp.experiment.settings import SETTINGS
from gitxp.experiment.snapshots import SnapshotReuse

__all__ = ["Experiment"]

WITH_ENV = "GITXP_WITH"
_EXIT_CODES = {"COMPLETED": 0, "FAILED": 1, "INTERRUPTED": 130}


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time (so output capture sees it)."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


class Experiment(Ingredient):
    """The root of an experiment: config, commands, and runs recorded in git."""

    def __init__(
        self,
        name: str | None = None,
        ingredients: Sequence[Ingredient] = (),
        interactive: bool = False,
        base_dir: str | os.PathLike[str] | None = None,
        additional_host_info: Sequence[Any] | None = None,
        additional_cli_options: Sequence[Any] | None = None,
        save_git_info: bool = True,
    ) -> None:
        caller = caller_globals()
        file = caller.get("__file__")
        if not isinstance(file, str) and not interactive:
            raise UsageError(
                "Experiment() is defined in a notebook or REPL (no source file): pass "
                "interactive=True and a name; gitxp then records the run with the source of "
                "its config scopes and captured functions, not the whole session"
            )
        if name is None:
            if not isinstance(file, str):
                raise UsageError("Experiment(interactive=True) needs a name: Experiment('name')")
            name = Path(file).stem
        super().__init__(name, ingredients, interactive, base_dir, save_git_info, caller)
        self.additional_cli_options = list(additional_cli_options or [])
        self._extra_options = [
            *OBSERVER_OPTIONS,
            *(_as_option(o) for o in self.additional_cli_options),
        ]
        self.additional_host_info = list(additional_host_info or [])
        self.default_command: str | None = None
        self.observers: list[Any] = []
        self.captured_out_filter: Callable[[str], str] | None = None
        self.current_run: Run | None = None
        self.logger: logging.Logger | None = None
        self.option_hooks: list[Callable[..., Any]] = []
        self._repos: dict[str, Any] = {}
        self._snapshots = SnapshotReuse()
        self._attempt: Run | None = None
        self.command(builtins.print_config, unobserved=True)
        self.command(builtins.print_dependencies, unobserved=True)
        self.command(builtins.save_config, unobserved=True)
        self.command(builtins.print_named_configs(self), unobserved=True)

    @property
    def config_path(self) -> str:
        """The experiment's config is the root of the run's config."""
        return ""

    def post_process_name(self, name: str, ingredient: Ingredient) -> str:
        """An experiment's own commands and named configs keep their bare names."""
        return name if ingredient is self else join_path(ingredient.path, name)

    @property
    def name(self) -> str:
        """The experiment's name (``path`` in Sacred)."""
        return self.path

    # -- decorators ---------------------------------------------------------------------

    def main(self, function: Callable[..., Any]) -> CapturedFunction:
        """Decorator: the default command."""
        captured: CapturedFunction = self.command(function)
        self.default_command = captured.name
        return captured

    def automain(self, function: Callable[..., Any]) -> CapturedFunction:
        """Decorator: :meth:`main`, and run the command line when the file is ``__main__``.

        Put it last in the file: everything defined below it is not defined yet when the
        command line runs.
        """
        captured = self.main(function)
        module = getattr(captured.func, "__globals__", {}).get("__name__")
        if module == "__main__":
            if self.mainfile is None:
                raise UsageError(
                    "@ex.automain cannot be used in a notebook or REPL; use @ex.main and "
                    "call ex.run()"
                )
            self.run_commandline()
        return captured

    def option_hook(self, function: Callable[..., Any]) -> Callable[..., Any]:
        """Decorator: ``hook(options)`` may change the options dict before a run starts."""
        import inspect

        params = list(inspect.signature(function).parameters)
        if "options" not in params:
            raise UsageKeyError(
                "option_hook functions must have an argument called 'options', but got "
                f"{params}; write def {getattr(function, '__name__', 'hook')}(options):"
            )
        self.option_hooks.append(function)
        return function

    # -- running ----------------------------------------------------------------------

    def run(
        self,
        command_name: str | None = None,
        config_updates: Mapping[str, Any] | None = None,
        named_configs: Sequence[str] = (),
        info: Mapping[str, Any] | None = None,
        meta_info: Mapping[str, Any] | None = None,
        options: Mapping[str, Any] | RunOptions | None = None,
    ) -> Run:
        """Run a command (default: main) and record it; returns the finished Run.

        ``options`` takes Sacred's keys, e.g. ``{"--name": "x", "--unobserved": True}``. An
        exception in the command is recorded (status FAILED) and raised again.
        """
        if isinstance(options, RunOptions):
            opts = options
        else:
            opts = RunOptions.from_mapping(options, self._extra_options)
        return self._run(
            command_name,
            dict(config_updates or {}),
            list(named_configs),
            opts,
            info,
            meta_info,
            None,
            None,
        )

    def run_commandline(self, argv: Sequence[str] | str | None = None) -> Run | None:
        """Run the command line (default ``sys.argv``); exits with 1 when the command fails."""
        if argv is None:
            argv = sys.argv
        elif isinstance(argv, str):
            argv = shlex.split(argv)
        argv = [str(a) for a in argv]
        program = os.path.basename(argv[0]) if argv else self.path
        self._attempt = None
        opts = RunOptions()
        try:
            parsed = parse_argv(argv[1:], self._extra_options)
            opts = parsed.options
            if parsed.help:
                print(self._help(program, parsed.help_command))
                return None
            from gitxp.configuration.withargs import parse_with_args

            supervised = claim_supervised()
            tokens = list(parsed.updates)
            if supervised is not None:
                tokens = list(json.loads(os.environ.get(WITH_ENV) or "[]")) + tokens
            with_args = parse_with_args(tokens)
            return self._run(
                parsed.command,
                with_args.updates,
                list(with_args.named),
                opts,
                None,
                None,
                argv,
                supervised,
            )
        except KeyboardInterrupt as exc:
            print("gitxp: interrupted", file=sys.stderr)
            sys.exit(getattr(exc, "exit_code", 130))
        except SystemExit:
            raise
        except Exception as exc:
            run = self._attempt
            if isinstance(exc, GitxpError) and (run is None or run.status is None):
                print(f"gitxp: error: {exc}", file=sys.stderr)
                report_usage_error(str(exc))
                sys.exit(exc.exit_code)
            if opts.debug:
                raise
            trace = run.fail_trace if run is not None and run.fail_trace else None
            print(trace or format_failure(exc), file=sys.stderr, end="")
            if opts.pdb:
                import pdb

                pdb.post_mortem(exc.__traceback__)
            sys.exit(1)

    def _help(self, program: str, command: str | None) -> str:
        if command is None:
            return self.get_usage(program)
        return builtins.help_for_command(find_command(self, command), command)

    def get_usage(self, program_name: str | None = None) -> str:
        """The text of ``--help``."""
        commands = []
        for name, cmd in self.gather_commands():
            doc = (cmd.__doc__ or "").strip().splitlines()
            commands.append((name, doc[0] if doc else ""))
        return format_usage(program_name or self.path, self.doc, commands, self._extra_options)

    def get_default_options(self) -> dict[str, Any]:
        """Every option with its default value, keyed by long flag."""
        return option_defaults(self._extra_options)

    # -- one run ------------------------------------------------------------------------

    def _loggers(self, level: int | None) -> tuple[logging.Logger, int]:
        base = self.logger
        if base is None:
            base = logging.getLogger(self.path)
            if not base.handlers:
                handler = _StderrHandler()
                handler.setFormatter(logging.Formatter("%(levelname)s - %(name)s - %(message)s"))
                base.addHandler(handler)
                base.propagate = False
                base.setLevel(logging.INFO)
        old = base.level
        if level is not None:
            base.setLevel(level)
        return base, old

    def _repo(self, base_dir: str) -> Any:
        repo = self._repos.get(base_dir)
        if repo is None:
            from gitxp.git.repo import GitRepo

            repo = self._repos[base_dir] = GitRepo(base_dir)
        return repo

    def _run(
        self,
        command_name: str | None,
        updates: dict[str, Any],
        named: list[str],
        opts: RunOptions,
        info: Mapping[str, Any] | None,
        meta_info: Mapping[str, Any] | None,
        argv: list[str] | None,
        supervised: SupervisedSink | None,
    ) -> Run:
        for hook in self.option_hooks:
            hook(options=opts.raw)
        if self.option_hooks:
            opts = RunOptions.from_mapping(dict(opts.raw), self._extra_options)
        name = command_name or self.default_command
        if name is None:
            raise UsageError(
                "this experiment has no main function: decorate one with @ex.main or "
                "@ex.automain, or name a command"
            )
        command = find_command(self, name)
        logger, old_level = self._loggers(opts.loglevel)
        try:
            return self._run_with(
                command, name, updates, named, opts, info, meta_info, argv, supervised, logger
            )
        finally:
            logger.setLevel(old_level)
            end_seeding()

    def _run_with(
        self,
        command: CapturedFunction,
        name: str,
        updates: dict[str, Any],
        named: list[str],
        opts: RunOptions,
        info: Mapping[str, Any] | None,
        meta_info: Mapping[str, Any] | None,
        argv: list[str] | None,
        supervised: SupervisedSink | None,
        logger: logging.Logger,
    ) -> Run:
        setup = prepare_config(self, name, updates, named, opts.force, logger)
        for warning in setup.warnings:
            logger.warning(warning)
        unobserved = opts.unobserved or command.unobserved
        if unobserved and supervised is not None and opts.unobserved:
            logger.warning("-u/--unobserved has no effect under 'gitxp run': it records anyway")
        sink: Sink = (
            UnobservedSink()
            if unobserved
            else supervised or RecorderSink(self._repo, self._snapshots.take)
        )
        experiment_info = self.get_experiment_info()
        run = Run(
            config=setup.config,
            config_modifications=setup.resolved,
            main_function=command,
            command_name=name,
            experiment_info=experiment_info,
            meta_info=_meta_info(meta_info, name, opts, updates, named, self._extra_options),
            run_logger=logger,
            base_dir=self.base_dir,
            info=info,
        )
        run.unobserved, run.queue_only, run.force = unobserved, opts.queue, opts.force
        run.debug, run.pdb, run.beat_interval = opts.debug, opts.pdb, opts.beat_interval
        if opts.raw.get("--beat-interval") is None:
            run.beat_interval = float(SETTINGS.DEFAULT_BEAT_INTERVAL)
        default_capture = SETTINGS.CAPTURE_MODE
        if self.mainfile is None and default_capture == "fd":
            default_capture = "sys"  # a notebook's output does not go through fds 1 and 2
        run.capture_mode = "no" if unobserved else opts.capture or default_capture
        run.captured_out_filter = self.captured_out_filter
        run.requested_id = opts.id
        run.host_info = sacred_host_info(self.additional_host_info, SETTINGS.HOST_INFO.CAPTURED_ENV)
        run.observers = list(self.observers)
        self._attempt = run
        for option, value in opts.custom(self._extra_options):
            assert option.apply is not None
            option.apply(value, run)
        if run.observers and not unobserved:
            run.observing = Observing(run.observers, logger)
        if opts.print_config:
            builtins.print_config(run)
        facts = start_facts(self, run, setup.seed, updates, named, opts, argv)
        return execute(self, run, sink, facts, setup, argv is not None)

    # -- helpers while a run is active ------------------------------------------------------

    def _active(self, what: str) -> Run:
        if self.current_run is None or self.current_run.status != "RUNNING":
            raise UsageError(f"ex.{what} works only while the experiment runs (no run active)")
        return self.current_run

    @property
    def info(self) -> dict[str, Any]:
        """The current run's free-form ``info`` dict (saved at heartbeats)."""
        return self._active("info").info

    def log_scalar(self, name: str, value: Any, step: int | None = None) -> int | None:
        """Record ``value`` of metric ``name`` in the current run."""
        return self._active("log_scalar").log_scalar(name, value, step)

    def add_artifact(
        self,
        filename: str | os.PathLike[str],
        name: str | None = None,
        metadata: dict[str, Any] | None = None,
        content_type: str | None = None,
    ) -> str | None:
        """Store a copy of ``filename`` in the current run (``.gitxp/artifacts/``)."""
        return self._active("add_artifact").add_artifact(filename, name, metadata, content_type)

    def add_resource(self, filename: str | os.PathLike[str]) -> str | None:
        """Store the content of input file ``filename`` in the current run."""
        return self._active("add_resource").add_resource(filename)

    def open_resource(self, filename: str | os.PathLike[str], mode: str = "r") -> IO[Any]:
        """Open an input file and store its content in the current run."""
        return self._active("open_resource").open_resource(filename, mode)

    def get_experiment_info(self) -> dict[str, Any]:
        """Name, main file, sources (with md5) and dependencies of this experiment."""
        files: dict[str, None] = {}
        deps: dict[str, str] = {}
        for ingredient, _ in self.traverse_ingredients():
            files.update(ingredient.sources)
            deps.update(ingredient.dependencies)
        base = self.base_dir
        discover = SETTINGS.DISCOVER_SOURCES
        if discover == "dir":
            files.update(dict.fromkeys(str(p) for p in Path(base).rglob("*.py")))
        if SETTINGS.DISCOVER_DEPENDENCIES == "none":
            dependencies = [f"{k}=={v}" for k, v in sorted(deps.items())]
        else:
            dependencies = discover_dependencies(base, deps)
        mainfile = None
        if self.mainfile is not None:
            mainfile = os.path.relpath(self.mainfile, base).replace(os.sep, "/")
        return {
            "name": self.path,
            "mainfile": mainfile,
            "base_dir": base,
            "interactive": self.mainfile is None,
            "sources": discover_sources(base, files, imported=discover in ("imported", "sys")),
            "dependencies": dependencies,
        }


def _as_option(option: Any) -> Option:
    """A custom option made by gitxp's or Sacred's ``cli_option``."""
    if not isinstance(option, CLIOption):
        try:
            option = CLIOption(
                option.apply_function, option.short_flag, option.long_flag, option.is_flag
            )
        except AttributeError:
            raise UsageError(
                f"additional_cli_options: {option!r} is not made by @cli_option(short, long)"
            ) from None
    return option.as_option()


def _meta_info(
    given: Mapping[str, Any] | None,
    command: str,
    opts: RunOptions,
    updates: Mapping[str, Any],
    named: Sequence[str],
    extra: Sequence[Option],
) -> dict[str, Any]:
    """Sacred's ``meta_info``: command, options, named configs, updates, comment."""
    meta: dict[str, Any] = {
        "command": command,
        "options": {**option_defaults(extra), **opts.raw},
        "named_configs": list(named),
        "config_updates": dict(updates),
    }
    if opts.comment is not None:
        meta["comment"] = opts.comment
    if opts.priority is not None:
        meta["priority"] = opts.priority
    meta.update(given or {})
    return meta
