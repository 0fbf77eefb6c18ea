"""``gitxp rm`` and ``gitxp gc``: runs go, their space comes back, nothing else changes."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
from runstore_helpers import fsck, git, gitxp, gitxp_run, run_refs

from gitxp.errors import UsageError
from gitxp.git.repo import GitRepo
from gitxp.store.ids import new_run_id
from gitxp.store.prune import gc, parse_age, remove_runs, select_runs
from gitxp.store.recorder import spool_root

BIG = """\
import os
import gitxp
with open("blob.bin", "wb") as handle:
    handle.write(os.urandom(300_000))
gitxp.add_artifact("blob.bin")
"""


def record(cwd: Path, *args: str, check: bool = True) -> str:
    _, ref = gitxp_run(cwd, "-b", "0", *args, check=check)
    return ref.rsplit("/", 1)[-1]


def exists(cwd: Path, oid: str) -> bool:
    return subprocess.run(["git", "cat-file", "-e", oid], cwd=cwd).returncode == 0


def other_state(cwd: Path) -> dict[str, str]:
    """Everything outside refs/gitxp/ that gc must not change."""
    return {
        "refs": git(cwd, "for-each-ref", "--format=%(refname) %(objectname)", "refs/heads"),
        "reflog_head": git(cwd, "reflog", "show", "--format=%H %gs", "HEAD"),
        "reflog_main": git(cwd, "reflog", "show", "--format=%H %gs", "main"),
        "HEAD": git(cwd, "rev-parse", "HEAD"),
    }


def test_rm_and_gc_reclaim_a_run_and_touch_nothing_else(repo: Path) -> None:
    (repo / "big.py").write_text(BIG)
    (repo / ".gitignore").write_text("blob.bin\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "big")
    # A commit only the reflog still reaches must survive gc.
    (repo / "README.md").write_text("amended\n")
    git(repo, "commit", "-q", "-a", "-m", "to be amended")
    amended_away = git(repo, "rev-parse", "HEAD").strip()
    git(repo, "commit", "-q", "--amend", "-m", "amended")
    keep = record(repo, "train.py")
    drop = record(repo, "big.py")
    blob = git(repo, "rev-parse", f"refs/gitxp/runs/{drop}:.gitxp/artifacts/blob.bin").strip()
    drop_commit = run_refs(repo)[f"refs/gitxp/runs/{drop}"]
    keep_commit = run_refs(repo)[f"refs/gitxp/runs/{keep}"]
    git(repo, "gc", "-q")  # everything packed: gc must also shrink packs
    before = other_state(repo)
    size_before = git(repo, "count-objects", "-v")
    dry = gitxp(repo, "rm", "--dry-run", drop)
    assert dry.stdout.startswith(f"would delete {drop}") and len(run_refs(repo)) == 2
    proc = gitxp(repo, "rm", drop[:10])
    assert proc.stdout.startswith(f"deleted {drop}  COMPLETED")
    assert "gitxp gc" in proc.stderr
    assert list(run_refs(repo)) == [f"refs/gitxp/runs/{keep}"]
    assert exists(repo, blob)  # rm only deletes the ref
    out = gitxp(repo, "gc").stdout
    assert out.startswith("gitxp gc: ") and "pruned objects unreachable now" in out
    assert not exists(repo, blob) and not exists(repo, drop_commit)
    counts = dict(
        line.split(": ") for line in git(repo, "count-objects", "-v").strip().splitlines()
    )
    old_counts = dict(line.split(": ") for line in size_before.strip().splitlines())
    assert int(counts["size-pack"]) + int(counts["size"]) < int(old_counts["size-pack"]) - 200
    assert other_state(repo) == before
    assert exists(repo, amended_away) and exists(repo, keep_commit)
    assert "train" in gitxp(repo, "show", keep).stdout
    fsck(repo)


def test_rm_by_status_and_age(repo: Path) -> None:
    (repo / "fail.py").write_text("raise SystemExit(4)\n")
    ok = record(repo, "train.py")
    failed = record(repo, "fail.py", check=False)
    proc = gitxp(repo, "rm", "--status", "failed")
    assert proc.stdout.split() == ["deleted", failed, "FAILED", "fail"]
    assert list(run_refs(repo)) == [f"refs/gitxp/runs/{ok}"]
    none = gitxp(repo, "rm", "--older-than", "1h")
    assert none.stdout == "" and "no runs matched" in none.stderr
    assert len(run_refs(repo)) == 1
    gitrepo = GitRepo(repo)
    later = time.time() + 40 * 86400
    assert [r.ref.id for r in select_runs(gitrepo, [], older_than="30d", now=later)] == [ok]
    assert select_runs(gitrepo, [ok], status="FAILED") == []
    usage = gitxp(repo, "rm", check=False)
    assert usage.returncode == 2 and "--status/--older-than" in usage.stderr
    bad = gitxp(repo, "rm", "--older-than", "soon", check=False)
    assert bad.returncode == 2 and "30d" in bad.stderr


def test_rm_refuses_running_runs_and_respects_compare_and_swap(repo: Path) -> None:
    run_id = record(repo, "train.py")
    gitrepo = GitRepo(repo)
    (rec,) = select_runs(gitrepo, [run_id])
    rec.info["status"] = "RUNNING"
    with pytest.raises(UsageError, match="still RUNNING"):
        remove_runs(gitrepo, [rec])
    # The ref moved since it was read (a new record commit): it is not deleted.
    (rec,) = select_runs(gitrepo, [run_id])
    commit = rec.ref.commit
    moved = gitrepo.write_commit(gitrepo.commit_tree(commit), [commit], "newer record")
    gitrepo.update_ref(rec.ref.ref, moved, commit)
    assert remove_runs(gitrepo, [rec]) == []
    assert run_refs(repo)[rec.ref.ref] == moved


def test_gc_keeps_recent_objects_while_runs_are_in_progress(repo: Path) -> None:
    record(repo, "train.py")
    gitrepo = GitRepo(repo)
    live = spool_root(gitrepo) / new_run_id()
    live.mkdir(parents=True)
    result = gc(gitrepo)
    assert result.prune.startswith("before ")
    live.rmdir()
    assert gc(gitrepo).prune == "now"
    fsck(repo)


def test_parse_age() -> None:
    assert parse_age("30d") == 30 * 86400
    assert parse_age("1.5h") == 5400
    assert parse_age(" 2W ") == 14 * 86400
    with pytest.raises(UsageError):
        parse_age("30 days")
