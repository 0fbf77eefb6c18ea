"""Fixtures for the Experiment API tests: a real repository per test."""

from __future__ import annotations

from pathlib import Path

import pytest
from exp_helpers import make_repo


@pytest.fixture
def exrepo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A committed repository; the current directory for the test."""
    path = make_repo(tmp_path / "proj")
    monkeypatch.chdir(path)
    return path
