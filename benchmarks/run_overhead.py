"""Per-run overhead of gitxp, against baselines measured in the same process run.

    python benchmarks/run_overhead.py [--files 5000] [--repeat 7]

1. The pre-run snapshot (``take_snapshot``) against ``git stash create`` on a generated
   repository of 5,000 files (~100 MB) with a few edits and new files.
2. A trivial script (prints, returns) as plain ``python script.py``, under
   ``gitxp run``, and as a Sacred experiment with a FileStorageObserver (needs the
   ``bench`` extra: ``pip install -e .[bench]``). ``benchmarks/startup.py`` measures the
   same in turns, with the spread, and a push with nothing new.
3. Logging 100,000 scalars, including the final write into the run commit.

Prints medians with min–max and ratios. Nothing here asserts: the figures go into
docs/performance.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from gitxp.git.repo import GitRepo
from gitxp.git.snapshot import take_snapshot
from gitxp.store.recorder import Recorder, RunSpec

TRIVIAL = "print('hello')\n"
SACRED_TRIVIAL = """\
from sacred import Experiment
from sacred.observers import FileStorageObserver
ex = Experiment("trivial")
ex.observers.append(FileStorageObserver({folder!r}))

@ex.automain
def main():
    print("hello")
    return 1
"""
# Bytecode caching on, as in a default Python installation: a machine that sets
# PYTHONDONTWRITEBYTECODE recompiles gitxp's modules at every start (~60 ms here).
# This interpreter's venv is the active one, so `gitxp run` starts the interpreter the plain
# baseline runs (not whatever `python` PATH finds, a pyenv shim here).
ENV = {
    **{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
    "VIRTUAL_ENV": sys.prefix,
    "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""),
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
}


def wall_times(action: Callable[[], object], repeat: int) -> list[float]:
    """The wall times of ``action`` over ``repeat`` calls (after one warm-up)."""
    action()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return times


def spread(times: list[float]) -> str:
    """The min–max of ``times`` in ms, to print beside their median."""
    return f"(min–max {min(times) * 1000:.1f}–{max(times) * 1000:.1f})"


def sh(cwd: Path, *argv: str) -> None:
    subprocess.run(argv, cwd=cwd, env=ENV, check=True, capture_output=True)


def make_repo(root: Path, files: int) -> Path:
    """A committed repo of ``files`` files of 20 kB each, then a few edits and new files."""
    repo = root / "big"
    repo.mkdir()
    sh(repo, "git", "init", "-q")
    for i in range(files):
        folder = repo / "src" / f"d{i % 50}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"f{i}.txt").write_bytes(os.urandom(10_000).hex().encode())
    sh(repo, "git", "add", "-A")
    sh(repo, "git", "commit", "-q", "-m", "generated")
    for i in range(5):
        with open(repo / "src" / f"d{i}" / f"f{i}.txt", "ab") as handle:
            handle.write(b"edited\n")
    for i in range(5):
        (repo / f"new{i}.txt").write_text(f"new file {i}\n")
    (repo / "trivial.py").write_text(TRIVIAL)
    return repo


def report(label: str, times: list[float], baseline: float, baseline_label: str) -> None:
    value = statistics.median(times)
    print(
        f"  {label:<34} {value * 1000:8.1f} ms   {value / baseline:5.2f}x {baseline_label}"
        f"  {spread(times)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        print(f"generating a repository of {args.files} files …", flush=True)
        repo_path = make_repo(root, args.files)
        repo = GitRepo(repo_path)

        print(f"\n1. snapshot (median of {args.repeat})")
        stashes = wall_times(lambda: sh(repo_path, "git", "stash", "create"), args.repeat)
        snaps = wall_times(lambda: take_snapshot(repo), args.repeat)
        stash = statistics.median(stashes)
        print(f"  {'git stash create':<34} {stash * 1000:8.1f} ms  {spread(stashes)}")
        report("gitxp take_snapshot", snaps, stash, "git stash create")

        print(f"\n2. a trivial script (median of {args.repeat} passes in turns, whole process)")
        py = sys.executable
        actions = {
            "plain": lambda: sh(repo_path, py, "trivial.py"),
            "run": lambda: sh(repo_path, py, "-m", "gitxp", "run", "-b", "0", "trivial.py"),
        }
        try:
            import sacred  # noqa: F401
        except ImportError:
            print("  (sacred not installed: pip install -e .[bench] to compare)")
        else:
            script = repo_path / "sacred_trivial.py"
            script.write_text(SACRED_TRIVIAL.format(folder=str(root / "sacred_runs")))
            actions["sacred"] = lambda: sh(repo_path, py, "sacred_trivial.py")
        passes: dict[str, list[float]] = {name: [] for name in actions}
        for index in range(args.repeat + 1):  # the first pass warms up
            for name, action in actions.items():
                start = time.perf_counter()
                action()
                if index:
                    passes[name].append(time.perf_counter() - start)
        plain, run = (statistics.median(passes[name]) for name in ("plain", "run"))
        print(f"  {'python trivial.py':<34} {plain * 1000:8.1f} ms  {spread(passes['plain'])}")
        report("gitxp run trivial.py", passes["run"], plain, "plain python")
        print(f"  {'gitxp run overhead':<34} {(run - plain) * 1000:8.1f} ms")
        if "sacred" in passes:
            sac = statistics.median(passes["sacred"])
            print(
                f"  {'sacred + FileStorageObserver':<34} {sac * 1000:8.1f} ms"
                f"  {spread(passes['sacred'])}"
            )
            print(f"  gitxp run / sacred: {run / sac:.2f}x")

        print("\n3. logging 100,000 scalars, including the final record commit")
        small = root / "small"
        small.mkdir()
        sh(small, "git", "init", "-q")
        (small / "a.py").write_text("pass\n")
        sh(small, "git", "add", "-A")
        sh(small, "git", "commit", "-q", "-m", "x")
        srepo = GitRepo(small)

        def one_run(count: int) -> float:
            recorder = Recorder.start(srepo, RunSpec(command=["bench"]))
            start = time.perf_counter()
            log = recorder.spool.log_scalar
            for i in range(count):
                log("loss", 1.0 / (i + 1))
            recorder.finish("COMPLETED")
            return time.perf_counter() - start

        empties = [one_run(0) for _ in range(args.repeat)]
        fulls = [one_run(100_000) for _ in range(args.repeat)]
        empty, full = statistics.median(empties), statistics.median(fulls)
        print(f"  {'finish with no metrics':<34} {empty * 1000:8.1f} ms  {spread(empties)}")
        print(f"  {'log 100,000 + finish':<34} {full * 1000:8.1f} ms  {spread(fulls)}")
        print(f"  {'cost of the 100,000 scalars':<34} {(full - empty) * 1000:8.1f} ms")


if __name__ == "__main__":
    main()
