"""The data the benchmarks generate is what gitxp writes: ``benchmarks/bulk_runs.py``'s runs
(what ``benchmarks/growth.py`` times against) are runs git checks clean and gitxp reads,
shows and records beside, loose and packed; ``metric_names.log_round_robin`` gives the
same values to gitxp's reader and to Sacred's file."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

from gitxp_testing import git, gitxp

ROOT = Path(__file__).resolve().parents[2]


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        f"_gitxp_bench_{name}", ROOT / "benchmarks" / f"{name}.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bulk = _load("bulk_runs")
names = _load("metric_names")

COUNT = 40


def run_refs(repo: Path) -> list[str]:
    return git(repo, "for-each-ref", "--format=%(refname)", "refs/gitxp/runs").split()


def test_bulk_runs_loose_and_packed_are_runs_gitxp_reads(tmp_path: Path) -> None:
    loose, packed = tmp_path / "loose", tmp_path / "packed"
    bulk.make_runs_repo(loose, COUNT)
    bulk.pack_refs_copy(loose, packed)
    for repo in (loose, packed):
        git(repo, "fsck", "--strict", "--no-dangling")
        assert len(run_refs(repo)) == COUNT
        assert git(repo, "status", "--porcelain") == ""
    assert len(list((loose / ".git" / "refs" / "gitxp" / "runs").iterdir())) == COUNT
    assert not (packed / ".git" / "refs" / "gitxp" / "runs").exists()
    packed_refs = (packed / ".git" / "packed-refs").read_text().splitlines()
    assert sum(" refs/gitxp/runs/" in line for line in packed_refs) == COUNT

    base = git(packed, "rev-parse", "main").strip()
    rows = json.loads(gitxp(packed, "ls", "--json").stdout)
    assert len(rows) == COUNT
    assert sorted(r["status"] for r in rows) == ["COMPLETED"] * (COUNT - 2) + ["FAILED"] * 2
    assert {r["base_commit"] for r in rows} == {base}
    newest = rows[0]
    assert newest["config"]["lr"] in bulk.LRS
    snapshot = git(packed, "rev-parse", f"{newest['commit']}^").strip()
    assert git(packed, "rev-parse", f"{snapshot}^").strip() == base
    running = json.loads(git(packed, "cat-file", "-p", f"{snapshot}:.gitxp/run.json"))
    assert running["status"] == "RUNNING" and running["id"] == newest["id"]
    shown = gitxp(packed, "show", newest["id"]).stdout
    assert "loss: last" in shown and "batch_size: 64" in shown

    done = gitxp(packed, "run", "trivial.py")
    assert "hello" in done.stdout
    assert len(run_refs(packed)) == COUNT + 1
    git(packed, "fsck", "--strict", "--no-dangling")


def test_round_robin_values_read_the_same_from_the_spool_and_sacreds_file(tmp_path: Path) -> None:
    folder, sacred = names.log_round_robin(tmp_path, 25, 10)
    ours, theirs = names.read_gitxp(folder), names.read_sacred(sacred)
    assert json.loads(json.dumps(ours)) == theirs
    assert sorted(theirs) == sorted(f"layer{i}.grad_norm" for i in range(10))
    assert theirs["layer3.grad_norm"]["values"] == [3.0, 13.0, 23.0]
