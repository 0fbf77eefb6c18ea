"""What ``show``, ``show --json`` and the board say of a run's attestations."""

from __future__ import annotations

from typing import Any

from gitxp.store import record
from gitxp.store.attestations import Attestation, attestations_of
from gitxp.store.runs import RunRecord


def attestation_json(found: Attestation) -> dict[str, Any]:
    """One attestation as ``show --json``, the board and ``gitxp.load_run`` give it."""
    return {
        "ref": found.ref,
        "commit": found.commit,
        "original": found.original,
        "reproduction": found.reproduction,
        "reproduced": found.reproduced,
        "summary": found.summary,
        "by": found.by,
        "host": found.where,
        "time": found.when,
        "checks": found.data.get("checks") or [],
        "environment": found.data.get("environment") or [],
    }


def attestation_lines(rec: RunRecord) -> list[str]:
    """``reproductions:`` (who reproduced this run, where, and whether it matched) and
    ``reproduction:`` (the verdict on the run this one reproduced)."""
    mine, of_other = [], []
    for found in attestations_of(rec.repo, rec.ref.id):
        try:
            moment = record.parse_time(found.when)
            when = moment.astimezone().strftime("%Y-%m-%d %H:%M") if moment else "?"
        except ValueError:  # a fetched attestation may say anything
            when = found.when
        where = f"by {found.by} on {found.where} at {when}"
        if found.original == rec.ref.id:
            mine.append(f"  run {found.reproduction[:12]} {where}: {found.summary}")
        else:
            of_other.append(f"  of run {found.original[:12]}: {found.summary}")
    out = ["", "reproductions:", *mine] if mine else []
    return out + (["", "reproduction:", *of_other] if of_other else [])
