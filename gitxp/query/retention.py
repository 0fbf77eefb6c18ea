"""Retention that understands runs: which runs ``gitxp gc --keep-best …`` deletes.

A plan is made from the same frame as ``gitxp ls`` (:func:`gitxp.query.frames.select`),
so every column a query can name works here. A run is kept when any rule keeps it:

- it is in progress or waiting (RUNNING, QUEUED): deleting it would lose its record;
- it is newer than ``older_than`` (when given, only older runs are candidates);
- it is tagged (``keep_tagged``) or has been reproduced (``keep_reproduced``);
- it is among the ``keep_best`` best of its group: runs grouped by the ``by`` columns
  (``config.model``), ranked by ``score`` (default ``result``; highest first unless
  ``minimize``); a run without a score is never among the best.

Everything else is deleted. The plan itself changes nothing; :func:`apply_plan` deletes
with the same compare-and-swap as ``gitxp rm`` (a run that moved since the plan is left).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from gitxp.errors import UsageError
from gitxp.git.repo import GitRepo
from gitxp.query.frames import pick_columns, select
from gitxp.store.ids import id_time
from gitxp.store.prune import parse_age, remove_runs
from gitxp.store.runs import RunRecord, RunRef

ALWAYS_KEPT = ("RUNNING", "QUEUED")
REPRODUCED_COLUMN = "reproduced"


@dataclass(frozen=True)
class Retention:
    """What to keep; see the module docstring."""

    keep_best: int | None = None
    by: tuple[str, ...] = ()
    score: str = "result"
    minimize: bool = False
    keep_tagged: bool = False
    keep_reproduced: bool = False
    older_than: str | None = None

    @property
    def given(self) -> bool:
        """Whether any rule was asked for (otherwise gc only gives space back)."""
        return bool(
            self.keep_best is not None
            or self.keep_tagged
            or self.keep_reproduced
            or self.older_than
            or self.by
        )


@dataclass(frozen=True)
class Decision:
    """One run of a plan and the reason for keeping or deleting it."""

    ref: RunRef
    status: str
    reason: str


@dataclass
class Plan:
    keep: list[Decision] = field(default_factory=list)
    delete: list[Decision] = field(default_factory=list)


def plan_retention(repo: GitRepo, rule: Retention, now: float | None = None) -> Plan:
    """Decide, run by run, what ``rule`` keeps and deletes; nothing is changed."""
    if rule.keep_best is not None and rule.keep_best < 0:
        raise UsageError("--keep-best takes a number of runs, 0 or more")
    if rule.by and rule.keep_best is None:
        raise UsageError("--by groups the runs for --keep-best; give --keep-best N too")
    frame = select(repo).frame
    by = pick_columns(frame.columns, list(rule.by)) if rule.by else []
    if rule.keep_best is not None:
        pick_columns(frame.columns, [rule.score])  # one line naming close columns if unknown
    unattested = REPRODUCED_COLUMN not in frame.columns or frame[REPRODUCED_COLUMN].isna().all()
    if rule.keep_reproduced and unattested:
        raise UsageError("--keep-reproduced: no run here records a reproduction yet")
    cutoff = None if rule.older_than is None else (now or time.time()) - parse_age(rule.older_than)
    best = _best(frame, rule, by) if rule.keep_best is not None else {}
    plan = Plan()
    for index, row in frame.iterrows():
        ref = RunRef(str(row["id"]), str(row["ref"]), str(row["commit"]))
        status = str(row["status"] or "")
        reason = _kept_because(row, rule, cutoff, best.get(index))
        (plan.keep if reason else plan.delete).append(
            Decision(ref, status, reason or _deleted_because(rule, by, row))
        )
    return plan


def _best(frame: Any, rule: Retention, by: list[str]) -> dict[Any, str]:
    """Row index → "best K of GROUP" for the runs among the best of their group."""
    out: dict[Any, str] = {}
    groups = frame.groupby(by, dropna=False, sort=False) if by else [((), frame)]
    for key, rows in groups:
        scores = [(_number(v), i) for i, v in rows[rule.score].items()]
        ranked = sorted(
            ((s, i) for s, i in scores if s is not None),
            key=lambda pair: pair[0] if rule.minimize else -pair[0],
        )
        label = _group_label(by, key)
        for rank, (_, index) in enumerate(ranked[: rule.keep_best], start=1):
            out[index] = f"best {rank} of {label}" if label else f"best {rank}"
    return out


def _kept_because(row: Any, rule: Retention, cutoff: float | None, best: str | None) -> str:
    status = str(row["status"] or "").upper()
    if status in ALWAYS_KEPT:
        return status.lower()
    if cutoff is not None and _start(row) >= cutoff:
        return f"newer than {rule.older_than}"
    if rule.keep_tagged and (row["tags"] or row["note"]):
        return "tagged: " + ", ".join(row["tags"] or ["note"])
    if rule.keep_reproduced and _truthy(row.get(REPRODUCED_COLUMN)):
        return "reproduced"
    return best or ""


def _deleted_because(rule: Retention, by: list[str], row: Any) -> str:
    if rule.keep_best is None:
        return f"older than {rule.older_than}" if rule.older_than else "no rule keeps it"
    label = _group_label(by, tuple(row[c] for c in by))
    within = f" of {label}" if label else ""
    if _number(row[rule.score]) is None:
        return f"no {rule.score}"
    return f"not among the best {rule.keep_best}{within}"


def _group_label(by: Sequence[str], key: Any) -> str:
    values = key if isinstance(key, tuple) else (key,)
    return ", ".join(f"{name}={_text(v)}" for name, v in zip(by, values, strict=False))


def _text(value: Any) -> str:
    return "-" if _number(value) is None and not isinstance(value, str) else str(value)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def _truthy(value: Any) -> bool:
    """True only for a true value: None, NaN and pandas' NA are not."""
    if isinstance(value, float) and math.isnan(value):
        return False
    try:
        return bool(value)
    except (TypeError, ValueError):  # pandas' NA has no truth value
        return False


def _start(row: Any) -> float:
    """When the run started: run.json's start time, else the time in its id."""
    try:
        return float(row["start"].timestamp())
    except (AttributeError, ValueError):
        return id_time(str(row["id"]))


def apply_plan(repo: GitRepo, plan: Plan) -> list[RunRecord]:
    """Delete the runs the plan deletes (compare-and-swap); returns those deleted."""
    records = [RunRecord.load(repo, d.ref) for d in plan.delete]
    return remove_runs(repo, records)
