"""Running one command of an experiment: facts for the start, hooks, main, heartbeats, end.

:func:`execute` is the life of a run once its config is resolved: the sink records the
start (for a script recording itself: the snapshot commit, before any user code runs),
output capture and heartbeats start, the global generators are seeded again, pre-run hooks,
the command and post-run hooks run, and the sink records the end with the status, result
and (gitxp frames filtered) failure trace.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from gitxp.configuration.dicts import recordable
from gitxp.errors import SacredInterrupt
from gitxp.experiment.commandline import RunOptions
from gitxp.experiment.lifecycle import (
    Sink,
    StartFacts,
    UnobservedSink,
    format_failure,
    run_environment,
)
from gitxp.experiment.observing import utcnow
from gitxp.experiment.randomness import set_global_seed
from gitxp.experiment.runsetup import Setup, bind_functions, unbind_functions
from gitxp.experiment.settings import SETTINGS

if TYPE_CHECKING:
    from gitxp.experiment.ingredient import Ingredient
    from gitxp.experiment.runobj import Run

__all__ = ["Beater", "Terminated", "call_main", "capture_output", "execute", "start_facts"]


class Terminated(KeyboardInterrupt):
    """SIGTERM reached the run (scancel, a time limit, docker stop, systemctl stop).

    A KeyboardInterrupt, so a script's ``except KeyboardInterrupt:`` checkpoint runs for
    it too; the run ends INTERRUPTED with exit code 143, recorded at once.
    """

    exit_code = 128 + signal.SIGTERM


def _terminate(signum: int, frame: object) -> None:
    raise Terminated(f"stopped by signal {signum} (SIGTERM)")


@contextlib.contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """While a run's code runs, SIGTERM raises :class:`Terminated` (unless the script set
    its own handler, or this is not the main thread)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        yield
        return
    signal.signal(signal.SIGTERM, _terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


class Experiment(Protocol):
    """What running a command needs of its experiment; :class:`gitxp.Experiment` has it all.

    A protocol rather than the class itself, so that this module need not import the
    module that imports it.
    """

    path: str
    mainfile: str | None
    base_dir: str
    default_command: str | None
    additional_host_info: list[Any]
    captured_out_filter: Callable[[str], str] | None
    current_run: Run | None

    def traverse_ingredients(self) -> Iterator[tuple[Ingredient, int]]: ...


_EXIT_CODES = {"COMPLETED": 0, "FAILED": 1, "INTERRUPTED": 130}
_log = logging.getLogger("gitxp")


def start_facts(
    ex: Experiment,
    run: Run,
    seed: int,
    updates: dict[str, Any],
    named: list[str],
    opts: RunOptions,
    argv: list[str] | None,
) -> StartFacts:
    """What the sink records at the start: command line, config, facts for run.json."""
    if argv is not None:
        command = [sys.executable, *argv]
    else:
        command = [sys.executable, run.experiment_info.get("mainfile") or ex.path]
        if run.command_name != ex.default_command:
            command.append(run.command_name)
        tokens = [f"{k}={v!r}" for k, v in _flat(updates)] + list(named)
        command += ["with", *tokens] if tokens else []
    meta: dict[str, Any] = {
        "command_name": run.command_name,
        "experiment_info": run.experiment_info,
        "named_configs": named,
        "config_updates": updates,
        "options": {k: v for k, v in opts.raw.items() if v not in (None, False)},
    }
    if opts.priority is not None:
        meta["priority"] = opts.priority
    if ex.additional_host_info:
        meta["host_info"] = {
            getattr(g, "name", getattr(g, "__name__", repr(g))): (
                g.get_info() if hasattr(g, "get_info") else g()
            )
            for g in ex.additional_host_info
        }
    if run.meta_info:
        meta["meta"] = run.meta_info
    extra: dict[str, bytes] = {}
    if ex.mainfile is None:
        from gitxp.experiment.notebook import kernel_shell, notebook_files

        text, missing = interactive_source(ex)
        extra["interactive/session.py"] = text.encode()
        shell = kernel_shell()
        found, facts, lacking = notebook_files(shell) if shell is not None else ({}, {}, [])
        extra.update(found)
        meta["interactive"] = {
            "recorded": [f".gitxp/resources/{name}" for name in ["interactive/session.py", *found]],
            **facts,
            "not_recorded": [
                "the notebook/REPL session itself (only the source of the "
                "config scopes and captured functions is stored)"
                if shell is None
                else "the state of the kernel (variables, objects)",
                *lacking,
                *missing,
            ],
        }
    outside = [s["path"] for s in run.experiment_info["sources"] if not s["inside"]]
    return StartFacts(
        command=command,
        experiment=ex.path,
        base_dir=ex.base_dir,
        config=recordable(run.config_modifications.config),
        docs=run.config_modifications.docs,
        seed=seed,
        capture=run.capture_mode,
        meta=meta,
        name=opts.name,
        comment=opts.comment,
        run_id=opts.id,
        queued=opts.queue,
        enforce_clean=opts.enforce_clean,
        outside_sources=outside,
        extra_resources=extra,
        output_filter=ex.captured_out_filter,
        env_allow=list(SETTINGS.HOST_INFO.CAPTURED_ENV),
    )


def execute(
    ex: Experiment, run: Run, sink: Sink, facts: StartFacts, setup: Setup, from_cli: bool
) -> Run:
    """Start, run and finish ``run``: the steps every command goes through."""
    logger = run.run_logger
    sink.start(facts)
    run.id, run.ref = sink.run_id, sink.ref
    run.attach(sink.spool)
    ex.current_run = run  # Sacred keeps the last run here, failed ones too
    if facts.queued:
        sink.close_queued()
        run.status = "QUEUED"
        logger.info("Queuing-up command '%s'", run.command_name)
        _start_observers(run, queued=True)
        logger.info('Queued-up run with ID "%s"', run.id)
        return run
    if ex.mainfile is None and not isinstance(sink, UnobservedSink):
        logger.warning(
            "interactive experiment: recorded the source of its config scopes "
            "and captured functions, not the rest of the session"
        )
    restore = bind_functions(setup, run, logger)
    beater = Beater(run.beat_interval, run, sink)
    status, trace, error, exit_code = "FAILED", None, None, None
    try:
        with run_environment(sink), capture_output(sink, run.capture_mode), sigterm_interrupts():
            run.status, run.start_time = "RUNNING", utcnow()
            beater.start()
            logger.info("Running command '%s'", run.command_name)
            _start_observers(run, queued=False)
            if run.id:
                logger.info('Started run with ID "%s"', run.id)
            else:
                logger.info("Started")
            set_global_seed(setup.seed)
            try:
                status = call_main(run, setup)
            except (KeyboardInterrupt, SacredInterrupt) as exc:
                status = getattr(exc, "STATUS", "INTERRUPTED")
                if isinstance(exc, Terminated):
                    exit_code = Terminated.exit_code
                logger.warning("Aborted after %s!", run.elapsed_text())
                raise
            except BaseException as exc:
                error = exc
                trace = run.fail_trace = format_failure(exc, run.debug)
                logger.error("Failed after %s!", run.elapsed_text())
                raise
    finally:
        beater.stop()
        run.stop_time, run.status = utcnow(), status
        unbind_functions(restore)
        run.flush()
        run.keep_output()
        run.observe_beat()
        if run.observing is not None:
            run.observing.finish(status, run.stop_time, run.result, error)
        sink.finish(
            status,
            result=run.result,
            has_result=status == "COMPLETED" and run.result_was_set,
            fail_trace=trace,
            exit_code=(exit_code or _EXIT_CODES.get(status)) if from_cli else None,
        )
    return run


def call_main(run: Run, setup: Setup) -> str:
    """Pre-run hooks, the command, post-run hooks; returns the status."""
    units = setup.units
    for unit in units:
        for hook in unit.pre_run_hooks:
            hook()
    try:
        result = run.main_function()
    except SystemExit as exc:
        if exc.code not in (None, 0):
            raise
        result = None
    if result is not None:  # a result set while running stays when main returns None
        run.result = result
    for unit in units:
        for hook in unit.post_run_hooks:
            hook()
    if run.result is not None:
        run.run_logger.info("Result: %s", run.result)
    run.stop_time = utcnow()
    run.run_logger.info("Completed after %s", run.elapsed_text())
    return "COMPLETED"


def _start_observers(run: Run, queued: bool) -> None:
    observing = run.observing
    if observing is None:
        return
    key = "queue_time" if queued else "start_time"
    observing.start(
        queued,
        ex_info=run.sacred_experiment_info(),
        command=run.command_name,
        host_info=run.host_info,
        config=run.config,
        meta_info=run.meta_info,
        _id=run.requested_id,
        **{key: utcnow() if queued else run.start_time},
    )


def _flat(updates: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for key, value in updates.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping) and value:
            out += _flat(value, path)
        else:
            out.append((path, value))
    return out


def _on_std_fds() -> bool:
    """Whether sys.stdout/sys.stderr write to fds 1/2 (not so in Jupyter or under pytest)."""
    try:
        return sys.stdout.fileno() == 1 and sys.stderr.fileno() == 2
    except (AttributeError, OSError, ValueError):
        return False


def capture_output(sink: Sink, mode: str) -> Any:
    """The output capture for a run recorded by ``sink``."""

    if not sink.captures or mode == "no" or sink.spool is None:
        return contextlib.nullcontext()
    from gitxp.supervise.capture import FdTee

    if mode == "fd" and not _on_std_fds():
        # Python's own streams bypass fds 1/2 here: capture both levels.
        stack = contextlib.ExitStack()
        stack.enter_context(FdTee(sink.spool.output_path, "fd"))
        stack.enter_context(FdTee(sink.spool.output_path, "sys"))
        return stack
    return FdTee(sink.spool.output_path, mode)


def interactive_source(ex: Experiment) -> tuple[str, list[str]]:
    """The source of the config scopes and captured functions of an interactive experiment."""
    import inspect

    parts = [f"# gitxp: source recorded from interactive experiment {ex.path!r}\n"]
    missing: list[str] = []
    for ingredient, _ in ex.traverse_ingredients():
        objects: list[Any] = [*ingredient.configurations, *ingredient.named_configs.values()]
        objects += [cf.func for cf in ingredient.captured_functions]
        objects += ingredient.config_hooks
        for obj in objects:
            func = getattr(obj, "func", obj)
            name = getattr(func, "__qualname__", None)
            if name is None or getattr(func, "__module__", "").startswith("gitxp."):
                continue
            try:
                parts.append(inspect.getsource(func))
            except (OSError, TypeError):
                missing.append(f"source of {name} (not readable)")
    try:
        shell = sys.modules["IPython"].get_ipython()
        history = shell.user_ns.get("In", []) if shell is not None else []
    except (KeyError, AttributeError):
        history = []
    if history:
        parts.append("\n# --- input history of the session ---\n")
        parts += [f"# In[{i}]:\n{cell}\n" for i, cell in enumerate(history) if cell]
    return "\n".join(parts), missing


class _BeatScheduler:
    """One daemon thread per process that beats every active run when it is due.

    Starting a thread per run costs more than a trivial run itself on a busy machine, and
    ``ex.run()`` in a sweep loop starts many runs.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._due: dict[Beater, float] = {}
        self._thread: threading.Thread | None = None

    def add(self, beater: Beater) -> None:
        with self._cond:
            self._due[beater] = time.monotonic() + beater.interval
            if self._thread is None or not self._thread.is_alive():  # none yet, or forked
                self._thread = threading.Thread(target=self._loop, name="gitxp-beat", daemon=True)
                self._thread.start()
            self._cond.notify()

    def remove(self, beater: Beater) -> None:
        with self._cond:
            self._due.pop(beater, None)

    def _loop(self) -> None:
        while True:
            with self._cond:
                if not self._due:
                    self._cond.wait()
                    continue
                beater, when = min(self._due.items(), key=lambda item: item[1])
                delay = when - time.monotonic()
                if delay > 0:
                    self._cond.wait(delay)
                    continue
                self._due[beater] = time.monotonic() + beater.interval
            beater.beat()


_SCHEDULER = _BeatScheduler()


class Beater:
    """Saves a run every ``interval`` seconds (info, result, then the sink's heartbeat)."""

    def __init__(self, interval: float, run: Run, sink: Sink) -> None:
        self.interval = interval
        self.run = run
        self.sink = sink
        self._lock = threading.Lock()
        self._active = False
        self._failed = False

    def start(self) -> None:
        """Start beating (nothing happens when the interval is <= 0 or nothing records)."""
        if self.interval <= 0 or self.sink.spool is None:
            return
        self._active = True
        _SCHEDULER.add(self)

    def beat(self) -> None:
        """One heartbeat; a failure is logged once and never stops the run."""
        with self._lock:
            if not self._active:
                return
            try:
                self.run.flush()
                self.sink.beat()
                self.run.observe_beat()
            except Exception as err:  # a broken sink must not kill the user's run
                if not self._failed:
                    self._failed = True
                    _log.warning(
                        "gitxp: heartbeat failed (%s: %s); the run goes on", type(err).__name__, err
                    )

    def stop(self) -> None:
        """Stop beating; waits for a beat in progress."""
        _SCHEDULER.remove(self)
        with self._lock:
            self._active = False
