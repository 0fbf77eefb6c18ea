"""The attestation a reproduction leaves: its verdict, recorded in git and shared.

:func:`attest` turns a :class:`~gitxp.reproduce.verdict.Verdict` into the data of an
attestation commit (see :mod:`gitxp.store.attestations` for where it lives and
``docs/format.md`` for the fields) and stores it, signed when signing is on.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

from gitxp.git.repo import GitRepo
from gitxp.git.signing import wants_signing
from gitxp.machine.lock import interpreter_of_lock
from gitxp.query.diff import host_summary
from gitxp.reproduce.verdict import Check, Tolerances, Verdict
from gitxp.store import record
from gitxp.store.attestations import Attestation, write_attestation
from gitxp.store.runs import RunRecord

ATTESTATION_FORMAT = 1


def attest(
    repo: GitRepo,
    verdict: Verdict,
    original: RunRecord,
    reproduction: RunRecord,
    tolerances: Tolerances,
    env_mode: str,
    sign: bool | None,
) -> Attestation:
    """Record that ``reproduction`` reproduced ``original`` (or did not), and how."""
    me = repo.signature()
    host = reproduction.host
    lock = reproduction.env_lock
    data: dict[str, Any] = {
        "format": ATTESTATION_FORMAT,
        "original": {"id": original.ref.id, "commit": original.ref.commit},
        "reproduction": {"id": reproduction.ref.id, "commit": reproduction.ref.commit},
        "reproduced": verdict.reproduced,
        "summary": verdict.summary(),
        "strict": verdict.strict,
        "tolerances": tolerances.as_json(),
        "checks": [_check(c) for c in verdict.checks],
        "environment": [_check(c) for c in verdict.environment],
        "host": {"hostname": host.get("hostname"), **host_summary(host)},
        "env": {
            "mode": env_mode,
            "python": interpreter_of_lock(lock),
            "lock_sha256": hashlib.sha256(lock.encode()).hexdigest(),
        },
        "by": {"name": str(me.name), "email": str(me.email)},
        "time": record.iso(time.time()),
    }
    return write_attestation(
        repo, data, original.ref, reproduction.ref, sign=wants_signing(repo, sign)
    )


def _check(check: Check) -> dict[str, Any]:
    out: dict[str, Any] = {
        "what": check.what,
        "original": check.original,
        "reproduction": check.reproduction,
        "verdict": check.verdict,
    }
    if check.detail:
        out["detail"] = check.detail
    if check.first_step is not None:
        out["first_step"] = check.first_step
    return out
