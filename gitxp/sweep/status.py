"""``gitxp show SWEEP``: a sweep's progress, its best run, its failures, all its runs."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from gitxp.configuration.dicts import iterate_flattened
from gitxp.errors import UsageError
from gitxp.git.repo import GitRepo
from gitxp.query.cache import run_table
from gitxp.query.listing import duration, format_duration, table
from gitxp.store.record import short_result
from gitxp.store.runs import RunRecord, RunRef
from gitxp.sweep.worker import first_error_line

FAILED = ("FAILED", "DIED")


def sweep_records(repo: GitRepo, sweep_id: str) -> tuple[str, list[RunRecord]]:
    """The full id of the sweep ``sweep_id`` (a prefix) and its runs, in plan order."""
    table_ = run_table(repo)
    sweeps = table_.columns.get("sweep") or [None] * len(table_)
    ids = sorted({s for s in sweeps if isinstance(s, str) and s.startswith(sweep_id)})
    if not ids:
        raise UsageError(f"no sweep matches {sweep_id!r}; 'gitxp ls' shows the sweep of each run")
    if len(ids) > 1:
        raise UsageError(f"{sweep_id!r} matches {len(ids)} sweeps; type more characters")
    records = []
    for i in range(len(table_)):
        if sweeps[i] == ids[0]:
            run_id = table_.refs[i].rsplit("/", 1)[-1]
            records.append(RunRecord.load(repo, RunRef(run_id, table_.refs[i], table_.commits[i])))
    records.sort(key=lambda r: (r.info.get("sweep_index") or 0, r.ref.id))
    return ids[0], records


def best_run(records: list[RunRecord], best: str = "min") -> RunRecord | None:
    """The COMPLETED run with the lowest (``min``) or highest (``max``) numeric result."""
    if best not in ("min", "max"):
        raise UsageError("--best must be 'min' or 'max'")
    scored = [
        r
        for r in records
        if r.info.get("status") == "COMPLETED"
        and isinstance(r.info.get("result"), int | float)
        and not isinstance(r.info.get("result"), bool)
    ]
    if not scored:
        return None
    pick = min if best == "min" else max
    return pick(scored, key=lambda r: float(r.info["result"]))


def sweep_summary(repo: GitRepo, spec: str, best: str = "min") -> dict[str, Any]:
    """The sweep as JSON data: counts, best run, failures, runs."""
    full_id, records = sweep_records(repo, spec)
    counts = Counter(str(r.info.get("status")) for r in records)
    top = best_run(records, best)
    return {
        "sweep": full_id,
        "runs": len(records),
        "status": dict(counts),
        "best": None if top is None else {"id": top.ref.id, "result": top.info.get("result")},
        "failures": [
            {"id": r.ref.id, "error": first_error_line(r)}
            for r in records
            if r.info.get("status") in FAILED
        ],
        "run_ids": [r.ref.id for r in records],
    }


def sweep_text(repo: GitRepo, spec: str, best: str = "min") -> str:
    """What ``gitxp show SWEEP`` prints."""
    full_id, records = sweep_records(repo, spec)
    counts = Counter(str(r.info.get("status")) for r in records)
    done = sum(counts[s] for s in ("COMPLETED", "FAILED", "DIED", "INTERRUPTED"))
    parts = [f"{counts[s]} {s.lower()}" for s in sorted(counts)]
    lines = [f"sweep {full_id}: {done}/{len(records)} finished ({', '.join(parts)})"]
    top = best_run(records, best)
    if top is not None:
        word = "lowest" if best == "min" else "highest"
        lines.append(
            f"best run ({word} result): {top.ref.id} result {short_result(top.info.get('result'))}"
        )
    failures = [r for r in records if r.info.get("status") in FAILED]
    if failures:
        lines.append("failures:")
        lines += [f"  {r.ref.id[:10]}  {first_error_line(r)}" for r in failures]
    lines += ["", run_table_text(records)]
    return "\n".join(lines)


def run_table_text(records: list[RunRecord]) -> str:
    """One row per run: id, status, duration, result and the config values that differ."""
    flats = [dict(iterate_flattened(r.config)) for r in records]
    keys = sorted({k for f in flats for k in f})
    differ = [k for k in keys if len({json.dumps(f.get(k), sort_keys=True) for f in flats}) > 1]
    rows = [
        [
            r.ref.id[:10],
            str(r.info.get("status")),
            format_duration(duration(r.info)),
            short_result(r.info.get("result"), 16),
            *[json.dumps(f.get(k)) for k in differ],
        ]
        for r, f in zip(records, flats, strict=True)
    ]
    return table(["ID", "STATUS", "DURATION", "RESULT", *differ], rows)
