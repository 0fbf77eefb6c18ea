"""How gitxp's per-run costs grow with the runs a repository holds, its files, and metric names.

    python benchmarks/growth.py                 # the figures in docs/performance.md ("Growth")
    python benchmarks/growth.py --quick         # smaller sizes, under 2 minutes
    python benchmarks/growth.py --only runs --runs 0,100000 --repeat 7

Three tables. In every pass each size and its baseline take turns (A, B, A, B …), so load
from other processes falls on both alike; a warm-up pass is dropped; medians of
``--repeat`` passes with min–max:

1. **runs**: ``gitxp run trivial.py`` in a repository that already holds N finished runs
   (``bulk_runs.py``: the Recorder's format written by ``git fast-import``; refs loose, as
   gitxp's recorder leaves them, and packed, as ``git gc`` leaves them) against
   ``python trivial.py`` in the same repository. Overhead: the two's difference in each
   pass, in wall time and in CPU time (of the processes waited for: steadier than wall
   time on a busy machine); ratio: to the overhead at the smallest N. Beside it, the first run ref a
   process creates, through libgit2's ``references.create`` (which reads all of
   ``packed-refs``) and through ``GitRepo.create_ref`` (a transaction).
2. **files**: a repository of F files (``run_overhead.make_repo``: 20 kB each, 5 edited
   and 5 new): the pre-run snapshot against ``git stash create``, and ``gitxp run`` against
   plain python; ratio of the overhead to the smallest F.
3. **names**: V values logged round-robin under K names (``metric_names.py``): recording
   (the spool, then the final record commit) against Sacred's ``MetricsLogger`` and its
   FileStorageObserver writing ``metrics.json``; reading back whole against ``json.load``
   of that file.

The script runs under the interpreter running this one, its venv first on PATH (so
``gitxp run`` chooses it too) and bytecode caching on, as ``run_overhead.py`` runs it.
Generated repositories are kept in ``--cache`` (default ``<tmp>/gitxp-growth``), keyed by
size and generator version; the runs a measurement records are deleted again, so a kept
repository holds exactly its N runs. ``--fresh`` generates them again. Nothing asserts.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bulk_runs  # noqa: E402
import metric_names  # noqa: E402
import run_overhead  # noqa: E402

from gitxp.git.repo import RUNS_PREFIX, GitRepo  # noqa: E402
from gitxp.git.snapshot import take_snapshot  # noqa: E402
from gitxp.store import record  # noqa: E402
from gitxp.store.recorder import Recorder, RunSpec  # noqa: E402

GENERATOR = 1  # bump when bulk_runs or make_repo write something else: kept repos go stale
DEFAULTS = {"runs": "0,1000,10000,100000", "files": "500,5000,50000", "names": "10,1000,10000"}
QUICK = {"runs": "0,1000,10000", "files": "500,5000", "names": "10,1000"}
PY = sys.executable
K = TypeVar("K")
ENV = run_overhead.ENV  # this interpreter's venv first on PATH, bytecode caching on


@dataclass
class Times:
    """Seconds of one action over the passes: wall time, and CPU time (this process and
    the processes it waited for), which waiting for a busy machine's CPUs leaves out."""

    values: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    def median(self, cpu: bool = False) -> float:
        return statistics.median(self.cpu if cpu else self.values)

    def cell(self, cpu: bool = False) -> str:
        """``233.7 ms (220.1–250.3)``: the median and the spread."""
        values = self.cpu if cpu else self.values
        lo, hi = min(values), max(values)
        return f"{ms(self.median(cpu))} ({ms(lo, unit=False)}–{ms(hi, unit=False)})"


def cpu_seconds() -> float:
    own, waited = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + waited.ru_utime + waited.ru_stime


def ms(seconds: float, unit: bool = True) -> str:
    text = f"{seconds * 1000:,.1f}" if seconds < 10 else f"{seconds * 1000:,.0f}"
    return text + (" ms" if unit else "")


class Elapsed(float):
    """Seconds an action returns to report the part of it that counts."""


Cases = dict[K, dict[str, Callable[[], object]]]


def take_turns(cases: Cases[K], repeat: int) -> dict[K, dict[str, Times]]:
    """Every action of every case in turn, pass after pass, the first pass a warm-up
    (dropped). An action is timed whole unless it returns :class:`Elapsed`."""
    times = {key: {col: Times() for col in actions} for key, actions in cases.items()}
    for kept_pass in [False] + [True] * repeat:
        for key, actions in cases.items():
            for col, action in actions.items():
                began, cpu = time.perf_counter(), cpu_seconds()
                part = action()
                took = part if isinstance(part, Elapsed) else time.perf_counter() - began
                if kept_pass:
                    times[key][col].values.append(took)
                    times[key][col].cpu.append(cpu_seconds() - cpu)
    return times


def growth(extra: Times, base: Times) -> list[str]:
    """The overhead's cells, wall and CPU, each with its ratio to ``base``'s."""
    cells = []
    for cpu in (False, True):
        cells += [extra.cell(cpu), f"{extra.median(cpu) / base.median(cpu):.2f}×"]
    return cells


def growth_header(smallest: str) -> list[str]:
    return ["overhead", f"× {smallest}", "overhead, CPU", f"× {smallest}, CPU"]


def ratio(a: Times, b: Times) -> str:
    return f"{a.median() / b.median():.2f}×"


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


# -- kept repositories --------------------------------------------------------------------


def kept(cache: Path, name: str, make: Callable[[Path], object], fresh: bool) -> Path:
    """``cache/name``, made by ``make`` unless a complete one is there already."""
    path, done = cache / name, cache / f"{name}.done"
    if fresh or not done.exists():
        shutil.rmtree(path, ignore_errors=True)
        done.unlink(missing_ok=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        began = time.perf_counter()
        make(path)
        done.write_text("")
        print(f"  generated {name} in {time.perf_counter() - began:.1f} s", flush=True)
    return path


def run_count(repo: Path) -> int | None:
    """How many run refs a kept repository holds (None: there is none): a run recorded
    there by hand makes it stale."""
    if not repo.is_dir():
        return None
    listing = subprocess.run(
        ["git", "for-each-ref", "--format=.", RUNS_PREFIX],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return len(listing.splitlines())


class Recorded:
    """The runs a measurement recorded in a kept repository, deleted again at the end."""

    def __init__(self) -> None:
        self.runs: dict[Path, list[str]] = {}

    def gitxp_run(self, repo: Path) -> None:
        done = subprocess.run(
            [PY, "-m", "gitxp", "run", "-b", "0", "trivial.py"],
            cwd=repo,
            env=ENV,
            check=True,
            capture_output=True,
            text=True,
        )
        found = re.search(r"^gitxp: run (\S+) \(", done.stderr, re.MULTILINE)
        assert found is not None, done.stderr
        self.runs.setdefault(repo, []).append(found.group(1))

    def delete(self) -> None:
        for repo, ids in self.runs.items():
            lines = "".join(f"delete {RUNS_PREFIX}{run_id}\n" for run_id in ids)
            subprocess.run(
                ["git", "update-ref", "--stdin"], cwd=repo, input=lines.encode(), check=True
            )
        self.runs.clear()


def plain_python(repo: Path) -> None:
    subprocess.run([PY, "trivial.py"], cwd=repo, env=ENV, check=True, capture_output=True)


def overhead(row: dict[str, Times]) -> Times:
    """``gitxp run`` minus plain python, pass by pass (they ran side by side)."""
    run, plain = row["run"], row["python"]
    return Times(
        [a - b for a, b in zip(run.values, plain.values, strict=True)],
        [a - b for a, b in zip(run.cpu, plain.cpu, strict=True)],
    )


# -- 1. existing runs ---------------------------------------------------------------------


def runs_table(sizes: list[int], repeat: int, cache: Path, fresh: bool) -> str:
    repos: dict[tuple[int, str], Path] = {}
    for count in sizes:
        name = f"runs-v{GENERATOR}-{count}"
        stale = fresh or any(
            run_count(cache / n) not in (None, count) for n in (name, f"{name}-packed")
        )
        loose = kept(cache, name, lambda p, n=count: bulk_runs.make_runs_repo(p, n), stale)
        repos[count, "loose"] = loose
        if count:
            repos[count, "packed"] = kept(
                cache, f"{name}-packed", lambda p, s=loose: bulk_runs.pack_refs_copy(s, p), stale
            )
    recorded = Recorded()
    cases: Cases[tuple[int, str]] = {
        key: {
            "python": lambda r=repo: plain_python(r),
            "run": lambda r=repo: recorded.gitxp_run(r),
            "libgit2": lambda r=repo: first_create(r, libgit2=True),
            "create_ref": lambda r=repo: first_create(r, libgit2=False),
        }
        for key, repo in repos.items()
    }
    try:
        times = take_turns(cases, repeat)
    finally:
        recorded.delete()
    base = overhead(times[sizes[0], "loose"])
    rows = []
    for (count, refs), row in times.items():
        extra = overhead(row)
        rows.append(
            [
                f"{count:,}",
                refs if count else "—",
                row["python"].cell(),
                row["run"].cell(),
                *growth(extra, base),
                row["libgit2"].cell(),
                row["create_ref"].cell(),
            ]
        )
    header = ["existing runs", "refs", "`python trivial.py`", "`gitxp run trivial.py`"]
    header += growth_header(f"{sizes[0]:,} runs")
    header += ["first ref: `references.create`", "`create_ref`"]
    return table(header, rows)


PROBE = RUNS_PREFIX + "0" * 26


def first_create(repo: Path, libgit2: bool) -> Elapsed:
    """Seconds to create a run ref in a repository just opened (its packed-refs not read
    yet), through libgit2's ``references.create`` or ``GitRepo.create_ref``; deleted after."""
    import pygit2

    opened = GitRepo(repo)
    head = opened.head().commit
    assert head is not None
    began = time.perf_counter()
    if libgit2:
        opened.repo.references.create(PROBE, pygit2.Oid(hex=head))
    else:
        opened.create_ref(PROBE, head)
    took = Elapsed(time.perf_counter() - began)
    opened.repo.references.delete(PROBE)
    return took


# -- 2. files -----------------------------------------------------------------------------


def files_table(sizes: list[int], repeat: int, cache: Path, fresh: bool) -> str:
    def make(path: Path, files: int) -> None:
        path.mkdir()
        run_overhead.make_repo(path, files)

    repos = {
        files: kept(cache, f"files-v{GENERATOR}-{files}", lambda p, f=files: make(p, f), fresh)
        / "big"
        for files in sizes
    }
    recorded = Recorded()
    cases: Cases[int] = {
        files: {
            "stash": lambda r=repo: stash(r),
            "snapshot": lambda r=repo: snapshot(r),
            "python": lambda r=repo: plain_python(r),
            "run": lambda r=repo: recorded.gitxp_run(r),
        }
        for files, repo in repos.items()
    }
    try:
        times = take_turns(cases, repeat)
    finally:
        recorded.delete()
    base = overhead(times[sizes[0]])
    rows = []
    for files, row in times.items():
        rows.append(
            [
                f"{files:,}",
                row["stash"].cell(),
                row["snapshot"].cell(),
                ratio(row["snapshot"], row["stash"]),
                row["python"].cell(),
                row["run"].cell(),
                *growth(overhead(row), base),
            ]
        )
    header = ["files", "`git stash create`", "snapshot", "× stash", "`python trivial.py`"]
    header += ["`gitxp run trivial.py`", *growth_header(f"{sizes[0]:,} files")]
    return table(header, rows)


def snapshot(repo: Path) -> None:
    take_snapshot(GitRepo(repo))  # a fresh GitRepo, as each `gitxp run` has


def stash(repo: Path) -> None:
    subprocess.run(["git", "stash", "create"], cwd=repo, env=ENV, check=True, capture_output=True)


# -- 3. metric names ----------------------------------------------------------------------


def sacred_record(root: Path, values: int, count: int) -> None:
    """What Sacred does for the same values: its MetricsLogger, then its
    FileStorageObserver's ``log_metrics`` writing ``metrics.json``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from sacred.metrics_logger import MetricsLogger, linearize_metrics
        from sacred.observers import FileStorageObserver

    logger = MetricsLogger()
    names = [f"layer{i}.grad_norm" for i in range(count)]
    for i in range(values):
        logger.log_scalar_metric(names[i % count], float(i))
    observer = FileStorageObserver(str(root / "sacred"))
    observer.dir = str(root)
    (root / "metrics.json").unlink(missing_ok=True)
    observer.log_metrics(linearize_metrics(logger.get_last_metrics()), {})


def gitxp_record(repo: GitRepo, values: int, count: int) -> None:
    """``values`` scalars through a run's spool, then its final record commit."""
    recorder = Recorder.start(repo, RunSpec(command=["bench"]))
    names = [f"layer{i}.grad_norm" for i in range(count)]
    log = recorder.spool.log_scalar
    for i in range(values):
        log(names[i % count], float(i))
    recorder.finish("COMPLETED")


def names_table(sizes: list[int], values: int, repeat: int) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        small = root / "project"
        small.mkdir()
        run_overhead.sh(small, "git", "init", "-q")
        (small / "a.py").write_text("pass\n")
        run_overhead.sh(small, "git", "add", "-A")
        run_overhead.sh(small, "git", "commit", "-q", "-m", "x")
        repo = GitRepo(small)
        cases: Cases[int] = {}
        for count in sizes:
            (root / str(count)).mkdir()
            (root / f"sacred-{count}").mkdir()
            folder, sacred = metric_names.log_round_robin(root / str(count), values, count)
            cases[count] = {
                "record": lambda c=count: gitxp_record(repo, values, c),
                "sacred record": lambda c=count: sacred_record(root / f"sacred-{c}", values, c),
                "read": lambda f=folder: metric_names.read_gitxp(f),
                "sacred read": lambda s=sacred: metric_names.read_sacred(s),
            }
        times = take_turns(cases, repeat)
    rows = [
        [
            f"{count:,}",
            row["record"].cell(),
            row["sacred record"].cell(),
            ratio(row["record"], row["sacred record"]),
            row["read"].cell(),
            row["sacred read"].cell(),
            ratio(row["read"], row["sacred read"]),
        ]
        for count, row in times.items()
    ]
    header = ["names", "record: gitxp", "Sacred", "×", "read: gitxp", "Sacred folder", "×"]
    return table(header, rows)


# -- the command ----------------------------------------------------------------------------


def sizes_of(text: str) -> list[int]:
    return [int(part.replace("_", "")) for part in text.split(",") if part]


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return " ".join(f"{v:.2f}" for v in os.getloadavg())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="Smaller sizes (under 2 minutes).")
    parser.add_argument("--runs", help=f"Existing runs (default {DEFAULTS['runs']}).")
    parser.add_argument("--files", help=f"Files in the repository (default {DEFAULTS['files']}).")
    parser.add_argument("--names", help=f"Metric names (default {DEFAULTS['names']}).")
    parser.add_argument("--values", type=int, default=100_000, help="Values logged (100,000).")
    parser.add_argument("--repeat", type=int, default=5, help="Passes kept (5).")
    parser.add_argument("--only", default="runs,files,names", help="Tables to measure.")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "gitxp-growth")
    parser.add_argument("--fresh", action="store_true", help="Generate kept repositories again.")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else DEFAULTS
    only = set(args.only.split(","))
    command = " ".join(
        ["python", "benchmarks/growth.py", *(sys.argv[1:] if argv is None else argv)]
    )
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=HERE, capture_output=True, text=True
    ).stdout.strip()
    print(f"`{command}` (gitxp {head}, record format {record.FORMAT})")
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"{cpus} CPUs; load average at start {loadavg()}; median of {args.repeat} (min–max)")
    began = time.perf_counter()
    out = []
    if "runs" in only:
        print("\n1. per-run overhead with existing runs", flush=True)
        out.append(
            runs_table(sizes_of(args.runs or sizes["runs"]), args.repeat, args.cache, args.fresh)
        )
        print(out[-1], flush=True)
    if "files" in only:
        print("\n2. per-run overhead by repository size", flush=True)
        out.append(
            files_table(sizes_of(args.files or sizes["files"]), args.repeat, args.cache, args.fresh)
        )
        print(out[-1], flush=True)
    if "names" in only:
        print(f"\n3. {args.values:,} values under many metric names", flush=True)
        out.append(names_table(sizes_of(args.names or sizes["names"]), args.values, args.repeat))
        print(out[-1], flush=True)
    took = time.perf_counter() - began
    print(f"\nload average at end {loadavg()}; {took:.0f} s in all", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
