"""``record.dump_yaml`` writes what ``yaml.safe_dump`` writes, with or without PyYAML."""

from __future__ import annotations

import math
import random
from typing import Any

import pytest
import yaml

from gitxp.store import record

# Words PyYAML writes plain, and words it quotes or reads as something else.
PLAIN = ["lr", "adam", "y", "n", "inf", "nan", "_x", "a.b", "relu-6", "data/train", "x" * 100]
TRICKY = [
    "yes",
    "No",
    "TRUE",
    "off",
    "Null",
    "null",
    "x" * 101,
    "é",
    "a b",
    "",
    "1a",
    "-a",
    "a:",
    "a#b",
    "~",
    ".5",
    "0x1f",
    "1e3",
    "2024-01-01",
    "a\nb",
    "'q'",
    1,
    None,
    True,
]
NUMBERS = [
    0,
    1,
    -7,
    10**30,
    True,
    False,
    None,
    0.0,
    -0.0,
    0.1,
    1e-05,
    1e16,
    1.5e300,
    -2.5e-8,
    123456789.123,
    math.inf,
    -math.inf,
    math.nan,
]


def _word(rng: random.Random) -> Any:
    return rng.choice(TRICKY) if rng.random() < 0.03 else rng.choice(PLAIN)


def _value(rng: random.Random, depth: int) -> Any:
    roll = rng.random()
    if roll < 0.2 and depth < 4:
        return _tree(rng, depth + 1)
    if roll < 0.23:
        return rng.choice([[], {}, [1, 2], ["a", {"b": 1}]])
    if roll < 0.6:
        return rng.choice(NUMBERS)
    return _word(rng)


def _tree(rng: random.Random, depth: int = 0) -> dict[Any, Any]:
    return {_word(rng): _value(rng, depth) for _ in range(rng.randint(0, 6))}


def _pyyaml(data: Any) -> bytes:
    return yaml.safe_dump(
        data, sort_keys=False, allow_unicode=True, default_flow_style=False
    ).encode()


@pytest.mark.parametrize("seed", range(10))
def test_the_same_bytes_as_pyyaml_for_any_config(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(100):
        data = _tree(rng)
        assert record.dump_yaml(data) == _pyyaml(data), data


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"lr": 0.001, "epochs": 10, "opt": {"name": "adam", "betas": {}}, "tags": []},
        {"flag": True, "none": None, "deep": {"a": {"b": {"c": 1e-05}}}},
        [1, 2],
        "text",
        None,
    ],
)
def test_typical_configs(data: Any) -> None:
    assert record.dump_yaml(data) == _pyyaml(data)
    assert yaml.safe_load(record.dump_yaml(data)) == data
