"""gitxp.store.checked: limits on what a record file may make gitxp parse, and its types."""

from __future__ import annotations

import itertools
import json
import time

import pytest

from gitxp.store import checked
from gitxp.store.checked import MAX_DEPTH, RecordProblem
from gitxp.store.ids import new_run_id


def bomb(levels: int) -> bytes:
    text = 'a: &a ["x","x","x","x","x","x","x","x","x"]\n'
    for prev, name in itertools.pairwise("abcdefghijklmnop"[:levels]):
        text += f"{name}: &{name} [{','.join(['*' + prev] * 9)}]\n"
    return text.encode()


def test_an_alias_bomb_is_refused_at_once() -> None:
    start = time.process_time()
    with pytest.raises(RecordProblem, match="expands to more than 1,000,000 values"):
        checked.mapping(bomb(12), "config.yaml")  # 9**12 values once expanded, 430 bytes
    assert time.process_time() - start < 5  # a bound on runaway work, not a timing check
    assert checked.mapping(bomb(3), "config.yaml")["c"][0][0] == ["x"] * 9  # 729: fine


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"x: !!python/object/apply:os.system [ls]", "not plain data"),
        (b"x: !!python/name:os.system", "not plain data"),
        (b"a: &a [*a]", "contains itself"),
        (b"a: [1, 2", "not valid YAML"),
        (b"- 1\n- 2\n", "holds a list, not a mapping"),
        (("[" * 5000 + "]" * 5000).encode(), "nested more than"),
        (("a: " + "[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5)).encode(), "nested more than"),
        (b"a: \xff\n", "not valid YAML"),
    ],
)
def test_yaml_that_is_not_plain_bounded_data(data: bytes, match: str) -> None:
    with pytest.raises(RecordProblem, match=match):
        checked.mapping(data, "config.yaml")


def test_sizes_and_json_depth() -> None:
    huge = b" " * (checked.MAX_BYTES["host.json"] + 1)
    with pytest.raises(RecordProblem, match="larger than 4 MiB"):
        checked.mapping(huge, "host.json")
    with pytest.raises(RecordProblem, match="nested more than"):
        checked.parse_json(("[" * 100_000 + "]" * 100_000).encode(), "run.json")
    assert checked.mapping(b"", "config.yaml") == {}
    assert checked.mapping(b'{"hostname": "a"}', "host.json") == {"hostname": "a"}


def test_run_json_types() -> None:
    run_id = new_run_id()
    good = {
        "id": run_id,
        "status": "COMPLETED",
        "start_time": "2026-01-01T00:00:00.000+00:00",
        "command": ["train.py", "with", "lr=1"],
        "tags": ["a"],
        "exit_code": 0,
        "dirty": False,
        "base_commit": "a" * 40,
        "artifacts": [{"name": "m.pt", "size": 3, "metadata": {}}],
        "skipped_files": [{"path": ".env", "size": 10, "reason": "secret"}],
        "something_new": {"kept": True},
        "result": [1, {"x": None}],
    }
    assert checked.run_info(json.dumps(good).encode(), run_id) == good
    for change, match in (
        ({"id": new_run_id()}, "names run"),
        ({"tags": "a"}, "tags is not a list"),
        ({"exit_code": True}, "exit_code is a true/false value, not a number"),
        ({"status": 3}, "status is a number, not text"),
        ({"start_time": "soon"}, "not a time"),
        ({"base_commit": "HEAD"}, "not a commit id"),
        ({"artifacts": [{"name": 1}]}, "artifacts is not a list"),
        ({"command": [None]}, "command is not a list of text"),
    ):
        with pytest.raises(RecordProblem, match=match):
            checked.run_info(json.dumps({**good, **change}).encode(), run_id)
    with pytest.raises(RecordProblem, match="not a run id"):
        checked.run_info(json.dumps(good).encode(), "../../x")
    with pytest.raises(RecordProblem, match=r"no \.gitxp/run\.json"):
        checked.run_info(None, run_id)


def test_metrics_shape() -> None:
    ok = b'{"loss": {"steps": [0, 1], "values": [0.5, NaN], "timestamps": [1.0, 2.0]}}'
    assert checked.metrics(ok)["loss"]["steps"] == [0, 1]
    for bad, match in (
        (b"[1]", "holds a list"),
        (b'{"loss": 1}', "not a series"),
        (b'{"loss": {"values": ["a"]}}', "values are not numbers"),
        (b'{"loss": {"values": [1], "steps": [0.5]}}', "not whole numbers"),
        (b'{"loss": {"steps": [1]}}', "values are not numbers"),
    ):
        with pytest.raises(RecordProblem, match=match):
            checked.metrics(bad)
