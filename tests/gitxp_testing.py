"""The helpers every test folder shares: real git, the real gitxp command, isolation.

Imported by name (``from gitxp_testing import git``): ``tests/`` is on ``sys.path``
while the suite runs, and no other module carries this name.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RUNS = "refs/gitxp/runs/"
_LEAKY_ENV = (
    "GITXP_SPOOL",
    "GITXP_RUN_ID",
    "GITXP_CONFIG",
    "GITXP_WITH",
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
)


def isolate(mp: pytest.MonkeyPatch, home: Path) -> None:
    """A fresh HOME, no system git config, a pinned identity, no run or git variables,
    and the suite's interpreter first on PATH (as if its venv were activated)."""
    (home / ".gitconfig").write_text(
        "[user]\n\tname = Test User\n\temail = test@example.com\n"
        '[init]\n\tdefaultBranch = main\n[protocol "file"]\n\tallow = always\n'
    )
    mp.setenv("HOME", str(home))
    mp.setenv("GIT_CONFIG_NOSYSTEM", "1")
    mp.setenv("GIT_CONFIG_GLOBAL", str(home / ".gitconfig"))
    for var in _LEAKY_ENV:
        mp.delenv(var, raising=False)
    mp.setenv("PYTHONPATH", str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    # The suite's venv is the "activated" one: `gitxp run` starts the user's `python`.
    mp.setenv("PATH", os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    for var in ("VIRTUAL_ENV", "CONDA_PREFIX"):
        mp.delenv(var, raising=False)


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


def gitxp_raw(
    cwd: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[bytes]:
    """``gitxp ARGS`` with its output as raw bytes (no newline translation)."""
    return subprocess.run(
        [sys.executable, "-m", "gitxp", *args],
        cwd=cwd,
        capture_output=True,
        env={**os.environ, **(env or {})},
        timeout=timeout,
    )


def run_refs(cwd: Path) -> dict[str, str]:
    """Every run ref of the repository at ``cwd`` (bare or not): name → commit, by real git."""
    out = git(cwd, "for-each-ref", "--format=%(refname) %(objectname)", RUNS)
    return dict(line.split(" ", 1) for line in out.splitlines() if line)
