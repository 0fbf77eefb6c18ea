"""gitxp fetch --no-artifacts: every run's records, without the model weights.

The remote is git's own upload-pack behind a real ``git daemon`` with
``uploadpack.allowFilter``; the clone becomes a partial clone as ``git clone --filter``
makes one, and a file left out arrives when something reads it.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from servers import GitDaemon, bare_repo
from sharing_helpers import RUNS, git, gitxp, run_refs, start_run

import gitxp as gx

SIZE = 3 << 20  # a 3 MiB "model" per run; benchmarks/partial_fetch.py uses 50 MiB


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GitDaemon]:
    root = tmp_path_factory.mktemp("served")
    server = GitDaemon(root)
    yield server
    server.stop()


def objects_size(path: Path) -> int:
    return sum(f.stat().st_size for f in (path / ".git" / "objects").rglob("*") if f.is_file())


def present(path: Path, oid: str) -> bool:
    proc = subprocess.run(
        ["git", "cat-file", "-e", oid],
        cwd=path,
        env={**os.environ, "GIT_NO_LAZY_FETCH": "1"},
        capture_output=True,
    )
    return proc.returncode == 0


def test_records_come_weights_stay_until_read(
    repo: Path, daemon: GitDaemon, tmp_path: Path
) -> None:
    served = bare_repo(daemon.root, "team.git")
    git(served, "config", "uploadpack.allowFilter", "true")
    git(repo, "push", "-q", str(served), "HEAD:refs/heads/main")
    weights = []
    for i in range(2):
        model = repo / f"model{i}.bin"
        model.write_bytes(os.urandom(SIZE))
        rec = start_run(repo, lr=0.1 * (i + 1))
        rec.spool.add_artifact(model, "model.bin")
        rec.spool.log_scalar("loss", 1.0 / (i + 1), 0)
        rec.finish("COMPLETED", exit_code=0, result=i, has_result=True)
        model.unlink()
        weights.append(
            git(repo, "rev-parse", f"{RUNS}{rec.run_id}:.gitxp/artifacts/model.bin").strip()
        )
    gitxp(repo, "push", "-q", str(served))

    def clone(name: str) -> Path:
        path = tmp_path / name
        git(tmp_path, "clone", "-q", daemon.url("team.git"), str(path))
        return path

    full, light = clone("full"), clone("light")
    gitxp(full, "fetch", "origin")
    out = gitxp(light, "fetch", "origin", "--no-artifacts").stdout
    assert "fetched 2 runs" in out
    assert run_refs(light) == run_refs(full) == run_refs(repo)
    assert not any(present(light, w) for w in weights)
    assert all(present(full, w) for w in weights)
    assert objects_size(light) < objects_size(full) - 2 * SIZE + (1 << 20)
    git(light, "fsck", "--strict", "--no-dangling")  # a partial clone, as git makes one
    assert git(light, "config", "remote.origin.promisor").strip() == "true"

    # Everything about the runs is readable without the weights.
    assert "COMPLETED" in gitxp(light, "ls").stdout
    frame = gx.runs(light)
    assert sorted(frame["result"].tolist()) == [0, 1]
    assert "model.bin" in gitxp(light, "show", "latest").stdout
    assert not any(present(light, w) for w in weights)

    # Reading an artifact fetches just that one.
    run = gx.load_run("latest", repo=light)
    data = run.artifacts["model.bin"].read()
    assert len(data) == SIZE
    assert sum(present(light, w) for w in weights) == 1
    git(light, "fsck", "--strict", "--no-dangling")


def test_mistakes(repo: Path, daemon: GitDaemon, tmp_path: Path) -> None:
    served = bare_repo(daemon.root, "other.git")
    git(repo, "push", "-q", str(served), "HEAD:refs/heads/main")
    proc = gitxp(repo, "fetch", daemon.url("other.git"), "--no-artifacts", check=False)
    assert proc.returncode != 0 and "needs a named remote" in proc.stderr
    git(repo, "remote", "add", "team", daemon.url("other.git"))
    proc = gitxp(repo, "fetch", "team", "--no-artifacts", "--blob-limit", "big", check=False)
    assert proc.returncode != 0 and "--blob-limit 'big'" in proc.stderr
    assert proc.stderr.count("\n") == 1
