"""Concurrency (issue 2, point 7): parallel runs in one repository, compare-and-swap refs."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml
from runstore_helpers import fsck, git, run_info, run_refs, show_json

from gitxp.git.repo import GitRepo, RefConflictError
from gitxp.store.recorder import Recorder, RunSpec, run_ref

RUNS = 8


def test_eight_runs_at_once(repo: Path, tmp_path: Path) -> None:
    (repo / "job.py").write_text(
        textwrap.dedent(
            """\
            import time
            import gitxp
            k = gitxp.config()['k']
            for step in range(20):
                gitxp.log_scalar('k', k)
                gitxp.log_scalar('step_of_' + str(k), step)
            time.sleep(0.3)
            print(f'job {k} done', flush=True)
            gitxp.set_result(k * 100)
            """
        )
    )
    (repo / "README.md").write_text("dirty, so every run snapshots the same edit\n")
    head = git(repo, "rev-parse", "HEAD").strip()
    procs = []
    for k in range(RUNS):
        with open(tmp_path / f"out{k}", "wb") as out:
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "gitxp", "run", "-b", "0.1", "job.py", "with", f"k={k}"],
                    cwd=repo,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            )
    codes = [p.wait(timeout=120) for p in procs]
    outputs = [(tmp_path / f"out{k}").read_text() for k in range(RUNS)]
    assert codes == [0] * RUNS, outputs
    refs = run_refs(repo)
    assert len(refs) == RUNS
    seen = set()
    snapshot_trees = set()
    for ref in refs:
        info = run_info(repo, ref)
        assert info["status"] == "COMPLETED", info
        config = yaml.safe_load(git(repo, "show", f"{ref}:.gitxp/config.yaml"))
        k = config["k"]
        seen.add(k)
        assert info["result"] == k * 100
        assert info["base_commit"] == head
        metrics = show_json(repo, ref, ".gitxp/metrics.json")
        assert set(metrics) == {"k", f"step_of_{k}"}
        assert metrics["k"]["values"] == [k] * 20
        assert metrics[f"step_of_{k}"]["values"] == list(range(20))
        assert git(repo, "show", f"{ref}:.gitxp/output.log") == f"job {k} done\n"
        assert f"run {info['id']} COMPLETED" in outputs[k]
        snapshot = git(repo, "rev-parse", f"{ref}^").strip()
        assert git(repo, "rev-parse", f"{snapshot}^").strip() == head
        snapshot_trees.add(git(repo, "rev-parse", f"{ref}^{{tree}}:README.md").strip())
    assert seen == set(range(RUNS))
    assert len(snapshot_trees) == 1  # the same source stored once
    assert os.listdir(repo / ".git" / "gitxp" / "spool") == []
    fsck(repo)


def make_commit(repo: GitRepo, text: str) -> str:
    tree = repo.write_tree({"f.txt": text.encode()})
    return repo.write_commit(tree, [], f"commit {text}\n")


def test_compare_and_swap_refuses_a_stale_old_value(repo: Path) -> None:
    g = GitRepo(repo)
    a, b, c = (make_commit(g, t) for t in "abc")
    name = "refs/gitxp/runs/01TESTCASAAAAAAAAAAAAAAAAA"
    g.create_ref(name, a)
    with pytest.raises(RefConflictError):
        g.create_ref(name, b)  # never overwritten by a create
    g.update_ref(name, b, old=a)
    assert git(repo, "rev-parse", name).strip() == b
    # Someone else moved it from a to b: an update that still expects a must fail.
    with pytest.raises(RefConflictError):
        g.update_ref(name, c, old=a)
    assert git(repo, "rev-parse", name).strip() == b
    # Moved behind gitxp's back by real git: still refused, still left alone.
    git(repo, "update-ref", name, a)
    with pytest.raises(RefConflictError):
        g.update_ref(name, c, old=b)
    assert git(repo, "rev-parse", name).strip() == a
    with pytest.raises(RefConflictError):
        g.delete_ref(name, old=b)
    assert git(repo, "rev-parse", name).strip() == a
    assert not (repo / ".git" / f"{name}.lock").exists()
    g.delete_ref(name, old=a)
    assert git(repo, "for-each-ref", name) == ""
    fsck(repo)


def test_recorder_never_clobbers_a_moved_ref(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(repo)
    g = GitRepo(repo)
    rec = Recorder.start(g, RunSpec(command=["job"], config={"k": 1}))
    ref = run_ref(rec.run_id)
    rec.spool.log_scalar("x", 1.0)
    rec.heartbeat()
    beat = git(repo, "rev-parse", ref).strip()
    assert run_info(repo, ref)["status"] == "RUNNING"
    # Another writer moves the run's ref.
    foreign = make_commit(g, "foreign")
    git(repo, "update-ref", ref, foreign, beat)
    with pytest.raises(RefConflictError):
        rec.heartbeat()
    assert git(repo, "rev-parse", ref).strip() == foreign
    # The ref is put back: the recorder goes on from where it was.
    git(repo, "update-ref", ref, beat, foreign)
    rec.finish("COMPLETED", exit_code=0)
    assert run_info(repo, ref)["status"] == "COMPLETED"
    assert show_json(repo, ref, ".gitxp/metrics.json")["x"]["values"] == [1.0]
    fsck(repo)


def test_other_commands_never_seal_live_or_finishing_runs(repo: Path, tmp_path: Path) -> None:
    """While runs start and end, ``gitxp recover`` and ``ls`` must leave them alone."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "gitxp", "run", "-b", "0", "--", "sleep", f"0.{k}"],
            cwd=repo,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for k in range(5)
    ]
    sealers = 0
    while any(p.poll() is None for p in procs) or sealers < 3:
        for command in (["recover"], ["ls", "--json"]):
            proc = subprocess.run(
                [sys.executable, "-m", "gitxp", *command], cwd=repo, capture_output=True, text=True
            )
            assert proc.returncode == 0, proc.stderr
            assert "sealed" not in proc.stdout + proc.stderr
            assert "Traceback" not in proc.stderr
        sealers += 1
    for p in procs:
        _, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
        assert "internal error" not in err
    refs = run_refs(repo)
    assert len(refs) == 5
    assert {run_info(repo, ref)["status"] for ref in refs} == {"COMPLETED"}
    assert os.listdir(repo / ".git" / "gitxp" / "spool") == []
    fsck(repo)
