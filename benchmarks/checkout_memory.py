"""Peak memory of ``gitxp checkout`` writing one large file back from a run.

    python benchmarks/checkout_memory.py [--mb 256] [--repeat 3] [--code PATH]

A repository whose tracked ``big.bin`` (random bytes) was changed before a run, so the
run's snapshot holds a new ``--mb`` MB blob; the file is then put back to HEAD's content
and ``gitxp checkout RUN`` writes the run's version. Each pass runs the checkout as its own
``python -m gitxp`` process and reads its peak resident set (``VmHWM``) and that of its
children (``git cat-file``, through ``getrusage``). ``--code`` runs another checkout of
gitxp (``PYTHONPATH``), to measure the code before a change. Prints the median and range.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

PROBE = """
import atexit, resource, sys
def report():
    peak = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1]
    child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(f'PEAK {int(peak) // 1024} {child // 1024}', file=sys.stderr)
atexit.register(report)
from gitxp.cli.main import main
main(sys.argv[1:])
"""


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout


def make_repo(root: Path, size: int) -> tuple[Path, str]:
    repo = root / "project"
    repo.mkdir()
    git(repo, "init", "-q")
    git(repo, "config", "user.email", "bench@example.com")
    git(repo, "config", "user.name", "bench")
    (repo / "train.py").write_text("print('ok')\n")
    with open(repo / "big.bin", "wb") as out:
        out.write(os.urandom(size))
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "big")
    with open(repo / "big.bin", "r+b") as out:  # the run's version differs in its first MB
        out.write(os.urandom(1 << 20))
    proc = subprocess.run(
        [sys.executable, "-m", "gitxp", "run", "train.py"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    )
    run_id = proc.stderr.split("gitxp: run ", 1)[1].split()[0]
    return repo, run_id


def checkout_peak(repo: Path, run_id: str, code: str | None) -> tuple[int, int]:
    git(repo, "checkout", "--", "big.bin")  # HEAD's version back: checkout must write it
    env = dict(os.environ)
    if code:
        env["PYTHONPATH"] = code
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, "checkout", run_id],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    line = [x for x in proc.stderr.splitlines() if x.startswith("PEAK")][-1]
    _, own, children = line.split()
    return int(own), int(children)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=int, default=256)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--code", default=None, help="a gitxp checkout to run instead")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gitxp-bench-") as tmp:
        repo, run_id = make_repo(Path(tmp), args.mb << 20)
        peaks = [checkout_peak(repo, run_id, args.code) for _ in range(args.repeat)]
    own = [p[0] for p in peaks]
    kids = [p[1] for p in peaks]
    print(
        f"checkout of a {args.mb} MB file: gitxp peak RSS median {statistics.median(own)} MB "
        f"(range {min(own)}-{max(own)}), children (git) median {statistics.median(kids)} MB "
        f"(range {min(kids)}-{max(kids)}), {args.repeat} passes"
    )


if __name__ == "__main__":
    main()
