"""gitxp gc --keep-best/--by/--keep-tagged/--older-than: retention that understands runs."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from gitxp_testing import RUNS, git, gitxp, run_refs

from gitxp.git.repo import GitRepo
from gitxp.query.retention import Retention, plan_retention
from gitxp.store.recorder import Recorder, RunSpec


def record(
    path: Path, status: str = "COMPLETED", result: float | None = None, **config: object
) -> str:
    here = os.getcwd()
    os.chdir(path)
    try:
        rec = Recorder.start(GitRepo(path), RunSpec(command=["train.py"], config=dict(config)))
    finally:
        os.chdir(here)
    if status != "RUNNING":
        rec.finish(status, exit_code=0, result=result, has_result=result is not None)
    return rec.run_id


@pytest.fixture
def grid(repo: Path) -> dict[str, str]:
    """Two models × three scores, one run without a result, one still running."""
    ids = {}
    for model in ("mlp", "cnn"):
        for score in (0.5, 0.9, 0.7):
            ids[f"{model}-{score}"] = record(repo, result=score, model=model)
    ids["failed"] = record(repo, status="FAILED", model="mlp")
    ids["running"] = record(repo, status="RUNNING", model="cnn")
    return ids


def decisions(repo: Path, rule: Retention, now: float | None = None) -> tuple[set[str], set[str]]:
    plan = plan_retention(GitRepo(repo), rule, now=now)
    return {d.ref.id for d in plan.keep}, {d.ref.id for d in plan.delete}


def test_keep_best_per_group(repo: Path, grid: dict[str, str]) -> None:
    keep, delete = decisions(repo, Retention(keep_best=2, by=("config.model",)))
    assert keep == {grid[k] for k in ("mlp-0.9", "mlp-0.7", "cnn-0.9", "cnn-0.7", "running")}
    assert delete == {grid[k] for k in ("mlp-0.5", "cnn-0.5", "failed")}
    keep, _ = decisions(repo, Retention(keep_best=1, minimize=True))
    assert keep == {grid["mlp-0.5"], grid["running"]} or keep == {grid["cnn-0.5"], grid["running"]}


def test_tags_and_age_keep_runs(repo: Path, grid: dict[str, str]) -> None:
    gitxp(repo, "tag", grid["mlp-0.5"], "baseline")
    keep, delete = decisions(repo, Retention(keep_best=0, keep_tagged=True))
    assert keep == {grid["mlp-0.5"], grid["running"]}
    assert grid["cnn-0.9"] in delete
    keep, delete = decisions(repo, Retention(older_than="30d"))
    assert delete == set()  # everything is newer than 30 days
    later = time.time() + 40 * 86400
    keep, delete = decisions(repo, Retention(older_than="30d", keep_best=1), now=later)
    assert keep == {grid["mlp-0.9"], grid["running"]} or keep == {grid["cnn-0.9"], grid["running"]}


def test_dry_run_lists_and_yes_deletes_and_frees(repo: Path, grid: dict[str, str]) -> None:
    before = run_refs(repo)
    dry = gitxp(repo, "gc", "--keep-best", "1", "--by", "config.model")
    assert f"would delete {grid['mlp-0.5']}" in dry.stdout
    assert f"keep   {grid['mlp-0.9']}" in dry.stdout and "best 1 of config.model=mlp" in dry.stdout
    assert "pass --yes" in dry.stderr
    assert run_refs(repo) == before  # a plan changes nothing
    done = gitxp(repo, "gc", "--keep-best", "1", "--by", "config.model", "--yes")
    assert "deleted 5 runs" in done.stdout and "freed" in done.stdout
    left = {ref.removeprefix(RUNS) for ref in run_refs(repo)}
    assert left == {grid["mlp-0.9"], grid["cnn-0.9"], grid["running"]}
    git(repo, "fsck", "--strict")
    assert gitxp(repo, "show", grid["mlp-0.9"]).returncode == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--keep-best", "1", "--by", "config.modle"], "unknown column 'config.modle'"),
        (["--by", "config.model"], "give --keep-best N too"),
        (["--keep-best", "1", "--score", "metrics.nope"], "unknown column 'metrics.nope'"),
        (["--keep-best", "-1"], "0 or more"),
        (["--older-than", "soon"], "--older-than 'soon'"),
        (["--keep-reproduced"], "no run here records a reproduction"),
    ],
)
def test_mistakes_are_one_line_and_delete_nothing(
    repo: Path, grid: dict[str, str], args: list[str], message: str
) -> None:
    before = run_refs(repo)
    proc = gitxp(repo, "gc", *args, "--yes", check=False)
    assert proc.returncode != 0 and message in proc.stderr
    assert proc.stderr.count("\n") == 1
    assert run_refs(repo) == before


def test_keep_reproduced_keeps_the_runs_someone_reproduced(repo: Path) -> None:
    (repo / "train.py").write_text("import gitxp\ngitxp.set_result(1)\n")
    git(repo, "commit", "-q", "-am", "deterministic")
    gitxp(repo, "run", "train.py")
    original = json.loads(gitxp(repo, "show", "latest", "--json").stdout)["id"]
    gitxp(repo, "reproduce", "latest")
    gitxp(repo, "run", "train.py")
    keep, delete = decisions(repo, Retention(keep_reproduced=True))
    assert original in keep and len(delete) == 2  # the later run and the reproduction itself
