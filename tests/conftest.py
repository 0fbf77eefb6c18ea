"""Shared fixtures: real git repositories in temporary folders, isolated from the user."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from gitxp_testing import git, gitxp, isolate
from wheel_helpers import make_venv, make_wheel

__all__ = ["git", "gitxp"]


@pytest.fixture(autouse=True)
def isolated_git(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test sees a fresh HOME and no system git config, with a pinned identity."""
    isolate(monkeypatch, tmp_path_factory.mktemp("home"))


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


@pytest.fixture(scope="session")
def tinydep(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Wheels of tinydep 1.0 and 1.1 (``wheels``), and a venv without pip holding each
    (``"1.0"``, ``"1.1"``: their interpreters); built once per test session."""
    root = tmp_path_factory.mktemp("tinydep")
    wheels = root / "wheels"
    wheels.mkdir()
    out: dict[str, Path] = {"wheels": wheels}
    for version in ("1.0", "1.1"):
        make_wheel(wheels, "tinydep", version, {"tinydep/__init__.py": f"VALUE = {version!r}\n"})
    for version in ("1.0", "1.1"):
        out[version] = make_venv(root / f"venv-{version}", wheels, f"tinydep=={version}")
    return out
