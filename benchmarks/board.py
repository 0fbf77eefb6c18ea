"""How fast ``gitxp board`` answers and draws with many runs in the repository.

Writes N finished runs (config, 3 metrics of 100 steps each; ``benchmarks/query.py``'s
generator, the Recorder's format) into a new repository, starts the board's server in
this process on 127.0.0.1 and times, as a browser would ask (median of ``--repeat``):

- ``/api/runs`` cold: the query cache deleted and a fresh server, so every run is read
  from git; warm: cache and server up to date; unchanged: an auto-refresh poll whose
  list did not change; ``where``: a filter through the query layer (pandas);
- one run's page data and its metric series;

then, unless ``--no-browser``, in headless Chromium (``/usr/bin/chromium`` through
Playwright): loading the list page until its table is drawn (the first 200 rows; more
are drawn as it is scrolled), re-sorting the table by a column (click to rows sorted,
drawn and laid out), and drawing all N rows (the "more" button clicked to the end).

Usage::

    python benchmarks/board.py                      # 1,000 runs, 5 rounds
    python benchmarks/board.py --runs 5000 --repeat 3 --keep /tmp/board-bench
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


def median_of(repeat: int, action: Callable[[], Any]) -> float:
    times = [timed(action) for _ in range(repeat)]
    return statistics.median(times)


def measure_server(path: Path, repeat: int) -> dict[str, float]:
    repo = GitRepo(path)
    out: dict[str, float] = {}
    cold = []
    for _ in range(repeat):
        cache_path(repo).unlink(missing_ok=True)
        served = Served(path)
        cold.append(timed(lambda s=served: s.get("/api/runs")))
        served.stop()
    out["list, cold (no cache)"] = statistics.median(cold)
    served = Served(path)
    try:
        body = served.get("/api/runs")
        out["list, warm"] = median_of(repeat, lambda: served.get("/api/runs"))
        version = body.split(b'"version":"', 1)[1].split(b'"', 1)[0].decode()
        out["list, unchanged (auto-refresh poll)"] = median_of(
            repeat, lambda: served.get(f"/api/runs?known={version}")
        )
        where = "/api/runs?where=config.lr%20%3E%200.01%20and%20metrics.loss.min%20%3C%200.5"
        served.get(where)  # pandas imported once
        out["list, where filter (warm)"] = median_of(repeat, lambda: served.get(where))
        run_id = sorted(repo.refs())[-1].rsplit("/", 1)[1]
        out["one run's page"] = median_of(repeat, lambda: served.get(f"/api/runs/{run_id}"))
        out["one run's metrics"] = median_of(
            repeat, lambda: served.get(f"/api/metrics?runs={run_id}")
        )
        out["list payload, raw (KiB)"] = len(served.get("/api/runs")) / 1024
        out["list payload, gzip (KiB)"] = served.sent / 1024
    finally:
        served.stop()
    return out


# Click a column header inside the page and time it until the table is sorted, drawn and
# laid out (a layout forced by reading a size), without the test driver's own delays.
RESORT = """() => {
    const began = performance.now();
    document.querySelector("#runs th[data-column='config.lr']").click();
    void document.querySelector("#runs").offsetHeight;
    return performance.now() - began;
}"""
PAGE_ROWS = 200  # rows the list draws before it is scrolled (static/list.js)


def rows(page: Any, count: int) -> None:
    """Wait until the run table has ``count`` rows."""
    page.wait_for_function(
        "(n) => document.querySelectorAll('#runs tbody tr').length === n", arg=count
    )


def mark(page: Any) -> float:
    """When the list was last drawn (ms since the page started); clears the mark."""
    at = page.evaluate("performance.getEntriesByName('gitxp-list-rendered').pop().startTime")
    page.evaluate("performance.clearMarks('gitxp-list-rendered')")
    return float(at)


def measure_browser(path: Path, count: int, repeat: int, executable: str) -> dict[str, float]:
    from playwright.sync_api import sync_playwright

    served = Served(path)
    out: dict[str, float] = {}
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
            loads, sorts, alls = [], [], []
            first = min(count, PAGE_ROWS)
            for _ in range(repeat):
                page.goto(served.base + "/#/")
                page.evaluate("localStorage.clear()")
                page.reload()
                rows(page, first)
                loads.append(mark(page) / 1000)
                sorts.append(page.evaluate(RESORT) / 1000)
                began = page.evaluate("performance.now()")
                while page.is_visible("#more-rows"):
                    page.click("#more-rows")
                rows(page, count)
                page.evaluate("() => new Promise((done) => requestAnimationFrame(() => done()))")
                alls.append((page.evaluate("performance.now()") - began) / 1000)
            out[f"page load until the table is drawn (first {first} rows)"] = statistics.median(
                loads
            )
            out["re-sort by a column (click to sorted, drawn, laid out)"] = statistics.median(sorts)
            out[f"draw all {count} rows (click 'more' to the end)"] = statistics.median(alls)
            context.close()
            shutil.rmtree(profile, ignore_errors=True)
    finally:
        served.stop()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=1000)
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
        print(f"\n{args.runs} runs, median of {args.repeat}\n")
        print("| what | time |")
        print("|---|---|")
        for name, value in results.items():
            shown = f"{value:.0f} KiB" if "KiB" in name else f"{value * 1000:.0f} ms"
            print(f"| {name.replace(' (KiB)', '')} | {shown} |")
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
