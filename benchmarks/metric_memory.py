"""Peak memory of a run that logs a million scalars, in the child and in the supervisor.

    python benchmarks/metric_memory.py [--values 1000000] [--repeat 5] [--no-sacred]

Each pass runs, interleaved:

- ``gitxp run api.py``: the script calls ``gitxp.log_scalar`` ``--values`` times. The
  supervisor (the ``gitxp`` process, started through a probe that runs gitxp's own CLI)
  and the child (the script) each report their own peak resident set (``VmHWM`` of
  ``/proc/self/status``, read at exit).
- ``python exp.py``: an ``Experiment`` whose main calls ``_run.log_scalar`` ``--values``
  times; the Experiment is its own supervisor, so one process does both.
- the baseline: plain python appending ``--values`` floats to a list and ``json.dump``-ing
  it (the least a process that keeps its series can use).
- Sacred (when installed, unless ``--no-sacred``): the same ``exp.py`` loop under
  ``sacred.Experiment`` with a ``FileStorageObserver``.

Prints the median peak of each in MiB with min–max over the passes, and each against the
baseline. The goal: under 100 MiB for gitxp's child and supervisor. Nothing asserts.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

REPORT = textwrap.dedent(
    """\
    import atexit, os
    def _report():
        with open('/proc/self/status') as status:
            peak = [l for l in status if l.startswith('VmHWM')][0].split()[1]
        with open(os.environ['PEAK_FILE'] + '.' + str(os.getpid()), 'w') as out:
            out.write(ROLE + ' ' + peak)
    atexit.register(_report)
    """
)

SUPERVISOR = (
    REPORT.replace("ROLE", "'supervisor'")
    + "import sys\nfrom gitxp.cli.main import main\nmain(sys.argv[1:])\n"
)

SCRIPTS = {
    "api.py": REPORT.replace("ROLE", "'child'")
    + textwrap.dedent(
        """\
        import gitxp
        for i in range(int(os.environ['VALUES'])):
            gitxp.log_scalar('loss', i * 0.5)
        """
    ),
    "exp.py": REPORT.replace("ROLE", "'experiment'")
    + textwrap.dedent(
        """\
        from gitxp import Experiment
        ex = Experiment('memory')
        @ex.automain
        def main(_run):
            for i in range(int(os.environ['VALUES'])):
                _run.log_scalar('loss', i * 0.5)
        """
    ),
    "plain.py": REPORT.replace("ROLE", "'plain'")
    + textwrap.dedent(
        """\
        import json
        values = []
        for i in range(int(os.environ['VALUES'])):
            values.append(i * 0.5)
        with open('plain.json', 'w') as out:
            json.dump({'loss': values}, out)
        """
    ),
    "sacred_exp.py": REPORT.replace("ROLE", "'sacred'")
    + textwrap.dedent(
        """\
        from sacred import Experiment
        from sacred.observers import FileStorageObserver
        ex = Experiment('memory', save_git_info=False)
        ex.observers.append(FileStorageObserver('sacred_runs'))
        @ex.automain
        def main(_run):
            for i in range(int(os.environ['VALUES'])):
                _run.log_scalar('loss', i * 0.5)
        """
    ),
}


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def make_repo(root: Path) -> Path:
    repo = root / "project"
    repo.mkdir()
    git(repo, "init", "-q")
    git(repo, "config", "user.email", "bench@example.com")
    git(repo, "config", "user.name", "bench")
    for name, text in SCRIPTS.items():
        (repo / name).write_text(text)
    (repo / ".gitignore").write_text("plain.json\nsacred_runs/\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "scripts")
    return repo


def measure(repo: Path, command: list[str], values: int) -> tuple[dict[str, float], float]:
    """Run ``command`` in ``repo``; the peak (MiB) each probed process reported, wall s."""
    with tempfile.TemporaryDirectory(prefix="gitxp-peak-") as tmp:
        env = {**os.environ, "PEAK_FILE": f"{tmp}/peak", "VALUES": str(values)}
        start = time.perf_counter()
        subprocess.run(command, cwd=repo, env=env, check=True, capture_output=True)
        wall = time.perf_counter() - start
        peaks = {}
        for path in Path(tmp).iterdir():
            role, kib = path.read_text().split()
            peaks[role] = int(kib) / 1024
    return peaks, wall


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):6.1f} MiB ({min(values):.1f}–{max(values):.1f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--values", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-sacred", action="store_true")
    opts = parser.parse_args()
    if importlib.util.find_spec("sacred") is None:
        opts.no_sacred = True
    python = sys.executable
    runs = {
        "gitxp run": [python, "-c", SUPERVISOR, "run", "api.py"],
        "Experiment": [python, "exp.py"],
        "plain python": [python, "plain.py"],
    }
    if not opts.no_sacred:
        runs["Sacred"] = [python, "sacred_exp.py"]
    peaks: dict[str, list[float]] = {}
    walls: dict[str, list[float]] = {name: [] for name in runs}
    with tempfile.TemporaryDirectory(prefix="gitxp-bench-") as tmp:
        repo = make_repo(Path(tmp))
        for _ in range(opts.repeat):
            for name, command in runs.items():
                got, wall = measure(repo, command, opts.values)
                walls[name].append(wall)
                for role, mib in got.items():
                    peaks.setdefault(role, []).append(mib)
    flags = f" --values {opts.values} --repeat {opts.repeat}" + (
        " --no-sacred" if opts.no_sacred else ""
    )
    print(f"python benchmarks/metric_memory.py{flags}")
    print(f"peak RSS of a run logging {opts.values:,} scalars, median of {opts.repeat} (min–max)")
    base = statistics.median(peaks["plain"])
    labels = {
        "child": "gitxp run: child (the script)",
        "supervisor": "gitxp run: supervisor",
        "experiment": "python exp.py: Experiment (own supervisor)",
        "plain": "plain python: list + json.dump",
        "sacred": "Sacred FileStorageObserver",
    }
    for role, label in labels.items():
        if role in peaks:
            ratio = statistics.median(peaks[role]) / base
            print(f"  {label:<44} {spread(peaks[role])}   {ratio:4.2f}x plain python")
    print("wall time, median (min–max):")
    for name, times in walls.items():
        print(f"  {name:<44} {statistics.median(times):6.2f} s ({min(times):.2f}–{max(times):.2f})")


if __name__ == "__main__":
    main()
