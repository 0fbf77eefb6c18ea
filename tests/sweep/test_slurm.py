"""The Slurm executor on a real single-node Slurm: one job array of gitxp workers.

The shared remote is a real ``git daemon``; each task works in a repository of its own in
a temporary folder, so the runs reach the project only through that remote.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from clusters import EngineError, SlurmCluster
from executor_helpers import (
    GRID,
    SWEEP_TIMEOUT,
    commit_long_script,
    config,
    info,
    start_sweep,
    wait_for_marker,
)
from gitxp_testing import git, gitxp, run_refs
from runstore_helpers import fsck, user_state
from servers import GitDaemon, bare_repo, free_port

from gitxp.errors import ExecutorError
from gitxp.sweep.executors import get_executor


@pytest.fixture(scope="session")
def slurm() -> Iterator[SlurmCluster]:
    """One Slurm for the whole session (it starts in a few seconds)."""
    try:
        cluster = SlurmCluster()
    except EngineError as err:
        pytest.fail(f"Slurm cannot start: {err}")
    yield cluster
    cluster.stop()


@pytest.fixture
def shared(repo: Path, tmp_path: Path) -> Iterator[Path]:
    """A git daemon serving ``shared.git``, the project's ``origin``; yields the bare repo."""
    root = tmp_path / "served"
    root.mkdir()
    daemon = GitDaemon(root)
    bare = bare_repo(root, "shared.git")
    git(repo, "remote", "add", "origin", daemon.url("shared.git"))
    git(repo, "push", "-q", "origin", "HEAD:refs/heads/main")
    yield bare
    daemon.stop()


def jobs(repo: Path) -> list[dict]:
    """The job arrays gitxp submitted, from the sweeps' state folders."""
    return [
        job
        for path in sorted((repo / ".git" / "gitxp" / "sweeps").glob("*/slurm.json"))
        for job in json.loads(path.read_text())["jobs"]
    ]


def squeue(slurm: SlurmCluster, *args: str) -> str:
    env = {**os.environ, **slurm.env}
    return subprocess.run(["squeue", *args], env=env, capture_output=True, text=True).stdout


def test_a_3x2_sweep_is_one_job_array_and_the_same_sweep_again_skips_all(
    repo: Path, slurm: SlurmCluster, shared: Path, tmp_path: Path
) -> None:
    before = user_state(repo)
    extra = tmp_path / "extra.sbatch"
    extra.write_text(f"# where the tasks' own messages go\n--output={tmp_path}/task-%A_%a.out\n")
    proc = gitxp(
        repo,
        "sweep",
        *("--executor", "slurm", "--remote", "origin", "--partition", "debug"),
        *("--time", "5:00", "--cpus-per-task", "1", "--mem", "100M", "--sbatch-file", str(extra)),
        *GRID,
        env=slurm.env,
        timeout=SWEEP_TIMEOUT,
    )
    assert "6 completed, 0 failed" in proc.stdout, proc.stdout + proc.stderr
    [job] = jobs(repo)
    assert job["tasks"] == 6
    script = Path(job["script"]).read_text()
    assert "#SBATCH --job-name=gitxp-sw-" in script and "--max-runs 1" in script
    assert f"#SBATCH --output={tmp_path}/task-%A_%a.out" in script
    messages = sorted((tmp_path / f"task-{job['job']}_{i}.out").read_text() for i in range(6))
    assert all("gitxp worker: 1 completed" in m for m in messages), messages
    remote = {ref: info(shared, c) for ref, c in run_refs(shared).items()}
    assert len(remote) == 6
    assert {r["status"] for r in remote.values()} == {"COMPLETED"}
    # each run in its own Slurm task, each task in a repository of its own (not the project)
    tasks = sorted(r["worker"]["task"] for r in remote.values())
    assert tasks == sorted(f"{job['job']}_{i}" for i in range(6))
    assert all(r["supervisor"] == "gitxp worker" for r in remote.values())
    configs = sorted(
        (float(c["lr"]), int(c["seed"]))
        for c in (config(shared, commit) for commit in run_refs(shared).values())
    )
    assert configs == [(lr, s) for lr in (0.1, 0.2, 0.3) for s in (0, 1)]
    for commit in run_refs(shared).values():
        output = git(shared, "show", f"{commit}:.gitxp/output.log")
        assert output.count("training with") == 1
    # the results came back to the project by git
    assert run_refs(repo) == run_refs(shared)
    assert user_state(repo) == before
    fsck(shared)
    fsck(repo)

    again = gitxp(repo, "sweep", "--executor", "slurm", "--remote", "origin", *GRID, env=slurm.env)
    assert "skipped 6 with the same inputs" in again.stderr, again.stderr
    assert len(jobs(repo)) == 1  # nothing submitted
    assert len(run_refs(shared)) == 6


def test_sigterm_to_a_task_leaves_its_run_interrupted_and_resume_completes_it(
    repo: Path, slurm: SlurmCluster, shared: Path, tmp_path: Path
) -> None:
    marker = tmp_path / "started"
    commit_long_script(repo, marker, "gitxp.config()['x'] == 2")
    extra = tmp_path / "extra.sbatch"
    extra.write_text(f"#SBATCH --output={tmp_path}/task-%A_%a.out\n")
    git(repo, "config", "gitxp.slurm.sbatch-file", str(extra))  # settings from git config
    submit = ["--executor", "slurm", "--remote", "origin"]
    sweep = start_sweep(repo, *submit, "long.py", "with", "x=1,2", env=slurm.env)
    wait_for_marker(marker, sweep)
    [job] = jobs(repo)
    slow = _task_of(shared, repo, job, slurm)
    scancel = subprocess.run(
        ["scancel", "--signal=TERM", slow],
        env={**os.environ, **slurm.env},
        capture_output=True,
        text=True,
    )
    assert scancel.returncode == 0, scancel.stderr
    out, err = sweep.communicate(timeout=SWEEP_TIMEOUT)
    assert sweep.returncode == 1, out + err
    assert "1 completed, 0 failed, 1 left" in out, out + err
    records = [info(shared, c) for c in run_refs(shared).values()]
    statuses = {r["worker"]["task"]: r["status"] for r in records}
    assert statuses[slow] == "INTERRUPTED"
    said = (tmp_path / f"task-{slow}.out").read_text()
    assert "SIGTERM: waiting for the worker" not in said  # the step got it, not the shell
    assert "1 interrupted" in said, said
    assert sorted(statuses.values()) == ["COMPLETED", "INTERRUPTED"]
    sweep_id = next(info(repo, c)["sweep"] for c in run_refs(repo).values())

    shown = gitxp(repo, "sweep", "--status", sweep_id[:12], env=slurm.env).stdout
    line = next(line for line in shown.splitlines() if slow in line)
    assert "INTERRUPTED" in line and "failed" in line and "exit 130" in line, shown

    resumed = gitxp(
        repo,
        "sweep",
        *("--resume", sweep_id[:12], *submit),
        env=slurm.env,
        timeout=SWEEP_TIMEOUT,
    )
    assert "1 completed, 0 failed" in resumed.stdout, resumed.stdout + resumed.stderr
    assert len(jobs(repo)) == 2
    records = [info(shared, c) for c in run_refs(shared).values()]
    assert sorted(r["status"] for r in records) == ["COMPLETED", "COMPLETED", "INTERRUPTED"]
    interrupted = next(r["id"] for r in records if r["status"] == "INTERRUPTED")
    [again] = [r for r in records if r.get("resumed_from") == interrupted]
    assert again["status"] == "COMPLETED" and again["sweep"] == sweep_id
    fsck(shared)
    fsck(repo)


def _task_of(shared: Path, repo: Path, job: dict, slurm: SlurmCluster) -> str:
    """The task running the slow run: the one Slurm still runs once the quick one is done."""
    deadline = time.monotonic() + SWEEP_TIMEOUT
    while time.monotonic() < deadline:
        listed = squeue(slurm, "--noheader", "--array", f"--jobs={job['job']}", "--format=%F_%K %T")
        running = [line.split()[0] for line in listed.splitlines() if line.endswith(" RUNNING")]
        done = [info(shared, c) for c in run_refs(shared).values()]
        if len(running) == 1 and any(r["status"] == "COMPLETED" for r in done):
            return running[0]
        time.sleep(0.2)
    raise AssertionError("the slow task was not found")


def test_bad_slurm_settings_are_one_line_before_anything_is_queued(
    repo: Path, slurm: SlurmCluster, shared: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    proc = gitxp(
        repo, "sweep", "--executor", "slurm", "--remote", "origin", "--partition", "nosuch",
        *GRID, env=slurm.env, check=False,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == (
        "gitxp: error: Slurm refuses the job: sbatch: error: invalid partition specified: nosuch"
    ), proc.stderr
    assert run_refs(repo) == {} and run_refs(shared) == {} and jobs(repo) == []
    git(repo, "remote", "add", "dead", f"git://127.0.0.1:{free_port()}/shared.git")
    proc = gitxp(
        repo, "sweep", "--executor", "slurm", "--remote", "dead", *GRID, env=slurm.env, check=False
    )
    assert proc.returncode == 2 and "nothing was submitted" in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 2  # the plan's line, then the error
    assert run_refs(repo) == {} and jobs(repo) == []

    bad_lines = tmp_path / "lines"
    bad_lines.write_text("#SBATCH --account=x\n# a comment\nrm -rf /\n")
    too_big = tmp_path / "nodes"
    too_big.write_text("#SBATCH --nodes=3\n")  # the cluster has one
    array = tmp_path / "array"
    array.write_text("#SBATCH --array=0-99\n")
    base = {"repo": str(repo), "remote_url": str(shared)}
    for monkeypatch_env, options, message in [
        (slurm.env, {"time": "forever"}, "Slurm refuses the job"),
        (slurm.env, {"sbatch-file": str(tmp_path / "missing")}, "cannot read the sbatch file"),
        (slurm.env, {"sbatch-file": str(bad_lines)}, r"lines:3: not an sbatch option: 'rm -rf /'"),
        (slurm.env, {"sbatch-file": str(array)}, "gitxp sets --array itself"),
        (slurm.env, {"sbatch-file": str(too_big)}, "Slurm refuses the job: .*node"),
        (slurm.env, {"partition": "a\nb"}, "must be one non-empty line"),
        (slurm.env, {"remote_url": ""}, "needs --remote"),
        (slurm.env, {"remote_url": "https://u:secret@example.com/r.git"}, r"u:\*\*\*@"),
        ({"PATH": str(tmp_path)}, {}, "sbatch is not on PATH"),
    ]:
        with monkeypatch.context() as mp:
            for key, value in monkeypatch_env.items():
                mp.setenv(key, value)
            with pytest.raises(ExecutorError, match=message) as caught:
                get_executor("slurm", {**base, **options})
        assert "\n" not in str(caught.value) and "secret" not in str(caught.value)
    git(repo, "config", "gitxp.slurm.partition", "nosuch")
    with monkeypatch.context() as mp:
        mp.setenv("SLURM_CONF", slurm.env["SLURM_CONF"])
        with pytest.raises(ExecutorError, match="invalid partition"):
            get_executor("slurm", base)
    fsck(repo)


def test_ctrl_c_cancels_the_job_array_and_waits_for_the_interrupted_run(
    repo: Path, slurm: SlurmCluster, shared: Path, tmp_path: Path
) -> None:
    marker = tmp_path / "started"
    commit_long_script(repo, marker, "gitxp.config()['x'] == 1")
    git(repo, "config", "gitxp.slurm.sbatch-file", str(tmp_path / "extra.sbatch"))
    (tmp_path / "extra.sbatch").write_text(f"--output={tmp_path}/task-%A_%a.out\n")
    submit = ["--executor", "slurm", "--remote", "origin"]
    sweep = start_sweep(repo, *submit, "long.py", "with", "x=1", env=slurm.env)
    wait_for_marker(marker, sweep)
    sweep.send_signal(signal.SIGINT)
    out, err = sweep.communicate(timeout=SWEEP_TIMEOUT)
    assert sweep.returncode == 130, out + err
    [job] = jobs(repo)
    assert squeue(slurm, "--noheader", f"--jobs={job['job']}").strip() == ""
    [record] = [info(shared, c) for c in run_refs(shared).values()]
    assert record["status"] == "INTERRUPTED", record
    assert info(repo, run_refs(repo)[f"refs/gitxp/runs/{record['id']}"])["status"] == "INTERRUPTED"


def test_the_job_script_starts_gitxp_as_configured_and_keeps_the_sbatch_lines(
    repo: Path, slurm: SlurmCluster, shared: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = tmp_path / "lines"
    lines.write_text("#SBATCH --comment=gitxp-test\n\n--requeue\n")
    git(repo, "config", "gitxp.slurm.gitxp", "/opt/envs/ml/bin/python -m gitxp")
    git(repo, "config", "gitxp.slurm.sbatch-file", str(lines))
    monkeypatch.setenv("SLURM_CONF", slurm.env["SLURM_CONF"])
    executor = get_executor(
        "slurm", {"repo": str(repo), "remote_url": "shared.git", "env": "venv", "time": "1:00"}
    )
    script = executor.script(SimpleNamespace(id="sw-01TEST"))
    assert "#SBATCH --comment=gitxp-test\n#SBATCH --requeue\n" in script
    remote = (repo / "shared.git").resolve()  # a relative path remote, made absolute
    assert (
        f"srun --ntasks=1 /opt/envs/ml/bin/python -m gitxp worker --remote {remote} "
        "--sweep sw-01TEST --max-runs 1 --env venv &\n"
    ) in script
    assert executor.settings == {"time": "1:00"}
