"""Reading a run's metrics back when they are spread over many names, in one run.

    python benchmarks/metric_names.py [--values 100000] [--names 10,1000,10000] [--repeat 5]

``--values`` scalars are logged round-robin under each count of names through the spool
(what ``gitxp.log_scalar`` does), then read back whole by :class:`MetricsReader` (what the
recorder does at the end of a run and a reader of a running run does). The baseline is
what a Sacred FileStorageObserver folder costs to read for the same data: ``json.load`` of
its ``metrics.json``. Medians of ``--repeat`` reads, with min–max. Nothing asserts.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from gitxp.store.metricfile import MetricsReader
from gitxp.store.spool import Spool


def log_round_robin(root: Path, values: int, count: int) -> tuple[Path, Path]:
    """``values`` scalars logged round-robin under ``count`` names through a spool in
    ``root``; returns the spool's metrics folder and a Sacred folder's ``metrics.json``
    holding the same data."""
    spool = Spool.create(root / "spool")
    names = [f"layer{i}.grad_norm" for i in range(count)]
    for i in range(values):
        spool.log_scalar(names[i % count], float(i))
    spool.close()
    folder = spool.path / "metrics"
    sacred = root / "metrics.json"
    sacred.write_text(json.dumps(read_gitxp(folder)))
    return folder, sacred


def read_gitxp(folder: Path) -> object:
    """A spool's metrics read back whole, as the recorder does at the end of a run."""
    return MetricsReader(folder).update()


def read_sacred(path: Path) -> object:
    """A Sacred folder's metrics read back whole."""
    return json.loads(path.read_text())


def timed(action: object, repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--values", type=int, default=100_000)
    parser.add_argument("--names", default="10,1000,10000")
    parser.add_argument("--repeat", type=int, default=5)
    opts = parser.parse_args()
    print(f"reading {opts.values:,} values back (median of {opts.repeat}, min–max)")
    for count in [int(n) for n in opts.names.split(",")]:
        with tempfile.TemporaryDirectory() as tmp:
            folder, sacred = log_round_robin(Path(tmp), opts.values, count)
            ours = timed(lambda folder=folder: read_gitxp(folder), opts.repeat)
            theirs = timed(lambda path=sacred: read_sacred(path), opts.repeat)
        mine, base = statistics.median(ours), statistics.median(theirs)
        print(
            f"  {count:>6} names  gitxp {mine * 1000:8.1f} ms ({min(ours) * 1000:.1f}–"
            f"{max(ours) * 1000:.1f})   Sacred folder {base * 1000:7.1f} ms "
            f"({min(theirs) * 1000:.1f}–{max(theirs) * 1000:.1f})   {mine / base:5.2f}x"
        )


if __name__ == "__main__":
    main()
