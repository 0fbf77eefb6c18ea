"""Attestations: the verdict of a reproduction, stored beside the runs it speaks of.

One ref per reproduction, ``refs/gitxp/attestations/<original id>/<reproduction id>``,
pointing at an *attestation commit*:

- tree: ``format`` (``gitxp-attestation 1``) and ``attestation.json`` (which run
  reproduced which, where, with which environment, the verdict of every check);
- parents: the original run's commit and the reproduction run's commit, as they were
  when the verdict was made (so the attestation carries what it judged, and a fetch of
  the attestation brings both runs' objects);
- message: a one-line summary plus ``Gitxp-Attests``, ``Gitxp-Reproduction`` and
  ``Gitxp-Verdict`` trailers; signed like a run commit when signing is on.

Attestations are created once and never rewritten (a run is never rewritten either);
push and fetch carry them with the runs. What a remote sends is checked before use:
the ref name must hold two run ids, and what the JSON says is read defensively.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from gitxp.errors import RefConflictError, UsageError
from gitxp.git.repo import GitRepo
from gitxp.store import record
from gitxp.store.ids import is_run_id
from gitxp.store.runs import RunRef

ATTEST_PREFIX = "refs/gitxp/attestations/"
FORMAT = 1
FORMAT_TEXT = f"gitxp-attestation {FORMAT}\n"
FILE = "attestation.json"
_MAX_JSON = 4 * 1024 * 1024


@dataclass(frozen=True)
class Attestation:
    """One stored attestation, as read from its commit."""

    ref: str
    commit: str
    original: str
    reproduction: str
    reproduced: bool
    summary: str
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def where(self) -> str:
        """The host the reproduction ran on."""
        host = self.data.get("host")
        return str(host.get("hostname") or "?") if isinstance(host, dict) else "?"

    @property
    def by(self) -> str:
        """Who reproduced it: ``Name <email>``."""
        who = self.data.get("by")
        if not isinstance(who, dict):
            return "?"
        return f"{who.get('name') or '?'} <{who.get('email') or '?'}>"

    @property
    def when(self) -> str:
        """When the verdict was made (ISO 8601)."""
        return str(self.data.get("time") or "?")


def attestation_ref(original: str, reproduction: str) -> str:
    """The ref of the attestation that ``reproduction`` reproduced ``original``."""
    return f"{ATTEST_PREFIX}{original}/{reproduction}"


def parse_attestation_ref(name: str) -> tuple[str, str] | None:
    """(original id, reproduction id) of an attestation ref name, or None if it is not one."""
    if not name.startswith(ATTEST_PREFIX):
        return None
    parts = name[len(ATTEST_PREFIX) :].split("/")
    if len(parts) != 2 or not all(is_run_id(p) for p in parts):
        return None
    return parts[0], parts[1]


def write_attestation(
    repo: GitRepo, data: dict[str, Any], original: RunRef, reproduction: RunRef, sign: bool
) -> Attestation:
    """Store ``data`` (see ``docs/format.md``) as the attestation of ``reproduction``."""
    verdict = "reproduced" if data.get("reproduced") else "not reproduced"
    summary = str(data.get("summary") or verdict)
    tree = repo.write_tree({"format": FORMAT_TEXT.encode(), FILE: record.dump_json(data)})
    message = (
        f"gitxp attestation: run {original.id[:10]} {verdict} by run {reproduction.id[:10]}\n\n"
        f"{summary}\n\n"
        f"Gitxp-Attests: {original.id}\n"
        f"Gitxp-Reproduction: {reproduction.id}\n"
        f"Gitxp-Verdict: {verdict}\n"
    )
    commit = repo.write_commit(tree, [original.commit, reproduction.commit], message, sign=sign)
    ref = attestation_ref(original.id, reproduction.id)
    try:
        repo.create_ref(ref, commit)
    except RefConflictError:
        raise UsageError(f"{ref} exists already; an attestation is never rewritten") from None
    return Attestation(
        ref, commit, original.id, reproduction.id, bool(data.get("reproduced")), summary, data
    )


def read_attestation(repo: GitRepo, ref: str, commit: str) -> Attestation | None:
    """The attestation at ``ref`` (None when the ref or its commit is not one)."""
    ids = parse_attestation_ref(ref)
    if ids is None or not repo.has_object(commit):
        return None
    raw = repo.read_path(commit, FILE)
    data: Any = None
    if raw is not None and len(raw) <= _MAX_JSON:
        try:
            data = json.loads(raw)
        except ValueError:
            data = None
    if not isinstance(data, dict):
        return None
    said = [data.get(side) for side in ("original", "reproduction")]
    if tuple(x.get("id") if isinstance(x, dict) else None for x in said) != ids:
        return None  # the file speaks of other runs than its ref names: not trusted
    summary = data.get("summary")
    return Attestation(
        ref,
        commit,
        ids[0],
        ids[1],
        data.get("reproduced") is True,
        summary if isinstance(summary, str) else "",
        data,
    )


def attestations_of(repo: GitRepo, run_id: str) -> list[Attestation]:
    """Every readable attestation that speaks of run ``run_id`` (as original or
    reproduction), oldest reproduction first."""
    found = []
    for ref, commit in sorted(repo.refs(ATTEST_PREFIX).items()):
        ids = parse_attestation_ref(ref)
        if ids is None or run_id not in ids:
            continue
        attestation = read_attestation(repo, ref, commit)
        if attestation is not None:
            found.append(attestation)
    return found


def verdicts(repo: GitRepo) -> dict[str, list[bool]]:
    """Original run id → the verdicts of its reproductions (True: reproduced), from the
    commit messages' trailers only: what ``ls`` and the frames show without reading JSON."""
    out: dict[str, list[bool]] = {}
    for ref, commit in sorted(repo.refs(ATTEST_PREFIX).items()):
        ids = parse_attestation_ref(ref)
        if ids is None or not repo.has_object(commit):
            continue
        trailers = record.parse_trailers(repo.commit_message(commit))
        if trailers.get("Gitxp-Attests") != ids[0]:
            continue
        out.setdefault(ids[0], []).append(trailers.get("Gitxp-Verdict") == "reproduced")
    return out
