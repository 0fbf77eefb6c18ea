"""Sharing runs through git remotes: what ``gitxp push``/``fetch``/``ls --remote`` decide.

The transport is :mod:`gitxp.share.transport`, which runs are the same run is
:mod:`gitxp.share.relation`; this module holds the rules:

- A run ref moves (on the remote when pushing, here when fetching) only to a *later
  state of the same run*: both commits share the run's snapshot commit, and the new one
  is the record of a later moment (a finished run beats a RUNNING one; two RUNNING
  states are ordered by heartbeat). Anything else is a conflict: it is reported with the
  reason and never overwritten.
- Remote runs are deleted only by ``push(..., delete=True)`` with explicit runs.
- Each ref update is a compare-and-swap against what the remote advertised. A server
  that refuses some updates (another client won a race, a hook said no) is asked again,
  up to :data:`ATTEMPTS` times, with a fresh look at its refs.
- Attestations of reproductions travel with the runs they speak of, created only, never
  moved (:mod:`gitxp.share.attestations`).
- The notes ref of the board's tags and notes (:data:`NOTES_REF`) travels too, whole,
  and never loses a note: push only fast-forwards the remote's; fetch fast-forwards
  ours, or merges the two with ``git notes merge -s union`` (both texts kept).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gitxp.errors import GitxpError, RunNotFoundError, UntrustedObjectsError, UsageError
from gitxp.git.repo import NOTES_REF, RUNS_PREFIX, GitRepo, RefConflictError
from gitxp.share import attestations
from gitxp.share.notes import NOTES_LACKING, plan_notes_push, take_notes
from gitxp.share.relation import Relation, relation, run_id_of
from gitxp.store.runs import RunRecord, RunRef, exact_run, list_runs, resolve

ATTEMPTS = 3
Progress = Callable[[str], None]


def _run_ref(ref: str, commit: str) -> RunRef:
    return RunRef(run_id_of(ref), ref, commit)


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
    notes: str = ""  # what happened to the notes ref, one line ("" when nothing to do)
    notes_problem: bool = False  # the notes were not sent (``notes`` says why)
    attestations: list[str] = field(default_factory=list)  # attestation refs sent
    attestation_problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing conflicted and the server accepted everything asked.

        The notes ref does not count: a push that could not send it says so in ``notes``.
        """
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

    Except with ``delete``, the notes ref (tags and notes) goes too, whole, whatever runs
    are selected, when the remote has none or an ancestor of ours; otherwise it is left
    alone and ``report.notes`` says so.
    """
    from gitxp.share.transport import Connection, resolve_remote

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
        _report_notes_push(report, plan, result.status, dry_run)
        for ref in plan.attestations:
            why = None if dry_run else result.status.get(ref)
            if why:
                report.attestation_problems.append(f"{ref}: rejected: {why}")
            elif ref not in report.attestations:
                report.attestations.append(ref)
        report.attestation_problems += plan.attestations_differ
        failed = {}
        for ref, new in plan.decided.items():
            why = None if dry_run else result.status.get(ref)
            if why:
                failed[ref] = why
            elif new is None:
                report.deleted.append(run_id_of(ref))
            elif ref in result.before:
                report.updated.append(run_id_of(ref))
            else:
                report.created.append(run_id_of(ref))
        if not failed:
            break
        if attempt + 1 == ATTEMPTS or delete:
            report.rejected += [(run_id_of(ref), why) for ref, why in sorted(failed.items())]
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
        self.decided: dict[str, str | None] = {}  # run refs only
        self.notes = ""  # the notes ref: "", "same", "send", "lacking" or "diverged"
        self.notes_commit: str | None = None  # sent as the remote's notes ref
        self.attestations: dict[str, str] = {}  # attestation refs to create there
        self.attestations_differ: list[str] = []

    def __call__(self, remote_refs: dict[str, str]) -> dict[str, str | None]:
        there_notes = remote_refs.pop(NOTES_REF, None)
        if self.delete is not None:
            self.decided = _plan_delete(self.repo, self.delete, remote_refs, self.report)
        else:
            self.decided = _plan_push(self.repo, self.target, self.wanted, remote_refs, self.report)
            self.notes, self.notes_commit = plan_notes_push(self.repo, there_notes)
            run_ids = {run_id_of(ref) for ref in self.wanted}
            self.attestations, self.attestations_differ = attestations.plan_push(
                self.repo, run_ids, remote_refs
            )
        updates = {**self.decided, **self.attestations}
        if self.notes == "send" and self.notes_commit:
            updates[NOTES_REF] = self.notes_commit
        return {} if self.dry_run else updates


def _select(
    repo: GitRepo, specs: list[str] | None, status: str | None, where: str | None
) -> list[RunRef]:
    runs = _resolve_all(repo, specs) if specs else list_runs(repo)
    if status or where:
        from gitxp.query.frames import runs as query_runs

        ids = set(query_runs(repo, where=where, status=status)["id"])
        runs = [r for r in runs if r.id in ids]
    return runs


def _resolve_all(repo: GitRepo, specs: list[str]) -> list[RunRef]:
    """The runs ``specs`` name, each once; the runs are listed only for a name that is not
    a whole id (``gitxp run --push`` names its run by id: no listing of every run)."""
    listed: list[RunRef] | None = None
    chosen: dict[str, RunRef] = {}
    for spec in specs:
        run = exact_run(repo, spec)
        if run is None:
            listed = list_runs(repo) if listed is None else listed
            run = resolve(repo, spec, listed)
        chosen.setdefault(run.ref, run)
    return list(chosen.values())


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
                (run_id_of(ref), "the remote's version of this run could not be read")
            )
            continue
        rel = relation(repo, commit, there)
        if rel.kind == "same":
            report.unchanged.append(run_id_of(ref))
        elif rel.kind == "ahead":
            updates[ref] = commit
        elif rel.kind == "behind":
            report.behind.append((run_id_of(ref), rel.reason))
        else:
            report.conflicts.append((run_id_of(ref), rel.reason))
    return updates


def _report_notes_push(
    report: PushReport, plan: _PushPlan, status: dict[str, str | None], dry_run: bool
) -> None:
    if plan.notes == "send":
        why = None if dry_run else status.get(NOTES_REF)
        if why:
            report.notes, report.notes_problem = (
                f"notes: the remote refused the tags and notes ({why}); someone may have "
                "pushed theirs meanwhile: run 'gitxp fetch' (it merges them), then push again",
                True,
            )
        else:
            verb = "would push" if dry_run else "pushed"
            report.notes, report.notes_problem = f"notes: {verb} tags and notes", False
    elif plan.notes == "lacking":
        report.notes, report.notes_problem = f"notes: {NOTES_LACKING}", True
    elif plan.notes == "diverged":
        report.notes, report.notes_problem = (
            "notes: the remote's tags and notes and these have diverged; run 'gitxp fetch' "
            "first (it merges them)",
            True,
        )
    # "same" (maybe after an earlier attempt pushed them) and "": nothing to say


def _plan_delete(
    repo: GitRepo, specs: list[str], remote_refs: dict[str, str], report: PushReport
) -> dict[str, str | None]:
    remote_runs = [
        RunRef(run_id_of(ref), ref, commit)
        for ref, commit in remote_refs.items()
        if ref.startswith(RUNS_PREFIX)
    ]
    remote_runs.sort(key=lambda r: r.id, reverse=True)
    updates: dict[str, str | None] = {}
    for spec in specs:
        try:
            run = _match(repo, spec, remote_runs)
        except RunNotFoundError as err:
            report.rejected.append((spec, str(err)))
            continue
        updates[run.ref] = None
    return updates


def _match(repo: GitRepo, spec: str, runs: list[RunRef]) -> RunRef:
    """The remote run ``spec`` names (any name :func:`resolve` takes)."""
    newest_first = sorted(runs, key=lambda r: r.id, reverse=True)
    return resolve(repo, spec, newest_first, where=" on the remote")


def _fetch_objects(repo: GitRepo, target: Any, commits: set[str]) -> None:
    from gitxp.share.transport import Connection

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
    refused: list[tuple[str, str]] = field(default_factory=list)  # unsafe or not a run
    objects: int = 0
    notes: str = ""  # what happened to the notes ref, one line ("" when nothing to do)
    notes_problem: bool = False  # the remote's notes could not be brought in
    attestations: list[str] = field(default_factory=list)  # attestation refs created here
    attestation_problems: list[str] = field(default_factory=list)
    notes_refused: str = ""  # why the remote's notes failed the object checks

    @property
    def ok(self) -> bool:
        """True when no run conflicted and none was refused."""
        return not self.conflicts and not self.refused


def fetch(
    repo: GitRepo,
    remote: str | None = None,
    runs: list[str] | None = None,
    *,
    progress: Progress | None = None,
    blob_limit: str | None = None,
) -> FetchReport:
    """Fetch runs from ``remote`` (all, or those ``runs`` name by id prefix).

    Objects first; then every run ref is created or moved in one transaction, each to a
    later state of the same run only. A failure before that changes no ref.

    Nothing from the remote is trusted: refs whose names are not run ids are not even
    listed; a run whose ref is not a commit, whose objects fail the checks of ``git fsck``
    (a tree entry ``..``, ``.git``, a name with ``/``, a bad mode …) or whose run.json is
    not a sound record is
    refused (``report.refused``: run id, why), and the others are fetched without it.

    The remote's notes ref (tags and notes) comes too, whole, whatever runs are named:
    ours is fast-forwarded to it, or merged with it (:func:`gitxp.share.notes.take_notes`).

    ``blob_limit`` (``1m``, ``500k``) leaves files larger than that on the remote (model
    weights and other artifacts): the repository becomes a partial clone of it, as with
    ``git clone --filter``, and a file left out is fetched when something reads it.
    """
    from gitxp.share.transport import Connection, resolve_remote

    source = resolve_remote(repo, remote)
    filter_spec = None if blob_limit is None else _blob_filter(blob_limit, source.name)
    report = FetchReport(source.label)
    chosen: dict[str, str] = {}
    there_notes: dict[str, str] = {}
    attested: dict[str, str] = {}
    refused: dict[str, str] = {}  # commit id → why it is not taken

    def choose(remote_refs: dict[str, str]) -> list[str]:
        chosen.clear()
        there_notes.clear()
        attested.clear()
        report.refused.clear()
        if NOTES_REF in remote_refs:
            there_notes[NOTES_REF] = remote_refs[NOTES_REF]
        run_refs = {r: c for r, c in remote_refs.items() if r.startswith(RUNS_PREFIX)}
        if runs:
            listed = [RunRef(run_id_of(r), r, c) for r, c in run_refs.items()]
            for spec in runs:
                run = _match(repo, spec, listed)
                chosen[run.ref] = run.commit
        else:
            chosen.update(run_refs)
        for ref, commit in sorted(chosen.items()):
            why = refused.get(commit)  # (the transport lists only refs named by run ids)
            if why is not None:
                report.refused.append((run_id_of(ref), why))
                del chosen[ref]
        if there_notes.get(NOTES_REF) in refused:
            report.notes_refused = refused[there_notes.pop(NOTES_REF)]
        run_ids = {run_id_of(ref) for ref in chosen} if runs else None
        wanted = attestations.wanted(repo, remote_refs, run_ids)
        attested.update({ref: c for ref, c in wanted.items() if c not in refused})
        return [*chosen.values(), *there_notes.values(), *attested.values()]

    connection = Connection(repo, source, progress)
    for attempt in range(ATTEMPTS):
        try:
            _, report.objects = connection.fetch(choose, filter_spec)
            break
        except UntrustedObjectsError as err:  # fetch again, without what was refused
            refused.update(err.refused)
            if attempt + 1 == ATTEMPTS:
                raise
    if filter_spec is not None and source.name is not None:
        repo.mark_promisor(source.name, filter_spec)
    before_plan = list(report.refused)
    for _ in range(ATTEMPTS):
        updates = _plan_fetch(repo, chosen, report)
        try:
            repo.update_refs(updates, message=f"gitxp fetch {source.label}")
        except RefConflictError:  # a local run moved meanwhile (a heartbeat): decide again
            report = FetchReport(
                source.label,
                objects=report.objects,
                refused=list(before_plan),
                notes_refused=report.notes_refused,
            )
            continue
        break
    if report.notes_refused:
        report.notes = f"notes: refused the remote's tags and notes: {report.notes_refused}"
        report.notes_problem = True
    elif NOTES_REF in there_notes:
        report.notes, report.notes_problem = take_notes(repo, there_notes[NOTES_REF])
    report.attestations, report.attestation_problems = attestations.take(repo, attested)
    return report


def _blob_filter(limit: str, remote_name: str | None) -> str:
    """``blob:limit=…`` for ``--no-artifacts``; the remote must have a name to ask later."""
    if not re.fullmatch(r"\d+[kmg]?", limit.strip().lower()):
        raise UsageError(f"--blob-limit {limit!r}: write a size like 1m, 500k or 2g")
    if remote_name is None:
        raise UsageError(
            "--no-artifacts needs a named remote to fetch left-out files from later: "
            "'git remote add NAME URL', then 'gitxp fetch NAME --no-artifacts'"
        )
    return f"blob:limit={limit.strip().lower()}"


def _plan_fetch(
    repo: GitRepo, chosen: dict[str, str], report: FetchReport
) -> dict[str, tuple[str | None, str]]:
    updates: dict[str, tuple[str | None, str]] = {}
    for ref, commit in sorted(chosen.items()):
        here = repo.ref_target(ref)
        rel = Relation("new") if here is None else relation(repo, here, commit)
        if rel.kind in ("new", "behind"):  # what would be taken must be a sound run
            problems = RunRecord.load(repo, _run_ref(ref, commit)).problems
            if problems:
                report.refused.append((run_id_of(ref), problems[0]))
                continue
        if rel.kind == "new":
            updates[ref] = (None, commit)
            report.created.append(run_id_of(ref))
        elif rel.kind == "same":
            report.unchanged.append(run_id_of(ref))
        elif rel.kind == "behind":
            updates[ref] = (here, commit)
            report.updated.append(run_id_of(ref))
        elif rel.kind == "ahead":
            report.ahead.append((run_id_of(ref), rel.reason))
        else:
            report.conflicts.append((run_id_of(ref), rel.reason))
    return updates


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
