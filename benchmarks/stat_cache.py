"""The snapshot against ``git stash create`` when stat data is valid and when it is stale.

    python benchmarks/stat_cache.py [--files 5000,50000] [--passes 5]

For each size, a generated repository (files of 20 kB in 50 folders, a few edits and new
files: ``benchmarks/run_overhead.py``'s) and, in every pass, measured side by side:

(a) the user's index valid (``git update-index --refresh`` first);
(b) every file touched (``os.utime``), then the first snapshot;
(c) the second snapshot after that.

``take_snapshot`` runs in this process (a fresh ``GitRepo`` each time), ``git stash create``
as a command. gitxp never writes the user's index; ``git stash create`` refreshes it and
writes it back (the output says whether it did), so its second run after a touch hashes
nothing. Each pass alternates which tool goes first; when git goes first in (b) the
user's index is put back as the touch left it (bytes and mtime) before gitxp's turn.
Prints medians with min–max over the passes and the ratio of the medians.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from run_overhead import ENV, make_repo

from gitxp.git.repo import GitRepo
from gitxp.git.snapshot import take_snapshot

SCENARIOS = ("a", "b", "c")
LABELS = {
    "a": "(a) user's index valid",
    "b": "(b) after touch, first",
    "c": "(c) after touch, second",
}


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def index_digest(repo: Path) -> str:
    return hashlib.sha256((repo / ".git" / "index").read_bytes()).hexdigest()


class Bench:
    def __init__(self, repo: Path) -> None:
        self.repo = repo
        self.files = [
            repo / name
            for name in subprocess.run(
                ["git", "ls-files", "-z"], cwd=repo, env=ENV, check=True, capture_output=True
            )
            .stdout.decode()
            .split("\0")
            if name
        ]
        self.times: dict[tuple[str, str], list[float]] = {
            (tool, s): [] for tool in ("git", "gitxp") for s in SCENARIOS
        }
        self.git_rewrote: list[bool] = []

    def stash(self) -> None:
        subprocess.run(
            ["git", "stash", "create"], cwd=self.repo, env=ENV, check=True, capture_output=True
        )

    def snapshot(self) -> None:
        take_snapshot(GitRepo(self.repo))

    def touch(self) -> None:
        for path in self.files:
            os.utime(path)

    def one_pass(self, git_first: bool) -> None:
        subprocess.run(["git", "update-index", "-q", "--refresh"], cwd=self.repo, env=ENV)
        order = [("git", self.stash), ("gitxp", self.snapshot)]
        for tool, action in order if git_first else order[::-1]:
            self.times[tool, "a"].append(timed(action))
        self.touch()
        index = self.repo / ".git" / "index"
        touched = (index.read_bytes(), os.stat(index).st_mtime_ns)
        for tool, action in order if git_first else order[::-1]:
            before = index_digest(self.repo)
            self.times[tool, "b"].append(timed(action))
            if tool == "git":
                self.git_rewrote.append(index_digest(self.repo) != before)
            self.times[tool, "c"].append(timed(action))
            if tool == "git" and git_first:  # gitxp's turn starts from the touched index
                index.write_bytes(touched[0])
                os.utime(index, ns=(touched[1], touched[1]))

    def report(self, files: int, passes: int) -> None:
        print(f"\n{files} files, {passes} passes: median (min–max), ms")
        print(f"  {'':<26} {'git stash create':>22} {'gitxp take_snapshot':>22}  ratio")
        for s in SCENARIOS:
            cells = []
            for tool in ("git", "gitxp"):
                values = [v * 1000 for v in self.times[tool, s]]
                cells.append(
                    f"{statistics.median(values):7.0f} ({min(values):.0f}–{max(values):.0f})"
                )
            ratio = statistics.median(self.times["gitxp", s]) / statistics.median(
                self.times["git", s]
            )
            print(f"  {LABELS[s]:<26} {cells[0]:>22} {cells[1]:>22}  {ratio:4.2f}x")
        rewrote = sum(self.git_rewrote)
        print(
            f"  git stash create rewrote .git/index in (b): {rewrote} of {len(self.git_rewrote)}"
            " passes (it refreshes the stat data; gitxp never writes the user's index)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", default="5000,50000", help="sizes, comma-separated")
    parser.add_argument("--passes", type=int, default=5)
    args = parser.parse_args()
    print("command: python benchmarks/stat_cache.py " + " ".join(sys.argv[1:]))
    for files in (int(size) for size in args.files.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            print(f"generating a repository of {files} files …", flush=True)
            bench = Bench(make_repo(Path(tmp), files))
            bench.one_pass(git_first=True)  # warm-up: page cache, loose objects, the cache
            bench.times = {key: [] for key in bench.times}
            bench.git_rewrote = []
            for number in range(args.passes):
                bench.one_pass(git_first=number % 2 == 0)
            bench.report(files, args.passes)


if __name__ == "__main__":
    main()
