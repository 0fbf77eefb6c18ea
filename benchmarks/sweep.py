"""Per-run overhead of a 100-run local sweep, against plain python and Hydra's multirun.

    python benchmarks/sweep.py [--runs 100] [--repeat 3] [--jobs 1]

On a fresh repository holding a trivial script (it reads one config value and prints
it), each pass times, from start to end of the whole command:

1. ``--runs`` plain ``python trivial.py`` processes, one after the other (the floor: an
   interpreter start and ``import gitxp`` per run);
2. ``gitxp sweep -j JOBS --python PY trivial.py with 'i=range(RUNS)'`` (PY: the
   interpreter the baselines use): one snapshot, RUNS queued run
   refs, JOBS worker processes, each run in its own worktree and recorded as a run;
3. the same sweep with Hydra's multirun and the joblib launcher
   (``python hydra_app.py -m +i=range(RUNS) hydra/launcher=joblib
   hydra.launcher.n_jobs=JOBS``; needs the ``bench`` extra: hydra-core,
   hydra-joblib-launcher).

Prints, per tool, the median seconds per run over ``--repeat`` passes with the spread
(min–max), the overhead per run over plain python, and the ratios. Nothing here asserts:
the figures go into docs/sweeps.md.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

TRIVIAL = "import gitxp\nprint('i =', gitxp.config().get('i'))\n"
HYDRA = """\
import hydra
from omegaconf import DictConfig


@hydra.main(version_base=None, config_path=None, config_name=None)
def main(cfg: DictConfig) -> None:
    print("i =", cfg.get("i"))


if __name__ == "__main__":
    main()
"""


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def make_repo(root: Path) -> Path:
    repo = root / "project"
    repo.mkdir()
    git(repo, "init", "-q")
    (repo / "trivial.py").write_text(TRIVIAL)
    (repo / "hydra_app.py").write_text(HYDRA)
    (repo / ".gitignore").write_text("multirun/\noutputs/\n")
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=bench", "-c", "user.email=b@e", "commit", "-q", "-m", "init")
    return repo


def timed(run: Callable[[], None]) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def plain_runs(repo: Path, runs: int) -> Callable[[], None]:
    def go() -> None:
        for _ in range(runs):
            subprocess.run(
                [sys.executable, "trivial.py"], cwd=repo, check=True, capture_output=True
            )

    return go


def gitxp_sweep(repo: Path, runs: int, jobs: int) -> Callable[[], None]:
    def go() -> None:
        command = [sys.executable, "-m", "gitxp", "sweep", "--rerun", "-j", str(jobs)]
        command += ["--python", sys.executable]  # the interpreter the baselines use
        command += ["trivial.py", "with", f"i=range({runs})"]
        subprocess.run(command, cwd=repo, check=True, capture_output=True)

    return go


def hydra_sweep(repo: Path, runs: int, jobs: int) -> Callable[[], None]:
    def go() -> None:
        command = [sys.executable, "hydra_app.py", "-m", f"+i=range({runs})"]
        command += ["hydra/launcher=joblib", f"hydra.launcher.n_jobs={jobs}"]
        subprocess.run(command, cwd=repo, check=True, capture_output=True)

    return go


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=1)
    args = parser.parse_args()
    have_hydra = all(
        importlib.util.find_spec(m) is not None
        for m in ("hydra", "hydra_plugins.hydra_joblib_launcher")
    )
    with tempfile.TemporaryDirectory(prefix="gitxp-bench-sweep-") as tmp:
        repo = make_repo(Path(tmp))
        env_note = f"{args.runs} runs, -j {args.jobs}, {args.repeat} passes, {os.cpu_count()} CPUs"
        print(f"sweep benchmark: {env_note}")
        tools: dict[str, Callable[[], None]] = {
            "plain python": plain_runs(repo, args.runs),
            "gitxp sweep": gitxp_sweep(repo, args.runs, args.jobs),
        }
        if have_hydra:
            tools["hydra multirun (joblib)"] = hydra_sweep(repo, args.runs, args.jobs)
        else:
            print("hydra-core / hydra-joblib-launcher not installed: pip install -e '.[bench]'")
        per_run: dict[str, float] = {}
        for name, run in tools.items():
            run()  # warm: caches, the env lock, Hydra's plugin scan
            seconds = [timed(run) / args.runs for _ in range(args.repeat)]
            per_run[name] = statistics.median(seconds)
            print(
                f"  {name:26} {per_run[name] * 1000:7.1f} ms/run "
                f"(min {min(seconds) * 1000:.1f}, max {max(seconds) * 1000:.1f})"
            )
        floor = per_run["plain python"]
        for name, value in per_run.items():
            if name != "plain python":
                print(
                    f"  {name:26} overhead over plain python: {(value - floor) * 1000:7.1f} ms/run"
                )
        if "hydra multirun (joblib)" in per_run:
            g = per_run["gitxp sweep"] - floor
            h = per_run["hydra multirun (joblib)"] - floor
            total = per_run["gitxp sweep"] / per_run["hydra multirun (joblib)"]
            print(f"  overhead ratio gitxp / hydra: {g / h:.2f}")
            print(f"  total ratio gitxp / hydra: {total:.2f}")


if __name__ == "__main__":
    main()
