"""Workers in their own clones on one shared remote, and a worker stopped by SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from gitxp_testing import RUNS, git, gitxp, run_refs
from runstore_helpers import fsck
from servers import GitDaemon, bare_repo


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[GitDaemon]:
    root = tmp_path / "served"
    root.mkdir()
    server = GitDaemon(root)
    yield server
    server.stop()


def info(cwd: Path, commit: str) -> dict:
    return json.loads(git(cwd, "show", f"{commit}:.gitxp/run.json"))


def start_worker(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "gitxp", "worker", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )


def test_two_workers_in_their_own_clones_never_run_the_same_run(
    repo: Path, daemon: GitDaemon, tmp_path: Path
) -> None:
    (repo / "slow.py").write_text(
        "import time, gitxp\ntime.sleep(0.3)\ngitxp.set_result(gitxp.config()['lr'])\n"
    )
    git(repo, "add", "slow.py")
    git(repo, "commit", "-q", "-m", "slow")
    bare_repo(daemon.root, "shared.git")
    url = daemon.url("shared.git")
    git(repo, "push", "-q", url, "HEAD:refs/heads/main")
    gitxp(repo, "sweep", "--queue", "--remote", url, "slow.py", "with", "lr=1,2,3", "seed=0,1")
    queued = run_refs(daemon.root / "shared.git")
    assert len(queued) == 6
    clones = []
    for name in ("a", "b"):
        clone = tmp_path / name
        git(tmp_path, "clone", "-q", url, str(clone))
        clones.append(clone)
    workers = [start_worker(clone, "--remote", url) for clone in clones]
    outputs = [w.communicate(timeout=120) for w in workers]
    assert [w.returncode for w in workers] == [0, 0], outputs
    final = run_refs(daemon.root / "shared.git")
    assert set(final) == set(queued)
    by_worker: dict[str, set[str]] = {}
    for ref, commit in final.items():
        record = info(daemon.root / "shared.git", commit)
        assert record["status"] == "COMPLETED"
        assert git(daemon.root / "shared.git", "rev-parse", f"{commit}^").strip() == queued[ref]
        by_worker.setdefault(json.dumps(record["worker"]), set()).add(ref)
        out = git(daemon.root / "shared.git", "show", f"{commit}:.gitxp/output.log")
        assert out == ""  # the script prints nothing; the run was recorded once
    ran = [int(err.split(" completed")[0].rsplit(" ", 1)[-1]) for _, err in outputs]
    assert sum(ran) == 6
    assert sum(len(refs) for refs in by_worker.values()) == 6
    configs = sorted(
        git(daemon.root / "shared.git", "show", f"{c}:.gitxp/config.yaml") for c in final.values()
    )
    assert len(set(configs)) == 6
    gitxp(repo, "fetch", url)
    assert {info(repo, c)["status"] for c in run_refs(repo).values()} == {"COMPLETED"}
    fsck(daemon.root / "shared.git")
    fsck(repo)


def test_sigterm_ends_the_run_interrupted_and_continue_completes_it(
    repo: Path, tmp_path: Path
) -> None:
    marker = tmp_path / "started"
    (repo / "long.py").write_text(
        "import os, time, gitxp\n"
        "marker = os.environ['MARKER']\n"
        "if gitxp.resumed_from() is None and not os.path.exists(marker):\n"
        "    open(marker, 'w').close()\n"
        "    time.sleep(60)\n"
        "gitxp.set_result('done')\n"
    )
    git(repo, "add", "long.py")
    git(repo, "commit", "-q", "-m", "long")
    gitxp(repo, "sweep", "--queue", "long.py", "with", "x=1,2")
    worker = start_worker(repo, env={"MARKER": str(marker)})
    deadline = time.monotonic() + 60
    while not marker.exists() and worker.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker.exists(), worker.communicate()
    worker.send_signal(signal.SIGTERM)
    _, err = worker.communicate(timeout=60)
    assert worker.returncode == 130, err
    statuses = sorted(info(repo, c)["status"] for c in run_refs(repo).values())
    assert statuses == ["INTERRUPTED", "QUEUED"]  # the one running, and the one not started
    interrupted = next(
        ref[len(RUNS) :] for ref, c in run_refs(repo).items() if info(repo, c)["status"] != "QUEUED"
    )
    sweep_id = info(repo, run_refs(repo)[RUNS + interrupted])["sweep"]
    assert git(repo, "worktree", "list").count("\n") == 1

    proc = gitxp(repo, "sweep", "--continue", sweep_id[:12], env={"MARKER": str(marker)})
    assert "2 completed" in proc.stdout, proc.stdout + proc.stderr
    records = [info(repo, c) for c in run_refs(repo).values()]
    resumed = [r for r in records if r.get("resumed_from") == interrupted]
    assert len(resumed) == 1 and resumed[0]["status"] == "COMPLETED"
    assert resumed[0]["sweep"] == sweep_id
    assert sorted(r["status"] for r in records) == ["COMPLETED", "COMPLETED", "INTERRUPTED"]
    fsck(repo)


def test_a_worker_with_env_venv_runs_in_an_environment_built_from_the_lock(
    repo: Path, tmp_path: Path
) -> None:
    bare_python = tmp_path / "bare" / "bin" / "python"
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(bare_python.parent.parent)], check=True
    )
    (repo / "where.py").write_text("import sys\nprint('prefix', sys.prefix)\n")
    git(repo, "add", "where.py")
    git(repo, "commit", "-q", "-m", "where")
    gitxp(repo, "sweep", "--queue", "--python", str(bare_python), "where.py", "with", "k=1,2")
    proc = gitxp(repo, "worker", "--env", "venv")
    assert "2 completed" in proc.stderr, proc.stderr
    venvs = sorted((repo / ".git" / "gitxp" / "venvs").glob("*/gitxp-venv.json"))
    assert len(venvs) == 1  # built once, reused by the second run
    for commit in run_refs(repo).values():
        out = git(repo, "show", f"{commit}:.gitxp/output.log")
        assert f"prefix {venvs[0].parent}" in out
        assert info(repo, commit)["status"] == "COMPLETED"


def test_ctrl_c_on_a_sweep_interrupts_the_running_run_and_leaves_the_rest_queued(
    repo: Path, tmp_path: Path
) -> None:
    marker = tmp_path / "started"
    (repo / "wait.py").write_text(
        "import os, time\nopen(os.environ['MARKER'], 'w').close()\ntime.sleep(60)\n"
    )
    git(repo, "add", "wait.py")
    git(repo, "commit", "-q", "-m", "wait")
    sweep = subprocess.Popen(
        [sys.executable, "-m", "gitxp", "sweep", "wait.py", "with", "x=1,2,3"],
        cwd=repo,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "MARKER": str(marker)},
    )
    deadline = time.monotonic() + 60
    while not marker.exists() and sweep.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker.exists(), sweep.communicate()
    sweep.send_signal(signal.SIGINT)
    out, err = sweep.communicate(timeout=60)
    assert sweep.returncode == 130, out + err
    statuses = sorted(info(repo, c)["status"] for c in run_refs(repo).values())
    assert statuses == ["INTERRUPTED", "QUEUED", "QUEUED"]
    assert "gitxp sweep --continue sw-" in out
    assert git(repo, "worktree", "list").count("\n") == 1
    fsck(repo)
