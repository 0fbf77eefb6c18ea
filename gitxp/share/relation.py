"""How two commits under one run id relate: the same run, a later state of it, or not.

A run ref moves (on a remote when pushing, here when fetching or importing a bundle) only
to a *later state of the same run*: both commits share the run's snapshot commit, and the
new one is the record of a later moment (a finished run beats a RUNNING one; two RUNNING
states are ordered by heartbeat). Anything else is a conflict, reported with its reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gitxp.git.repo import RUNS_PREFIX, GitRepo
from gitxp.store import checked
from gitxp.store.checked import RecordProblem
from gitxp.store.runs import read_record_file, record


@dataclass(frozen=True)
class Relation:
    """How a run's local commit relates to the remote's: one of ``same``, ``ahead``
    (local is later), ``behind`` (remote is later), ``conflict``; and why."""

    kind: str
    reason: str = ""


def run_info_at(repo: GitRepo, commit: str) -> dict[str, Any]:
    """The checked run.json of ``commit``, or {} when it is not a sound run commit."""
    try:
        if repo.object_kind(commit) != "commit":
            return {}
        raw = read_record_file(repo, commit, "run.json")
        found = checked.parse_json(raw, "run.json") if raw is not None else None
        if not isinstance(found, dict) or not isinstance(found.get("id"), str):
            return {}
        return checked.run_info(raw, found["id"])
    except RecordProblem:
        return {}


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
    mine, theirs = run_info_at(repo, local), run_info_at(repo, remote)
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


def run_id_of(ref: str) -> str:
    return ref[len(RUNS_PREFIX) :]
