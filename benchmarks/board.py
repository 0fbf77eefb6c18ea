"""How fast ``gitxp board`` answers and draws with many runs in the repository.

Writes N finished runs (config, 3 metrics of 100 steps each; ``benchmarks/query.py``'s
generator, the Recorder's format) into a new repository, starts the board's server in
this process on 127.0.0.1 and times, as the page asks (median of ``--repeat``, with the
spread):

- the list's first page (``/api/runs?limit=200``) cold (the query cache deleted and a
  fresh server: every run read from git) and warm; an auto-refresh poll whose page did
  not change; a page deep in the list (as scrolled to); sorted by a config column;
  filtered by a ``where`` expression (pandas);
- one run's page data and its metric series (downsampled to 1,000 buckets);

then, unless ``--no-browser``, in headless Chromium (``/usr/bin/chromium`` through
Playwright): loading the list page until its first rows are drawn, re-sorting by a
column (click to rows drawn), and scrolling to the middle of the list until the rows
there are fetched and drawn.

Usage::

    python benchmarks/board.py                      # 20,000 runs, 5 rounds
    python benchmarks/board.py --runs 2000 --repeat 3 --keep /tmp/board-bench
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import importlib.util
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gitxp.board.server import BoardServer  # noqa: E402
from gitxp.git.repo import GitRepo  # noqa: E402
from gitxp.query.cache import cache_path  # noqa: E402

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


def _generator() -> Any:
    spec = importlib.util.spec_from_file_location("_bench_query", ROOT / "benchmarks" / "query.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Served:
    """A board server running in a thread, and a GET that returns the body size."""

    def __init__(self, path: Path) -> None:
        self.server = BoardServer(path, "127.0.0.1", 0)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.base = f"http://127.0.0.1:{self.server.port}"
        self.sent = 0

    def get(self, path: str) -> bytes:
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=120)
        try:
            conn.request("GET", path, headers={"Accept-Encoding": "gzip"})
            answer = conn.getresponse()
            body = answer.read()
            assert answer.status == 200, (path, answer.status, body[:200])
            self.sent = len(body)
            if answer.getheader("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            return body
        finally:
            conn.close()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def timed(action: Callable[[], Any]) -> float:
    began = time.perf_counter()
    action()
    return time.perf_counter() - began


def spread(times: list[float]) -> tuple[float, float, float]:
    """Median, lowest and highest of ``times``."""
    return statistics.median(times), min(times), max(times)


def passes(repeat: int, action: Callable[[], Any]) -> tuple[float, float, float]:
    return spread([timed(action) for _ in range(repeat)])


def measure_server(path: Path, repeat: int) -> dict[str, Any]:
    repo = GitRepo(path)
    out: dict[str, Any] = {}
    first = "/api/runs?limit=200"
    cold = []
    for _ in range(repeat):
        cache_path(repo).unlink(missing_ok=True)
        served = Served(path)
        cold.append(timed(lambda s=served: s.get(first)))
        served.stop()
    out["list, first page, cold (no cache)"] = spread(cold)
    served = Served(path)
    try:
        body = served.get(first)
        time.sleep(2.1)  # the refs' stamp is trusted once it is older than 2 s
        served.get(first)
        out["list, first page, warm"] = passes(repeat, lambda: served.get(first))
        out["list payload, first page, gzip (KiB)"] = served.sent / 1024
        version = body.split(b'"version":"', 1)[1].split(b'"', 1)[0].decode()
        out["list, unchanged (auto-refresh poll)"] = passes(
            repeat, lambda: served.get(f"{first}&known={version}")
        )
        middle = len(repo.refs()) // 2 // 200 * 200
        out["list, a page in the middle (scrolled to)"] = passes(
            repeat, lambda: served.get(f"/api/runs?limit=200&offset={middle}")
        )
        out["list, sorted by config.lr"] = passes(
            repeat, lambda: served.get(f"{first}&sort=config.lr")
        )
        where = f"{first}&where=config.lr%20%3E%200.01%20and%20metrics.loss.min%20%3C%200.5"
        served.get(where)  # pandas imported and the frame built once
        out["list, where filter (warm)"] = passes(repeat, lambda: served.get(where))
        run_id = sorted(repo.refs())[-1].rsplit("/", 1)[1]
        out["one run's page"] = passes(repeat, lambda: served.get(f"/api/runs/{run_id}"))
        out["one run's metrics"] = passes(
            repeat, lambda: served.get(f"/api/metrics?runs={run_id}&points=1000")
        )
    finally:
        served.stop()
    return out


# Click a column header inside the page and time it until the table is drawn again (the
# server sorts; the page marks each draw), without the test driver's own delays.
RESORT = """() => new Promise((done) => {
    const began = performance.now();
    performance.clearMarks('gitxp-list-rendered');
    new PerformanceObserver((list, observer) => {
        observer.disconnect();
        requestAnimationFrame(() => done(performance.now() - began));
    }).observe({ entryTypes: ['mark'] });
    document.querySelector("#runs th[data-column='config.lr']").click();
})"""
# Scroll to the middle and time it until the rows there are fetched and drawn.
SCROLL = """() => new Promise((done) => {
    const box = document.querySelector('#table-box');
    const began = performance.now();
    box.scrollTop = box.scrollHeight / 2;
    const look = () => {
        const rows = [...document.querySelectorAll('#runs tr.row')];
        const ready = rows.length && rows.every((r) => !r.classList.contains('loading'))
            && rows.some((r) => r.offsetTop >= box.scrollTop);
        if (ready) requestAnimationFrame(() => done(performance.now() - began));
        else setTimeout(look, 5);
    };
    look();
})"""


def first_rows(page: Any) -> float:
    """Seconds from navigation to the first drawn rows (the page marks each draw)."""
    page.wait_for_selector("#runs tbody tr.row:not(.loading)")
    at = page.evaluate("performance.getEntriesByName('gitxp-list-rendered')[0].startTime")
    return float(at) / 1000


def measure_browser(path: Path, count: int, repeat: int, executable: str) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    served = Served(path)
    out: dict[str, Any] = {}
    try:
        with sync_playwright() as manager:
            profile = tempfile.mkdtemp(prefix="gitxp-bench-chromium-")
            context = manager.chromium.launch_persistent_context(
                profile,
                executable_path=executable,
                headless=True,
                args=FLAGS,
                viewport={"width": 1400, "height": 900},
            )
            page = context.new_page()
            page.set_default_timeout(120_000)
            page.goto(served.base + "/#/")
            first_rows(page)  # the server's table and the browser's cache warm
            loads, sorts, scrolls = [], [], []
            for _ in range(repeat):
                page.evaluate("localStorage.clear(); sessionStorage.clear()")
                page.goto("about:blank")
                page.goto(served.base + "/#/")
                loads.append(first_rows(page))
                sorts.append(page.evaluate(RESORT) / 1000)
                scrolls.append(page.evaluate(SCROLL) / 1000)
            out["page load until the first rows are drawn"] = spread(loads)
            out["re-sort by a column (click to rows drawn)"] = spread(sorts)
            out["scroll to the middle (rows fetched and drawn)"] = spread(scrolls)
            out["rows in the page after scrolling"] = page.locator("#runs tbody tr.row").count()
            context.close()
            shutil.rmtree(profile, ignore_errors=True)
    finally:
        served.stop()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", type=Path, help="Make the repository here and keep it.")
    parser.add_argument("--no-browser", action="store_true")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args(argv)
    root = args.keep or Path(tempfile.mkdtemp(prefix="gitxp-board-bench-"))
    path = root / "project"
    try:
        if not path.exists():
            path.mkdir(parents=True)
            subprocess.run(["git", "init", "-q", str(path)], check=True)
            began = time.perf_counter()
            _generator().write_runs(GitRepo(path), args.runs)
            print(f"wrote {args.runs} runs in {time.perf_counter() - began:.1f} s", file=sys.stderr)
        results = measure_server(path, args.repeat)
        if not args.no_browser:
            results.update(measure_browser(path, args.runs, args.repeat, args.chromium))
        print(f"\n{args.runs} runs, median of {args.repeat} passes (lowest–highest)\n")
        print("| what | median | spread |")
        print("|---|---|---|")
        for name, value in results.items():
            if isinstance(value, tuple):
                mid, low, high = (v * 1000 for v in value)
                print(f"| {name} | {mid:.0f} ms | {low:.0f}–{high:.0f} ms |")
            elif "KiB" in name:
                print(f"| {name.replace(' (KiB)', '')} | {value:.0f} KiB | |")
            else:
                print(f"| {name} | {value} | |")
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
