"""End to end in a real headless Chromium (Debian's ``chromium``, driven by Playwright).

``./scripts/check`` installs both when they are missing. Without them these tests FAIL
with a message saying what to install; they are skipped only when ``GITXP_SKIP_BROWSER=1``
is set. Screenshots of the list, a run page and the compare view are written to
``test-artifacts/screenshots/`` (git-ignored; copies are in ``docs/images/``).
"""

from __future__ import annotations

from typing import Any

from board_helpers import Board, Project, git, run_refs, slow_run, stop_slow_run
from pages import canvas_ink, open_list, row_ids, shot, wait_for_chart, wait_rows


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
    assert page.get_attribute(".echart", "data-series") == "3"
    page.check(".controls input.log-y")
    page.wait_for_function("() => location.hash.includes('log=1')")
    assert canvas_ink(page) > 4000
    page.uncheck(".controls input.log-y")
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
    page.wait_for_selector("#metric-summary td.best")
    charts = page.locator(".charts-grid .chart-wrap")
    assert charts.count() == 3  # one chart per metric: accuracy, loss, odd
    assert page.get_attribute(".charts-grid .echart", "data-series") == "2"  # a line per run
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
    page.wait_for_selector("#runs tbody tr.row")
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
