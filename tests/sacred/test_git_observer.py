"""Issue 14, point 9: a Sacred Experiment records into git with GitObserver or ``-g``.

Real Sacred, real processes, results read with real git.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from gitxp_testing import git, run_refs
from runstore_helpers import fsck, user_state

SCRIPT = """
from sacred import Experiment
from sacred.observers import FileStorageObserver
from sacred.utils import TimeoutInterrupt
from gitxp.sacred import GitObserver, git_option

ex = Experiment("sacred_demo", additional_cli_options=[git_option])
{attach}


@ex.config
def cfg():
    lr = 0.1  # learning rate
    mode = "ok"


@ex.main
def main(_run, lr, mode):
    print("hello from sacred")
    _run.log_scalar("loss", 0.5)
    _run.log_scalar("loss", 0.25)
    _run.info["epochs"] = 2
    with open("weights.bin", "wb") as f:
        f.write(b"\\x00\\x01")
    _run.add_artifact("weights.bin")
    if mode == "fail":
        raise ValueError("bad mode")
    if mode == "timeout":
        raise TimeoutInterrupt()
    return lr * 10


if __name__ == "__main__":
    ex.run_commandline()
"""


def run(repo: Path, attach: str, *args: str) -> subprocess.CompletedProcess[str]:
    (repo / "demo.py").write_text(textwrap.dedent(SCRIPT).format(attach=attach))
    return subprocess.run(
        [sys.executable, "-W", "ignore", "demo.py", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=120,
    )


def show(repo: Path, ref: str, path: str) -> str:
    return git(repo, "show", f"{ref}:{path}")


def test_git_observer_records_a_sacred_run(repo: Path) -> None:
    before = user_state(repo)
    # Sacred's fd capture reaches observers through a tee process, late; sys is in step
    proc = run(repo, "ex.observers.append(GitObserver())", "--capture=sys", "with", "lr=0.5")
    assert proc.returncode == 0, proc.stderr
    (ref,) = run_refs(repo)
    run_id = ref.rsplit("/", 1)[1]
    assert f'Started run with ID "{run_id}"' in proc.stderr  # its id, with no other observer
    info = json.loads(show(repo, ref, ".gitxp/run.json"))
    assert info["status"] == "COMPLETED" and info["result"] == 5.0
    assert info["experiment"] == "sacred_demo" and info["info"] == {"epochs": 2}
    assert info["sacred"]["experiment"]["name"] == "sacred_demo"
    assert info["sacred"]["meta"]["config_updates"] == {"lr": 0.5}
    assert "lr: 0.5" in show(repo, ref, ".gitxp/config.yaml")
    metrics = json.loads(show(repo, ref, ".gitxp/metrics.json"))
    assert metrics["loss"]["steps"] == [0, 1] and metrics["loss"]["values"] == [0.5, 0.25]
    assert "hello from sacred" in show(repo, ref, ".gitxp/output.log")
    assert show(repo, ref, "demo.py") == (repo / "demo.py").read_text()  # the snapshot
    blob = subprocess.run(
        ["git", "cat-file", "blob", f"{ref}:.gitxp/artifacts/weights.bin"],
        cwd=repo,
        capture_output=True,
        check=True,
    ).stdout
    assert blob == b"\x00\x01"
    assert "hostname" in json.loads(show(repo, ref, ".gitxp/host.json"))
    assert git(repo, "ls-tree", "--name-only", f"{ref}:.gitxp").split().count("env.lock") == 1
    after = user_state(repo)
    for key in ("index", "HEAD", "heads"):
        assert after[key] == before[key]
    fsck(repo)


def test_the_flag_adds_it_beside_sacreds_own_observers(repo: Path) -> None:
    proc = run(repo, "ex.observers.append(FileStorageObserver('fs'))", "-g")
    assert proc.returncode == 0, proc.stderr
    (ref,) = run_refs(repo)
    assert json.loads(show(repo, ref, ".gitxp/run.json"))["status"] == "COMPLETED"
    assert (repo / "fs" / "1" / "run.json").is_file()
    assert 'Started run with ID "1"' in proc.stderr  # Sacred's observer names the run


def test_failed_and_timed_out_sacred_runs(repo: Path) -> None:
    failed = run(repo, "ex.observers.append(GitObserver())", "with", "mode=fail")
    assert failed.returncode == 1
    timeout = run(repo, "", "-g", "with", "mode=timeout")
    assert timeout.returncode != 0
    statuses = {}
    for ref in run_refs(repo):
        info = json.loads(show(repo, ref, ".gitxp/run.json"))
        statuses[info["status"]] = info
    assert set(statuses) == {"FAILED", "TIMEOUT"}
    assert "ValueError: bad mode" in statuses["FAILED"]["fail_trace"]
    fsck(repo)
