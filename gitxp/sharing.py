"""Sharing runs through git remotes: what ``gitxp push``/``fetch``/``ls --remote`` decide.

The transport is :mod:`gitxp.remote`; this module holds the rules:

- A run ref moves (on the remote when pushing, here when fetching) only to a *later
  state of the same run*: both commits share the run's snapshot commit, and the new one
  is the record of a later moment (a finished run beats a RUNNING one; two RUNNING
  states are ordered by heartbeat). Anything else is a conflict: it is reported with the
  reason and never overwritten.
- Remote runs are deleted only by ``push(..., delete=True)`` with explicit runs.
- Each ref update is a compare-and-swap against what the remote advertised. A server
  that refuses some updates (another client won a race, a hook said no) is asked again,
  up to :data:`ATTEMPTS` times, with a fresh look at its refs.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gitxp import record
from gitxp.errors import GitxpError, RunNotFoundError, UsageError
from gitxp.ids import id_time, normalize_prefix
from gitxp.repo import RUNS_PREFIX, GitRepo, RefConflictError
from gitxp.store import RunRef, list_runs, resolve

ATTEMPTS = 3
Progress = Callable[[str], None]


# -- how two commits of one run id relate ---------------------------------------------


@dataclass(frozen=True)
class Relation:
    """How a run's local commit relates to the remote's: one of ``same``, ``ahead``
    (local is later), ``behind`` (remote is later), ``conflict``; and why."""

    kind: str
    reason: str = ""


def _run_info(repo: GitRepo, commit: str) -> dict[str, Any]:
    raw = repo.read_path(commit, f"{record.RECORD_DIR}/run.json")
    return dict(json.loads(raw)) if raw else {}


def _snapshot(repo: GitRepo, commit: str, info: dict[str, Any]) -> str | None:
    """The snapshot commit of the run whose commit is ``commit`` (None if not a run)."""
    if not info.get("id"):
        return None
    base = info.get("base_commit")
    parents = repo.commit_parents(commit)
    if parents == ([base] if base else []):
        return commit
    return parents[0] if parents else None


def relation(repo: GitRepo, local: str, remote: str) -> Relation:
    """Compare two commits of one run id; both must be in the object database."""
    if local == remote:
        return Relation("same")
    mine, theirs = _run_info(repo, local), _run_info(repo, remote)
    snap_mine, snap_theirs = _snapshot(repo, local, mine), _snapshot(repo, remote, theirs)
    if snap_mine is None or snap_theirs is None:
        return Relation("conflict", "one side is not a gitxp run commit")
    if snap_mine != snap_theirs:
        return Relation(
            "conflict",
            f"the two sides hold different runs under one id (snapshots {snap_mine[:10]} "
            f"here, {snap_theirs[:10]} there)",
        )
    if remote == snap_theirs:
        return Relation("ahead", "the remote only has the run's start")
    if local == snap_mine:
        return Relation("behind", "this repository only has the run's start")
    done_mine = mine.get("status") in record.FINAL_STATUSES
    done_theirs = theirs.get("status") in record.FINAL_STATUSES
    if done_mine and not done_theirs:
        return Relation("ahead", "finished here, RUNNING there")
    if done_theirs and not done_mine:
        return Relation("behind", "finished there, RUNNING here")
    if done_mine and done_theirs:
        return Relation(
            "conflict",
            f"finished on both sides with different records ({mine.get('status')} here, "
            f"{theirs.get('status')} there)",
        )
    beat_mine, beat_theirs = str(mine.get("heartbeat") or ""), str(theirs.get("heartbeat") or "")
    if beat_mine > beat_theirs:
        return Relation("ahead", "a later heartbeat here")
    if beat_theirs > beat_mine:
        return Relation("behind", "a later heartbeat there")
    return Relation("conflict", "two different RUNNING records with the same heartbeat")


def _run_id(ref: str) -> str:
    return ref[len(RUNS_PREFIX) :]


# -- push ---------------------------------------------------------------------------------


@dataclass
class PushReport:
    """What a push did, run by run."""

    remote: str
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    behind: list[tuple[str, str]] = field(default_factory=list)  # remote has a later state
    conflicts: list[tuple[str, str]] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)  # the server said no
    messages: list[str] = field(default_factory=list)  # what the server printed then
    objects: int = 0

    @property
    def ok(self) -> bool:
        """True when nothing conflicted and the server accepted everything asked."""
        return not self.conflicts and not self.rejected


def push(
    repo: GitRepo,
    remote: str | None = None,
    runs: list[str] | None = None,
    *,
    status: str | None = None,
    where: str | None = None,
    delete: bool = False,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> PushReport:
    """Push runs to ``remote`` (a remote name or URL; None: gitxp.remote or origin).

    Without ``runs``, every local run the remote lacks or holds an earlier state of;
    ``status``/``where`` narrow that down. ``delete`` deletes the named runs on the
    remote (and only those). ``dry_run`` decides everything but sends nothing.
    """
    from gitxp.remote import Connection, resolve_remote

    target = resolve_remote(repo, remote, push=True)
    report = PushReport(target.label)
    if delete:
        if not runs:
            raise UsageError("push --delete needs the runs to delete: gitxp push --delete RUN…")
        if status or where:
            raise UsageError("push --delete takes run ids, not --status/--where")
        wanted: dict[str, str] = {}
    else:
        wanted = {ref.ref: ref.commit for ref in _select(repo, runs, status, where)}
    for attempt in range(ATTEMPTS):
        plan = _PushPlan(repo, target, wanted, runs if delete else None, dry_run, report)
        connection = Connection(repo, target, progress)
        result = connection.push(plan)
        report.objects += result.objects
        failed = {}
        for ref, new in plan.decided.items():
            why = None if dry_run else result.status.get(ref)
            if why:
                failed[ref] = why
            elif new is None:
                report.deleted.append(_run_id(ref))
            elif ref in result.before:
                report.updated.append(_run_id(ref))
            else:
                report.created.append(_run_id(ref))
        if not failed:
            break
        if attempt + 1 == ATTEMPTS or delete:
            report.rejected += [(_run_id(ref), why) for ref, why in sorted(failed.items())]
            report.messages = connection.messages
            break
        time.sleep(0.2 * (attempt + 1))  # lost a race, or a hiccup: look again, retry those
        wanted = {ref: commit for ref in failed if (commit := repo.ref_target(ref))}
    return report


class _PushPlan:
    """dulwich's ``update_refs`` callback: decides each ref once the remote's are known."""

    def __init__(
        self,
        repo: GitRepo,
        target: Any,
        wanted: dict[str, str],
        delete: list[str] | None,
        dry_run: bool,
        report: PushReport,
    ) -> None:
        self.repo, self.target, self.wanted = repo, target, wanted
        self.delete, self.dry_run, self.report = delete, dry_run, report
        self.decided: dict[str, str | None] = {}

    def __call__(self, remote_refs: dict[str, str]) -> dict[str, str | None]:
        if self.delete is not None:
            self.decided = _plan_delete(self.delete, remote_refs, self.report)
        else:
            self.decided = _plan_push(self.repo, self.target, self.wanted, remote_refs, self.report)
        return {} if self.dry_run else dict(self.decided)


def _select(
    repo: GitRepo, specs: list[str] | None, status: str | None, where: str | None
) -> list[RunRef]:
    runs = list_runs(repo)
    if specs:
        runs = list({r.ref: r for r in (resolve(repo, spec, runs) for spec in specs)}.values())
    if status or where:
        from gitxp.query import runs as query_runs

        ids = set(query_runs(repo, where=where, status=status)["id"])
        runs = [r for r in runs if r.id in ids]
    return runs


def _plan_push(
    repo: GitRepo,
    target: Any,
    wanted: dict[str, str],
    remote_refs: dict[str, str],
    report: PushReport,
) -> dict[str, str | None]:
    unknown = [
        remote_refs[ref]
        for ref in wanted
        if ref in remote_refs
        and remote_refs[ref] != wanted[ref]
        and not repo.has_object(remote_refs[ref])
    ]
    if unknown:  # an earlier state we no longer hold (gc'd): fetch it to compare
        _fetch_objects(repo, target, set(unknown))
    updates: dict[str, str | None] = {}
    for ref, commit in sorted(wanted.items()):
        there = remote_refs.get(ref)
        if there is None:
            updates[ref] = commit
            continue
        if not repo.has_object(there):
            report.conflicts.append(
                (_run_id(ref), "the remote's version of this run could not be read")
            )
            continue
        rel = relation(repo, commit, there)
        if rel.kind == "same":
            report.unchanged.append(_run_id(ref))
        elif rel.kind == "ahead":
            updates[ref] = commit
        elif rel.kind == "behind":
            report.behind.append((_run_id(ref), rel.reason))
        else:
            report.conflicts.append((_run_id(ref), rel.reason))
    return updates


def _plan_delete(
    specs: list[str], remote_refs: dict[str, str], report: PushReport
) -> dict[str, str | None]:
    remote_runs = [RunRef(_run_id(ref), ref, commit) for ref, commit in remote_refs.items()]
    remote_runs.sort(key=lambda r: r.id, reverse=True)
    updates: dict[str, str | None] = {}
    for spec in specs:
        try:
            run = _match(spec, remote_runs)
        except RunNotFoundError as err:
            report.rejected.append((spec, str(err)))
            continue
        updates[run.ref] = None
    return updates


def _match(spec: str, runs: list[RunRef]) -> RunRef:
    """The remote run ``spec`` (an id prefix or a full ref) names."""
    text = spec.strip()
    if text.startswith(RUNS_PREFIX):
        text = _run_id(text)
    prefix = normalize_prefix(text)
    matches = [r for r in runs if prefix and r.id.startswith(prefix)]
    if not matches:
        raise RunNotFoundError(f"no run matches {spec!r} on the remote")
    if len(matches) > 1:
        raise RunNotFoundError(f"{spec!r} matches {len(matches)} runs on the remote")
    return matches[0]


def _fetch_objects(repo: GitRepo, target: Any, commits: set[str]) -> None:
    from gitxp.remote import Connection

    def choose(remote_refs: dict[str, str]) -> list[str]:
        return [c for c in remote_refs.values() if c in commits]

    Connection(repo, target).fetch(choose)


# -- fetch --------------------------------------------------------------------------------


@dataclass
class FetchReport:
    """What a fetch did, run by run."""

    remote: str
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    ahead: list[tuple[str, str]] = field(default_factory=list)  # local has a later state
    conflicts: list[tuple[str, str]] = field(default_factory=list)
    objects: int = 0

    @property
    def ok(self) -> bool:
        """True when no run conflicted."""
        return not self.conflicts


def fetch(
    repo: GitRepo,
    remote: str | None = None,
    runs: list[str] | None = None,
    *,
    progress: Progress | None = None,
) -> FetchReport:
    """Fetch runs from ``remote`` (all, or those ``runs`` name by id prefix).

    Objects first; then every run ref is created or moved in one transaction, each to a
    later state of the same run only. A failure before that changes no ref.
    """
    from gitxp.remote import Connection, resolve_remote

    source = resolve_remote(repo, remote)
    report = FetchReport(source.label)
    chosen: dict[str, str] = {}

    def choose(remote_refs: dict[str, str]) -> list[str]:
        chosen.clear()
        if runs:
            listed = [RunRef(_run_id(r), r, c) for r, c in remote_refs.items()]
            for spec in runs:
                run = _match(spec, listed)
                chosen[run.ref] = run.commit
        else:
            chosen.update(remote_refs)
        return list(chosen.values())

    _, report.objects = Connection(repo, source, progress).fetch(choose)
    for _ in range(ATTEMPTS):
        updates = _plan_fetch(repo, chosen, report)
        try:
            repo.update_refs(updates, message=f"gitxp fetch {source.label}")
        except RefConflictError:  # a local run moved meanwhile (a heartbeat): decide again
            report = FetchReport(source.label, objects=report.objects)
            continue
        break
    return report


def _plan_fetch(
    repo: GitRepo, chosen: dict[str, str], report: FetchReport
) -> dict[str, tuple[str | None, str]]:
    updates: dict[str, tuple[str | None, str]] = {}
    for ref, commit in sorted(chosen.items()):
        here = repo.ref_target(ref)
        if here is None:
            updates[ref] = (None, commit)
            report.created.append(_run_id(ref))
            continue
        rel = relation(repo, here, commit)
        if rel.kind == "same":
            report.unchanged.append(_run_id(ref))
        elif rel.kind == "behind":
            updates[ref] = (here, commit)
            report.updated.append(_run_id(ref))
        elif rel.kind == "ahead":
            report.ahead.append((_run_id(ref), rel.reason))
        else:
            report.conflicts.append((_run_id(ref), rel.reason))
    return updates


# -- what a remote holds, without fetching ---------------------------------------------------


@dataclass(frozen=True)
class RemoteRun:
    """A run on a remote: its id and commit, how it relates to this repository's copy,
    and what is known of it here (from a local copy of the same commit, if any)."""

    id: str
    commit: str
    here: str  # same, newer-here, newer-there, conflict, not-here
    info: dict[str, Any]

    @property
    def start(self) -> float:
        """Start time, from the run id."""
        return id_time(self.id)


def remote_runs(repo: GitRepo, remote: str | None = None) -> tuple[list[RemoteRun], list[str]]:
    """The runs ``remote`` holds, newest first, and the local runs it lacks.

    Only the remote's ref list is transferred (like ``git ls-remote``). Status, name
    and experiment are read from this repository's copy of the same commit when it has
    one; otherwise only the id, start time and commit are known.
    """
    from gitxp.remote import Connection, resolve_remote

    source = resolve_remote(repo, remote)
    refs = Connection(repo, source).ls_refs()
    local = repo.refs(RUNS_PREFIX)
    out = []
    for ref, commit in sorted(refs.items(), reverse=True):
        here = local.get(ref)
        info: dict[str, Any] = {}
        if repo.has_object(commit):
            info = _run_info(repo, commit)
        if here is None:
            state = "not-here"
        elif not repo.has_object(commit):
            state = "newer-there"
        else:
            kind = relation(repo, here, commit).kind
            state = {"same": "same", "ahead": "newer-here", "behind": "newer-there"}.get(
                kind, "conflict"
            )
        out.append(RemoteRun(_run_id(ref), commit, state, info))
    missing = sorted((_run_id(r) for r in local if r not in refs), reverse=True)
    return out, missing


# -- after a run -------------------------------------------------------------------------------


def push_after_run(repo: GitRepo, run_id: str, remote: str | None) -> str:
    """Push one finished run (``gitxp run --push``, ``gitxp.autopush``); never raises.

    Returns the line to print: where it went, or a warning that says the next
    ``gitxp push`` will send it.
    """
    try:
        report = push(repo, remote, [run_id])
    except GitxpError as err:
        return f"gitxp: warning: run {run_id} was not pushed: {err}; 'gitxp push' sends it later"
    except Exception as err:  # a broken network library must not fail a recorded run
        return (
            f"gitxp: warning: run {run_id} was not pushed ({type(err).__name__}: {err}); "
            "'gitxp push' sends it later"
        )
    if report.ok:
        return f"gitxp: pushed run {run_id} to {report.remote}"
    problems = report.conflicts + report.rejected
    why = "; ".join(reason for _, reason in problems)
    return f"gitxp: warning: run {run_id} was not pushed to {report.remote}: {why}"
