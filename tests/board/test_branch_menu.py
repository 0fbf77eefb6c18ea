"""The branch menu of the run list: kept between pages, fresh once a branch comes or goes."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from runstore_helpers import git

from gitxp.board.listing import RunList
from gitxp.git.repo import GitRepo


def age(repo: Path, seconds: float) -> None:
    """Date the branch folders and ``packed-refs`` that changed in the last few seconds
    ``seconds`` back, past the settle time; the others keep their time."""
    now = time.time()
    heads = repo / ".git" / "refs" / "heads"
    folders = [heads, *(Path(d) / n for d, names, _ in os.walk(heads) for n in names)]
    for path in [*folders, repo / ".git" / "packed-refs"]:
        if path.exists() and now - path.stat().st_mtime < 5:
            os.utime(path, (now - seconds, now - seconds))


def test_branches_are_kept_until_a_branch_folder_changes(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    git(repo, "branch", "feature/a")
    age(repo, 30)
    gitrepo = GitRepo(repo)
    listing = RunList()
    first = listing.branches(gitrepo)
    assert "feature/a" in first and len(first) == 2

    def no_listing(prefix: str) -> dict[str, str]:
        raise AssertionError(f"refs below {prefix} were listed")

    monkeypatch.setattr(gitrepo, "refs", no_listing)
    assert listing.branches(gitrepo) == first  # unchanged: kept
    monkeypatch.undo()

    git(repo, "branch", "feature/b")  # a file in the nested folder only
    age(repo, 20)
    assert listing.branches(gitrepo) == sorted([*first, "feature/b"])

    git(repo, "pack-refs", "--all")
    git(repo, "branch", "-D", "feature/a")  # rewrites packed-refs
    age(repo, 10)
    assert "feature/a" not in listing.branches(gitrepo)


def test_a_fresh_change_is_never_trusted(repo: Path) -> None:
    listing = RunList()
    gitrepo = GitRepo(repo)
    before = listing.branches(gitrepo)
    git(repo, "branch", "topic")  # within the settle time: listed again
    assert listing.branches(gitrepo) == sorted([*before, "topic"])
