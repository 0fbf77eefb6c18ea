"""Query speed at ten thousand runs: gitxp's cache against one-folder-per-run JSON files.

Generates N finished runs (config, 3 metrics of 100 steps each) twice, the same data:

- as gitxp run commits on ``refs/gitxp/runs/<id>``, written straight through
  :class:`gitxp.git.repo.GitRepo` in the format the Recorder writes (snapshot commit, then
  record commit whose run.json holds the metrics summary; loose objects and loose refs,
  as runs recorded one by one leave them);
- as Sacred's FileStorage layout: ``<root>/<n>/{run.json,config.json,metrics.json}``.

Then it times, in rounds in which the readers take turns (so load from other processes
falls on all of them alike), median and spread of ``--repeat`` rounds:

- ``folders``: read every folder's three JSON files into the same pandas frame
  (``config.<key>`` and ``metrics.<name>.last|min|max`` columns, UTC timestamps);
- ``gitxp.runs()`` cold: the query cache deleted first, every run read from git;
- both again, each in a fresh process (interpreter start and imports included, as a
  user's first query pays them), with the CPU time (user + system, which load from
  other processes disturbs less than wall time) and peak resident memory (VmHWM) of
  that process;
- ``gitxp.runs()`` warm: the cache in place and up to date;
- ``gitxp ls`` and ``gitxp ls --where``: the whole command in a fresh process
  (interpreter start included), warm cache;

and all of it again after ``git gc`` (packed objects and refs, as a repository that has
seen ``git gc --auto`` holds them).

Usage::

    python benchmarks/query.py                 # 10,000 runs in a temporary folder
    python benchmarks/query.py --runs 1000 --repeat 3 --keep /tmp/bench --no-gc
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

if TYPE_CHECKING:  # imported where used: the folders reader's own process loads no gitxp
    from gitxp.git.repo import GitRepo

METRICS = ("loss", "accuracy", "lr")
STEPS = 100
OPTIMIZERS = ("adam", "sgd", "rmsprop")


# -- the data --------------------------------------------------------------------------


def fake_run(index: int, start: float, rng: random.Random) -> dict[str, Any]:
    """One run's content: info fields, config and metrics (the same for both layouts)."""
    lr = rng.choice([0.1, 0.03, 0.01, 0.003, 0.001])
    config = {
        "lr": lr,
        "batch_size": rng.choice([32, 64, 128]),
        "epochs": 10,
        "seed": index,
        "model": {"depth": rng.randint(2, 12), "width": rng.choice([64, 128, 256])},
        "optimizer": {"name": rng.choice(OPTIMIZERS), "momentum": 0.9},
        "dataset": "cifar10",
    }
    stamps = [start + 0.5 * s for s in range(STEPS)]
    steps = list(range(STEPS))
    loss = [2.5 * math.exp(-lr * 30 * s / STEPS) + rng.random() * 0.05 for s in steps]
    acc = [1.0 - v / 2.6 for v in loss]
    sched = [lr * (0.97**s) for s in steps]
    metrics = {
        name: {"steps": steps, "values": values, "timestamps": stamps}
        for name, values in zip(METRICS, (loss, acc, sched), strict=True)
    }
    stop = start + 0.5 * STEPS
    return {
        "start": start,
        "stop": stop,
        "config": config,
        "metrics": metrics,
        "result": acc[-1],
        "status": "COMPLETED" if index % 20 else "FAILED",
    }


def run_info(run_id: str, data: dict[str, Any], base: str, final: bool) -> dict[str, Any]:
    """run.json as the Recorder writes it (snapshot commit: RUNNING; record: final)."""
    from gitxp.store import record

    info: dict[str, Any] = {
        "id": run_id,
        "experiment": "train",
        "name": None,
        "command": ["python", "train.py", "with", f"lr={data['config']['lr']}"],
        "cwd": ".",
        "status": data["status"] if final else "RUNNING",
        "start_time": record.iso(data["start"]),
        "stop_time": record.iso(data["stop"]) if final else None,
        "heartbeat": record.iso(data["stop"] if final else data["start"]),
        "exit_code": (0 if data["status"] == "COMPLETED" else 1) if final else None,
        "result": data["result"] if final and data["status"] == "COMPLETED" else None,
        "fail_trace": None,
        "base_commit": base,
        "branch": "main",
        "detached": False,
        "dirty": False,
        "skipped_files": [],
        "seed": data["config"]["seed"],
        "comment": None,
        "tags": ["bench"],
        "capture": "fd",
        "config_docs": {},
    }
    if final:
        info.update(info={}, artifacts=[], resources=[])
    return info


HOST = {"hostname": "bench-host", "os": {"system": "Linux"}, "python": {"version": "3.11"}}


def make_git_runs(path: Path, count: int, seed: int = 0) -> float:
    """``count`` finished runs in a new repository at ``path``; returns seconds taken."""
    from gitxp.git.repo import GitRepo

    began = time.perf_counter()
    path.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(path)], check=True)
    write_runs(GitRepo(path), count, seed)
    return time.perf_counter() - began


def write_runs(
    repo: GitRepo, count: int, seed: int = 0, start: float | None = None, summaries: bool = True
) -> list[str]:
    """Write ``count`` finished runs into ``repo`` as the Recorder would; returns their ids.

    Each run is a snapshot commit (run.json RUNNING, config, env lock, host facts) on a
    shared base commit, then a record commit (final run.json with its metrics summary,
    metrics, output) that its ref ``refs/gitxp/runs/<id>`` points at. ``summaries=False``
    leaves the summary out, as gitxp wrote runs before it had them.
    """
    from gitxp.git.repo import RUNS_PREFIX
    from gitxp.store import record
    from gitxp.store.ids import new_run_id

    base = repo.write_commit(
        repo.write_tree(
            {"train.py": b"import gitxp\ncfg = gitxp.config()\n", "README.md": b"# bench\n"}
        ),
        [],
        "initial",
    )
    source = repo.commit_tree(base)
    blob = 0o100644
    shared = {
        "format": (repo.write_blob(record.FORMAT_TEXT.encode()), blob),
        "env.lock": (repo.write_blob(b"pandas==3.0\n"), blob),
        "host.json": (repo.write_blob(record.dump_json(HOST)), blob),
    }
    output = (repo.write_blob(b"training\n"), blob)
    rng = random.Random(seed)
    first = time.time() - count * 60.0 if start is None else start
    ids = []
    for index in range(count):
        data = fake_run(index, first + index * 60.0, rng)
        run_id = new_run_id(data["start"])
        snap_info = run_info(run_id, data, base, final=False)
        snap_files: dict[str, Any] = {
            **shared,
            "run.json": record.dump_json(snap_info),
            "config.yaml": (repo.write_blob(record.dump_yaml(data["config"])), blob),
        }
        snap_tree = repo.write_tree({record.RECORD_DIR: snap_files}, base=source)
        snap = repo.write_commit(snap_tree, [base], record.commit_message(snap_info))
        info = run_info(run_id, data, base, final=True)
        if summaries:
            info["metrics_summary"] = record.summarize_metrics(data["metrics"])
        final_files = {
            **snap_files,
            "run.json": record.dump_json(info),
            "metrics.json": record.dump_metrics(data["metrics"]),
            "output.log": output,
        }
        tree = repo.write_tree({record.RECORD_DIR: final_files}, base=source)
        commit = repo.write_commit(tree, [snap], record.commit_message(info))
        repo.create_ref(RUNS_PREFIX + run_id, commit)
        ids.append(run_id)
    return ids


def make_folders(root: Path, count: int, seed: int = 0) -> float:
    """The same runs in Sacred's FileStorage layout; returns seconds taken."""
    began = time.perf_counter()
    rng = random.Random(seed)
    start = time.time() - count * 60.0
    for index in range(count):
        data = fake_run(index, start + index * 60.0, rng)
        folder = root / str(index + 1)
        folder.mkdir(parents=True)
        info = {
            "experiment": {"name": "train", "base_dir": "/project", "sources": []},
            "command": "main",
            "status": data["status"],
            "start_time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(data["start"])),
            "stop_time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(data["stop"])),
            "heartbeat": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(data["stop"])),
            "result": data["result"] if data["status"] == "COMPLETED" else None,
            "host": HOST,
            "meta": {"comment": None, "options": {}},
            "resources": [],
            "artifacts": [],
        }
        (folder / "run.json").write_text(json.dumps(info, indent=2))
        (folder / "config.json").write_text(json.dumps(data["config"], indent=2))
        sacred_metrics = {
            name: {
                "steps": series["steps"],
                "values": series["values"],
                "timestamps": [
                    time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) for t in series["timestamps"]
                ],
            }
            for name, series in data["metrics"].items()
        }
        (folder / "metrics.json").write_text(json.dumps(sacred_metrics, indent=2))
    return time.perf_counter() - began


# -- the baseline reader -----------------------------------------------------------------


def _flatten(prefix: str, value: Any, out: dict[str, Any]) -> None:
    if isinstance(value, dict) and value:
        for key, sub in value.items():
            _flatten(f"{prefix}.{key}", sub, out)
    else:
        out[prefix] = value


def read_folders(root: Path) -> Any:
    """Every run folder read into one pandas frame, the way a Sacred user would."""
    import pandas as pd

    rows = []
    for entry in os.scandir(root):
        if not entry.name.isdigit():
            continue
        with open(os.path.join(entry.path, "run.json"), "rb") as handle:
            info = json.load(handle)
        with open(os.path.join(entry.path, "config.json"), "rb") as handle:
            config = json.load(handle)
        with open(os.path.join(entry.path, "metrics.json"), "rb") as handle:
            metrics = json.load(handle)
        row: dict[str, Any] = {
            "id": entry.name,
            "experiment": info["experiment"]["name"],
            "status": info["status"],
            "start": info.get("start_time"),
            "stop": info.get("stop_time"),
            "result": info.get("result"),
            "host": info.get("host", {}).get("hostname"),
        }
        for key, value in config.items():
            _flatten(f"config.{key}", value, row)
        for name, series in metrics.items():
            values = series["values"]
            if values:
                row[f"metrics.{name}.last"] = values[-1]
                row[f"metrics.{name}.min"] = min(values)
                row[f"metrics.{name}.max"] = max(values)
        rows.append(row)
    frame = pd.DataFrame(rows)
    for column in ("start", "stop"):
        frame[column] = pd.to_datetime(frame[column], utc=True, format="ISO8601")
    frame["duration"] = (frame["stop"] - frame["start"]).dt.total_seconds()
    return frame


# -- timing ------------------------------------------------------------------------------


def timed(action: Callable[[], Any]) -> float:
    """Seconds ``action`` took."""
    began = time.perf_counter()
    action()
    return time.perf_counter() - began


def child(kind: str, path: Path) -> int:
    """In a fresh process: read ``path`` (folders, or a gitxp project) into the frame;
    print the peak resident memory in MiB."""
    if kind == "folders":
        frame = read_folders(path)
    else:
        import gitxp

        frame = gitxp.runs(path)
    assert len(frame) > 0
    with open("/proc/self/status") as handle:
        peak = next(int(line.split()[1]) for line in handle if line.startswith("VmHWM"))
    used = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"peak_mib": peak / 1024, "cpu": used.ru_utime + used.ru_stime}))
    return 0


def measure(project: Path, folders: Path, repeat: int) -> dict[str, list[float]]:
    """Seconds of each reader (and peak MiB of the fresh processes), every round; the
    readers take turns in every round, so load from other processes on the machine falls
    on all of them alike."""
    import gitxp
    from gitxp.git.repo import GitRepo

    cache = GitRepo(project).state_dir / "cache"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    peaks: dict[str, list[float]] = {"folders, fresh": [], "cold, fresh": []}
    cpus: dict[str, list[float]] = {"folders, fresh": [], "cold, fresh": []}

    def drop_cache() -> None:
        shutil.rmtree(cache, ignore_errors=True)

    def fresh(kind: str, path: Path, label: str) -> Callable[[], Any]:
        argv = [sys.executable, __file__, "--child", kind, str(path)]

        def run() -> None:
            proc = subprocess.run(argv, env=env, check=True, capture_output=True, text=True)
            got = json.loads(proc.stdout)
            peaks[label].append(got["peak_mib"])
            cpus[label].append(got["cpu"])

        return run

    def command(*args: str) -> Callable[[], Any]:
        argv = [sys.executable, "-m", "gitxp", "ls", *args]
        return lambda: subprocess.run(argv, cwd=project, env=env, check=True, capture_output=True)

    readers: dict[str, Callable[[], Any]] = {
        "folders": lambda: read_folders(folders),
        "cold": lambda: gitxp.runs(project),
        "folders, fresh": fresh("folders", folders, "folders, fresh"),
        "cold, fresh": fresh("gitxp", project, "cold, fresh"),
        "warm": lambda: gitxp.runs(project),
        "ls": command(),
        "ls --where": command("--where", "config.lr > 0.01 and metrics.loss.min < 0.5"),
    }
    times: dict[str, list[float]] = {name: [] for name in readers}
    for _ in range(repeat):
        for name, action in readers.items():
            if name.startswith("cold"):
                drop_cache()
            times[name].append(timed(action))
    return {
        **times,
        **{f"{name} peak": values for name, values in peaks.items()},
        **{f"{name} cpu": values for name, values in cpus.items()},
    }


LABELS = {
    "folders": "folders: JSON files → pandas",
    "cold": "gitxp.runs() cold (no cache)",
    "folders, fresh": "folders, fresh process",
    "cold, fresh": "gitxp.runs() cold, fresh process",
    "warm": "gitxp.runs() warm",
    "ls": "gitxp ls (whole command)",
    "ls --where": "gitxp ls --where (whole command)",
}


def spread(values: list[float], scale: float = 1000.0) -> str:
    """``median (min–max)`` of ``values`` times ``scale``, whole numbers."""
    low, mid, high = min(values), statistics.median(values), max(values)
    return f"{mid * scale:.0f} ({low * scale:.0f}–{high * scale:.0f})"


def report(title: str, result: dict[str, list[float]]) -> None:
    """Print ``result`` as medians with their spread, ratios to the folder baseline, and
    the targets."""
    med = {name: statistics.median(values) for name, values in result.items()}
    print(f"\n{title}")
    for name, label in LABELS.items():
        base = med["folders, fresh" if "fresh" in name else "folders"]
        ratio = med[name] / base
        print(f"  {label:<34} {spread(result[name]):>22} ms  {ratio:5.2f}× folders' time")
    for name in ("folders, fresh", "cold, fresh"):
        ratio = med[name + " cpu"] / med["folders, fresh cpu"]
        print(f"  CPU time, {name:<24} {spread(result[name + ' cpu']):>22} ms  {ratio:5.2f}×")
    for name in ("folders, fresh", "cold, fresh"):
        print(f"  peak memory, {name:<21} {spread(result[name + ' peak'], 1):>22} MiB")
    warm, cold, fresh = med["warm"], med["cold"], med["cold, fresh"]
    base, base_fresh = med["folders"], med["folders, fresh"]
    peak, base_peak = med["cold, fresh peak"], med["folders, fresh peak"]
    checks = [
        (f"warm ≥ 10× faster than folders: {base / warm:.1f}×", base / warm >= 10),
        (f"cold no slower than folders: {cold:.2f} s vs {base:.2f} s", cold <= base),
        (
            f"cold in a fresh process no slower than folders: {fresh:.2f} s vs "
            f"{base_fresh:.2f} s ({fresh / base_fresh:.2f}×)",
            fresh <= base_fresh,
        ),
        (f"cold peak memory ≤ folders': {peak:.0f} vs {base_peak:.0f} MiB", peak <= base_peak),
        (f"warm under 1 s: {warm:.3f} s", warm < 1),
    ]
    for text, ok in checks:
        print(f"  target {text}: {'met' if ok else 'MISSED'}")


def main(argv: list[str] | None = None) -> int:
    """Generate the runs, time every reader, print medians, spreads and ratios."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", type=Path, help="Build in this folder and keep it.")
    parser.add_argument("--no-gc", action="store_true", help="Skip the packed round.")
    parser.add_argument("--child", nargs=2, metavar=("KIND", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args.child[0], Path(args.child[1]))

    import gitxp

    print("$ python benchmarks/query.py " + " ".join(sys.argv[1:] if argv is None else argv))
    work = args.keep or Path(tempfile.mkdtemp(prefix="gitxp-bench-"))
    project, folders = work / "project", work / "sacred"
    if not project.exists():
        took = make_git_runs(project, args.runs)
        print(f"generated {args.runs} gitxp runs in {took:.1f} s")
    if not folders.exists():
        took = make_folders(folders, args.runs)
        print(f"generated {args.runs} run folders in {took:.1f} s")
    frame, baseline = gitxp.runs(project), read_folders(folders)
    assert len(frame) == len(baseline) == args.runs, (len(frame), len(baseline))
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(
        f"{args.runs} runs, {len(frame.columns)} columns per run; median (min–max) of "
        f"{args.repeat} rounds; {cpus} CPUs, load average {os.getloadavg()[0]:.1f} at start"
    )
    report(
        "loose objects and refs (as runs recorded one by one leave them):",
        measure(project, folders, args.repeat),
    )
    if not args.no_gc:
        took = timed(lambda: subprocess.run(["git", "gc", "-q"], cwd=project, check=True))
        print(f"\ngit gc took {took:.0f} s")
        report("after git gc (packed objects and refs):", measure(project, folders, args.repeat))
    print(f"load average {os.getloadavg()[0]:.1f} at the end")
    if args.keep is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
