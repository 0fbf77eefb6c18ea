"""``GitRepo.blob_from_chunks``: a blob written from pieces, held in memory up to 1 MiB and
spilled to a temporary file beyond; the same object either way, nothing left behind."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from gitxp.git.repo import GitRepo


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout


@pytest.mark.parametrize("pieces", [0, 3, 40])  # nothing, under 1 MiB, 40 × 64 KiB
def test_the_blob_is_the_pieces_joined(tmp_path: Path, pieces: int) -> None:
    git(tmp_path, "init", "-q")
    repo = GitRepo(tmp_path)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    chunks = [bytes([i]) * 65536 for i in range(pieces)]
    oid = repo.blob_from_chunks(iter(chunks), scratch)
    assert subprocess.run(
        ["git", "cat-file", "blob", oid], cwd=tmp_path, check=True, capture_output=True
    ).stdout == b"".join(chunks)
    assert list(scratch.iterdir()) == []
    git(tmp_path, "fsck", "--strict")


def test_a_failing_producer_leaves_no_temporary_file(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q")
    repo = GitRepo(tmp_path)

    def chunks() -> Iterator[bytes]:
        for _ in range(20):
            yield bytes(65536)
        raise ValueError("the producer failed")

    with pytest.raises(ValueError, match="the producer failed"):
        repo.blob_from_chunks(chunks(), tmp_path)
    assert not list(tmp_path.glob("blob-*"))
