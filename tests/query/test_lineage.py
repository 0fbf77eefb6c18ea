"""Lineage: a run that uses another run's artifact records it, and gitxp lineage follows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from gitxp_testing import RUNS, git, gitxp, run_refs

from gitxp.query.lineage import uses_of

PREP = """\
import gitxp
open("data.csv", "w").write("1,2,3\\n")
gitxp.add_artifact("data.csv")
"""
TRAIN = """\
import sys, gitxp
src = gitxp.use_artifact(sys.argv[1], "data.csv")
open("model.pt", "w").write(open(src).read() * 2)
gitxp.add_artifact("model.pt")
"""
EVALUATE = """\
import sys
from gitxp import Experiment
ex = Experiment("evaluate")

@ex.config
def cfg():
    model = ""

@ex.automain
def main(model, _run):
    with _run.open_resource(f"gitxp://{model}/model.pt") as f:
        return len(f.read())
"""


def latest_id(repo: Path) -> str:
    return str(json.loads(gitxp(repo, "show", "latest", "--json").stdout)["id"])


@pytest.fixture
def chain(repo: Path) -> dict[str, str]:
    for name, text in (("prep.py", PREP), ("train.py", TRAIN), ("evaluate.py", EVALUATE)):
        (repo / name).write_text(text)
    (repo / ".gitignore").write_text("data.csv\nmodel.pt\nm.pt\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "pipeline")
    gitxp(repo, "run", "prep.py")
    ids = {"prep": latest_id(repo)}
    gitxp(repo, "run", "train.py", ids["prep"])
    ids["train"] = latest_id(repo)
    gitxp(repo, "run", "evaluate.py", "with", f"model={ids['train']}")
    ids["evaluate"] = latest_id(repo)
    gitxp(repo, "run", "--input", f"{ids['train']}:model.pt=m.pt", "--", "cat", "m.pt")
    ids["cat"] = latest_id(repo)
    return ids


def test_uses_are_recorded_as_parents_and_in_run_json(repo: Path, chain: dict[str, str]) -> None:
    info = json.loads(gitxp(repo, "show", chain["train"], "--json").stdout)
    (use,) = info["uses"]
    assert use["run"] == chain["prep"] and use["path"] == "data.csv"
    prep_commit = run_refs(repo)[RUNS + chain["prep"]]
    train_ref = RUNS + chain["train"]
    assert git(repo, "merge-base", RUNS + chain["prep"], train_ref).strip() == prep_commit
    assert git(repo, "rev-list", "--parents", "-n1", train_ref).split()[2] == prep_commit
    assert json.loads(gitxp(repo, "show", chain["evaluate"], "--json").stdout)["result"] == 12
    assert (repo / "m.pt").read_text() == "1,2,3\n1,2,3\n"
    git(repo, "fsck", "--strict")


def test_lineage_up_and_down(repo: Path, chain: dict[str, str]) -> None:
    tree = gitxp(repo, "lineage", chain["cat"]).stdout
    assert f"model.pt from {chain['train']}" in tree
    assert f"data.csv from {chain['prep']}" in tree
    down = gitxp(repo, "lineage", "--downstream", chain["prep"][:10]).stdout
    lines = {line.split()[0]: line for line in down.splitlines()}
    assert set(lines) == {chain["train"], chain["evaluate"], chain["cat"]}
    assert "(used data.csv)" in lines[chain["train"]]
    assert f"(via {chain['train'][:10]})" in lines[chain["cat"]]
    assert "no run used it" in gitxp(repo, "lineage", "--downstream", chain["cat"]).stderr


def test_lineage_travels_with_the_runs(repo: Path, chain: dict[str, str], tmp_path: Path) -> None:
    bare = tmp_path / "team.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    gitxp(repo, "push", "-q", str(bare), chain["cat"])  # only the last run is pushed
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(bare), str(other))
    gitxp(other, "fetch", str(bare))
    tree = gitxp(other, "lineage", chain["cat"]).stdout
    assert f"model.pt from {chain['train']}" in tree and "not here" in tree
    # its producers' commits came along as parents: their records are readable here
    assert git(other, "cat-file", "-t", run_refs(repo)[RUNS + chain["prep"]]).strip() == "commit"


def test_bad_inputs_record_nothing(repo: Path, chain: dict[str, str]) -> None:
    before = run_refs(repo)
    for spec, message in (
        ("nonsense", "write RUN:ARTIFACT"),
        (f"{chain['prep']}:nope.pt", "has no artifact 'nope.pt'"),
        (f"{chain['prep']}:../x", "name it as the run stored it"),
        ("ZZZZ:data.csv", "ZZZZ"),
        (f"{chain['train']}:model.pt=prep.py", "exists and differs"),
    ):
        proc = gitxp(repo, "run", "--input", spec, "--", "true", check=False)
        assert proc.returncode != 0 and message in proc.stderr, (spec, proc.stderr)
        assert "Traceback" not in proc.stderr
    assert run_refs(repo) == before
    assert (repo / "prep.py").read_text() == PREP


def test_malformed_uses_from_a_fetched_run_are_skipped() -> None:
    good = {"run": "01M8RKQT77P61006Q1DBV5AJSD", "commit": "a" * 40, "path": "x", "blob": "b"}
    junk = [good, "text", {"run": "../../etc"}, {"run": 5}, None]
    assert uses_of({"uses": junk}) == [good]
    assert uses_of({"uses": "nope"}) == [] and uses_of({}) == []


def test_reproduce_fetches_the_inputs_first(
    repo: Path, chain: dict[str, str], tmp_path: Path
) -> None:
    bare = tmp_path / "team.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    git(repo, "push", "-q", str(bare), "HEAD:refs/heads/main")
    gitxp(repo, "push", "-q", str(bare))
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(bare), str(other))
    gitxp(other, "fetch", "origin", chain["train"])  # the consumer only
    assert RUNS + chain["prep"] not in run_refs(other)
    proc = gitxp(other, "reproduce", chain["train"], "--yes")
    assert f"used artifacts of runs not here; fetching {chain['prep'][:10]}" in proc.stderr
    assert RUNS + chain["prep"] in run_refs(other)
    assert "reproduced: all" in proc.stdout + proc.stderr
