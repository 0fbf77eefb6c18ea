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
            spool = Spool.create(Path(tmp) / "spool")
            names = [f"layer{i}.grad_norm" for i in range(count)]
            for i in range(opts.values):
                spool.log_scalar(names[i % count], float(i))
            spool.close()
            folder = spool.path / "metrics"
            data = MetricsReader(folder).update()
            sacred = Path(tmp) / "metrics.json"
            sacred.write_text(json.dumps(data))
            ours = timed(lambda folder=folder: MetricsReader(folder).update(), opts.repeat)
            theirs = timed(lambda path=sacred: json.loads(path.read_text()), opts.repeat)
        mine, base = statistics.median(ours), statistics.median(theirs)
        print(
            f"  {count:>6} names  gitxp {mine * 1000:8.1f} ms ({min(ours) * 1000:.1f}–"
            f"{max(ours) * 1000:.1f})   Sacred folder {base * 1000:7.1f} ms "
            f"({min(theirs) * 1000:.1f}–{max(theirs) * 1000:.1f})   {mine / base:5.2f}x"
        )


if __name__ == "__main__":
    main()
