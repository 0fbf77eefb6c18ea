"""The Dask executor on a real Dask cluster: a scheduler and two worker processes.

The shared remote is a bare repository reached by path; each task works in a repository
of its own in a temporary folder on its Dask worker.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from clusters import DaskCluster, EngineError
from executor_helpers import (
    GRID,
    SWEEP_TIMEOUT,
    commit_long_script,
    config,
    info,
    start_sweep,
    wait_for_marker,
)
from gitxp_testing import RUNS, git, gitxp, run_refs
from runstore_helpers import fsck, user_state
from servers import bare_repo, free_port

from gitxp.errors import ExecutorError
from gitxp.sweep.executors import get_executor

GITCONFIG = "[user]\n\tname = Dask Worker\n\temail = dask@example.com\n"


@pytest.fixture(scope="session")
def dask_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaskCluster]:
    """One Dask cluster for the session, in an environment isolated like the tests'."""
    root = tmp_path_factory.mktemp("dask")
    (root / ".gitconfig").write_text(GITCONFIG)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(root),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": str(root / ".gitconfig"),
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
        "LANG": "C.UTF-8",
    }
    try:
        cluster = DaskCluster(root, env)
    except EngineError as err:
        pytest.fail(str(err))
    yield cluster
    cluster.stop()


@pytest.fixture
def shared(repo: Path, tmp_path: Path) -> Path:
    """A bare repository by path, the project's ``origin``."""
    bare = bare_repo(tmp_path, "shared.git")
    git(repo, "remote", "add", "origin", str(bare))
    git(repo, "push", "-q", "origin", "HEAD:refs/heads/main")
    return bare


def test_a_3x2_sweep_runs_as_dask_tasks_and_the_same_sweep_again_skips_all(
    repo: Path, dask_cluster: DaskCluster, shared: Path
) -> None:
    before = user_state(repo)
    submit = ["sweep", "--executor", "dask", "--scheduler", dask_cluster.address]
    proc = gitxp(repo, *submit, "--remote", "origin", *GRID, timeout=SWEEP_TIMEOUT)
    assert "6 completed, 0 failed" in proc.stdout, proc.stdout + proc.stderr
    remote = {ref: info(shared, c) for ref, c in run_refs(shared).items()}
    assert len(remote) == 6
    assert {r["status"] for r in remote.values()} == {"COMPLETED"}
    # one task per run, each task took one (not necessarily the run its key names)
    tasks = {r["worker"]["task"] for r in remote.values()}
    assert tasks == {f"gitxp-worker-{ref[len(RUNS) :]}" for ref in remote}
    configs = sorted(
        (float(c["lr"]), int(c["seed"]))
        for c in (config(shared, commit) for commit in run_refs(shared).values())
    )
    assert configs == [(lr, s) for lr in (0.1, 0.2, 0.3) for s in (0, 1)]
    for commit in run_refs(shared).values():
        assert git(shared, "show", f"{commit}:.gitxp/output.log").count("training with") == 1
    assert run_refs(repo) == run_refs(shared)  # the results came back by git
    assert user_state(repo) == before
    fsck(shared)
    fsck(repo)

    again = gitxp(repo, *submit, "--remote", "origin", *GRID)
    assert "skipped 6 with the same inputs" in again.stderr, again.stderr
    assert len(run_refs(shared)) == 6


def test_an_unreachable_scheduler_or_no_scheduler_is_one_line_and_queues_nothing(
    repo: Path, shared: Path
) -> None:
    closed = f"tcp://127.0.0.1:{free_port()}"
    proc = gitxp(
        repo, "sweep", "--executor", "dask", "--scheduler", closed, "--remote", "origin", *GRID,
        check=False, timeout=90,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert f"gitxp: error: cannot reach the Dask scheduler at {closed}" in proc.stderr
    assert "Traceback" not in proc.stderr
    url = str(shared)
    for options, message in [
        ({"remote_url": url}, "needs --scheduler tcp://HOST:PORT"),
        ({"scheduler": closed}, "needs --remote"),
    ]:
        with pytest.raises(ExecutorError, match=message):
            get_executor("dask", {"repo": str(repo), **options})
    assert run_refs(repo) == {} and run_refs(shared) == {}
    fsck(repo)


def test_without_distributed_the_dask_executor_says_what_to_install(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # import fails as if not installed
    monkeypatch.delitem(sys.modules, "gitxp.sweep.executors.dask", raising=False)
    with pytest.raises(ExecutorError) as caught:
        get_executor("dask", {"repo": str(repo), "scheduler": "tcp://127.0.0.1:1"})
    assert str(caught.value) == "the dask executor needs distributed: pip install 'gitxp[dask]'"


def test_ctrl_c_stops_the_dask_tasks_their_runs_end_interrupted_and_resume_completes_them(
    repo: Path, dask_cluster: DaskCluster, shared: Path, tmp_path: Path
) -> None:
    marker = tmp_path / "started"
    commit_long_script(repo, marker)
    submit = ["--executor", "dask", "--scheduler", dask_cluster.address, "--remote", "origin"]
    sweep = start_sweep(repo, *submit, "long.py", "with", "x=1")
    wait_for_marker(marker, sweep)
    sweep.send_signal(signal.SIGINT)
    out, err = sweep.communicate(timeout=SWEEP_TIMEOUT)
    assert sweep.returncode == 130, out + err
    [record] = [info(shared, c) for c in run_refs(shared).values()]
    assert record["status"] == "INTERRUPTED", record
    resumed = gitxp(repo, "sweep", "--resume", record["sweep"], *submit, timeout=SWEEP_TIMEOUT)
    assert "1 completed, 0 failed" in resumed.stdout, resumed.stdout + resumed.stderr
    statuses = sorted(info(shared, c)["status"] for c in run_refs(shared).values())
    assert statuses == ["COMPLETED", "INTERRUPTED"]
    fsck(shared)
