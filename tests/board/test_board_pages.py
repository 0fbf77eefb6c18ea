"""The board's newer views end to end in headless Chromium: tags that filter, state in the
URL, live runs, analysis across runs, long series with zoom and export, columns at scale,
tracebacks and colours, sweeps, and a list of hundreds of runs fetched as it scrolls.

Screenshots go to ``test-artifacts/screenshots/`` as in ``test_board_browser.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

from board_helpers import Board, Project, fake_run, slow_run, stop_slow_run
from many_runs import LONG, SWEEP, Many
from pages import open_list, row_ids, shot, wait_for_chart, wait_rows


def fresh(page: Any, board: Board, hash_: str = "#/") -> None:
    """Open ``hash_`` on ``board`` with nothing kept from earlier tests."""
    page.goto(board.base + "/")
    page.evaluate("localStorage.clear(); sessionStorage.clear()")
    page.goto(board.base + "/" + hash_)


def test_a_tag_chip_filters_by_its_tag(page: Any, board: Board, project: Project) -> None:
    open_list(page, board)
    page.click(f"#runs tr[data-id='{project.ids['b']}'] .tag.filter[data-tag='keep']")
    wait_rows(page, 1)
    assert row_ids(page) == [project.ids["b"]]
    assert page.input_value("#where") == "tags.contains('keep')"
    assert "where=tags.contains" in page.evaluate("location.hash")


def test_state_is_in_the_url_and_back_keeps_the_scroll(
    page: Any, many_board: Board, many: Many
) -> None:
    where = quote("config.lr >= 0.01")
    fresh(page, many_board, f"#/?where={where}&sort=config.lr&status=COMPLETED")
    page.wait_for_selector("#runs tbody tr.row:not(.loading)")
    assert page.input_value("#where") == "config.lr >= 0.01"
    assert page.locator("#runs th.sorted[data-column='config.lr']").count() == 1
    assert not page.is_checked(".chip[data-status='FAILED'] input")
    expected = many_board.get(
        f"/api/runs?where={where}&sort=config.lr&status=COMPLETED&limit=5"
    ).json()
    assert row_ids(page)[:5] == [r[0] for r in expected["rows"]]
    page.click("#runs th[data-column='duration']")
    page.wait_for_function("() => location.hash.includes('sort=duration')")

    fresh(page, many_board, "#/")
    page.wait_for_selector("#runs tbody tr.row:not(.loading)")
    page.eval_on_selector("#table-box", "box => { box.scrollTop = 4000; }")
    page.wait_for_function(
        "() => [...document.querySelectorAll('#runs tr.row')].some(r => r.offsetTop > 4000"
        " && !r.classList.contains('loading'))"
    )
    target = page.evaluate(
        """() => [...document.querySelectorAll('#runs tr.row')]
            .find(r => r.offsetTop > 4100 && r.dataset.id).dataset.id"""
    )
    before = page.eval_on_selector("#table-box", "b => b.scrollTop")
    page.click(f"#runs tr[data-id='{target}'] td.id a")
    page.wait_for_selector(f".run-head .mono:has-text('{target}')")
    page.go_back()
    page.wait_for_selector(f"#runs tr[data-id='{target}']:not(.loading)")
    assert abs(page.eval_on_selector("#table-box", "b => b.scrollTop") - before) < 2

    a, b = many.sweep[0], many.sweep[1]
    page.goto(f"{many_board.base}/#/compare/{a},{b}/metrics?metrics=loss&x=time&log=1")
    wait_for_chart(page)
    assert page.locator(".charts-grid .chart-wrap").count() == 1
    assert page.input_value(".controls select") == "time"
    assert page.is_checked(".controls input.log-y")


def test_live_runs_end_on_the_run_page_and_in_compare(
    page: Any, browser: Any, board: Board, project: Project
) -> None:
    with slow_run(project.path) as (proc, run_id):
        page.goto(f"{board.base}/#/run/{run_id}")
        page.wait_for_selector("#run-status .badge:has-text('running')")
        other = browser.new_page()
        try:
            other.goto(f"{board.base}/#/compare/{run_id},{project.ids['a']}/config")
            other.wait_for_selector("#compare-runs td.status .badge:has-text('running')")
            stop_slow_run(project.path)
            assert proc.wait(timeout=20) == 0
            page.wait_for_selector("#run-status .badge:has-text('completed')")  # no reload
            page.wait_for_selector(".panel-overview dt:has-text('stopped')")
            other.wait_for_selector("#compare-runs td.status .badge:has-text('completed')")
        finally:
            other.close()


def test_refresh_updates_rows_in_place_and_keeps_focus(
    page: Any, many_board: Board, many: Many
) -> None:
    fresh(page, many_board)
    page.wait_for_selector("#runs tbody tr.row:not(.loading)")
    page.select_option("select[aria-label='refresh interval']", "2")
    total = many_board.get("/api/runs?limit=1").json()["total"]
    assert page.locator("#runs tbody tr.row").count() < 100  # of hundreds: those in view
    second = page.locator("#runs tbody tr.row").nth(1)
    second.locator("input").focus()
    marked = page.evaluate("() => { document.activeElement.dataset.mark = 'x'; return 1; }")
    assert marked == 1
    fake_run(many.path, status="COMPLETED", config={"lr": 0.7}, experiment="new")
    page.wait_for_function(
        "(n) => document.querySelector('#run-count').textContent.startsWith(String(n))",
        arg=total + 1,
    )
    assert page.evaluate("() => document.activeElement.dataset.mark") == "x"
    assert page.evaluate("() => document.activeElement.closest('tbody') !== null")


def test_analysis_parallel_coordinates_scatter_and_groups(
    page: Any, many_board: Board, many: Many
) -> None:
    where = quote("experiment == 'sweep'")
    fresh(
        page,
        many_board,
        f"#/analyze?where={where}&keys=config.lr,config.depth&metric=metrics.loss.min"
        "&x=config.lr&y=metrics.loss.last&by=config.depth&series=loss",
    )
    page.wait_for_selector("#parallel .echart[data-lines='6']")
    page.wait_for_selector("#scatter .echart[data-points='6']")
    page.wait_for_selector("#groups .echart[data-groups='3']")
    wait_for_chart(page, "#groups")
    rows = page.eval_on_selector_all(
        "#group-table tbody tr", "rows => rows.map(r => r.cells[0].textContent)"
    )
    assert rows == ["2", "3", "4"]
    assert page.locator("#group-table td.best").count() == 1
    shot(page, "analysis")
    page.select_option("#sc-y", "metrics.loss.min")
    page.wait_for_function("() => location.hash.includes('y=metrics.loss.min')")


def test_long_series_zoom_reset_and_export(
    page: Any, many_board: Board, many: Many, tmp_path: Path
) -> None:
    fresh(page, many_board, f"#/run/{many.long}/metrics")
    wait_for_chart(page)
    chart = page.locator(".echart")
    assert chart.get_attribute("data-total") == str(LONG)
    shown = int(chart.get_attribute("data-points") or 0)
    assert 0 < shown < 3000  # about two points a pixel of the chart's width
    box = chart.bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.45, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.47, y, steps=5)
    page.mouse.up()
    page.wait_for_selector(".echart[data-zoomed='yes']")
    page.wait_for_function(  # the narrow range again, now at full resolution
        "(n) => Number(document.querySelector('.echart').dataset.points) < n", arg=shown
    )
    page.dblclick(".echart", position={"x": box["width"] / 2, "y": box["height"] / 2})
    page.wait_for_selector(".echart[data-zoomed='no']")
    with page.expect_download() as png:
        page.click(".export-png")
    assert png.value.suggested_filename.endswith(".png")
    png.value.save_as(tmp_path / "chart.png")
    assert (tmp_path / "chart.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with page.expect_download() as svg:
        page.click(".export-svg")
    svg.value.save_as(tmp_path / "chart.svg")
    assert (tmp_path / "chart.svg").read_text().lstrip().startswith("<svg")


def test_id_column_stays_and_columns_are_kept_per_repository(
    page: Any, board: Board, many_board: Board
) -> None:
    open_list(page, board)
    cell = "#runs tbody tr.row td.id"
    left = page.eval_on_selector(cell, "c => c.getBoundingClientRect().left")
    page.set_viewport_size({"width": 700, "height": 900})
    page.eval_on_selector("#table-box", "b => { b.scrollLeft = 600; }")
    page.wait_for_function("() => document.querySelector('#table-box').scrollLeft > 100")
    assert page.eval_on_selector(cell, "c => c.getBoundingClientRect().left") == left
    page.set_viewport_size({"width": 1400, "height": 900})
    page.click("#columns")
    page.click("#column-dialog li[data-column='experiment'] button[title='hide']")
    page.click("#columns-save")
    key = board.get("/api/runs?limit=1").json()["repo_key"]
    other = many_board.get("/api/runs?limit=1").json()["repo_key"]
    assert key != other
    saved = page.evaluate(f"() => JSON.parse(localStorage.getItem('gitxp.board.columns.{key}'))")
    assert "experiment" not in saved and "id" in saved
    assert page.evaluate(f"() => localStorage.getItem('gitxp.board.columns.{other}')") is None


def test_failure_card_shows_the_traceback_and_output_its_colours(
    page: Any, many_board: Board, many: Many
) -> None:
    fresh(page, many_board, f"#/run/{many.failed}")
    page.wait_for_selector("#fail-trace")
    trace = page.text_content("#fail-trace")
    assert "Traceback (most recent call last)" in trace and "ZeroDivisionError" in trace
    page.click("button.tab[data-tab='output']")
    page.wait_for_selector("#output span.ansi-fg-1:has-text('red text')")
    assert page.text_content("#output span.ansi-bold") == "bold"
    assert "\x1b" not in page.text_content("#output")


def test_sweep_page(page: Any, many_board: Board, many: Many) -> None:
    fresh(page, many_board, "#/sweep/")
    page.click(f"#sweeps a:has-text('{SWEEP}')")
    page.wait_for_selector("#sweep-summary:has-text('6 of 7 runs done')")
    assert page.locator("#sweep-progress span").count() == 3  # completed, failed, running
    page.wait_for_selector(f"#sweep-best a[href='#/run/{many.sweep_best}']")
    page.wait_for_selector(f"#sweep-failures a[href='#/run/{many.sweep_failed}']")
    page.wait_for_selector("#sweep-parallel .echart[data-lines='7']")
    wait_for_chart(page, "#sweep-parallel")
    shot(page, "sweep")
    page.goto(f"{many_board.base}/#/run/{many.sweep[0]}")
    page.click("#sweep-link")
    page.wait_for_selector("#sweep-summary")


def test_scrolling_fetches_rows_a_page_at_a_time(page: Any, many_board: Board) -> None:
    asked: list[str] = []
    page.on("request", lambda r: "/api/runs?" in r.url and asked.append(r.url))
    fresh(page, many_board)
    page.wait_for_selector("#runs tbody tr.row:not(.loading)")
    assert all("limit=200" in url for url in asked) and asked
    assert not any("offset=200" in url for url in asked)
    listed = many_board.get("/api/runs?limit=1000").json()
    page.eval_on_selector("#table-box", "b => { b.scrollTop = b.scrollHeight; }")
    oldest = listed["rows"][-1][0]
    page.wait_for_selector(f"#runs tr[data-id='{oldest}']:not(.loading)")
    assert any("offset=200" in url for url in asked)
    assert page.locator("#runs tbody tr.row").count() < 100
