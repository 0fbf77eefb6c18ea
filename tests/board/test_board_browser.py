"""End to end in a real headless Chromium (Debian's ``chromium``, driven by Playwright).

``./scripts/check`` installs both when they are missing. Without them these tests FAIL
with a message saying what to install; they are skipped only when ``GITXP_SKIP_BROWSER=1``
is set. Screenshots of the list, a run page and the compare view are written to
``test-artifacts/screenshots/`` (git-ignored; copies are in ``docs/images/``).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest
from board_helpers import ROOT, Board, Project, git, run_refs, slow_run, stop_slow_run

CHROMIUM = os.environ.get("GITXP_CHROMIUM", "/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SHOTS = ROOT / "test-artifacts" / "screenshots"
TIMEOUT = 15_000  # ms for any one wait


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


def shot(page: Any, name: str) -> None:
    """Save a screenshot; ``GITXP_UPDATE_DOC_IMAGES=1`` also refreshes docs/images/."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(250)  # let the last frame settle
    path = SHOTS / f"{name}.png"
    height = page.evaluate("() => document.querySelector('.page').getBoundingClientRect().bottom")
    page.screenshot(
        path=str(path), clip={"x": 0, "y": 0, "width": 1400, "height": min(900, height + 24)}
    )
    if os.environ.get("GITXP_UPDATE_DOC_IMAGES") == "1":
        target = ROOT / "docs" / "images"
        target.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target / f"board-{name}.png")


def row_ids(page: Any) -> list[str]:
    return list(page.eval_on_selector_all("#runs tbody tr", "rows => rows.map(r => r.dataset.id)"))


def wait_rows(page: Any, count: int) -> None:
    page.wait_for_function(
        "(n) => document.querySelectorAll('#runs tbody tr').length === n", arg=count
    )


def open_list(page: Any, board: Board) -> None:
    page.goto(board.base + "/#/")
    page.reload()
    page.wait_for_selector("#runs tbody tr")


def canvas_ink(page: Any, root: str = "") -> int:
    """How many pixels of the first chart canvas (below ``root``) are drawn."""
    return int(
        page.evaluate(
            """(root) => {
                const canvas = document.querySelector(`${root} canvas.chart-canvas`);
                const ctx = canvas.getContext('2d');
                const data = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
                let ink = 0;
                for (let i = 3; i < data.length; i += 4) if (data[i] > 0) ink++;
                return ink;
            }""",
            root,
        )
    )


def wait_for_chart(page: Any) -> None:
    page.wait_for_selector("canvas.chart-canvas")
    page.wait_for_selector(".chart-legend .legend-item")
    page.wait_for_function(
        """() => {
            const c = document.querySelector('canvas.chart-canvas');
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            let ink = 0;
            for (let i = 3; i < d.length; i += 4) if (d[i] > 0) ink++;
            return ink > 2000;
        }"""
    )


def test_list_filter_then_a_run_with_chart_output_and_code(
    page: Any, board: Board, project: Project
) -> None:
    open_list(page, board)
    listed = board.get("/api/runs").json()
    assert sorted(row_ids(page)) == sorted(r[0] for r in listed["rows"])
    page.wait_for_selector("#runs th[data-column='config.lr']")
    shot(page, "list")

    page.fill("#where", "config.lr >= 0.3")
    page.click("#apply-where")
    chosen = board.get("/api/runs?where=config.lr%20%3E%3D%200.3").json()
    expected = sorted(r[0] for r in chosen["rows"])
    assert project.ids["b"] in expected and project.ids["a"] not in expected
    wait_rows(page, len(expected))
    assert sorted(row_ids(page)) == expected

    page.fill("#where", "config.nope > 1")
    page.press("#where", "Enter")
    page.wait_for_selector(".where-error:has-text(\"unknown column 'config.nope'\")")
    page.fill("#where", "")
    page.click("#apply-where")
    wait_rows(page, len(listed["rows"]))

    run_id = project.ids["dirty"]
    page.click(f"#runs a[href='#/run/{run_id}']")
    page.wait_for_selector(f".run-head .mono:has-text('{run_id}')")
    assert page.text_content("#result") == "0.4"

    page.click("button.tab[data-tab='metrics']")
    wait_for_chart(page)
    assert canvas_ink(page) > 2000
    page.check(".controls input[type='checkbox']")  # log scale
    page.wait_for_timeout(100)
    assert canvas_ink(page) > 2000
    page.uncheck(".controls input[type='checkbox']")
    shot(page, "run")

    page.click("button.tab[data-tab='output']")
    page.wait_for_selector("#output:has-text('end of output')")
    assert "<script>window.__xss = 1</script> end of output" in page.text_content("#output")
    assert page.evaluate("window.__xss") is None

    page.click("button.tab[data-tab='code']")
    page.wait_for_selector("#code-diff .diff-file")
    diff = page.text_content("#code-diff")
    assert "train.py" in diff and "steps = 40  # edited, uncommitted" in diff
    page.click(".panel-code button.tab[data-tab='files']")
    page.click("#file-tree a[title='train.py']")
    page.wait_for_selector("#file-text")
    assert "steps = 40  # edited, uncommitted" in page.text_content("#file-text")

    page.click("button.tab[data-tab='artifacts']")
    page.wait_for_selector(".preview img")
    page.wait_for_function("() => document.querySelector('.preview img').naturalWidth === 32")
    page.wait_for_selector(".preview pre:has-text('summary <b>not bold</b>')")


def test_compare_two_runs(page: Any, board: Board, project: Project) -> None:
    open_list(page, board)
    a, b = project.ids["a"], project.ids["dirty"]
    page.check(f"input[aria-label='select {a}']")
    page.check(f"input[aria-label='select {b}']")
    page.click("#compare")
    page.wait_for_selector("#compare-runs")
    wait_for_chart(page)
    assert page.locator(".chart-legend .legend-item").count() == 2
    shot(page, "compare")

    page.click("button.tab[data-tab='config']")
    page.wait_for_selector("#config-diff tr.differs")
    keys = page.eval_on_selector_all(
        "#config-diff tbody td:first-child", "c => c.map(x => x.textContent)"
    )
    assert "lr" in keys and "steps" in keys and "opt.momentum" not in keys

    page.click("button.tab[data-tab='code']")
    page.wait_for_selector("#compare-code .diff-file")
    assert "steps = 40  # edited, uncommitted" in page.text_content("#compare-code")

    page.click("button.tab[data-tab='env']")
    page.wait_for_selector(".panel-env .empty, #env-diff")

    page.click("button.tab[data-tab='output']")
    page.wait_for_selector("#compare-output")


def test_add_a_tag_and_read_it_with_git_notes(page: Any, board: Board, project: Project) -> None:
    run_id = project.ids["a"]
    page.goto(f"{board.base}/#/run/{run_id}")
    page.wait_for_selector("#tag-input")
    page.fill("#tag-input", "golden")
    page.click("#tag-add")
    page.wait_for_selector("#tags .tag:has-text('golden')")
    snapshot = board.get(f"/api/runs/{run_id}").json()["snapshot_commit"]
    assert git(project.path, "notes", "--ref", "gitxp", "show", snapshot).startswith("Tags: golden")
    page.fill("#note", "the reference run")
    page.click("#note-save")
    page.wait_for_selector(".panel-overview .muted.small:has-text('saved as a git note')")
    note = git(project.path, "notes", "--ref", "gitxp", "show", snapshot)
    assert note == "Tags: golden\n\nthe reference run\n"
    open_list(page, board)
    page.wait_for_selector(f"#runs tr[data-id='{run_id}'] .tag:has-text('golden')")


def test_delete_a_run(page: Any, board: Board, project: Project) -> None:
    victim = project.ids["victim_ui"]
    assert f"refs/gitxp/runs/{victim}" in run_refs(project.path)
    open_list(page, board)
    page.check(f"input[aria-label='select {victim}']")
    page.click("#delete")
    page.wait_for_selector("#delete-dialog")
    assert victim in page.text_content("#delete-dialog")
    page.click("#delete-confirm")
    page.wait_for_selector(f"#runs tr[data-id='{victim}']", state="detached")
    assert f"refs/gitxp/runs/{victim}" not in run_refs(project.path)


def test_columns_are_chosen_and_remembered(page: Any, board: Board) -> None:
    open_list(page, board)
    assert page.locator("#runs th[data-column='experiment']").count() == 1
    page.click("#columns")
    page.click("#column-dialog li[data-column='experiment'] button[title='hide']")
    page.click("#column-dialog li[data-column='duration'] button[title='move up']")
    page.click("#columns-save")
    page.wait_for_selector("#runs th[data-column='experiment']", state="detached")
    order = page.eval_on_selector_all("#runs th[data-column]", "h => h.map(x => x.dataset.column)")
    assert order.index("duration") < order.index("start")
    page.reload()
    page.wait_for_selector("#runs tbody tr")
    assert page.locator("#runs th[data-column='experiment']").count() == 0
    page.click("#runs th[data-column='config.lr']")
    page.wait_for_selector("#runs th.sorted[data-column='config.lr']")


def test_status_filter_and_html_from_runs_shown_as_text(
    page: Any, board: Board, project: Project
) -> None:
    open_list(page, board)
    failed = project.ids["c"]
    page.uncheck(".chip[data-status='FAILED'] input")
    page.wait_for_selector(f"#runs tr[data-id='{failed}']", state="detached")
    page.check(".chip[data-status='FAILED'] input")
    page.wait_for_selector(f"#runs tr[data-id='{failed}']")
    run_id = project.ids["xss"]
    page.wait_for_selector(f"#runs tr[data-id='{run_id}'] td:has-text('onerror')")
    page.goto(f"{board.base}/#/run/{run_id}/config")
    page.wait_for_selector("#config")
    assert '<img src=x onerror="window.__xss=3">' in page.text_content("#config")
    assert page.evaluate("window.__xss") is None
    assert page.locator("img[src='x']").count() == 0


def test_output_of_a_running_run_is_followed(page: Any, board: Board, project: Project) -> None:
    with slow_run(project.path) as (proc, run_id):
        page.goto(f"{board.base}/#/run/{run_id}/output")
        page.wait_for_selector("h1 .badge:has-text('running')")
        page.wait_for_selector("#output:has-text('tick 1')")
        assert "tick 2" not in page.text_content("#output")
        stop_slow_run(project.path)
        page.wait_for_selector("#output:has-text('tick 2')")  # polled, no reload
        assert proc.wait(timeout=20) == 0
