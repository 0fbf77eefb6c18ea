"""The board's "on branch" filter: the runs whose code is on a branch, squashed too."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from board_helpers import Board, git, gitxp, isolate
from pages import TIMEOUT, row_ids


def latest(path: Path) -> str:
    return str(json.loads(gitxp(path, "show", "latest", "--json").stdout)["id"])


@pytest.fixture(scope="module")
def branches(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Board, dict[str, str]]]:
    """main with one run; a feature branch whose run's change was squash-merged into
    main; a topic branch whose run is on no other branch."""
    with pytest.MonkeyPatch.context() as mp:
        isolate(mp, tmp_path_factory.mktemp("branches-home"))
        yield from _serve(tmp_path_factory)


def _serve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Board, dict[str, str]]]:
    repo = tmp_path_factory.mktemp("branches") / "project"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "train.py").write_text("print('hi')\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "start")
    gitxp(repo, "run", "train.py")
    ids = {"main": latest(repo)}
    git(repo, "checkout", "-q", "-b", "feature")
    (repo / "a.py").write_text("a = 1\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "feature")
    gitxp(repo, "run", "train.py")
    ids["feature"] = latest(repo)
    git(repo, "checkout", "-q", "-b", "topic", "main")
    (repo / "t.py").write_text("t = 1\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "topic")
    gitxp(repo, "run", "train.py")
    ids["topic"] = latest(repo)
    git(repo, "checkout", "-q", "main")
    git(repo, "merge", "-q", "--squash", "feature")
    git(repo, "commit", "-q", "-m", "squash feature")
    served = Board(repo)
    yield served, ids
    served.stop()


def test_the_list_api_keeps_the_runs_on_a_branch(branches: tuple[Board, dict[str, str]]) -> None:
    board, ids = branches
    every = board.get("/api/runs").json()
    assert every["matched"] == 3 and every["branches"] == ["feature", "main", "topic"]
    on_main = board.get("/api/runs?on=main").json()
    assert {row[0] for row in on_main["rows"]} == {ids["main"], ids["feature"]}
    on_topic = board.get("/api/runs?on=topic").json()
    assert {row[0] for row in on_topic["rows"]} == {ids["main"], ids["topic"]}
    bad = board.get("/api/runs?on=nosuch")
    assert bad.status == 400 and "--on 'nosuch'" in bad.json()["error"]


def test_the_branch_menu_filters_and_stays_in_the_url(
    browser: Any, branches: tuple[Board, dict[str, str]]
) -> None:
    board, ids = branches
    page = browser.new_page()
    page.set_default_timeout(TIMEOUT)
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    try:
        page.goto(board.base + "/#/")
        page.wait_for_selector("#runs tbody tr.row:not(.loading)")
        page.wait_for_selector("#on-branch option[value='topic']", state="attached")
        assert len(row_ids(page)) == 3
        page.select_option("#on-branch", "main")
        page.wait_for_function("() => location.hash.includes('on=main')")
        page.wait_for_function("() => document.querySelectorAll('#runs tbody tr.row').length == 2")
        assert set(row_ids(page)) == {ids["main"], ids["feature"]}
        page.reload()
        page.wait_for_function("() => document.querySelectorAll('#runs tbody tr.row').length == 2")
        assert page.input_value("#on-branch") == "main"
    finally:
        page.close()
    assert not errors, errors
