"""Helpers for the Experiment API tests: real git, real processes, runs read back from git."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Any

from gitxp.git.repo import GitRepo
from gitxp.store.runs import RunRecord, list_runs

ROOT = Path(__file__).resolve().parents[2]


def git(cwd: Path, *args: str) -> str:
    """Real git in ``cwd``; fails the test if git fails."""
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    assert proc.returncode == 0, f"git {' '.join(args)}: {proc.stderr}"
    return proc.stdout


def run_refs(repo: Path) -> list[str]:
    """The run refs of ``repo`` (real ``git for-each-ref``), oldest first."""
    out = git(repo, "for-each-ref", "--sort=refname", "--format=%(refname)", "refs/gitxp/runs")
    return out.split()


def show_json(repo: Path, ref: str, path: str = ".gitxp/run.json") -> Any:
    """A JSON file of a run commit, read with ``git show``."""
    return json.loads(git(repo, "show", f"{ref}:{path}"))


def show_text(repo: Path, ref: str, path: str) -> str:
    """A text file of a run commit, read with ``git show``."""
    return git(repo, "show", f"{ref}:{path}")


def records(repo: Path) -> list[RunRecord]:
    """Every run of ``repo`` through gitxp.store.runs, newest first."""
    grepo = GitRepo(repo)
    return [RunRecord.load(grepo, ref) for ref in list_runs(grepo)]


def latest(repo: Path) -> RunRecord:
    """The newest run of ``repo``."""
    found = records(repo)
    assert found, "no run was recorded"
    return found[0]


def write(repo: Path, name: str, text: str) -> Path:
    """Write a dedented file into the repository."""
    path = repo / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip())
    return path


_BYTECODE = Path(tempfile.gettempdir()) / f"gitxp-test-pycache-{os.getuid()}"


def subprocess_env(extra: dict[str, str] | None) -> dict[str, str]:
    """The test environment, with compiled modules cached across the test processes."""
    env = {**os.environ, "PYTHONPYCACHEPREFIX": str(_BYTECODE), **(extra or {})}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def run_py(
    repo: Path,
    *args: str,
    check: bool | None = True,
    env: dict[str, str] | None = None,
    input: str | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    """``python ARGS`` in ``repo`` (a real process)."""
    proc = subprocess.run(
        [sys.executable, *args],
        cwd=repo,
        capture_output=True,
        text=True,
        input=input,
        env=subprocess_env(env),
        timeout=timeout,
    )
    if check:
        assert proc.returncode == 0, (
            f"python {' '.join(args)} -> {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
        )
    return proc


def gitxp_run(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """``gitxp run ARGS`` in ``repo`` (a real process)."""
    proc = subprocess.run(
        [sys.executable, "-m", "gitxp", "run", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=60,
        env=subprocess_env(None),
    )
    if check:
        assert proc.returncode == 0, (
            f"gitxp run {' '.join(args)} -> {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
        )
    return proc


def make_repo(path: Path) -> Path:
    """A committed repository at ``path``."""
    path.mkdir(parents=True)
    git(path, "init", "-q")
    (path / "README.md").write_text("# proj\n")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "initial")
    return path


def commit_all(repo: Path) -> None:
    """Commit everything, so the tree is clean."""
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "update")


def load_ex(repo: Path, name: str) -> Any:
    """The ``ex`` of script ``name``, loaded in this process (automain does not run)."""
    import runpy

    return runpy.run_path(str(repo / name), run_name="loaded_for_test")["ex"]


def cli_error(ex: Any, *argv: str) -> str:
    """Run ``ex``'s command line in-process, expecting a user error; returns its message."""
    import contextlib
    import io

    import pytest

    err = io.StringIO()
    with pytest.raises(SystemExit) as exit_info, contextlib.redirect_stderr(err):
        ex.run_commandline(["prog", *argv])
    assert exit_info.value.code == 2, err.getvalue()
    lines = err.getvalue().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gitxp: error: "), err.getvalue()
    return lines[0]
