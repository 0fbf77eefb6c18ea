"""Metric summaries in run.json (issue 16, point 5): written at the end of a run, read by a
first query instead of the series, checked like every record field from a remote."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from query_helpers import bench, git, gitxp

import gitxp as gx
from gitxp.board.listing import ListQuery, RunList
from gitxp.git.repo import RUNS_PREFIX, GitRepo
from gitxp.query import rows as rowread
from gitxp.store import checked, record

LOGS = """\
import gitxp
for value in [3, 1.5, float("nan"), 2, float("inf"), -4, 0.25]:
    gitxp.log_scalar("mixed", value)
for value in [float("nan"), 5.0, float("-inf"), 7]:
    gitxp.log_scalar("nan_first", value)
for value in [float("nan"), float("nan")]:
    gitxp.log_scalar("all_nan", value)
gitxp.log_scalar("stepped", 10, step=4)
gitxp.log_scalar("stepped", 20, step=9)
gitxp.log_scalar("big", 2**62)
gitxp.log_scalar("big", 2**63 - 1)
"""


def same(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    """Equal, NaN equal to NaN."""
    return len(a) == len(b) and all(
        x == y or (math.isnan(x) and math.isnan(y)) for x, y in zip(a, b, strict=True)
    )


def show(path: Path, ref: str, name: str) -> bytes:
    return git(path, "show", f"{ref}:.gitxp/{name}").encode()


def rewrite(repo: GitRepo, ref: str, change: Any, drop: tuple[str, ...] = ()) -> None:
    """Move ``ref`` to a copy of its commit whose run.json is ``change(info)``; ``drop``
    leaves files of ``.gitxp/`` out."""
    commit = repo.ref_target(ref)
    assert commit is not None
    info = json.loads(repo.read_path(commit, ".gitxp/run.json") or b"")
    entries = {name: (oid, mode) for name, oid, mode in repo.list_tree(commit, ".gitxp")}
    folder: dict[str, Any] = {k: v for k, v in entries.items() if k not in drop}
    folder["run.json"] = change(info)
    tree = repo.write_tree({".gitxp": folder}, base=repo.commit_tree(commit))
    moved = repo.write_commit(tree, repo.commit_parents(commit), repo.commit_message(commit))
    repo.update_ref(ref, moved, commit, "test: rewritten")


def test_a_recorded_run_carries_the_summary_its_series_gives(repo: Path) -> None:
    (repo / "logs.py").write_text(LOGS)
    gitxp(repo, "run", "-b", "0", "logs.py")
    (ref,) = GitRepo(repo).refs(RUNS_PREFIX)
    info = json.loads(show(repo, ref, "run.json"))
    summary = info["metrics_summary"]
    assert summary["version"] == record.SUMMARY_VERSION
    entries = summary["metrics"]
    assert entries["mixed"] == {
        "last": 0.25, "min": -4.0, "max": math.inf, "count": 7, "last_step": 6
    }  # fmt: skip
    assert entries["stepped"]["last_step"] == 9 and entries["stepped"]["count"] == 2
    assert entries["big"]["max"] == float(2**63 - 1)
    from_series = rowread.checked_metric_summary(show(repo, ref, "metrics.json"))
    from_summary = checked.metrics_summary(info)
    assert from_summary is not None and set(from_summary) == set(from_series)
    for name, stats in from_series.items():
        assert same(from_summary[name], stats), name
    assert math.isnan(from_summary["all_nan"][0]) and from_summary["nan_first"][1:] == (
        -math.inf,
        7.0,
    )
    frame = gx.runs(repo).iloc[0]
    assert frame["metrics.mixed.max"] == math.inf and frame["metrics.nan_first.last"] == 7.0


def test_the_query_reads_summaries_not_series_and_old_runs_alike(tmp_path: Path) -> None:
    """Old runs (no summary) and the same runs with summaries give the same ls, frame and
    board listing; with summaries they do so even with their series removed."""
    path = tmp_path / "p"
    path.mkdir()
    git(path, "init", "-q")
    repo = GitRepo(path)
    ids = bench.write_runs(repo, 30, seed=4, summaries=False)

    changed = ("commit", "metrics_summary")  # the record commit moved; run.json gained it

    def views() -> tuple[str, list[dict[str, Any]], pd.DataFrame, list[list[Any]]]:
        listing = RunList().page(repo, ListQuery(limit=100))
        hidden = [i for i, name in enumerate(listing["columns"]) if name == "commit"]
        board = [[v for i, v in enumerate(r) if i not in hidden] for r in listing["rows"]]
        as_json = json.loads(gitxp(path, "ls", "--json").stdout)
        return (
            gitxp(path, "ls").stdout,
            [{k: v for k, v in run.items() if k not in changed} for run in as_json],
            gx.runs(path).drop(columns=["commit"]),
            [listing["columns"], *board],
        )

    before = views()
    old = repo.refs(RUNS_PREFIX)
    for run_id in ids[:20]:  # a summary beside the series, or in place of it
        ref = RUNS_PREFIX + run_id
        metrics = checked.metrics(repo.read_path(old[ref], ".gitxp/metrics.json") or b"")

        def add(info: dict[str, Any], metrics: Any = metrics) -> bytes:
            return record.dump_json({**info, "metrics_summary": record.summarize_metrics(metrics)})

        rewrite(repo, ref, add, drop=("metrics.json",) if run_id in ids[:10] else ())
    assert repo.refs(RUNS_PREFIX) != old
    after = views()
    assert before[0] == after[0] and "DAMAGED" not in after[0]
    assert before[1] == after[1]
    pd.testing.assert_frame_equal(before[2], after[2])
    assert before[3] == after[3]


def one(**entry: Any) -> dict[str, Any]:
    """A version-1 summary of one metric, ``loss``: ``entry`` over a sound one."""
    return {"version": 1, "metrics": {"loss": {"last": 1, "min": 0, "max": 1, "count": 3, **entry}}}


HOSTILE: dict[str, Any] = {
    "NaN strings": one(last="NaN", max="Infinity"),
    "a list": {"version": 1, "metrics": {"loss": [1, 2, 3]}},
    "true as a number": one(min=True),
    "negative count": one(count=-2),
    "count of text": one(count="3"),
    "min above max": one(min=5),
    "last beyond max": one(last=7),
    "step of text": one(last_step="9"),
    "a stat missing": {"version": 1, "metrics": {"loss": {"last": 1, "count": 1}}},
    "no metrics": {"version": 1, "metrics": "loss"},
    "version of text": {"version": "1", "metrics": {}},
    "a string": "loss=1",
    "huge": {
        "version": 1,
        "metrics": {f"m{i}": {"last": 1, "min": 0, "max": 1, "count": 1} for i in range(200_000)},
    },
}


def test_a_hostile_summary_is_damage_and_never_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "p"
    path.mkdir()
    git(path, "init", "-q")
    repo = GitRepo(path)
    ids = bench.write_runs(repo, len(HOSTILE) + 3, seed=5)
    kinds = dict(zip(ids, HOSTILE, strict=False))

    def summary(value: Any) -> Any:
        return lambda info: json.dumps({**info, "metrics_summary": value}).encode()

    for run_id, kind in kinds.items():
        rewrite(repo, RUNS_PREFIX + run_id, summary(HOSTILE[kind]))
    later, plain, beyond = ids[len(HOSTILE) :]
    rewrite(repo, RUNS_PREFIX + later, summary({"version": 2}))  # later: the series is read
    big = {"last": "BIG", "min": -math.inf, "max": "BIG", "count": 1}
    rewrite(  # numbers beyond float range read as infinite, as they do in the series
        repo,
        RUNS_PREFIX + beyond,
        lambda info: summary({"version": 1, "metrics": {"loss": big}})(info).replace(
            b'"BIG"', str(10**400).encode()
        ),
    )
    frame = gx.runs(path).set_index("id")
    for run_id, kind in kinds.items():
        assert frame.loc[run_id, "status"] == "DAMAGED", kind
        assert frame.loc[run_id, "damage"].startswith("run.json"), kind
    assert frame.loc[later, "status"] == frame.loc[plain, "status"] == "COMPLETED"
    assert frame.loc[later, "metrics.loss.last"] > 0
    assert frame.loc[beyond, "metrics.loss.last"] == math.inf
    assert frame.loc[beyond, "metrics.loss.min"] == -math.inf
    listing = gitxp(path, "ls")
    assert listing.stdout.count("DAMAGED") == len(HOSTILE)
    assert "Traceback" not in listing.stderr and "damaged runs: 'gitxp show" in listing.stderr
    board = RunList().page(repo, ListQuery(limit=100))
    status = board["columns"].index("status")
    assert sum(row[status] == "DAMAGED" for row in board["rows"]) == len(HOSTILE)


@pytest.mark.parametrize("values", [[1, 2, 3], [3.5], [float("nan"), 1.0], [2**70, -(2**70)]])
def test_summary_stats_match_the_series_reader(values: list[Any]) -> None:
    metrics = {"m": {"steps": list(range(len(values))), "values": values, "timestamps": []}}
    summary = record.summarize_metrics(metrics)
    read = checked.metrics_summary(json.loads(record.dump_json({"metrics_summary": summary})))
    series = rowread.metric_summary(record.dump_metrics(metrics))
    assert read is not None and same(read["m"], series["m"])
