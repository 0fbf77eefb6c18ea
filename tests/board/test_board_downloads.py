"""The board's Download buttons: a run's output and an artifact arrive as files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from board_helpers import Board, Project
from pages import open_list


def test_output_and_artifact_downloads(
    page: Any, board: Board, project: Project, tmp_path: Path
) -> None:
    run_id = project.ids["dirty"]
    open_list(page, board)
    page.click(f"#runs a[href='#/run/{run_id}']")
    page.wait_for_selector(f".run-head .mono:has-text('{run_id}')")

    page.click("button.tab[data-tab='output']")
    page.wait_for_selector("#output:has-text('end of output')")
    with page.expect_download() as got:
        page.click(".toolbar button.btn:has-text('Download')")
    output = got.value
    assert output.suggested_filename == f"{run_id}-output.log"
    saved = tmp_path / output.suggested_filename
    output.save_as(saved)
    expected = board.get(f"/api/runs/{run_id}/output").json()
    assert saved.read_text() == expected["text"] and "end of output" in saved.read_text()

    page.click("button.tab[data-tab='artifacts']")
    page.wait_for_selector(".preview pre:has-text('summary')")
    link = page.locator("a.mini:has-text('download')").first
    with page.expect_download() as got:
        link.click()
    artifact = got.value
    target = tmp_path / artifact.suggested_filename
    artifact.save_as(target)
    name = artifact.suggested_filename
    served = board.get(f"/api/runs/{run_id}/artifact?name={name}&download=1")
    assert served.status == 200 and target.read_bytes() == served.body
    assert "attachment" in served.headers.get("content-disposition", "")
