"""Sharing speed at a thousand runs: gitxp push/fetch against git push/fetch.

Builds a project (a few dozen source files) with N finished runs recorded by gitxp's own
recorder, then times, in the same process run and on the same repositories, the median of
``--repeat`` rounds (gitxp and git alternate within each round):

- ``push N``: every run into an empty bare repository;
  ``gitxp push`` against ``git push <bare> 'refs/gitxp/runs/*:refs/gitxp/runs/*'``;
- ``fetch N``: every run from that bare repository into an empty repository;
  ``gitxp fetch`` against ``git fetch <bare> 'refs/gitxp/runs/*:refs/gitxp/runs/*'``;
- ``push +10``: ten new runs on top of the N already there (the incremental case);
- ``push, nothing new``: a push when the remote is up to date.

gitxp is timed twice: as a library call (``gitxp.share.sync.push/fetch``) and as the
``gitxp`` command in a fresh process (interpreter start and imports included), which is
what compares with the ``git`` command. Every result is checked with ``git for-each-ref``.

Usage::

    python benchmarks/remote.py                       # 1,000 runs, local path remote
    python benchmarks/remote.py --transport git       # through git daemon on 127.0.0.1
    python benchmarks/remote.py --runs 200 --repeat 3 --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # the test servers (git daemon, smart HTTP)

from gitxp.git.repo import RUNS_PREFIX, GitRepo  # noqa: E402
from gitxp.share import sync as sharing  # noqa: E402
from gitxp.store.recorder import Recorder, RunSpec  # noqa: E402

REFSPEC = "refs/gitxp/runs/*:refs/gitxp/runs/*"


def sh(*args: str, cwd: Path | None = None) -> str:
    return subprocess.run(args, cwd=cwd, check=True, capture_output=True, text=True).stdout


def gitxp_cmd(*args: str, cwd: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "gitxp", *args], cwd=cwd, capture_output=True)
    if proc.returncode != 0:
        raise SystemExit(f"gitxp {' '.join(args)} failed:\n{proc.stderr.decode()}")


def make_project(path: Path, runs: int) -> None:
    """A project with 40 source files and ``runs`` finished runs."""
    sh("git", "init", "-q", str(path))
    for i in range(40):
        (path / f"module_{i}.py").write_text(f"# module {i}\n" + "x = 1\n" * (i * 10))
    sh("git", "add", "-A", cwd=path)
    sh("git", "-c", "user.name=bench", "-c", "user.email=b@x", "commit", "-qm", "init", cwd=path)
    add_runs(path, runs)


def add_runs(path: Path, count: int) -> None:
    repo = GitRepo(path)
    here = os.getcwd()
    os.chdir(path)
    try:
        for i in range(count):
            recorder = Recorder.start(
                repo, RunSpec(command=["train.py"], config={"lr": 0.001 * (i + 1), "seed": i})
            )
            for step in range(20):
                recorder.spool.log_scalar("loss", 1.0 / (step + 1 + i), step)
            recorder.finish("COMPLETED", exit_code=0)
    finally:
        os.chdir(here)


def run_count(path: Path) -> int:
    return len(sh("git", "for-each-ref", RUNS_PREFIX, cwd=path).splitlines())


def fresh_bare(root: Path, name: str) -> Path:
    path = root / name
    shutil.rmtree(path, ignore_errors=True)
    sh("git", "init", "-q", "--bare", str(path))
    return path


def fresh_repo(root: Path, name: str) -> Path:
    path = root / name
    shutil.rmtree(path, ignore_errors=True)
    sh("git", "init", "-q", str(path))
    return path


SIDES = ("git", "gitxp lib", "gitxp cmd")


def transfer(who: str, verb: str, repo: Path, url: str) -> float:
    """Seconds ``who`` takes to push from / fetch into ``repo`` (every run ref)."""
    start = time.perf_counter()
    if who == "git":
        sh("git", verb, "-q", url, REFSPEC, cwd=repo)
    elif who == "gitxp lib":
        action = sharing.push if verb == "push" else sharing.fetch
        report = action(GitRepo(repo), url)
        assert report.ok, report
    else:
        gitxp_cmd(verb, "-q", url, cwd=repo)
    return time.perf_counter() - start


class Remote:
    """Where the bare repositories live and how each side reaches them."""

    def __init__(self, root: Path, transport: str) -> None:
        self.root = root
        self.transport = transport
        self.server: object = None
        if transport == "git":
            from servers import GitDaemon

            self.server = GitDaemon(root)
        elif transport == "http":
            from servers import SmartHttp

            self.server = SmartHttp(root)

    def url(self, bare: Path) -> str:
        if self.transport == "git":
            return self.server.url(bare.name)  # type: ignore[attr-defined]
        if self.transport == "http":
            return self.server.url(bare.name)  # type: ignore[attr-defined]
        return str(bare)

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()  # type: ignore[attr-defined]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--transport", choices=["path", "git", "http"], default="path")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()

    work = args.keep or Path(tempfile.mkdtemp(prefix="gitxp-bench-remote-"))
    work.mkdir(parents=True, exist_ok=True)
    served = work / "served"
    served.mkdir(exist_ok=True)
    os.environ.setdefault("GIT_CONFIG_NOSYSTEM", "1")
    source = work / "source"
    start = time.perf_counter()
    if not (source / ".git").exists() or run_count(source) != args.runs:
        shutil.rmtree(source, ignore_errors=True)
        make_project(source, args.runs)
    print(
        f"{args.runs} runs in {source} ({time.perf_counter() - start:.1f}s to make); "
        f"transport {args.transport}; median of {args.repeat}",
        flush=True,
    )
    clone = work / "source-plus-10"  # the same runs and ten more, for the incremental push
    shutil.rmtree(clone, ignore_errors=True)
    shutil.copytree(source, clone)
    add_runs(clone, 10)
    remote = Remote(served, args.transport)
    times: dict[str, list[float]] = {}

    def add(name: str, seconds: float) -> None:
        times.setdefault(name, []).append(seconds)

    try:
        for _ in range(args.repeat):
            for who in SIDES:  # everything into an empty bare repository
                bare = fresh_bare(served, "push.git")
                add(f"push {args.runs}|{who}", transfer(who, "push", source, remote.url(bare)))
                assert run_count(bare) == args.runs, who
            url = remote.url(bare)
            for who in SIDES:  # everything from it into an empty repository
                dest = fresh_repo(work, "dest")
                add(f"fetch {args.runs}|{who}", transfer(who, "fetch", dest, url))
                assert run_count(dest) == args.runs, who
            for who in SIDES:
                add(f"push, nothing new|{who}", transfer(who, "push", source, url))
            for who in SIDES:  # ten new runs on top of the N the remote has
                bare = fresh_bare(served, "incr.git")
                sh("git", "push", "-q", str(bare), REFSPEC, cwd=source)
                add(f"push +10|{who}", transfer(who, "push", clone, remote.url(bare)))
                assert run_count(bare) == args.runs + 10, who
    finally:
        remote.stop()

    results = {name: statistics.median(values) for name, values in times.items()}
    cases = list(dict.fromkeys(name.split("|")[0] for name in results))
    print(f"\n{'case':<20}{'git':>9}{'gitxp lib':>11}{'gitxp cmd':>11}{'lib/git':>9}{'cmd/git':>9}")
    for case in cases:
        git_s = results[f"{case}|git"]
        lib_s = results[f"{case}|gitxp lib"]
        cmd_s = results[f"{case}|gitxp cmd"]
        print(
            f"{case:<20}{git_s:>8.3f}s{lib_s:>10.3f}s{cmd_s:>10.3f}s"
            f"{lib_s / git_s:>8.2f}x{cmd_s / git_s:>8.2f}x"
        )
    print("\nmin–max of each")
    for case in cases:
        spreads = (
            f"{min(times[f'{case}|{who}']):.3f}–{max(times[f'{case}|{who}']):.3f}s" for who in SIDES
        )
        print(
            f"{case:<20}"
            + "  ".join(f"{who} {text}" for who, text in zip(SIDES, spreads, strict=True))
        )
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "args": vars(args) | {"keep": str(args.keep), "json": str(args.json)},
                    "medians": results,
                },
                indent=2,
            )
        )
    if args.keep is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
