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
    metrics = MetricsReader(tmp_path).read({})[0]
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
    assert MetricsReader(tmp_path).read({})[0]["x"]["values"] == [0, 1, 2]


def test_records_whose_name_line_is_missing_are_skipped(tmp_path: Path) -> None:
    writer = MetricWriter(tmp_path)
    writer.log("kept", 1)
    writer.log("lost", 2)
    writer.close()
    (names,) = tmp_path.glob("*.names")
    names.write_text('"kept"\n')
    assert MetricsReader(tmp_path).read({})[0] == {
        "kept": {
            "steps": [0],
            "values": [1],
            "timestamps": MetricsReader(tmp_path).read({})[0]["kept"]["timestamps"],
        }
    }


def _logged_in_order(tmp_path: Path, rounds: list[list[str]]) -> None:
    """Each round of names logged (value: the running count), read back after each round:
    every name's values in the order logged, names in the order first logged."""
    writer = MetricWriter(tmp_path)
    reader = MetricsReader(tmp_path)
    expected: dict[str, list[int]] = {}
    got: dict[str, dict[str, list[int]]] = {}
    reached: dict[str, int] = {}
    count = 0
    for names in rounds:
        for name in names:
            writer.log(name, count)
            expected.setdefault(name, []).append(count)
            count += 1
        new, reached = reader.read(reached)  # only this round's records
        for name, series in new.items():
            into = got.setdefault(name, {"steps": [], "values": []})
            into["steps"] += series["steps"]
            into["values"] += series["values"]
        assert list(got) == list(expected)
        assert {n: s["values"] for n, s in got.items()} == expected
        assert {n: s["steps"] for n, s in got.items()} == {
            n: list(range(len(v))) for n, v in expected.items()
        }
        fresh, _ = MetricsReader(tmp_path).read({})
        assert {n: list(s["values"]) for n, s in fresh.items()} == expected
    assert reader.records_read == count
    writer.close()


def test_names_logged_in_the_same_order_every_step(tmp_path: Path) -> None:
    # The second read starts in the middle of a step: its period begins with "b".
    _logged_in_order(tmp_path, [["a", "b", "c"] * 3 + ["a"], ["b", "c", "a"] * 4, ["d", "e"] * 3])


def test_names_logged_in_no_fixed_order(tmp_path: Path) -> None:
    import random

    shuffled = [f"m{i % 7}" for i in range(500)]
    random.Random(16).shuffle(shuffled)
    nearly = ["a", "b", "c"] * 5
    nearly.insert(7, "b")  # periodic but for one record
    _logged_in_order(tmp_path, [nearly, ["a", "b", "b"] * 4, shuffled, ["z"] * 3])
