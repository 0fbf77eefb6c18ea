"""``gitxp checkout`` and ``gitxp branch``: a run's sources back, byte for byte."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from runstore_helpers import (
    add_all_tree,
    files_state,
    fsck,
    git,
    gitxp,
    gitxp_run,
    ls_tree,
    user_state,
    without_mtime,
)

from gitxp.git.repo import GitRepo
from gitxp.store.restore import (
    close_worktree,
    open_worktree,
    remove_stale_worktrees,
    source_commit,
    temporary_worktree,
)
from gitxp.store.runs import RunRecord, resolve


def record(cwd: Path, *args: str) -> str:
    _, ref = gitxp_run(cwd, "-b", "0", *args)
    return ref.rsplit("/", 1)[-1]


def sources(cwd: Path, run_id: str) -> dict[str, tuple[str, str]]:
    """``git ls-tree -r`` of the run's snapshot commit without ``.gitxp/``."""
    tree = ls_tree(cwd, f"refs/gitxp/runs/{run_id}~1")
    return {p: v for p, v in tree.items() if not p.startswith(".gitxp/")}


def source_tree_id(cwd: Path, run_id: str) -> str:
    lines = git(cwd, "ls-tree", f"refs/gitxp/runs/{run_id}~1^{{tree}}").splitlines()
    text = "".join(x + "\n" for x in lines if not x.endswith("\t.gitxp"))
    return subprocess.run(
        ["git", "mktree"], cwd=cwd, input=text, capture_output=True, text=True, check=True
    ).stdout.strip()


def extracted(cwd: Path, run_id: str, target: Path) -> dict[str, tuple[object, ...]]:
    """The run's sources written out by real git (``git archive``), as ``files_state``."""
    target.mkdir()
    archive = subprocess.run(
        ["git", "archive", f"refs/gitxp/runs/{run_id}~1"], cwd=cwd, capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    shutil.rmtree(target / ".gitxp")
    return without_mtime(files_state(target))


@pytest.fixture
def rich(repo: Path) -> Path:
    """The standard repo plus an executable, a symlink, a nested module and an ignore rule."""
    tool = repo / "bin" / "tool.sh"
    tool.parent.mkdir()
    tool.write_text("#!/bin/sh\necho tool\n")
    tool.chmod(0o755)
    (repo / "pkg").mkdir()
    (repo / "pkg" / "mod.py").write_text("X = 1\n")
    os.symlink("README.md", repo / "link")
    (repo / ".gitignore").write_text("*.log\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "more files")
    return repo


def make_dirty_run(repo: Path) -> str:
    """A run whose working tree had edits, a new file, a deletion and a mode change."""
    (repo / "train.py").write_text((repo / "train.py").read_text() + "# tuned\n")
    (repo / "notes").mkdir()
    (repo / "notes" / "todo.txt").write_text("try lr=0.3\n")
    (repo / "pkg" / "mod.py").unlink()
    (repo / "bin" / "tool.sh").chmod(0o644)
    return record(repo, "train.py", "with", "lr=0.2")


def move_on(repo: Path) -> None:
    """Throw the run's edits away and commit other work: a clean tree that differs."""
    git(repo, "checkout", "-q", "--", ".")
    git(repo, "clean", "-qfd")
    (repo / "README.md").write_text("# project, later\n")
    (repo / "new.py").write_text("print('new')\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "later work")


def test_checkout_round_trips_byte_for_byte(rich: Path, tmp_path: Path) -> None:
    run_id = make_dirty_run(rich)
    move_on(rich)
    (rich / "build.log").write_text("ignored output\n")
    before = user_state(rich)
    proc = gitxp(rich, "checkout", run_id)
    assert "HEAD is still main" in proc.stdout
    # What `git add -A` would stage now is exactly the run's source tree.
    assert add_all_tree(rich, tmp_path / "index") == source_tree_id(rich, run_id)
    assert without_mtime(files_state(rich, skip=(".git", "build.log"))) == extracted(
        rich, run_id, tmp_path / "archive"
    )
    assert (rich / "build.log").read_text() == "ignored output\n"  # ignored: left alone
    assert not (rich / "new.py").exists() and not (rich / "pkg").exists()
    assert os.readlink(rich / "link") == "README.md"
    assert not os.stat(rich / "bin" / "tool.sh").st_mode & 0o100
    after = user_state(rich)
    assert {k: after[k] for k in ("index", "HEAD", "heads")} == {
        k: before[k] for k in ("index", "HEAD", "heads")
    }
    # Recording again from the restored tree gives the very same sources.
    again = record(rich, "train.py")
    assert source_tree_id(rich, again) == source_tree_id(rich, run_id)
    # Nothing left to do the second time.
    second = gitxp(rich, "checkout", run_id)
    assert "0 written, 0 removed" in second.stdout
    fsck(rich)


def test_checkout_refuses_to_overwrite_uncommitted_work(rich: Path) -> None:
    run_id = make_dirty_run(rich)
    move_on(rich)
    (rich / "train.py").write_text("my unsaved work\n")
    (rich / "scratch.py").write_text("scratch\n")
    proc = gitxp(rich, "checkout", run_id, check=False)
    assert proc.returncode == 2
    assert "overwrite uncommitted work in scratch.py, train.py" in proc.stderr
    assert "--force" in proc.stderr
    assert (rich / "train.py").read_text() == "my unsaved work\n"
    assert (rich / "scratch.py").exists() and (rich / "new.py").exists()
    # A clean file the run changes is fine to replace: it is in HEAD.
    git(rich, "checkout", "-q", "--", "train.py")
    (rich / "scratch.py").unlink()
    gitxp(rich, "checkout", run_id)
    assert (rich / "train.py").read_text().endswith("# tuned\n")
    # --force overwrites.
    (rich / "train.py").write_text("more unsaved work\n")
    gitxp(rich, "checkout", "--force", run_id)
    assert (rich / "train.py").read_text().endswith("# tuned\n")


def test_branch_holds_the_run_sources_without_records(rich: Path, tmp_path: Path) -> None:
    base = git(rich, "rev-parse", "HEAD").strip()
    run_id = make_dirty_run(rich)
    proc = gitxp(rich, "branch", run_id, "good-run")
    assert "a commit of its sources" in proc.stdout
    assert git(rich, "symbolic-ref", "HEAD").strip() == "refs/heads/main"
    assert ls_tree(rich, "good-run") == sources(rich, run_id)
    assert git(rich, "rev-parse", "good-run^").strip() == base
    message = git(rich, "log", "-1", "--format=%B", "good-run")
    assert f"Gitxp-Source-Of: {run_id}" in message
    # The same run always gives the same commit.
    gitxp(rich, "branch", run_id, "same-run")
    assert git(rich, "rev-parse", "good-run").strip() == git(rich, "rev-parse", "same-run").strip()
    refused = gitxp(rich, "branch", run_id, "good-run", check=False)
    assert refused.returncode == 2 and "already exists" in refused.stderr
    gitxp(rich, "branch", "--force", run_id, "good-run")
    bad = gitxp(rich, "branch", run_id, "no..good", check=False)
    assert bad.returncode == 2 and "not a valid branch name" in bad.stderr
    # Switching to the branch gives the run's files, byte for byte.
    git(rich, "stash", "-q", "-u")
    git(rich, "switch", "-q", "good-run")
    assert without_mtime(files_state(rich)) == extracted(rich, run_id, tmp_path / "archive")
    fsck(rich)


def test_branch_of_a_clean_run_is_its_base_commit(repo: Path) -> None:
    run_id = record(repo, "train.py")
    proc = gitxp(repo, "branch", run_id, "clean")
    assert "its base commit" in proc.stdout
    assert git(repo, "rev-parse", "clean").strip() == git(repo, "rev-parse", "HEAD").strip()


def test_temporary_worktree_is_removed_and_stale_ones_are_cleaned(rich: Path) -> None:
    run_id = make_dirty_run(rich)
    repo = GitRepo(rich)
    rec = RunRecord.load(repo, resolve(repo, run_id))
    before = user_state(rich)
    with temporary_worktree(repo, rec) as path:
        assert (path / "notes" / "todo.txt").read_text() == "try lr=0.3\n"
        assert not (path / ".gitxp").exists() and not (path / "pkg" / "mod.py").exists()
        assert git(path, "rev-parse", "HEAD").strip() == source_commit(repo, rec)
        assert git(rich, "worktree", "list").count("\n") == 2
    assert not path.exists() and git(rich, "worktree", "list").count("\n") == 1
    assert user_state(rich) == before
    # A worktree whose folder vanished (a killed reproduce) is cleaned up.
    with temporary_worktree(repo, rec, keep=True) as path:
        pass
    shutil.rmtree(path.parent)
    assert "prunable" in git(rich, "worktree", "list", "--porcelain")
    assert prune_report(rich) != ""
    assert remove_stale_worktrees(repo) == [path]
    assert prune_report(rich) == "" and git(rich, "worktree", "list").count("\n") == 1
    # One whose gitxp process was killed (its lock no longer held) is removed too;
    # one in use, or kept on purpose, stays.
    dead, fd = open_worktree(repo, rec)
    busy, busy_fd = open_worktree(repo, rec)
    with temporary_worktree(repo, rec, keep=True) as kept:
        pass
    os.close(fd)
    assert remove_stale_worktrees(repo) == [dead]
    assert not dead.parent.exists() and busy.exists() and kept.exists()
    close_worktree(repo, busy, busy_fd)
    git(rich, "worktree", "remove", "--force", str(kept))
    kept.parent.rmdir()
    assert prune_report(rich) == "" and git(rich, "worktree", "list").count("\n") == 1


def prune_report(cwd: Path) -> str:
    """What ``git worktree prune`` would remove (it reports on stderr)."""
    proc = subprocess.run(
        ["git", "worktree", "prune", "-n", "-v"], cwd=cwd, capture_output=True, text=True
    )
    return proc.stdout + proc.stderr
