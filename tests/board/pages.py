"""What the browser tests share: the Chromium to drive, screenshots, waiting for the page.

``./scripts/check`` installs Debian's ``chromium`` and Playwright; without them the
browser tests FAIL with a message saying what to install, unless ``GITXP_SKIP_BROWSER=1``.
"""

from __future__ import annotations

import os
import shutil
from typing import Any

from board_helpers import ROOT, Board

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
    """The ids of the rows drawn in the run table, in order."""
    return list(
        page.eval_on_selector_all("#runs tbody tr.row", "rows => rows.map(r => r.dataset.id)")
    )


def wait_rows(page: Any, count: int) -> None:
    """Wait until the run table has ``count`` rows drawn, every one loaded."""
    page.wait_for_function(
        """(n) => document.querySelectorAll('#runs tbody tr.row').length === n
            && !document.querySelector('#runs tbody tr.row.loading')""",
        arg=count,
    )


def open_list(page: Any, board: Board, query: str = "") -> None:
    """Open the run list (``query``: its URL state) and wait for its rows."""
    page.goto(board.base + "/#/" + query)
    page.reload()
    page.wait_for_selector("#runs tbody tr.row:not(.loading)")


def canvas_ink(page: Any, root: str = "") -> int:
    """How many pixels of the first chart's canvas (below ``root``) are drawn."""
    return int(
        page.evaluate(
            """(root) => {
                const canvas = document.querySelector(`${root} .echart canvas`);
                const ctx = canvas.getContext('2d');
                const data = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
                let ink = 0;
                for (let i = 3; i < data.length; i += 4) if (data[i] > 0) ink++;
                return ink;
            }""",
            root,
        )
    )


def wait_for_chart(page: Any, root: str = "") -> None:
    """Wait until a chart below ``root`` has drawn lines (not only its axes)."""
    page.wait_for_selector(f"{root} .echart[data-drawn] canvas")
    page.wait_for_function(
        """(root) => {
            const c = document.querySelector(`${root} .echart canvas`);
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            let ink = 0;
            for (let i = 3; i < d.length; i += 4) if (d[i] > 0) ink++;
            return ink > 4000;
        }""",
        arg=root,
    )
