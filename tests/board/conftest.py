"""Fixtures of the board tests: one project of real runs and one board for the session.

Tests that change runs (tags, notes, deletions) work on runs of their own, so the tests
can share both and run in any order.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from board_helpers import Board, Project, isolate, make_project


@pytest.fixture(scope="session")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    with pytest.MonkeyPatch.context() as mp:
        isolate(mp, tmp_path_factory.mktemp("board-home"))
        yield make_project(tmp_path_factory.mktemp("board") / "project")


@pytest.fixture(scope="session")
def board(project: Project) -> Iterator[Board]:
    served = Board(project.path)
    yield served
    served.stop()
