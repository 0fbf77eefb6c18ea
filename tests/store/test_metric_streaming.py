"""Metrics at heartbeats and at the end (issue 16, points 1 and 6): only what is new is
read at a beat, and the final ``metrics.json`` is streamed from compact arrays."""

from __future__ import annotations

import json
import math
import os
import struct
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

from runstore_helpers import fsck, git, show_json

from gitxp.git.repo import GitRepo
from gitxp.store import record
from gitxp.store.metricfile import MetricWriter
from gitxp.store.recorder import Recorder, RunSpec


def live_chunks(repo: Path, ref: str) -> list[str]:
    return git(repo, "ls-tree", "-r", "--name-only", ref, ".gitxp/live/metrics").split()


def test_a_heartbeat_parses_only_the_records_logged_since_the_last_one(repo: Path) -> None:
    rec = Recorder.start(GitRepo(repo), RunSpec(command=["x"]))
    for i in range(1000):
        rec.spool.log_scalar(f"m{i % 3}", i * 0.5)
    rec.heartbeat()
    assert rec.metrics_reader.records_read == 1000
    # A second process of the run: a metric file of its own in the same spool.
    other = MetricWriter(rec.spool.path / "metrics")
    for i in range(5):
        rec.spool.log_scalar("m0", 1000 + i)
        other.log("m0", 2000 + i)
    rec.heartbeat()
    assert rec.metrics_reader.records_read == 1010  # not 2010: nothing read twice
    rec.heartbeat()  # nothing new: nothing parsed, no chunk
    assert rec.metrics_reader.records_read == 1010
    assert len(live_chunks(repo, rec.ref)) == 2
    second = show_json(repo, rec.ref, ".gitxp/live/metrics/00/00/01.json")
    assert second == {"m0": second["m0"]}
    assert second["m0"]["values"] == [1000, 1001, 1002, 1003, 1004, 2000, 2001, 2002, 2003, 2004]
    other.close()
    rec.finish("COMPLETED", exit_code=0)
    assert rec.metrics_reader.records_read == 2020  # the end reads everything once
    final = show_json(repo, rec.ref, ".gitxp/metrics.json")
    assert final["m1"]["values"] == [i * 0.5 for i in range(1, 1000, 3)]
    assert final["m0"]["values"][-10:] == [1000, 1001, 1002, 1003, 1004, *range(2000, 2005)]
    assert final["m0"]["steps"][-10:] == [334, 335, 336, 337, 338, 0, 1, 2, 3, 4]
    fsck(repo)


def decoded(folder: Path) -> dict[str, dict[str, list[Any]]]:
    """A spool's metric records decoded one by one with ``struct``, apart from the reader."""
    out: dict[str, dict[str, list[Any]]] = {}
    for data in sorted(folder.glob("*.bin")):
        names = [json.loads(line) for line in data.with_suffix(".names").read_text().splitlines()]
        for index, step, kind, value, stamp in struct.iter_unpack("<qqqdd", data.read_bytes()):
            if stamp == 0.0:
                break  # the zero tail
            if kind == 1:  # an int64 stored in the value's 8 bytes
                (value,) = struct.unpack("<q", struct.pack("<d", value))
            series = out.setdefault(names[index], {"steps": [], "values": [], "timestamps": []})
            series["steps"].append(step)
            series["values"].append(value)
            series["timestamps"].append(stamp)
    return out


def test_200k_values_round_trip_through_the_streamed_record(repo: Path) -> None:
    """More than one encoded piece per series, a blob spilled to a temporary file, pages
    of the writer's map let go: every step, value and timestamp comes back as logged."""
    rec = Recorder.start(GitRepo(repo), RunSpec(command=["x"]))
    started = time.time()
    count = 200_000
    for i in range(count):
        rec.spool.log_scalar("loss", 1.0 / (i + 1))
        if i % 2:
            rec.spool.log_scalar("seen", i * 3, step=i)
        if i % 50_000 == 0:
            rec.spool.log_scalar("mixed", i)
            rec.spool.log_scalar("mixed", i + 0.25)
        if i % 100_000 == 1:  # floats in the first batch read, an int in a later one
            rec.spool.log_scalar("switch", 0.5 if i < 100_000 else i)
    rec.spool.log_scalar("loss", float("nan"))
    rec.spool.log_scalar("loss", float("inf"))
    logged = decoded(rec.spool.path / "metrics")
    rec.finish("COMPLETED", exit_code=0)
    raw = git(repo, "show", f"{rec.ref}:.gitxp/metrics.json").encode()
    assert raw == record.dump_metrics(logged)
    final = json.loads(raw)
    assert list(final) == ["loss", "mixed", "seen", "switch"]  # in the order first logged
    assert final["switch"]["values"] == [0.5, 100_001]
    for name, series in logged.items():
        assert final[name]["steps"] == series["steps"]
        assert final[name]["timestamps"] == series["timestamps"]
        got = final[name]["values"]
        assert [type(v) for v in got] == [type(v) for v in series["values"]]
    loss = final["loss"]["values"]
    assert loss[:count] == [1.0 / (i + 1) for i in range(count)]
    assert math.isnan(loss[count]) and loss[count + 1] == math.inf
    assert final["loss"]["steps"] == list(range(count + 2))
    assert final["seen"] == {
        "steps": list(range(1, count, 2)),
        "values": [i * 3 for i in range(1, count, 2)],
        "timestamps": final["seen"]["timestamps"],
    }
    assert final["mixed"]["values"] == [
        0,
        0.25,
        50000,
        50000.25,
        100000,
        100000.25,
        150000,
        150000.25,
    ]
    stamps = [t for series in final.values() for t in series["timestamps"]]
    assert started <= min(stamps) and max(stamps) <= time.time()
    assert final["loss"]["timestamps"] == sorted(final["loss"]["timestamps"])
    assert not list(GitRepo(repo).state_dir.rglob("blob-*"))  # the temporary file is gone
    fsck(repo)


def test_metrics_chunks_join_to_the_one_line_per_metric_layout() -> None:
    from array import array

    long = 200_000
    arrays = {
        "a": {
            "steps": array("q", range(long)),
            "values": array("d", (i / 7 for i in range(long))),
            "timestamps": array("d", (1e9 + i for i in range(long))),
        },
        "b": {"steps": array("q", [3]), "values": array("q", [2**62]), "timestamps": [1.5]},
        "ü": {"steps": [], "values": [], "timestamps": []},
    }
    lists = {n: {k: list(v) for k, v in s.items()} for n, s in arrays.items()}
    pieces = list(record.metrics_chunks(arrays))
    assert len(pieces) > 6  # the long series went in pieces
    text = b"".join(pieces).decode()
    lines = [
        f"  {json.dumps(n, ensure_ascii=False)}: {json.dumps(s, ensure_ascii=False)}"
        for n, s in lists.items()
    ]
    assert text == "{\n" + ",\n".join(lines) + "\n}\n"
    assert json.loads(text) == lists
    assert b"".join(record.metrics_chunks({})) == b"{}\n"


MILLION = textwrap.dedent(
    """\
    import atexit
    def report():
        with open('/proc/self/status') as status:
            peak = [l for l in status if l.startswith('VmHWM')][0].split()[1]
        print('PEAK', peak, flush=True)
    atexit.register(report)
    from gitxp import Experiment
    ex = Experiment('memory')
    @ex.automain
    def main(_run):
        for i in range(1_000_000):
            _run.log_scalar('loss', i * 0.5)
    """
)


def test_an_experiment_logging_a_million_scalars_stays_under_150_mib(repo: Path) -> None:
    """One process that logs and records (its own supervisor); peak RSS read at exit.
    It was 267 MiB when the final record held the series as Python floats and text."""
    (repo / "million.py").write_text(MILLION)
    proc = subprocess.run(
        [sys.executable, "million.py"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        timeout=120,
    )
    peak = int(proc.stdout.split("PEAK")[1].split()[0]) // 1024
    assert peak < 150, proc.stdout
    ref = git(repo, "for-each-ref", "--format=%(refname)", "refs/gitxp/runs").split()[-1]
    raw = git(repo, "show", f"{ref}:.gitxp/metrics.json")
    assert raw.count(",") == 3 * 1_000_000 - 1
