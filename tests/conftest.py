"""Shared fixtures: real git repositories in temporary folders, isolated from the user."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def isolated_git(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test sees a fresh HOME and no system git config, with a pinned identity."""
    home = tmp_path_factory.mktemp("home")
    (home / ".gitconfig").write_text(
        "[user]\n\tname = Test User\n\temail = test@example.com\n"
        '[init]\n\tdefaultBranch = main\n[protocol "file"]\n\tallow = always\n'
    )
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(home / ".gitconfig"))
    for var in (
        "GITXP_SPOOL",
        "GITXP_RUN_ID",
        "GITXP_CONFIG",
        "GITXP_WITH",
        "GIT_DIR",
        "GIT_WORK_TREE",
        "GIT_INDEX_FILE",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("PYTHONPATH", str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))


def git(cwd: Path, *args: str, check: bool = True) -> str:
    """Run real git in ``cwd`` and return its stdout."""
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {proc.stderr}")
    return proc.stdout


def gitxp(
    cwd: Path,
    *args: str,
    check: bool = True,
    env: dict[str, str] | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    """Run the real ``gitxp`` command (``python -m gitxp``) in ``cwd``."""
    proc = subprocess.run(
        [sys.executable, "-m", "gitxp", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=timeout,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"gitxp {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
        )
    return proc


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[Path]:
    """A git repository with one commit (a script and a README) and a clean tree."""
    path = tmp_path / "project"
    path.mkdir()
    git(path, "init", "-q")
    (path / "README.md").write_text("# project\n")
    (path / "train.py").write_text(
        "import gitxp\n"
        "cfg = gitxp.config()\n"
        "print('training with', cfg)\n"
        "for step in range(3):\n"
        "    gitxp.log_scalar('loss', 1.0 / (step + 1))\n"
        "gitxp.set_result(cfg.get('lr', 0) * 2)\n"
    )
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "initial")
    yield path


@pytest.fixture
def empty_repo(tmp_path: Path) -> Path:
    """A git repository with no commits."""
    path = tmp_path / "fresh"
    path.mkdir()
    git(path, "init", "-q")
    return path
