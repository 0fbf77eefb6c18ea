"""``gitxp reproduce`` and ``gitxp run --resume``: run a recorded run's sources again.

Both check the run's sources out in a temporary linked worktree (the user's working tree
is never touched), start the run's command there through the ordinary ``gitxp run``
supervisor, and record the new run in the user's repository with the *original* sources,
linked by ``reproduction_of`` or ``resumed_from``. ``reproduce`` then compares the two runs
and returns a :class:`Verdict`. See ``docs/reproduction.md`` for what is and is not
guaranteed.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from gitxp.configuration.withargs import split_with
from gitxp.errors import UsageError
from gitxp.git.repo import GitRepo, Identity
from gitxp.machine.host import host_facts
from gitxp.machine.lock import env_lock
from gitxp.machine.python import user_python
from gitxp.machine.venv import rebuild_plan, venv_env, venv_python
from gitxp.reproduce.attestation import attest
from gitxp.reproduce.drift import environment_checks
from gitxp.reproduce.inputs import check_inputs
from gitxp.reproduce.verdict import Verdict, compare_runs, load_tolerances
from gitxp.store import record
from gitxp.store.ids import new_run_id
from gitxp.store.recorder import DEFAULT_BEAT_INTERVAL, run_ref
from gitxp.store.restore import (
    extract_artifacts,
    recorded_snapshot,
    remove_stale_worktrees,
    temporary_worktree,
)
from gitxp.store.runs import RunRecord, RunRef, load_sound
from gitxp.supervise.runner import RunOptions, run

RESUMABLE = frozenset({"INTERRUPTED", "DIED", "FAILED"})
_PYTHON = re.compile(r"^python(\d+(\.\d+)*)?$")

Echo = Callable[[str], None]
Confirm = Callable[[str], bool]


@dataclass
class ReproduceOptions:
    """The options of ``gitxp reproduce``."""

    env: str = "current"  # "current": this interpreter (or ``python``); "venv": built from the lock
    python: str | None = None
    strict: bool = False
    rtol: float = 0.0
    atol: float = 0.0
    tolerances: str | None = None  # a file of per-metric tolerances
    sign: bool | None = None  # sign the reproduction and its attestation (None: gitxp.sign)
    yes: bool = False
    keep_worktree: bool = False
    beat_interval: float = DEFAULT_BEAT_INTERVAL


# -- what to run -------------------------------------------------------------------------


def rerun_args(info: dict[str, Any], python: str | None = None) -> list[str]:
    """``gitxp run`` arguments that start the run's recorded command again.

    A ``.py`` script started by an interpreter is given to ``gitxp run`` without the
    interpreter (so the chosen one starts it); another ``python …`` command gets the
    chosen interpreter. A recorded seed is passed as ``with seed=N`` unless given already.
    """
    command = [str(c) for c in info.get("command") or []]
    if not command:
        raise UsageError(f"run {info.get('id')} recorded no command, so it cannot be run again")
    if _PYTHON.match(os.path.basename(command[0])):
        if len(command) > 1 and command[1].endswith(".py"):
            command = command[1:]
        elif python:
            command = [python, *command[1:]]
    seed = info.get("seed")
    if seed is not None:
        before, tokens = split_with(command)
        if not any(t.split("=", 1)[0].strip() == "seed" for t in tokens):
            command = [*before, "with", *tokens, f"seed={seed}"]
    return command


def _in_worktree(args: list[str], workdir: Path, worktree: Path, run_dir: Path) -> list[str]:
    """Arguments naming a file of the user's working tree by absolute path, made relative
    paths into the worktree (``python /home/me/project/train.py`` records that path)."""
    out = []
    for arg in args:
        if os.path.isabs(arg):
            try:
                arg = os.path.relpath(worktree / Path(arg).relative_to(workdir), run_dir)
            except ValueError:
                pass
        out.append(arg)
    return out


def _run_dir(worktree: Path, info: dict[str, Any]) -> tuple[Path, str]:
    cwd = str(info.get("cwd") or ".")
    if os.path.isabs(cwd) or ".." in Path(cwd).parts:
        cwd = "."
    path = worktree / cwd
    path.mkdir(parents=True, exist_ok=True)
    return path, cwd


# -- who made it ----------------------------------------------------------------------------


def foreign_maker(repo: GitRepo, rec: RunRecord) -> Identity | None:
    """The author of the run when that is not the current git user (by email), else None."""
    author = repo.author(rec.snapshot_commit)
    me = str(repo.signature().email or "")
    return None if author.email.strip().lower() == me.strip().lower() else author


def confirm_foreign(
    repo: GitRepo, rec: RunRecord, args: list[str], yes: bool, confirm: Confirm, verb: str
) -> None:
    """Show who made a run recorded by someone else and ask before running its code."""
    maker = foreign_maker(repo, rec)
    if maker is None:
        return
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(maker.time))
    host = rec.host.get("hostname") or "an unknown host"
    question = (
        f"run {rec.ref.id} was recorded by {maker.name} <{maker.email}> on {host} at {when}.\n"
        f"{verb} runs its code on this machine:\n"
        f"  command: {' '.join(args)}\n"
        f"  in:      {rec.info.get('cwd') or '.'} of its sources\n"
        f"Run it?"
    )
    if yes:
        return
    if not confirm(question):
        raise UsageError(
            f"not run: run {rec.ref.id} was made by {maker.name} <{maker.email}>; "
            "pass --yes to run it without asking"
        )


# -- reproduce -----------------------------------------------------------------------------


def reproduce(
    repo: GitRepo,
    spec: str,
    options: ReproduceOptions,
    *,
    echo: Echo,
    confirm: Confirm,
) -> Verdict:
    """Run ``spec``'s sources again in a temporary worktree and compare the two runs."""
    if options.env not in ("current", "venv"):
        raise UsageError("--env must be 'current' or 'venv'")
    if options.env == "venv" and options.python:
        raise UsageError("--python picks the interpreter for --env current; not both")
    tolerances = load_tolerances(options.tolerances, options.rtol, options.atol)
    rec = load_sound(repo, spec)
    status = rec.info.get("status")
    if status in ("RUNNING", "QUEUED"):
        raise UsageError(f"run {rec.ref.id} is {status}: reproduce a run that has finished")
    check_inputs(repo, rec, echo)
    remove_stale_worktrees(repo)
    # Ask before anything of someone else's runs: building a venv runs package code too.
    verb = (
        "Reproducing it" if options.env == "current" else "Installing its env lock and running it"
    )
    confirm_foreign(repo, rec, rerun_args(rec.info), options.yes, confirm, verb)
    new_id = new_run_id()
    with temporary_worktree(repo, rec, keep=options.keep_worktree) as worktree:
        plan = None
        if options.env == "venv":
            plan = rebuild_plan(rec.env_lock)
            trees = {name: _source_tree(repo, rec, d) for name, d in plan.from_run.items()}
            python = str(venv_python(repo, rec.env_lock, echo, worktree, trees))
        else:
            python = user_python(options.python).path
        args = rerun_args(rec.info, python)
        environment = environment_checks(rec, env_lock(python), host_facts(), plan)
        verdict = Verdict(rec.ref.id, None, [], environment, options.strict, tolerances.describe())
        _show_drift(verdict, echo)
        if options.strict and verdict.drift:
            return verdict  # --strict: no point in running what is already a failure
        asking = verdict.drift and not options.yes and sys.stdin.isatty()
        if asking and not confirm("The environment differs from the run's (above). Run it?"):
            raise UsageError("not run: pass --yes to run despite environment drift")
        for skipped in rec.info.get("skipped_files") or []:
            path = skipped.get("path")
            why = "looked like a secret" if skipped.get("reason") == "secret" else "was too large"
            echo(f"gitxp: warning: {path} {why} to record; running without it")
        run_dir, rel_cwd = _run_dir(worktree, rec.info)
        echo(f"gitxp: reproducing run {rec.ref.id} in {worktree}")
        run_options = RunOptions(
            name=rec.info.get("name"),
            capture=str(rec.info.get("capture") or "fd"),
            beat_interval=options.beat_interval,
            python=python,
            run_id=new_id,
            cwd=str(run_dir),
            snapshot=recorded_snapshot(repo, rec),
            record_cwd=rel_cwd,
            extra={"reproduction_of": rec.ref.id},
            env=venv_env(python) if options.env == "venv" else {},
            sign=options.sign,
        )
        run(repo, _in_worktree(args, repo.workdir, worktree, run_dir), run_options)
        if options.keep_worktree:
            echo(f"gitxp: kept the worktree at {worktree} (remove it with 'git worktree remove')")
    ref = run_ref(new_id)
    target = repo.ref_target(ref)
    if target is None:
        raise UsageError(f"the reproduction {new_id} left no record (was it deleted?)")
    new = RunRecord.load(repo, RunRef(new_id, ref, target))
    verdict.reproduction = new_id
    verdict.checks = compare_runs(repo, rec, new, tolerances)
    stored = attest(repo, verdict, rec, new, tolerances, options.env, options.sign)
    echo(f"gitxp: verdict recorded in {stored.ref} ('gitxp push' shares it)")
    return verdict


def _show_drift(verdict: Verdict, echo: Echo) -> None:
    for check in verdict.drift:
        echo(f"gitxp: environment drift: {check.what} {check.original} → {check.reproduction}")
        for line in check.detail[:20]:
            echo(f"gitxp:   {line}")


def _source_tree(repo: GitRepo, rec: RunRecord, folder: str) -> str:
    """The git tree id of ``folder`` in the run's sources (the cache key of its install)."""
    snapshot = rec.snapshot_commit
    if folder in ("", "."):
        return repo.without_entry(repo.commit_tree(snapshot), record.RECORD_DIR)
    parent, _, leaf = folder.rstrip("/").rpartition("/")
    for name, oid, _mode in repo.list_tree(snapshot, parent):
        if name == leaf:
            return oid
    return "missing"


# -- gitxp run --resume --------------------------------------------------------------------


def resume(
    repo: GitRepo,
    spec: str,
    args: list[str],
    options: RunOptions,
    *,
    yes: bool,
    echo: Echo,
    confirm: Confirm,
) -> int:
    """Continue run ``spec`` as a new run: its original sources, its artifacts at hand.

    The previous run's artifacts are extracted to a temporary folder named by
    ``$GITXP_RESUME_DIR`` (``gitxp.resume_artifact(name)`` finds them); the new run's
    record says ``resumed_from``. ``args`` default to the previous run's command.
    """
    from gitxp.api import RESUME_DIR_ENV, RESUMED_FROM_ENV

    rec = load_sound(repo, spec)
    status = rec.info.get("status")
    if status not in RESUMABLE:
        hint = "it is still running" if status == "RUNNING" else "start a new run instead"
        raise UsageError(
            f"run {rec.ref.id} is {status}; only INTERRUPTED, DIED or FAILED runs can be "
            f"resumed ({hint})"
        )
    remove_stale_worktrees(repo)
    args = list(args) or rerun_args(rec.info, options.python)
    confirm_foreign(repo, rec, args, yes, confirm, "Resuming it")
    with (
        temporary_worktree(repo, rec) as worktree,
        tempfile.TemporaryDirectory(prefix="gitxp-resume-") as previous,
    ):
        names = extract_artifacts(repo, rec, Path(previous))
        run_dir, rel_cwd = _run_dir(worktree, rec.info)
        echo(
            f"gitxp: resuming run {rec.ref.id} ({status}) from its own sources; "
            f"{len(names)} artifact{'s' if len(names) != 1 else ''} in ${RESUME_DIR_ENV}"
        )
        options = replace(
            options,
            name=options.name or rec.info.get("name"),
            cwd=str(run_dir),
            snapshot=recorded_snapshot(repo, rec),
            record_cwd=rel_cwd,
            extra={**options.extra, "resumed_from": rec.ref.id},
            env={**options.env, RESUME_DIR_ENV: previous, RESUMED_FROM_ENV: rec.ref.id},
        )
        return run(repo, _in_worktree(args, repo.workdir, worktree, run_dir), options)


@contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Send everything written to file descriptor 1 to 2 meanwhile (for ``--json``)."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def verdict_json(verdict: Verdict) -> str:
    """``gitxp reproduce --json``."""
    return json.dumps(verdict.as_json(), indent=2, ensure_ascii=False)
