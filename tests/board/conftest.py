"""Fixtures of the board tests: one project of real runs and one board for the session.

Tests that change runs (tags, notes, deletions) work on runs of their own, so the tests
can share both and run in any order.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from board_helpers import Board, Project, isolate, make_project
from many_runs import Many, make_many
from pages import CHROMIUM, FLAGS, TIMEOUT


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


@pytest.fixture(scope="session")
def many(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Many]:
    """A project of hundreds of runs, a sweep, a long series and a failed script."""
    with pytest.MonkeyPatch.context() as mp:
        isolate(mp, tmp_path_factory.mktemp("many-home"))
        yield make_many(tmp_path_factory.mktemp("many") / "project")


@pytest.fixture(scope="session")
def many_board(many: Many) -> Iterator[Board]:
    served = Board(many.path)
    yield served
    served.stop()


@pytest.fixture(scope="session")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A Chromium with a fresh profile, for the whole session."""
    if os.environ.get("GITXP_SKIP_BROWSER") == "1":
        pytest.skip("GITXP_SKIP_BROWSER=1: the browser tests are skipped")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail(
            "the board's browser tests need Playwright: pip install -e '.[dev]' "
            "(./scripts/check does it), or set GITXP_SKIP_BROWSER=1 to skip them",
            pytrace=False,
        )
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        pytest.fail(
            f"the board's browser tests need Chromium at {CHROMIUM}: apt-get install chromium "
            "(./scripts/check does it), or set GITXP_SKIP_BROWSER=1 to skip them",
            pytrace=False,
        )
    manager = sync_playwright().start()
    try:
        context = manager.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=CHROMIUM,
            headless=True,
            args=FLAGS,
            viewport={"width": 1400, "height": 900},
        )
    except Exception as err:
        manager.stop()
        pytest.fail(f"Chromium at {CHROMIUM} did not start: {err}", pytrace=False)
    yield context
    context.close()
    manager.stop()


@pytest.fixture
def page(browser: Any, board: Board) -> Iterator[Any]:
    """A new tab on the board; the test fails on any script error in the page."""
    tab = browser.new_page()
    tab.set_default_timeout(TIMEOUT)
    errors: list[str] = []
    tab.on("pageerror", lambda err: errors.append(str(err)))
    tab.on("dialog", lambda dialog: errors.append(f"unexpected dialog: {dialog.message}"))
    tab.goto(board.base + "/")
    tab.evaluate("localStorage.clear(); sessionStorage.clear()")
    yield tab
    tab.close()
    assert not errors, errors
