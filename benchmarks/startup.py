"""Start-up cost of gitxp's commands against their floors, measured interleaved in one run.

    python benchmarks/startup.py [--files 5000] [--passes 15] [--runs 100] [--no-bytecode]

1. A trivial script (``print('hello')``) in a repository of ``--files`` files with a few
   edits and new files, its index refreshed (the stat cache valid): plain
   ``python trivial.py``, ``gitxp run trivial.py`` and the same script as a Sacred
   experiment with ``-F`` (a FileStorageObserver; needs the ``bench`` extra), one of each
   per pass, in turn. The project's virtual environment is the active one, so
   ``gitxp run`` starts the same interpreter as plain python.
2. A push with nothing new to send (``--runs`` runs, all on the remote already):
   ``gitxp push -q URL`` against ``git push -q URL 'refs/gitxp/runs/*:refs/gitxp/runs/*'``,
   to a local path and through ``git daemon`` on 127.0.0.1, in turn.

Bytecode caching is on, as in a default Python installation; ``--no-bytecode`` runs a copy
of gitxp without bytecode and ``PYTHONDONTWRITEBYTECODE=1``, as a machine that sets it
does (every gitxp module is compiled at each start). Prints
the median of each with its interquartile range and min–max, and the ratios.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))  # the git daemon of the test servers

from run_overhead import make_repo  # noqa: E402

SACRED_TRIVIAL = """\
from sacred import Experiment
ex = Experiment("trivial")

@ex.automain
def main():
    print("hello")
    return 1
"""
REFSPEC = "refs/gitxp/runs/*:refs/gitxp/runs/*"


def environment(no_bytecode: Path | None) -> dict[str, str]:
    """This interpreter's venv active, a pinned identity, bytecode caching as asked.

    ``no_bytecode``: a folder to copy gitxp into, without its ``__pycache__``, to run it
    from there with ``PYTHONDONTWRITEBYTECODE=1``, as on a machine that never wrote
    gitxp's bytecode (the installed libraries keep the bytecode pip compiled).
    """
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    if no_bytecode is not None:
        import gitxp

        package = Path(gitxp.__file__).parent
        shutil.copytree(
            package, no_bytecode / "gitxp", ignore=shutil.ignore_patterns("__pycache__")
        )
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(no_bytecode), env.get("PYTHONPATH")) if p
        )
    env["VIRTUAL_ENV"] = sys.prefix
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    for role in ("AUTHOR", "COMMITTER"):
        env[f"GIT_{role}_NAME"] = "bench"
        env[f"GIT_{role}_EMAIL"] = "bench@example.com"
    env["GIT_CONFIG_NOSYSTEM"] = "1"
    return env


def interleaved(cases: dict[str, Callable[[], object]], passes: int) -> dict[str, list[float]]:
    """Wall times of each case, one of each per pass in turn, after one warm-up pass."""
    times: dict[str, list[float]] = {name: [] for name in cases}
    for index in range(passes + 1):
        for name, action in cases.items():
            start = time.perf_counter()
            action()
            if index:
                times[name].append(time.perf_counter() - start)
    return times


def spread(values: list[float]) -> str:
    q1, _, q3 = statistics.quantiles(values, n=4)
    return (
        f"{statistics.median(values) * 1000:7.1f} ms  IQR {q1 * 1000:.1f}–{q3 * 1000:.1f}  "
        f"min–max {min(values) * 1000:.1f}–{max(values) * 1000:.1f}"
    )


def show(times: dict[str, list[float]]) -> dict[str, float]:
    for name, values in times.items():
        print(f"  {name:<36} {spread(values)}")
    return {name: statistics.median(values) for name, values in times.items()}


def runner(env: dict[str, str], cwd: Path) -> Callable[..., Callable[[], None]]:
    def make(*argv: str) -> Callable[[], None]:
        def action() -> None:
            proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True)
            if proc.returncode != 0:
                raise SystemExit(f"{' '.join(argv)} failed:\n{proc.stderr.decode()}")

        return action

    return make


def trivial_run(root: Path, files: int, passes: int, env: dict[str, str]) -> None:
    print(f"generating a repository of {files} files …", flush=True)
    repo = make_repo(root, files)
    py = sys.executable
    run = runner(env, repo)
    time.sleep(1.1)  # then no index entry is racily clean: the stat cache is valid
    run("git", "update-index", "-q", "--refresh")()
    cases = {
        "python trivial.py": run(py, "trivial.py"),
        "gitxp run trivial.py": run(py, "-m", "gitxp", "run", "-b", "0", "trivial.py"),
    }
    try:
        import sacred  # noqa: F401
    except ImportError:
        print("  (sacred not installed: pip install -e .[bench] to compare)")
    else:
        (repo / "sacred_trivial.py").write_text(SACRED_TRIVIAL)
        folder = str(root / "sacred_runs")
        cases["sacred_trivial.py -F (FileStorage)"] = run(py, "sacred_trivial.py", "-F", folder)
    print(f"\n1. a trivial script, whole process, {passes} passes interleaved")
    medians = show(interleaved(cases, passes))
    gitxp, plain = medians["gitxp run trivial.py"], medians["python trivial.py"]
    print(f"  gitxp run over plain python: {(gitxp - plain) * 1000:+.1f} ms (goal: ≤ +80 ms)")
    sacred_s = medians.get("sacred_trivial.py -F (FileStorage)")
    if sacred_s:
        print(f"  gitxp run / sacred -F: {gitxp / sacred_s:.2f}x (goal: ≤ 0.30x)")


def noop_push(root: Path, runs: int, passes: int, env: dict[str, str]) -> None:
    from servers import GitDaemon

    project = root / "project"
    project.mkdir()
    run = runner(env, project)
    run("git", "init", "-q")()
    (project / "train.py").write_text("import gitxp\ngitxp.log_scalar('loss', 0.5)\n")
    run("git", "add", "-A")()
    run("git", "commit", "-qm", "init")()
    print(f"\nrecording {runs} runs …", flush=True)
    code = (
        "from gitxp.git.repo import GitRepo\n"
        "from gitxp.store.recorder import Recorder, RunSpec\n"
        f"for i in range({runs}):\n"
        "    r = Recorder.start(GitRepo('.'), RunSpec(command=['train.py'], config={'i': i}))\n"
        "    r.spool.log_scalar('loss', 1.0 / (i + 1))\n"
        "    r.finish('COMPLETED', exit_code=0)\n"
    )
    run(sys.executable, "-c", code)()
    served = root / "served"
    served.mkdir()
    run("git", "init", "-q", "--bare", str(served / "runs.git"))()
    daemon = GitDaemon(served)
    try:
        cases = {}
        for label, url in (
            ("path", str(served / "runs.git")),
            ("git daemon", daemon.url("runs.git")),
        ):
            run("git", "push", "-q", url, REFSPEC)()
            cases[f"git push, nothing new ({label})"] = run("git", "push", "-q", url, REFSPEC)
            cases[f"gitxp push, nothing new ({label})"] = run(
                sys.executable, "-m", "gitxp", "push", "-q", url
            )
        print(
            f"\n2. a push with nothing new ({runs} runs on the remote), {passes} passes interleaved"
        )
        medians = show(interleaved(cases, passes))
    finally:
        daemon.stop()
    for label in ("path", "git daemon"):
        ratio = (
            medians[f"gitxp push, nothing new ({label})"]
            / medians[f"git push, nothing new ({label})"]
        )
        print(f"  gitxp push / git push ({label}): {ratio:.2f}x (goal: ≤ 3x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--passes", type=int, default=15)
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--no-bytecode", action="store_true", help="PYTHONDONTWRITEBYTECODE=1")
    parser.add_argument("--only", choices=["run", "push"], help="one of the two parts")
    args = parser.parse_args()
    print(
        f"command: {' '.join([os.path.basename(sys.executable), *sys.argv])}\n"
        f"bytecode caching: {'off (PYTHONDONTWRITEBYTECODE=1)' if args.no_bytecode else 'on'}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        env = environment(root / "nocache" if args.no_bytecode else None)
        if args.only != "push":
            trivial_run(root, args.files, args.passes, env)
        if args.only != "run":
            noop_push(root, args.runs, args.passes, env)


if __name__ == "__main__":
    main()
