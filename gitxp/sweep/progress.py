"""Watching a sweep: the states of its runs, a live progress line, the summary table.

The states come from the run refs alone (each ref's run.json, read again only when the
ref moved), so the same watcher works whoever runs the runs: local workers, Slurm
tasks, Dask workers, once their results are fetched.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

from gitxp.configuration.dicts import iterate_flattened
from gitxp.git.repo import GitRepo
from gitxp.query.listing import duration, format_duration, table
from gitxp.store.record import short_result
from gitxp.store.recorder import run_ref
from gitxp.store.runs import RunRecord, RunRef
from gitxp.sweep.plan import PlannedRun
from gitxp.sweep.worker import first_error_line

FINISHED = ("COMPLETED", "FAILED", "INTERRUPTED", "DIED")


@dataclass
class RunStates:
    """The latest record of each planned run, re-read only when its ref moved."""

    repo: GitRepo
    run_ids: Sequence[str]
    records: dict[str, RunRecord] = field(default_factory=dict)

    def refresh(self) -> dict[str, str]:
        """Run id → status now (MISSING when its ref is gone)."""
        out = {}
        for run_id in self.run_ids:
            ref = run_ref(run_id)
            commit = self.repo.ref_target(ref)
            if commit is None:
                out[run_id] = "MISSING"
                continue
            rec = self.records.get(run_id)
            if rec is None or rec.ref.commit != commit:
                rec = self.records[run_id] = RunRecord.load(self.repo, RunRef(run_id, ref, commit))
            out[run_id] = str(rec.info.get("status") or "UNKNOWN")
        return out


class Progress:
    """done/failed/running counts and an ETA: one live line on a terminal, else a plain
    line whenever a run finishes."""

    def __init__(
        self, total: int, stream: TextIO | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.total = total
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty()
        self.clock = clock
        self.started = clock()
        self.seen: dict[str, str] = {}
        self._width = 0

    def line(self, states: dict[str, str]) -> str:
        """``3/6 done (1 failed) · 2 running · 1 queued · ETA 0:42``."""
        counts = Counter(states.values())
        finished = sum(counts[s] for s in FINISHED)
        failed = counts["FAILED"] + counts["DIED"]
        text = f"{finished}/{self.total} done"
        if failed:
            text += f" ({failed} failed)"
        if counts["INTERRUPTED"]:
            text += f" ({counts['INTERRUPTED']} interrupted)"
        text += f" · {counts['RUNNING']} running · {counts['QUEUED']} queued"
        elapsed = self.clock() - self.started
        if 0 < finished < self.total:
            eta = elapsed / finished * (self.total - finished)
            text += f" · ETA {format_clock(eta)}"
        return text + f" · {format_clock(elapsed)} elapsed"

    def update(self, states: dict[str, str]) -> None:
        """Show the new state of things."""
        if self.live:
            text = self.line(states)
            self.stream.write("\r" + text.ljust(self._width))
            self._width = len(text)
            self.stream.flush()
            return
        for run_id, status in states.items():
            if status in FINISHED and self.seen.get(run_id) != status:
                self.stream.write(f"gitxp: run {run_id} {status}; {self.line(states)}\n")
                self.stream.flush()
        self.seen = dict(states)

    def close(self) -> None:
        """End the live line."""
        if self.live and self._width:
            self.stream.write("\n")
            self.stream.flush()


def format_clock(seconds: float) -> str:
    """``H:MM:SS`` (or ``M:SS``)."""
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def swept_keys(planned: Sequence[PlannedRun]) -> list[str]:
    """The config keys whose values differ between the planned runs."""
    values: dict[str, set[str]] = {}
    for run in planned:
        for key, value in iterate_flattened(run.config):
            values.setdefault(key, set()).add(repr(value))
    return [k for k, v in values.items() if len(v) > 1]


def summary_table(states: RunStates, planned: Sequence[PlannedRun]) -> str:
    """One row per planned run: id, status, duration, result, the swept values, and the
    first error line of runs that failed."""
    keys = swept_keys(planned)
    rows = []
    for run in planned:
        rec = states.records.get(run.run_id)
        info: dict[str, Any] = rec.info if rec is not None else {}
        status = str(info.get("status") or "MISSING")
        flat = dict(iterate_flattened(run.config))
        why = first_error_line(rec) if rec is not None and status in ("FAILED", "DIED") else ""
        rows.append(
            [
                run.run_id[:10],
                status,
                format_duration(duration(info)),
                short_result(info.get("result"), 16),
                *[repr(flat.get(k)) for k in keys],
                why,
            ]
        )
    return table(["ID", "STATUS", "DURATION", "RESULT", *keys, "ERROR"], rows)
