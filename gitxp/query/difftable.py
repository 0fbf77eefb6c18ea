"""``gitxp diff RUN RUN RUN…``: what differs between more than two runs, as one table.

One column per run, one row per fact that is not the same in all of them: status and
result always, then the sources (the tree id of each run's snapshot, so equal ids mean
equal code), the Python version and the env lock, every config key whose values differ
(or that some runs lack) and the last value of every metric that differs. Two runs get
the detailed diff of :mod:`gitxp.query.diff` (patch, packages, host) instead.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

from gitxp.configuration.dicts import iterate_flattened
from gitxp.git.repo import GitRepo
from gitxp.query.diff import metric_summary, python_version, show_value
from gitxp.query.listing import differing_config, table, unique_prefix_length
from gitxp.store.restore import source_tree
from gitxp.store.runs import RunRecord


def diff_rows(repo: GitRepo, records: Sequence[RunRecord]) -> dict[str, list[Any]]:
    """Row name → one value per run, for the facts that differ (status, result always)."""
    rows: dict[str, list[Any]] = {
        "status": [r.info.get("status") for r in records],
        "result": [r.info.get("result") for r in records],
    }
    facts: dict[str, list[Any]] = {
        "sources": [source_tree(repo, r)[:12] for r in records],
        "python": [python_version(r) for r in records],
        "env.lock": [hashlib.sha256(r.env_lock.encode()).hexdigest()[:12] for r in records],
    }
    rows.update({k: v for k, v in facts.items() if len({str(x) for x in v}) > 1})
    flat = [dict(iterate_flattened(r.config)) for r in records]
    for key in differing_config(list(records)):
        rows[f"config.{key}"] = [f.get(key) for f in flat]
    summaries = [metric_summary(r.metrics) for r in records]
    for name in sorted({n for s in summaries for n in s}):
        last = [(s.get(name) or {}).get("last") for s in summaries]
        if len({json.dumps(v) for v in last}) > 1:
            rows[f"metrics.{name}.last"] = last
    return rows


def format_diff_table(records: Sequence[RunRecord], rows: dict[str, list[Any]]) -> str:
    """The table: a header of run ids, then one line per row."""
    ids = [r.ref.id for r in records]
    width = unique_prefix_length(ids)
    header = ["", *(i[:width] for i in ids)]
    lines = [[name, *(_cell(v) for v in values)] for name, values in rows.items()]
    return table(header, lines)


def diff_table_json(records: Sequence[RunRecord], rows: dict[str, list[Any]]) -> str:
    """``gitxp diff --json`` of more than two runs."""
    data = {"runs": [r.ref.id for r in records], "rows": rows}
    return json.dumps(data, indent=2, ensure_ascii=False)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    return value if isinstance(value, str) else show_value(value, 24)
