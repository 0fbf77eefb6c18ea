"""The binary metric files: kinds of values, many names in one file, a writer killed mid-run."""

from __future__ import annotations

import math
from pathlib import Path

from gitxp.store.metricfile import RECORD, MetricsReader, MetricWriter


def test_interleaved_names_keep_their_own_steps_and_kinds(tmp_path: Path) -> None:
    writer = MetricWriter(tmp_path)
    for i in range(5):
        writer.log("loss", 1.0 / (i + 1))
        writer.log("epoch", i)
    writer.log("loss", float("nan"))
    writer.log("big", 2**70)
    writer.log("flag", True, step=7)
    writer.close()
    metrics = MetricsReader(tmp_path).update()
    assert metrics["epoch"] == {
        "steps": [0, 1, 2, 3, 4],
        "values": [0, 1, 2, 3, 4],
        "timestamps": metrics["epoch"]["timestamps"],
    }
    assert all(type(v) is int for v in metrics["epoch"]["values"])
    assert metrics["loss"]["values"][:5] == [1.0, 0.5, 1 / 3, 0.25, 0.2]
    assert math.isnan(metrics["loss"]["values"][5])
    assert metrics["loss"]["steps"] == [0, 1, 2, 3, 4, 5]
    assert metrics["big"]["values"] == [float(2**70)]
    assert metrics["flag"] == {
        "steps": [7],
        "values": [1],
        "timestamps": metrics["flag"]["timestamps"],
    }


def test_a_file_left_by_a_killed_writer_is_read_up_to_its_last_record(tmp_path: Path) -> None:
    writer = MetricWriter(tmp_path)
    for i in range(3):
        writer.log("x", i)
    # No close(): the file keeps its zero tail, as after a SIGKILL.
    (data,) = tmp_path.glob("*.bin")
    assert data.stat().st_size > 3 * RECORD
    assert MetricsReader(tmp_path).update()["x"]["values"] == [0, 1, 2]


def test_records_whose_name_line_is_missing_are_skipped(tmp_path: Path) -> None:
    writer = MetricWriter(tmp_path)
    writer.log("kept", 1)
    writer.log("lost", 2)
    writer.close()
    (names,) = tmp_path.glob("*.names")
    names.write_text('"kept"\n')
    assert MetricsReader(tmp_path).update() == {
        "kept": {
            "steps": [0],
            "values": [1],
            "timestamps": MetricsReader(tmp_path).update()["kept"]["timestamps"],
        }
    }
