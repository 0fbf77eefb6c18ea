"""gitxp ls --on REV: runs on a line of history, after rebase and squash-merge too."""

from __future__ import annotations

import json
from pathlib import Path

from gitxp_testing import git, gitxp

from gitxp.git.repo import GitRepo
from gitxp.query.history import runs_on


def commit(repo: Path, name: str, text: str, message: str) -> str:
    (repo / name).write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD").strip()


def run(repo: Path) -> str:
    gitxp(repo, "run", "train.py")
    return json.loads(gitxp(repo, "show", "latest", "--json").stdout)["id"]


def on(repo: Path, rev: str) -> dict[str, tuple[str, str]]:
    return {k: (v.commit, v.how) for k, v in runs_on(GitRepo(repo), rev).items()}


def test_squash_merge_and_rebase_keep_their_runs(repo: Path) -> None:
    git(repo, "branch", "-M", "main")
    start = git(repo, "rev-parse", "HEAD").strip()
    on_main = run(repo)

    git(repo, "checkout", "-q", "-b", "feature")
    commit(repo, "a.py", "a = 1\n", "feature: a")
    halfway = run(repo)  # its code never reaches main as such
    commit(repo, "b.py", "b = 1\n", "feature: b")
    tip_run = run(repo)

    git(repo, "checkout", "-q", "main")
    commit(repo, "m.py", "m = 1\n", "main moves on")
    git(repo, "merge", "-q", "--squash", "feature")
    git(repo, "commit", "-q", "-m", "squash feature")
    squash = git(repo, "rev-parse", "HEAD").strip()

    git(repo, "checkout", "-q", "-b", "topic", start)
    commit(repo, "d.py", "d = 1\n", "topic: d")
    topic_run = run(repo)
    git(repo, "rebase", "-q", "main")
    rebased = git(repo, "rev-parse", "HEAD").strip()

    found = on(repo, "main")
    assert found[on_main] == (start, "base")
    assert found[tip_run] == (squash, "patch")  # the squash holds the branch's change
    assert halfway not in found and topic_run not in found
    found = on(repo, "topic")
    assert found[topic_run] == (rebased, "patch")
    assert found[tip_run] == (squash, "patch") and found[on_main] == (start, "base")

    listed = json.loads(gitxp(repo, "ls", "--on", "main", "--json").stdout)
    assert {r["id"] for r in listed} == {on_main, tip_run}


def test_a_squash_onto_an_unmoved_main_matches_by_tree(repo: Path) -> None:
    git(repo, "branch", "-M", "main")
    git(repo, "checkout", "-q", "-b", "feature")
    commit(repo, "a.py", "a = 1\n", "a")
    commit(repo, "b.py", "b = 1\n", "b")
    tip_run = run(repo)
    git(repo, "checkout", "-q", "main")
    git(repo, "merge", "-q", "--squash", "feature")
    git(repo, "commit", "-q", "-m", "squash")
    assert on(repo, "main")[tip_run] == (git(repo, "rev-parse", "HEAD").strip(), "tree")


def test_edits_committed_after_the_run_match_by_tree(repo: Path) -> None:
    git(repo, "checkout", "-q", "-b", "side")
    (repo / "new.py").write_text("x = 2\n")
    dirty_run = run(repo)  # recorded with an uncommitted new file
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--amend", "--no-edit")  # the run's base is gone from history
    tip = git(repo, "rev-parse", "HEAD").strip()
    assert on(repo, "side")[dirty_run] == (tip, "tree")


def test_bad_revision_is_one_line(repo: Path) -> None:
    proc = gitxp(repo, "ls", "--on", "no-such-branch", check=False)
    assert proc.returncode != 0 and "--on 'no-such-branch'" in proc.stderr
    assert proc.stderr.count("\n") == 1
