"""``GitRepo.create_ref`` among packed refs: a loose ref written under its lock, the
packed ones left as they are, an existing name (loose or packed) refused."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from gitxp.errors import RefConflictError
from gitxp.git.repo import RUNS_PREFIX, GitRepo

A, B, C = (RUNS_PREFIX + f"01{c * 24}" for c in "ABC")


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout


def test_create_among_packed_refs_refuses_every_existing_name(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q")
    repo = GitRepo(tmp_path)
    one = repo.write_commit(repo.write_tree({"a": b"1"}), [], "one")
    two = repo.write_commit(repo.write_tree({"a": b"2"}), [one], "two")
    repo.create_ref(A, one)
    repo.create_ref(B, one)
    git(tmp_path, "pack-refs", "--all")
    packed = (tmp_path / ".git" / "packed-refs").read_bytes()
    assert not (tmp_path / ".git" / A).exists()

    repo.create_ref(C, two)
    assert (tmp_path / ".git" / C).read_text().strip() == two  # loose, as git writes it
    assert (tmp_path / ".git" / "packed-refs").read_bytes() == packed
    for name in (A, C):  # packed and loose alike
        with pytest.raises(RefConflictError):
            repo.create_ref(name, two)
    listed = git(tmp_path, "for-each-ref", "--format=%(refname) %(objectname)", RUNS_PREFIX)
    assert listed.splitlines() == [f"{A} {one}", f"{B} {one}", f"{C} {two}"]
    assert not list((tmp_path / ".git").rglob("*.lock"))

    with pytest.raises(ValueError):
        repo.create_ref(RUNS_PREFIX + "bad..name", two)
    with pytest.raises(Exception, match="beneath"):
        repo.create_ref(RUNS_PREFIX.rstrip("/"), two)  # a loose folder of refs there
    assert len(git(tmp_path, "for-each-ref", RUNS_PREFIX).splitlines()) == 3
    git(tmp_path, "fsck", "--strict", "--no-dangling")
