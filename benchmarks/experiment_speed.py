"""The cost of the Experiment API next to Sacred's, measured side by side.

1. Per run: ``ex.run()`` of a trivial main in a loop (a sweep from a notebook), in
   repositories of 1 / 5,000 / 50,000 committed files. The gitxp and the Sacred experiment
   are both scripts in that repository, loaded into this process; gitxp records each run
   as git commits, Sacred writes each run with a ``FileStorageObserver`` into a folder
   outside the repository (``save_git_info=False``: Sacred reads its git facts once per
   Experiment anyway, not per run). Each pass loads fresh experiments, makes the first two
   gitxp runs (a plain snapshot, then the one that places the working-tree watch), then
   alternates: a gitxp run with nothing changed, a Sacred run, and a gitxp run after a
   tracked file was edited (a full snapshot), so all see the same load.
2. Start-up: ``import gitxp`` + ``Experiment()`` against ``import sacred`` +
   ``Experiment()``, each in fresh interpreters (compiled bytecode cached for both), plus an
   empty interpreter as the baseline.

Run:  python benchmarks/experiment_speed.py [--sizes 1,5000,50000] [--passes 7] [--runs 15]
      [--starts 7]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import runpy
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import warnings
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

GITXP_SCRIPT = """
from gitxp import Experiment

ex = Experiment("loop")


@ex.config
def cfg():
    a = 1


@ex.main
def main(a):
    return a
"""

SACRED_SCRIPT = """
import logging

import sacred

ex = sacred.Experiment("loop", save_git_info=False)
ex.logger = logging.getLogger("bench.sacred")
ex.logger.setLevel(logging.ERROR)


@ex.config
def cfg():
    a = 1


@ex.main
def main(a):
    return a
"""

STARTUP = {
    "python (nothing imported)": "import time; t = time.perf_counter()\nprint(0.0)",
    "gitxp": (
        "import time; t = time.perf_counter()\n"
        "import gitxp\nex = gitxp.Experiment('bench')\n"
        "print(time.perf_counter() - t)"
    ),
    "sacred": (
        "import time; t = time.perf_counter()\n"
        "import sacred\nex = sacred.Experiment('bench')\n"
        "print(time.perf_counter() - t)"
    ),
}
OPTIONS = {"--loglevel": "ERROR"}
EDITED = "VALUE = 000000\n"
SERIES = {
    "first": "gitxp, first run of a process",
    "second": "gitxp, second run (places the watch)",
    "unchanged": "gitxp, nothing changed",
    "sacred": "sacred",
    "edited": "gitxp, a tracked file edited",
}


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def make_repo(root: Path, files: int) -> Path:
    """A committed repository of ``files`` small files (100 a folder) and the two scripts."""
    repo = root / f"repo-{files}"
    repo.mkdir()
    _git(repo, "init", "-q")
    for i in range(max(files - 4, 0)):  # and 4 more: the scripts, .gitignore, edited.py
        folder = repo / "src" / f"pkg{i // 100}"
        if i % 100 == 0:
            folder.mkdir(parents=True)
        (folder / f"mod{i}.py").write_text(f"VALUE = {i}\n")
    (repo / "loop_gitxp.py").write_text(GITXP_SCRIPT)
    (repo / "loop_sacred.py").write_text(SACRED_SCRIPT)
    (repo / ".gitignore").write_text("__pycache__/\n")
    (repo / "edited.py").write_text(EDITED)
    _git(repo, "add", "-A")
    _git(repo, "-c", "user.name=bench", "-c", "user.email=b@x", "commit", "-q", "-m", "init")
    return repo


def _load(repo: Path, script: str, observer: Path | None = None) -> Any:
    ex = runpy.run_path(str(repo / script), run_name="bench")["ex"]
    if observer is not None:
        from sacred.observers import FileStorageObserver

        ex.observers.append(FileStorageObserver(str(observer)))
    return ex


def _timed(ex: Any, updates: dict[str, int] | None = None) -> float:
    start = time.perf_counter()
    ex.run(config_updates=updates, options=OPTIONS)
    return time.perf_counter() - start


def one_pass(repo: Path, runs: int) -> dict[str, list[float]]:
    """Seconds per ``ex.run()`` of each series in one pass over fresh experiments."""
    gex = _load(repo, "loop_gitxp.py")
    sex = _load(repo, "loop_sacred.py", repo.parent / "sacred_runs")
    edited = repo / "edited.py"
    out: dict[str, list[float]] = {name: [] for name in SERIES}
    old_cwd = os.getcwd()
    os.chdir(repo)
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            out["first"].append(_timed(gex))
            out["second"].append(_timed(gex))
            _timed(sex)  # Sacred's one-time costs
            for i in range(runs):
                out["unchanged"].append(_timed(gex, {"a": i}))
                out["sacred"].append(_timed(sex, {"a": i}))
                edited.write_text(f"VALUE = {i + 1:06d}\n")  # same size: stat data alike
                out["edited"].append(_timed(gex, {"a": i}))
    finally:
        os.chdir(old_cwd)
        edited.write_text(EDITED)
    return out


def _spread(values: list[float]) -> str:
    return (
        f"{statistics.median(values) * 1000:7.1f} ms "
        f"({min(values) * 1000:.1f}–{max(values) * 1000:.1f})"
    )


def per_run(sizes: list[int], passes: int, runs: int) -> None:
    """Print, per repository size, the median over passes of each series' median run."""
    print(
        f"ex.run() in a loop: {passes} passes of {runs} interleaved runs each; medians of "
        "the pass medians, min–max over passes in brackets"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for files in sizes:
            repo = make_repo(Path(tmp), files)
            medians: dict[str, list[float]] = {}
            ratios: dict[str, list[float]] = {}
            for _ in range(passes):
                times = one_pass(repo, runs)
                sacred = statistics.median(times["sacred"])
                for name, values in times.items():
                    medians.setdefault(name, []).append(statistics.median(values))
                    ratios.setdefault(name, []).append(statistics.median(values) / sacred)
            print(f"\n  repository of {files} files")
            for name, label in SERIES.items():
                ratio = ratios[name]
                print(
                    f"    {label:<38} {_spread(medians[name])}   ×{statistics.median(ratio):.2f} "
                    f"({min(ratio):.2f}–{max(ratio):.2f}) of sacred"
                )


def startup(n: int) -> dict[str, tuple[list[float], list[float]]]:
    """Per tool: seconds from the first import to a created Experiment (measured inside
    the interpreter), and the wall time of the whole interpreter run."""
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "PYTHONPYCACHEPREFIX": str(Path(tmp) / "pycache")}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
        scripts = {}
        for name, code in STARTUP.items():
            path = Path(tmp) / f"start_{name.split()[0]}.py"
            path.write_text(textwrap.dedent(code))
            scripts[name] = path
        timings: dict[str, tuple[list[float], list[float]]] = {n: ([], []) for n in STARTUP}
        for round_ in range(n + 1):  # round 0 only fills the bytecode caches
            for name, path in scripts.items():
                start = time.perf_counter()
                out = subprocess.run(
                    [sys.executable, str(path)],
                    cwd=tmp,
                    env=env,
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout
                wall = time.perf_counter() - start
                if round_:
                    timings[name][0].append(float(out.split()[-1]))
                    timings[name][1].append(wall)
        return timings


def main() -> None:
    """Measure and print medians and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,5000,50000", help="files in each repository")
    parser.add_argument("--passes", type=int, default=7, help="passes per repository")
    parser.add_argument("--runs", type=int, default=15, help="runs per series in each pass")
    parser.add_argument("--starts", type=int, default=7, help="fresh interpreters per tool")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", message="pkg_resources is deprecated")  # sacred 0.8
    print("command: python benchmarks/experiment_speed.py " + " ".join(sys.argv[1:]))
    sizes = [int(size) for size in args.sizes.split(",")]
    per_run(sizes, args.passes, args.runs)

    times = startup(args.starts)
    print(f"\nimport + Experiment() in fresh interpreters, {args.starts} each (median):")
    print(f"  {'':<28} {'import+create':>13} {'whole process':>14}")
    med = {}
    for name, (inside, wall) in times.items():
        med[name] = (statistics.median(inside), statistics.median(wall))
        print(f"  {name:<28} {med[name][0] * 1000:10.1f} ms {med[name][1] * 1000:11.1f} ms")
    g_in, g_wall = med["gitxp"]
    s_in, s_wall = med["sacred"]
    base = med["python (nothing imported)"][1]
    print(f"  ratio gitxp/sacred           {g_in / s_in:10.2f}    {g_wall / s_wall:11.2f}")
    print(
        f"  gitxp adds to a script's start: {(g_wall - base) * 1000:.0f} ms "
        f"(sacred: {(s_wall - base) * 1000:.0f} ms)"
    )


if __name__ == "__main__":
    main()
