"""Reading a run's metrics back when they are spread over many names, in one run.

    python benchmarks/metric_names.py [--values 100000] [--names 10,1000,10000] [--repeat 9]
                                      [--shuffled]

``--values`` scalars are logged round-robin under each count of names through the spool
(what ``gitxp.log_scalar`` does; ``--shuffled``: in a random order), then, in turns
(A, B, A, B …):

- read: read back whole by ``MetricsReader.read`` (as lists, up to 131,072 records),
  against ``json.load`` of a Sacred FileStorageObserver ``metrics.json`` of the
  same data;
- record: the recorder's pass at the end of a run, the spool read (``MetricsReader.read``)
  and written out as ``metrics.json`` bytes, against Sacred's
  ``FileStorageObserver.log_metrics`` of the same series, held in memory as Sacred holds
  them, into an empty run folder (when Sacred is installed).

Medians of ``--repeat`` passes (the order of the four rotates from pass to pass), with
min–max, and the ratios. Nothing asserts.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import importlib.util
import json
import random
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

from gitxp.store import record
from gitxp.store.metricfile import MetricsReader
from gitxp.store.spool import Spool


def log_round_robin(
    root: Path, values: int, count: int, shuffled: bool = False
) -> tuple[Path, Path]:
    """``values`` scalars logged round-robin under ``count`` names through a spool in
    ``root`` (``shuffled``: the same names, as many times each, in a random order);
    returns the spool's metrics folder and a Sacred folder's ``metrics.json`` holding
    the same data."""
    spool = Spool.create(root / "spool")
    names = [f"layer{i}.grad_norm" for i in range(count)]
    order = [names[i % count] for i in range(values)]
    if shuffled:
        random.Random(16).shuffle(order)
    for i, name in enumerate(order):
        spool.log_scalar(name, float(i))
    spool.close()
    folder = spool.path / "metrics"
    sacred = root / "metrics.json"
    sacred.write_text(json.dumps(read_gitxp(folder)))
    return folder, sacred


def read_gitxp(folder: Path) -> object:
    """A spool's metrics read back whole (as lists, up to 131,072 records)."""
    return MetricsReader(folder).read({})[0]


def record_gitxp(folder: Path) -> int:
    """The recorder's pass at the end of a run: the spool into arrays, then metrics.json."""
    return sum(map(len, record.metrics_chunks(MetricsReader(folder).read({})[0])))


def read_sacred(path: Path) -> object:
    """A Sacred folder's metrics read back whole."""
    return json.loads(path.read_text())


def take_turns(actions: dict[str, Callable[[], object]], repeat: int) -> dict[str, list[float]]:
    """Each action timed ``repeat`` times, in turns (A, B, C, then B, C, A …): the order
    rotates, so what one action leaves behind (freed memory, a warm cache) falls on each
    of the others alike."""
    times: dict[str, list[float]] = {name: [] for name in actions}
    names = list(actions)
    for turn in range(repeat):
        for name in names[turn % len(names) :] + names[: turn % len(names)]:
            start = time.perf_counter()
            actions[name]()
            times[name].append(time.perf_counter() - start)
    return times


def sacred_writer(root: Path, series: dict[str, dict[str, list[float]]]) -> Callable[[], object]:
    """Sacred's observer writing ``series`` (timestamps as the datetimes it holds) into an
    empty run folder under ``root``; None without Sacred."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Sacred 0.8 imports pkg_resources
        from sacred.observers.file_storage import FileStorageObserver
    observer = FileStorageObserver(root / "sacred_runs")
    observer.dir = str(root)
    stamp = datetime.datetime.now()
    held = {
        name: {"steps": s["steps"], "values": s["values"], "timestamps": [stamp] * len(s["steps"])}
        for name, s in series.items()
    }

    def write() -> None:
        (root / "metrics.json").unlink(missing_ok=True)
        observer.log_metrics(held, {})

    return write


def spread(times: list[float]) -> str:
    ms = [t * 1000 for t in times]
    return f"{statistics.median(ms):7.1f} ms ({min(ms):.1f}–{max(ms):.1f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--values", type=int, default=100_000)
    parser.add_argument("--names", default="10,1000,10000")
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument(
        "--shuffled", action="store_true", help="names in a random order, not round-robin"
    )
    opts = parser.parse_args()
    with_sacred = importlib.util.find_spec("sacred") is not None
    print(
        f"python benchmarks/metric_names.py --values {opts.values} --names {opts.names} "
        f"--repeat {opts.repeat}" + (" --shuffled" if opts.shuffled else "")
    )
    print(f"{opts.values:,} values, median of {opts.repeat} passes in turns (min–max)")
    for count in [int(n) for n in opts.names.split(",")]:
        with tempfile.TemporaryDirectory() as tmp:
            folder, sacred = log_round_robin(Path(tmp), opts.values, count, opts.shuffled)
            actions = {
                "read": lambda f=folder: read_gitxp(f),
                "sacred read": lambda p=sacred: read_sacred(p),
                "record": lambda f=folder: record_gitxp(f),
            }
            if with_sacred:
                writer = Path(tmp) / "sacred_run"
                writer.mkdir()
                actions["sacred write"] = sacred_writer(writer, json.loads(sacred.read_text()))
            # The set-up's objects (Sacred's series held for its writer) are left out of
            # the cycle collector's passes, as in a process that holds only what it reads.
            gc.freeze()
            times = take_turns(actions, opts.repeat)
            gc.unfreeze()
        med = {name: statistics.median(t) for name, t in times.items()}
        print(
            f"  {count:>6} names  read: gitxp {spread(times['read'])}  Sacred folder "
            f"{spread(times['sacred read'])}  {med['read'] / med['sacred read']:5.2f}x"
        )
        if with_sacred:
            print(
                f"  {'':>6}        record: gitxp {spread(times['record'])}  Sacred observer "
                f"{spread(times['sacred write'])}  {med['record'] / med['sacred write']:5.2f}x"
            )
        else:
            print(f"  {'':>6}        record: gitxp {spread(times['record'])}")


if __name__ == "__main__":
    main()
