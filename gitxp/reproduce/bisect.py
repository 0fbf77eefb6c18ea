"""``gitxp bisect``: the first commit where a metric fell past a bar.

``git bisect`` walks the history between a good and a bad commit in a temporary linked
worktree (the user's working tree, index, HEAD and branches are not touched). At each
commit it is asked about, the experiment's input identity there (the commit's tree, the
config, the env lock and the program, as every run records it in ``inputs``) is looked
up among the recorded runs: a COMPLETED run with that identity is reused, otherwise the
script runs there and is recorded as a run like any other. Its metric (the last value,
or ``result``) against the bar says good or bad; a run that failed or has no value makes
git skip the commit. Both ends are judged too, so a wrong ``--good`` is said, not bisected.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitxp.errors import UsageError
from gitxp.git.repo import GitRepo
from gitxp.git.snapshot import Snapshot
from gitxp.machine.lock import env_lock
from gitxp.query.cache import run_table
from gitxp.store import record
from gitxp.store.ids import new_run_id
from gitxp.store.recorder import run_ref
from gitxp.store.restore import close_worktree, remove_stale_worktrees, worktree_at
from gitxp.store.runs import RunRecord, RunRef
from gitxp.supervise.runner import RunOptions, plan, run, run_spec

Echo = Callable[[str], None]
_FIRST_BAD = re.compile(r"^([0-9a-f]{40}) is the first bad commit", re.M)


@dataclass(frozen=True)
class BisectOptions:
    """What ``gitxp bisect`` was asked: the command, the two ends, the metric and bar."""

    args: list[str]
    good: str
    bad: str
    metric: str
    minimum: float | None = None
    maximum: float | None = None
    python: str | None = None


@dataclass(frozen=True)
class Point:
    """One commit judged: its metric value, the verdict, and the run that gave it."""

    commit: str
    value: float | None
    verdict: str  # good, bad or skip
    run_id: str | None
    reused: bool


@dataclass
class BisectResult:
    first_bad: str | None
    points: list[Point] = field(default_factory=list)

    @property
    def ran(self) -> int:
        return sum(1 for p in self.points if p.run_id and not p.reused)

    @property
    def reused(self) -> int:
        return sum(1 for p in self.points if p.reused)


def bisect(repo: GitRepo, opts: BisectOptions, echo: Echo) -> BisectResult:
    """Find the first commit between ``opts.good`` and ``opts.bad`` that fails the bar."""
    if (opts.minimum is None) == (opts.maximum is None):
        raise UsageError("give the bar as --min X (higher is better) or --max X (lower is)")
    good, bad = _commit(repo, opts.good, "--good"), _commit(repo, opts.bad, "--bad")
    if good == bad or not repo.is_ancestor(good, bad):
        raise UsageError("--good must be an older commit than --bad, in --bad's history")
    plan(opts.args, RunOptions(python=opts.python, cwd=os.getcwd()))  # bad input: say it now
    remove_stale_worktrees(repo)
    path, fd = worktree_at(repo, bad)
    try:
        judge = _Judge(repo, opts, path, echo)
        result = BisectResult(None)
        for commit, want in ((good, "good"), (bad, "bad")):
            point = judge(commit)
            result.points.append(point)
            if point.verdict != want:
                raise UsageError(
                    f"--{want} {commit[:10]} is not {want}: {opts.metric} = {point.value} "
                    f"({point.verdict}); choose other ends"
                )
        out = repo.git("-C", str(path), "bisect", "start", bad, good).stdout
        while not _FIRST_BAD.search(out):
            head = repo.git("-C", str(path), "rev-parse", "HEAD").stdout.strip()
            point = judge(head)
            result.points.append(point)
            proc = repo.git("-C", str(path), "bisect", point.verdict, check=False)
            out = proc.stdout
            if "only 'skip'ped commits left" in out:
                echo("gitxp bisect: only commits that could not be judged are left")
                return result
            if proc.returncode != 0:
                raise UsageError(f"git bisect failed: {(proc.stderr or out).strip()[:200]}")
        match = _FIRST_BAD.search(out)
        result.first_bad = match.group(1) if match else None
        return result
    finally:
        close_worktree(repo, path, fd)


def _commit(repo: GitRepo, rev: str, flag: str) -> str:
    commit = repo.find_commit(rev)
    if commit is None:
        raise UsageError(f"{flag} {rev!r}: no such commit here")
    return commit


class _Judge:
    """Judges commits: reuse a recorded run of the same inputs, else run one."""

    def __init__(self, repo: GitRepo, opts: BisectOptions, worktree: Path, echo: Echo) -> None:
        self.repo, self.opts, self.echo = repo, opts, echo
        rel = Path(os.getcwd()).resolve().relative_to(repo.workdir.resolve())
        self.worktree = worktree
        self.cwd = worktree / rel
        self.rel = rel.as_posix()

    def __call__(self, commit: str) -> Point:
        tree = self.repo.commit_tree(commit)
        options = RunOptions(
            python=self.opts.python,
            cwd=str(self.cwd),
            snapshot=Snapshot(tree, commit, None, True, False, []),
            record_cwd=self.rel,
            extra={"bisect": {"good": self.opts.good, "bad": self.opts.bad}},
        )
        launch = plan(self.opts.args, options)
        lock = env_lock(launch.python, self.repo.state_dir / "cache", self.repo.workdir)
        spec = run_spec(launch, options, lock)  # what the run would record, identity included
        inputs = record.input_identity(tree, spec.config, lock, spec.command, launch.named)
        found = self._recorded(inputs)
        reused = found is not None
        if found is None:
            self.repo.git("-C", str(self.worktree), "checkout", "-q", "--detach", commit)
            found = new_run_id()
            options.run_id = found
            run(self.repo, self.opts.args, options)
        value = self._value(found)
        verdict = "skip" if value is None else "good" if self._passes(value) else "bad"
        how = "reused" if reused else "ran"
        self.echo(
            f"gitxp bisect: {commit[:10]} {self.opts.metric}={value} {verdict} ({how} {found})"
        )
        return Point(commit, value, verdict, found, reused)

    def _recorded(self, inputs: str) -> str | None:
        table = run_table(self.repo)
        ids = table.columns.get("id") or []
        same = table.columns.get("inputs") or [None] * len(ids)
        status = table.columns.get("status") or [None] * len(ids)
        for run_id, identity, state in zip(ids, same, status, strict=False):
            if identity == inputs and state == "COMPLETED":
                return str(run_id)
        return None

    def _value(self, run_id: str) -> float | None:
        ref = run_ref(run_id)
        commit = self.repo.ref_target(ref)
        if commit is None:
            return None
        rec = RunRecord.load(self.repo, RunRef(run_id, ref, commit))
        if rec.info.get("status") != "COMPLETED":
            return None
        raw: Any = rec.info.get("result")
        if self.opts.metric != "result":
            values = (rec.metrics.get(self.opts.metric) or {}).get("values") or [None]
            raw = values[-1]
        try:
            value = float(raw)
        except (TypeError, ValueError):
            return None
        return None if math.isnan(value) else value

    def _passes(self, value: float) -> bool:
        if self.opts.minimum is not None:
            return value >= self.opts.minimum
        return self.opts.maximum is not None and value <= self.opts.maximum
