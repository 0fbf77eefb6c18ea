"""Attestations travel with the runs they speak of (``gitxp push``/``gitxp fetch``).

An attestation ref (:mod:`gitxp.store.attestations`) goes along whenever the run it
judged or the reproduction it names is pushed or fetched. It is only ever created,
never moved: one that exists on the other side with another commit is reported, not
overwritten. A fetched one is kept only if it reads as an attestation of the two runs
its name says (its signature is for ``gitxp verify`` to judge).
"""

from __future__ import annotations

from collections.abc import Collection

from gitxp.errors import RefConflictError
from gitxp.git.repo import GitRepo
from gitxp.store.attestations import ATTEST_PREFIX, parse_attestation_ref, read_attestation


def about(refs: dict[str, str], run_ids: Collection[str] | None) -> dict[str, str]:
    """The attestation refs of ``refs`` that speak of one of ``run_ids`` (None: all)."""
    out = {}
    for ref, commit in refs.items():
        ids = parse_attestation_ref(ref)
        if ids and (run_ids is None or ids[0] in run_ids or ids[1] in run_ids):
            out[ref] = commit
    return out


def plan_push(
    repo: GitRepo, run_ids: Collection[str], remote_refs: dict[str, str]
) -> tuple[dict[str, str], list[str]]:
    """(refs to create on the remote, one line per attestation that differs there)."""
    send, differ = {}, []
    for ref, commit in sorted(about(repo.refs(ATTEST_PREFIX), run_ids).items()):
        there = remote_refs.get(ref)
        if there is None:
            send[ref] = commit
        elif there != commit:
            differ.append(f"{ref}: the remote holds another attestation under this name")
    return send, differ


def wanted(
    repo: GitRepo, remote_refs: dict[str, str], run_ids: Collection[str] | None
) -> dict[str, str]:
    """The remote's attestation refs to fetch: about ``run_ids`` (None: all), not here."""
    mine = repo.refs(ATTEST_PREFIX)
    return {r: c for r, c in about(remote_refs, run_ids).items() if mine.get(r) != c}


def take(repo: GitRepo, fetched: dict[str, str]) -> tuple[list[str], list[str]]:
    """Create the fetched attestation refs that check out: (created, problems)."""
    created, problems = [], []
    for ref, commit in sorted(fetched.items()):
        if read_attestation(repo, ref, commit) is None:
            problems.append(f"{ref}: not a readable attestation of the runs it names; skipped")
            continue
        try:
            repo.create_ref(ref, commit)
        except RefConflictError:
            problems.append(f"{ref}: another attestation exists here under this name; kept it")
            continue
        created.append(ref)
    return created, problems
