"""``benchmarks/bulk_runs.py`` (the runs ``benchmarks/growth.py`` times against) writes
runs that git checks clean and gitxp reads, shows and records beside, loose and packed."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from gitxp_testing import git, gitxp

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location(
    "_gitxp_bench_bulk", ROOT / "benchmarks" / "bulk_runs.py"
)
assert _spec is not None and _spec.loader is not None
bulk = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bulk)

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
