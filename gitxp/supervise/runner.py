"""``gitxp run``: the supervisor process around a script or any command."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitxp.configuration.dicts import recursive_update
from gitxp.configuration.withargs import parse_with_args, split_with
from gitxp.errors import UsageError
from gitxp.git.repo import GitRepo
from gitxp.git.snapshot import Snapshot
from gitxp.machine.lock import env_lock, parse_env_lock, python_version_of_lock
from gitxp.machine.python import Interpreter, api_path, user_python
from gitxp.share.hooks import finish_hooks, start_hooks
from gitxp.store.recorder import DEFAULT_BEAT_INTERVAL, Recorder, RunSpec
from gitxp.store.spool import CONFIG_ENV, RUN_ID_ENV, SPOOL_ENV
from gitxp.supervise.child import Child

WITH_ENV = "GITXP_WITH"
PARENT_ENV = "GITXP_ARGPARSE_PARENT"  # read by startup/sitecustomize.py
# A child killed by one of these was stopped (Ctrl-C, scancel, docker stop): INTERRUPTED.
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
CAPTURE_MODES = ("no", "sys", "fd")
CONFIG_SUFFIXES = (".json", ".yaml", ".yml")
STARTUP_DIR = Path(__file__).resolve().parent / "startup"  # holds our sitecustomize.py


@dataclass
class RunOptions:
    """The options of ``gitxp run``."""

    name: str | None = None
    comment: str | None = None
    tags: list[str] = field(default_factory=list)
    capture: str = "fd"
    beat_interval: float = DEFAULT_BEAT_INTERVAL
    python: str | None = None
    run_id: str | None = None
    # Re-running a recorded run (gitxp reproduce, gitxp run --resume): the directory the
    # command starts in, the sources to record instead of the working tree's, the run's
    # directory relative to those sources, more run.json fields and environment variables.
    cwd: str | None = None
    snapshot: Snapshot | None = None
    record_cwd: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    # Push the run when it ends: a remote name or URL, "" for the default remote, None
    # to follow `git config gitxp.autopush`.
    push: str | None = None
    # Artifacts of other runs to use: "RUN:path" or "RUN:path=dest" (gitxp run --input).
    inputs: list[str] = field(default_factory=list)
    # Record a QUEUED run (snapshot, config, the arguments to run) and run nothing.
    queue: bool = False
    sign: bool | None = None  # sign the run's commits (None: the gitxp.sign setting)
    # The env lock of the interpreter that will run it, when the caller has it already
    # (gitxp worker takes it once, not once per run).
    env_lock: str | None = None


@dataclass(frozen=True)
class Launch:
    """What to start and with which ``with`` values."""

    argv: list[str]
    with_tokens: list[str]
    config: dict[str, object]
    named: list[str]
    python: str
    experiment: str
    chosen_by: str = "--python"
    script: bool = False  # a .py script run by ``python`` (not a command)


def plan(args: list[str], options: RunOptions) -> Launch:
    """Turn ``gitxp run`` arguments into a launch; raises before anything is written."""
    if not args:
        raise UsageError("nothing to run: gitxp run SCRIPT.py [ARGS] [with K=V …] or -- CMD …")
    if options.capture not in CAPTURE_MODES:
        raise UsageError(f"--capture must be one of {', '.join(CAPTURE_MODES)}")
    before, tokens = split_with(args)
    if not before:
        raise UsageError("nothing to run before 'with'")
    parsed = parse_with_args(tokens)
    here = Path(options.cwd or os.getcwd())
    config: dict[str, object] = {}
    named: list[str] = []
    for token in parsed.named:
        if Path(token).suffix in CONFIG_SUFFIXES:
            from gitxp.configuration.files import load_config_file  # PyYAML: only here

            if not (here / token).is_file():
                raise UsageError(f"with {token}: no such config file (looked in {here})")
            config = recursive_update(config, load_config_file(here / token))
        else:
            named.append(token)
    config = recursive_update(config, parsed.updates)
    program = before[0]
    if program.endswith(".py"):
        if not (here / program).is_file():
            raise UsageError(f"{program}: no such script (looked in {here})")
        check_named(here / program, named)
        chosen = user_python(options.python)
        argv = [chosen.path, program, *before[1:]]
        return Launch(
            argv, tokens, config, named, chosen.path, Path(program).stem, chosen.chosen_by, True
        )
    if shutil.which(program) is None and not (here / program).is_file():
        raise UsageError(f"{program}: command not found; check its name or PATH")
    if "/" not in program and shutil.which(program) is None:  # a file here: run it as ./file
        before = [f"./{program}", *before[1:]]
    if "/" in before[0]:
        check_runnable(here / before[0])
    if Path(program).name.startswith("python") and not options.python:
        chosen = Interpreter(shutil.which(program) or program, "the command")
    else:
        chosen = user_python(options.python)
    return Launch(
        list(before), tokens, config, named, chosen.path, Path(program).name, chosen.chosen_by
    )


def argparse_hook_env(env: dict[str, str]) -> dict[str, str]:
    """The variables that make the started program record its argparse values.

    See :mod:`gitxp.supervise.startup.sitecustomize`; ``GITXP_ARGPARSE=0`` turns it off.
    """
    if env.get("GITXP_ARGPARSE") == "0":
        return {}
    path = os.pathsep.join(p for p in (str(STARTUP_DIR), env.get("PYTHONPATH", "")) if p)
    return {"PYTHONPATH": path, PARENT_ENV: str(os.getpid())}


def check_named(script: Path, named: list[str]) -> None:
    """Refuse bare ``with`` tokens for a script that has no named configs to give them to.

    Only an Experiment (or Sacred's) script has named configs; for a plain script such a
    token would be dropped without a word.
    """
    if not named:
        return
    try:
        source = script.read_text(errors="replace")
    except OSError:
        return
    if "Experiment" not in source:
        raise UsageError(
            f"with {named[0]}: not KEY=VALUE, no config file ({', '.join(CONFIG_SUFFIXES)}) "
            f"and {script.name} has no named configs (it uses no Experiment); write "
            f"{named[0]}=VALUE"
        )


def check_runnable(path: Path) -> None:
    """Say why the file at ``path`` cannot be started, before a run is recorded for it."""
    if not path.is_file():
        return  # a missing file: the command fails as the shell would say
    if not os.access(path, os.X_OK):
        raise UsageError(
            f"{path.name} is not executable: 'chmod +x {path.name}' (it needs a #! line), "
            f"or name its interpreter: gitxp run -- bash {path.name}"
        )
    with open(path, "rb") as handle:
        head = handle.read(4)
    if not head.startswith(b"#!") and head != b"\x7fELF":
        raise UsageError(
            f"{path.name} has no #! line, so it cannot be started by itself: add one "
            f"(#!/bin/sh), or name its interpreter: gitxp run -- bash {path.name}"
        )


def run_spec(launch: Launch, options: RunOptions, lock: str) -> RunSpec:
    """What the recorder writes at the start of a run of ``launch`` (``lock``: its env lock)."""
    return RunSpec(
        command=[*launch.argv, *(["with", *launch.with_tokens] if launch.with_tokens else [])],
        experiment=launch.experiment,
        name=options.name,
        comment=options.comment,
        tags=list(options.tags),
        config=dict(launch.config),
        capture=options.capture,
        run_id=options.run_id,
        python=launch.python,
        env_lock=lock,
        sign=options.sign,
        extra={
            "named_configs": launch.named,
            "supervisor": "gitxp run",
            "python": {"executable": launch.python, "chosen_by": launch.chosen_by},
            **options.extra,
        },
        snapshot=options.snapshot,
        cwd=options.record_cwd,
        queued=options.queue,
    )


def run(
    repo: GitRepo, args: list[str], options: RunOptions, recorder: Recorder | None = None
) -> int:
    """Record a run of ``args``; returns the child's exit code.

    ``recorder``: a run already started (a worker's claimed queued run) to record into.
    With ``options.queue`` the run is only recorded, QUEUED, for ``gitxp worker``.
    """
    launch = plan(args, options)
    lock = options.env_lock or env_lock(launch.python, repo.state_dir / "cache", repo.workdir)
    api = api_path(repo.state_dir, set(parse_env_lock(lock)))
    spec = run_spec(launch, options, lock)
    inputs = [take_input(repo, text, Path(options.cwd or os.getcwd())) for text in options.inputs]
    if options.queue:
        if inputs:
            raise UsageError("--input and --queue do not go together yet: run it, or queue without")
        spec.extra["queued_args"] = list(args)
        queued = Recorder.start(repo, spec)
        queued.close_queued()
        print(f"gitxp: queued run {queued.run_id} ({queued.ref})", file=sys.stderr, flush=True)
        return 0
    env = {**os.environ, **options.env}
    env[CONFIG_ENV] = json.dumps(launch.config)
    env[WITH_ENV] = json.dumps(launch.with_tokens)
    env.pop(SPOOL_ENV, None)  # an outer run's: the run's own come at the start
    env.pop(RUN_ID_ENV, None)
    env.update(argparse_hook_env(env))
    if api is not None:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (env.get("PYTHONPATH"), str(api)) if p)
    cwd = options.cwd or os.getcwd()
    child = start_early(launch, options, env, lock)
    try:
        claimed = recorder is not None
        if recorder is None:
            recorder = Recorder.start(repo, spec)
        else:
            recorder.meta["run"]["command"] = spec.command
        for use, source, dest in inputs:
            shutil.copyfile(source, dest)
            recorder.spool.event("use", **use)
        hook_ctx = start_hooks(repo, recorder, spec.command)
    except BaseException:
        if child is not None:
            child.abandon()
        raise
    run_env = {SPOOL_ENV: str(recorder.spool.path), RUN_ID_ENV: recorder.run_id}
    print(f"gitxp: run {recorder.run_id} ({recorder.ref})", file=sys.stderr, flush=True)
    print(f"gitxp: python {launch.python} ({launch.chosen_by})", file=sys.stderr, flush=True)
    if api is not None:
        print(
            f"gitxp: gitxp is not installed for that python; its in-script API comes from "
            f"this gitxp ('{launch.python} -m pip install gitxp' would install it there)",
            file=sys.stderr,
            flush=True,
        )

    if recorder.warning:
        print(recorder.warning, file=sys.stderr, flush=True)
    recorder.start_heartbeat(options.beat_interval)
    try:
        if child is None:
            child = Child(
                launch.argv,
                env={**env, **run_env},
                cwd=cwd,
                log_path=recorder.spool.output_path,
                mode=options.capture,
                keep_fds=[fd] if (fd := recorder.lock_fd) is not None else [],
            )
        result = child.release(recorder.spool.output_path, run_env)
    except OSError as err:
        recorder.finish("FAILED", exit_code=127, fail_trace=f"could not start: {err}")
        raise UsageError(f"could not start {launch.argv[0]}: {err.strerror}") from None
    if result.returncode != 0 and not claimed and recorder.usage_error() is not None:
        recorder.discard()  # the program refused its command line: no run to keep
        print(
            f"gitxp: nothing recorded (usage error; run {recorder.run_id} discarded)",
            file=sys.stderr,
            flush=True,
        )
        return result.returncode
    if result.returncode == 0:
        status = "COMPLETED"
    elif result.interrupted or result.signal in _STOP_SIGNALS:
        status = "INTERRUPTED"
    else:
        status = "FAILED"
    trace = None
    if status == "FAILED":
        trace = f"exit code {result.returncode}"
        if result.signal is not None:
            trace += f" (killed by signal {result.signal})"
    commit = recorder.finish(status, exit_code=result.returncode, fail_trace=trace)
    print(f"gitxp: run {recorder.run_id} {status}", file=sys.stderr, flush=True)
    if commit is not None:
        finish_hooks(repo, hook_ctx, status, result.returncode, commit, options.push)
    return result.returncode


def start_early(
    launch: Launch, options: RunOptions, env: dict[str, str], lock: str
) -> Child | None:
    """The script's interpreter started now, held at its gate (:mod:`gitxp.supervise.child`)
    while the run is recorded; None when it must wait for the record instead.

    Only a ``.py`` script whose interpreter is a program (not a wrapper script such as a
    pyenv shim, which might not pass the gate on), of Python 3.8 or later (gitxp's
    ``sitecustomize`` must run there), with output captured (the helper that copies it
    holds the run's lock for the program) and the ``sitecustomize`` on its path.
    """
    if not launch.script or options.capture == "no" or PARENT_ENV not in env:
        return None
    version = tuple(int(p) for p in re.findall(r"\d+", python_version_of_lock(lock) or "")[:2])
    if version < (3, 8):
        return None
    try:
        with open(launch.python, "rb") as handle:
            if handle.read(4) != b"\x7fELF":
                return None
        return Child(
            launch.argv, env=env, cwd=options.cwd or os.getcwd(), mode=options.capture, gated=True
        )
    except OSError:
        return None  # started after the record, where a failure to start is recorded


def take_input(repo: GitRepo, text: str, cwd: Path) -> tuple[dict[str, Any], Path, Path]:
    """``RUN:path[=dest]`` → (the use, the artifact's file, where the run finds it).

    Checked before anything is recorded; a different file already at ``dest`` is refused.
    """
    spec, _, rest = text.partition(":")
    path, _, dest_text = rest.partition("=")
    if not spec or not path:
        raise UsageError(f"--input {text!r}: write RUN:ARTIFACT or RUN:ARTIFACT=DEST")
    from gitxp.store.uses import take_artifact

    use, source = take_artifact(repo, spec, path)
    dest = cwd / (dest_text or Path(use["path"]).name)
    if dest.exists() and (not dest.is_file() or dest.read_bytes() != source.read_bytes()):
        raise UsageError(f"--input: {dest} exists and differs; choose another DEST with =DEST")
    return use, source, dest
