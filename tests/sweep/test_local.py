"""Local sweeps: -j N workers on the user's repository, skipping by input identity."""

from __future__ import annotations

import json
from pathlib import Path

from gitxp_testing import RUNS, git, gitxp, run_refs
from runstore_helpers import fsck, user_state


def run_json(cwd: Path, commit: str, name: str = "run.json") -> dict:
    return json.loads(git(cwd, "show", f"{commit}:.gitxp/{name}"))


def records(cwd: Path) -> dict[str, dict]:
    return {ref[len(RUNS) :]: run_json(cwd, commit) for ref, commit in run_refs(cwd).items()}


def test_a_3x2_sweep_with_two_jobs_runs_each_combination_once_then_skips_them(repo: Path) -> None:
    before = user_state(repo)
    words = ["train.py", "with", "lr=0.1,0.2,0.3", "seed=range(2)"]
    proc = gitxp(repo, "sweep", "-j", "2", *words)
    runs = records(repo)
    assert len(runs) == 6
    assert {r["status"] for r in runs.values()} == {"COMPLETED"}
    sweeps = {r["sweep"] for r in runs.values()}
    assert len(sweeps) == 1 and next(iter(sweeps)).startswith("sw-")
    configs = []
    for ref, commit in run_refs(repo).items():
        config = git(repo, "show", f"{commit}:.gitxp/config.yaml")
        configs.append(config)
        output = git(repo, "show", f"{commit}:.gitxp/output.log")
        assert output.count("training with") == 1  # ran once, its own output in its record
        assert runs[ref[len(RUNS) :]]["result"] == 2 * float(config.split("lr: ")[1].split()[0])
    pairs = sorted(
        (c.split("lr: ")[1].split()[0], c.split("seed: ")[1].split()[0]) for c in configs
    )
    assert pairs == [(lr, s) for lr in ("0.1", "0.2", "0.3") for s in ("0", "1")]
    # one snapshot: every run holds the same source tree, the user's tree untouched
    trees = {
        git(repo, "rev-parse", f"{c}^{{tree}}:train.py").strip() for c in run_refs(repo).values()
    }
    assert len(trees) == 1
    assert len({r["inputs"] for r in runs.values()}) == 6
    assert "6 completed, 0 failed" in proc.stdout
    assert user_state(repo) == before
    assert git(repo, "worktree", "list").count("\n") == 1
    fsck(repo)

    again = gitxp(repo, "sweep", "-j", "2", *words)
    assert "skipped 6 with the same inputs" in again.stderr
    assert len(run_refs(repo)) == 6
    listed = gitxp(repo, "ls", "--same-as", next(iter(runs))).stdout.strip().splitlines()
    assert len(listed) == 2  # the header and the run itself
    forced = gitxp(repo, "sweep", "--rerun", "train.py", "with", "lr=0.1", "seed=0")
    assert "1 completed" in forced.stdout
    same = gitxp(repo, "ls", "--same-as", "latest").stdout.strip().splitlines()
    assert len(same) == 3


def test_a_failing_run_does_not_stop_the_others_and_the_summary_names_its_error(repo: Path) -> None:
    (repo / "flaky.py").write_text(
        "import gitxp\n"
        "if gitxp.config()['x'] == 2:\n"
        "    raise ValueError('x=2 is cursed')\n"
        "gitxp.set_result(gitxp.config()['x'])\n"
    )
    proc = gitxp(repo, "sweep", "flaky.py", "with", "x=1,2,3", check=False)
    assert proc.returncode == 1
    statuses = sorted(r["status"] for r in records(repo).values())
    assert statuses == ["COMPLETED", "COMPLETED", "FAILED"]
    failed = [line for line in proc.stdout.splitlines() if "FAILED" in line]
    assert len(failed) == 1 and "ValueError: x=2 is cursed" in failed[0]
    assert "2 completed, 1 failed" in proc.stdout
    sweep_id = next(iter(records(repo).values()))["sweep"]
    shown = gitxp(repo, "show", sweep_id[:10].lower()).stdout
    assert f"sweep {sweep_id}: 3/3 finished (2 completed, 1 failed)" in shown
    assert "best run (lowest result)" in shown and "result 1" in shown
    assert "ValueError: x=2 is cursed" in shown.split("failures:")[1]


def test_experiment_scripts_with_named_configs_and_any_command(repo: Path) -> None:
    (repo / "exp.py").write_text(
        "from gitxp import Experiment\n"
        "ex = Experiment('exp')\n"
        "@ex.config\n"
        "def cfg():\n"
        "    lr = 0.5\n"
        "    depth = 1\n"
        "@ex.named_config\n"
        "def deep():\n"
        "    depth = 8\n"
        "@ex.automain\n"
        "def main(lr, depth):\n"
        "    return lr * depth\n"
    )
    git(repo, "add", "exp.py")
    gitxp(repo, "sweep", "exp.py", "with", "deep", "lr=1,2")
    runs = records(repo)
    assert sorted(r["result"] for r in runs.values()) == [8, 16]
    assert {tuple(r["named_configs"]) for r in runs.values()} == {("deep",)}
    bad = gitxp(repo, "sweep", "exp.py", "with", "lrr=1,2", check=False)
    assert bad.returncode == 2
    last = bad.stderr.strip().splitlines()[-1]
    assert last.startswith("gitxp: error: exp.py: ") and "'lrr' (did you mean 'lr'?)" in last
    assert len(run_refs(repo)) == 2
    proc = gitxp(repo, "sweep", "--", "sh", "-c", "echo got $0", "with", "a=1,2")
    assert "2 completed" in proc.stdout
    assert len(run_refs(repo)) == 4


def test_bad_input_is_one_line_and_writes_nothing(repo: Path, tmp_path: Path) -> None:
    refusing = tmp_path / "refusing.git"
    git(tmp_path, "init", "-q", "--bare", str(refusing))
    hook = refusing / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'read-only mirror' >&2\nexit 1\n")
    hook.chmod(0o755)
    before = user_state(repo)
    cases = [
        (["train.py", "with", "seed=range(0)"], "the sweep has no runs"),
        (["train.py", "with", "lr=logunif(1,2)"], "unknown sweep function"),
        (["train.py", "with", "lr=loguniform(1e-3,1)"], "--trials N"),
        (["nothere.py", "with", "lr=1,2"], "no such script"),
        (["--executor", "ray", "train.py", "with", "lr=1,2"], "unknown executor 'ray'"),
        (["-j", "0", "train.py", "with", "lr=1,2"], "-j must be at least 1"),
        (
            ["--remote", str(tmp_path / "nowhere"), "train.py", "with", "lr=1,2"],
            "nothing was submitted",
        ),
    ]
    for args, says in cases:
        proc = gitxp(repo, "sweep", *args, check=False)
        assert proc.returncode == 2, (args, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        assert len(lines) <= 2 and says in lines[-1], (args, proc.stderr)
        assert "Traceback" not in proc.stderr
    assert run_refs(repo) == {}
    assert user_state(repo) == before
    fsck(repo)


def test_queued_runs_wait_for_a_worker_and_the_python_api_returns_a_frame(repo: Path) -> None:
    gitxp(repo, "run", "--queue", "train.py", "with", "lr=0.5")
    proc = gitxp(repo, "sweep", "--queue", "train.py", "with", "lr=1,2")
    assert "queued 2 runs" in proc.stderr
    assert {r["status"] for r in records(repo).values()} == {"QUEUED"}
    work = gitxp(repo, "worker", "--max-runs", "2")
    assert "2 completed" in work.stderr
    assert sorted(r["status"] for r in records(repo).values()) == [
        "COMPLETED",
        "COMPLETED",
        "QUEUED",
    ]
    gitxp(repo, "sweep", "--queue", "train.py", "with", "lr=3,4,5")
    pool = gitxp(repo, "worker", "-j", "2")  # two worker processes, one summary
    assert "4 completed, 0 failed, 0 interrupted" in pool.stderr.splitlines()[-1]
    assert {r["status"] for r in records(repo).values()} == {"COMPLETED"}

    import gitxp as api

    frame = api.sweep("train.py", repo=repo, lr=[0.25, 0.5], jobs=1)
    assert sorted(frame["config.lr"]) == [0.25, 0.5]
    assert set(frame["status"]) == {"COMPLETED"}
    assert len(frame["sweep"].unique()) == 2  # lr=0.5 was run already, by `run --queue`
