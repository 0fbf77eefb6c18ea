"""``gitxp ls --remote``: the runs a remote holds, without fetching them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gitxp.git.repo import RUNS_PREFIX, GitRepo
from gitxp.share.relation import relation, run_id_of, run_info_at
from gitxp.store.ids import id_time


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
    from gitxp.share.transport import Connection, resolve_remote

    source = resolve_remote(repo, remote)
    refs = {
        r: c for r, c in Connection(repo, source).ls_refs().items() if r.startswith(RUNS_PREFIX)
    }
    local = repo.refs(RUNS_PREFIX)
    out = []
    for ref, commit in sorted(refs.items(), reverse=True):
        here = local.get(ref)
        info: dict[str, Any] = {}
        if repo.has_object(commit):
            info = run_info_at(repo, commit)
        if here is None:
            state = "not-here"
        elif not repo.has_object(commit):
            state = "newer-there"
        else:
            kind = relation(repo, here, commit).kind
            state = {"same": "same", "ahead": "newer-here", "behind": "newer-there"}.get(
                kind, "conflict"
            )
        out.append(RemoteRun(run_id_of(ref), commit, state, info))
    missing = sorted((run_id_of(r) for r in local if r not in refs), reverse=True)
    return out, missing
