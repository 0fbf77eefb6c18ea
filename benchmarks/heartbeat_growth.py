"""How much a long, chatty run grows ``.git``, against the size of its final record.

Runs ``gitxp run -b BEAT`` of a script that, ``--beats`` times, logs 2,000 scalars,
prints 1,500 lines and sleeps a little, in a new repository; then compares the bytes of
loose objects gitxp wrote with the bytes of the final ``metrics.json`` and ``output.log``
objects. Heartbeats that rewrite whole files grow it by about (heartbeats × final);
format 2 chunks by about 2× (the data once in chunks, once whole in the final record).
Prints the median of ``--repeat`` passes and its spread.

Usage::

    python benchmarks/heartbeat_growth.py                  # 30 rounds, 0.05 s beats, 5 passes
    python benchmarks/heartbeat_growth.py --beats 120 --beat 0.05 --repeat 3
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

SCRIPT = textwrap.dedent(
    """\
    import sys, time
    import gitxp
    for beat in range(int(sys.argv[1])):
        for i in range(2000):
            gitxp.log_scalar('loss', 1.0 / (beat * 2000 + i + 1))
        print(''.join(f'step {beat} {i} loss is going down nicely\\n' for i in range(1500)),
              end='', flush=True)
        time.sleep(0.06)
    """
)


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout


def _loose(repo: Path) -> int:
    objects = repo / ".git" / "objects"
    return sum(f.stat().st_size for d in objects.iterdir() if len(d.name) == 2 for f in d.iterdir())


def one_pass(rounds: int, beat: float) -> tuple[int, int]:
    """(bytes .git grew, bytes of the final metrics.json + output.log objects)."""
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp)
        _git(repo, "init", "-q")
        (repo / "chatty.py").write_text(SCRIPT)
        _git(repo, "add", "-A")
        _git(repo, "-c", "user.name=b", "-c", "user.email=b@b", "commit", "-qm", "init")
        before = _loose(repo)
        subprocess.run(
            [sys.executable, "-m", "gitxp", "run", "-b", str(beat), "chatty.py", str(rounds)],
            cwd=repo,
            check=True,
            capture_output=True,
        )
        grown = _loose(repo) - before
        (ref,) = _git(repo, "for-each-ref", "--format=%(refname)", "refs/gitxp/runs").split()
        final = 0
        for name in ("metrics.json", "output.log"):
            oid = _git(repo, "rev-parse", f"{ref}:.gitxp/{name}").strip()
            final += (repo / ".git" / "objects" / oid[:2] / oid[2:]).stat().st_size
        return grown, final


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--beats", type=int, default=30, help="rounds of the script")
    parser.add_argument("--beat", type=float, default=0.05, help="heartbeat interval (s)")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    ratios, grown_all, finals = [], [], []
    for _ in range(args.repeat):
        grown, final = one_pass(args.beats, args.beat)
        ratios.append(grown / final)
        grown_all.append(grown)
        finals.append(final)
    print(
        f"rounds {args.beats}, beat {args.beat} s, {args.repeat} passes: .git grew "
        f"{statistics.median(grown_all) / 1e6:.2f} MB for a final record of "
        f"{statistics.median(finals) / 1e6:.2f} MB; ratio median {statistics.median(ratios):.2f}x "
        f"(min {min(ratios):.2f}, max {max(ratios):.2f})"
    )


if __name__ == "__main__":
    main()
