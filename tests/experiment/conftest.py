"""Fixtures for the Experiment API tests: a real repository per test."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from exp_helpers import make_repo
from sacred_flavours import FLAVOURS, load


@pytest.fixture
def exrepo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A committed repository; the current directory for the test."""
    path = make_repo(tmp_path / "proj")
    monkeypatch.chdir(path)
    return path


@pytest.fixture(params=FLAVOURS)
def lib(request: pytest.FixtureRequest, exrepo: Path) -> SimpleNamespace:
    """gitxp or Sacred, with Sacred's import paths (the same test runs against both)."""
    return load(str(request.param), exrepo)
