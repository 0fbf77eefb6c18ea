"""A usage error under ``gitxp run`` records nothing (issue 18, points 3 and 4).

Malformed ``with`` input and a program that cannot be started are refused before the run
starts; an Experiment that refuses its own command line (unknown config key or command,
``-q``, ``-F``) makes the supervisor take the run back. Real git checks that no run ref is
left and the repository is sound.
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest
from runstore_helpers import fsck, git, gitxp, run_refs, user_state

EXPERIMENT = textwrap.dedent(
    """\
    from gitxp import Experiment
    ex = Experiment("demo")

    @ex.config
    def cfg():
        lr = 0.1

    @ex.automain
    def main(lr):
        print("lr", lr)
    """
)


@pytest.fixture
def project(repo: Path) -> Path:
    (repo / "exp.py").write_text(EXPERIMENT)
    (repo / "job.sh").write_text("echo hi\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "scripts")
    return repo


def refused(path: Path, *args: str, says: str) -> None:
    before = user_state(path)
    proc = gitxp(path, "run", "-b", "0", *args, check=False)
    assert proc.returncode != 0, proc.stdout
    errors = [line for line in proc.stderr.splitlines() if line.startswith("gitxp: error:")]
    assert len(errors) == 1 and says in errors[0], proc.stderr
    assert "Traceback" not in proc.stderr
    assert run_refs(path) == {}, args
    assert user_state(path) == before
    assert not any((path / ".git" / "gitxp" / "spool").glob("*"))


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["train.py", "with", "lr"], "with lr: not KEY=VALUE"),
        (["train.py", "with", "cfg.yaml"], "with cfg.yaml: no such config file"),
        (["train.py", "with", "lr="], "no value for 'lr'"),
        (["train.py", "with", "x=[1,"], "'[' was never closed"),
        (["job.sh"], "job.sh is not executable"),
        (["./job.sh"], "job.sh is not executable"),
    ],
)
def test_refused_before_the_run_starts(project: Path, args: list[str], says: str) -> None:
    refused(project, *args, says=says)


def test_a_script_without_a_shebang_is_named(project: Path) -> None:
    os.chmod(project / "job.sh", 0o755)
    refused(project, "job.sh", says="job.sh has no #! line")
    (project / "job.sh").write_text("#!/bin/sh\necho hi\n")
    gitxp(project, "run", "-b", "0", "job.sh")
    assert len(run_refs(project)) == 1


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["with", "lr_rate=1"], "not used anywhere: 'lr_rate' (did you mean 'lr'?)"),
        (["nosuchcmd"], "unknown command 'nosuchcmd'"),
        (["-q"], "-q/--queue cannot be used under 'gitxp run'"),
        (["-F"], "--file_storage needs a value (ARG)"),
        (["with", "nosuchnamed"], "unknown named config 'nosuchnamed'"),
    ],
)
def test_an_experiment_usage_error_leaves_no_run(project: Path, args: list[str], says: str) -> None:
    proc = gitxp(project, "run", "-b", "0", "exp.py", *args, check=False)
    assert proc.returncode == 2, proc.stderr
    assert says in proc.stderr
    assert "nothing recorded" in proc.stderr
    assert run_refs(project) == {}
    assert not any((project / ".git" / "gitxp" / "spool").glob("*"))
    fsck(project)


def test_nan_is_recorded_as_a_float(project: Path) -> None:
    gitxp(project, "run", "-b", "0", "train.py", "with", "lr=nan")
    (ref,) = run_refs(project)
    assert git(project, "show", f"{ref}:.gitxp/config.yaml") == "lr: .nan\n"
