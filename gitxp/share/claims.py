"""Claiming a queued run on a shared remote: one ref update that exactly one worker wins.

A worker claims a QUEUED run by moving its ref on the remote from the queued commit to
its own RUNNING commit. The push sends that one update with the queued commit as the
expected old value; git's ``receive-pack`` locks the ref and refuses the update when
the ref moved meanwhile, so of any number of workers racing for one run, one wins.
"""

from __future__ import annotations

from gitxp.git.repo import GitRepo


def push_claim(repo: GitRepo, remote: str, ref: str, old: str, new: str) -> bool:
    """Move ``ref`` on ``remote`` from ``old`` to ``new``; False if it was not at ``old``.

    Raises RemoteError when the remote cannot be reached or refuses pushes altogether.
    """
    from gitxp.share.transport import Connection, resolve_remote

    target = resolve_remote(repo, remote, push=True)

    def plan(remote_refs: dict[str, str]) -> dict[str, str | None]:
        return {ref: new} if remote_refs.get(ref) == old else {}

    result = Connection(repo, target).push(plan)
    return ref in result.updates and result.status.get(ref) is None
