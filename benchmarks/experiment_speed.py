"""The cost of the Experiment API next to Sacred's, measured side by side.

1. Per run: ``ex.run()`` of a trivial main in a loop (a sweep from a notebook). gitxp
   records each run as git commits in a temporary repository; Sacred writes each run with a
   ``FileStorageObserver`` into a temporary folder. Runs alternate between the two, so
   both see the same load on the machine.
2. Start-up: ``import gitxp`` + ``Experiment()`` against ``import sacred`` +
   ``Experiment()``, each in fresh interpreters (compiled bytecode cached for both), plus an
   empty interpreter as the baseline.

Run:  python benchmarks/experiment_speed.py [--runs 40] [--starts 7]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import os
import runpy
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

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


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def _gitxp_experiment(workdir: Path) -> object:
    repo = workdir / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    (repo / "loop.py").write_text(GITXP_SCRIPT)
    _git(repo, "add", "-A")
    _git(repo, "-c", "user.name=bench", "-c", "user.email=b@x", "commit", "-q", "-m", "init")
    return runpy.run_path(str(repo / "loop.py"), run_name="bench")["ex"]


def _sacred_experiment(workdir: Path) -> object:
    import sacred
    from sacred.observers import FileStorageObserver

    quiet = logging.getLogger("bench.sacred")
    quiet.setLevel(logging.ERROR)
    ex = sacred.Experiment("loop", save_git_info=False)
    ex.logger = quiet
    ex.observers.append(FileStorageObserver(str(workdir / "sacred_runs")))

    @ex.config
    def cfg() -> None:
        a = 1  # noqa: F841

    @ex.main
    def main(a: int) -> int:
        return a

    return ex


def per_run(n: int) -> tuple[list[float], list[float]]:
    """Seconds per ``ex.run()`` for gitxp and Sacred, interleaved."""
    sys.path.insert(0, str(ROOT))
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        old_cwd = os.getcwd()
        os.chdir(work)
        try:
            gex, sex = _gitxp_experiment(work), _sacred_experiment(work)
            options = {"--loglevel": "ERROR"}
            ours: list[float] = []
            theirs: list[float] = []
            with contextlib.redirect_stdout(io.StringIO()):
                gex.run(options=options)  # type: ignore[attr-defined]  # one-time costs
                sex.run(options=options)  # type: ignore[attr-defined]
                for i in range(n):
                    start = time.perf_counter()
                    gex.run(config_updates={"a": i}, options=options)  # type: ignore[attr-defined]
                    ours.append(time.perf_counter() - start)
                    start = time.perf_counter()
                    sex.run(config_updates={"a": i}, options=options)  # type: ignore[attr-defined]
                    theirs.append(time.perf_counter() - start)
        finally:
            os.chdir(old_cwd)
    return ours, theirs


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
    parser.add_argument("--runs", type=int, default=40, help="runs per tool in the loop")
    parser.add_argument("--starts", type=int, default=7, help="fresh interpreters per tool")
    args = parser.parse_args()

    ours, theirs = per_run(args.runs)
    g, s = statistics.median(ours), statistics.median(theirs)
    print(f"ex.run() in a loop, {args.runs} runs each (median; fastest in brackets):")
    print(f"  gitxp (git commits)          {g * 1000:7.1f} ms  [{min(ours) * 1000:.1f} ms]")
    print(f"  sacred (FileStorageObserver) {s * 1000:7.1f} ms  [{min(theirs) * 1000:.1f} ms]")
    print(f"  ratio gitxp/sacred           {g / s:7.2f}      [{min(ours) / min(theirs):.2f}]")

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
