"""Resolving an experiment together with its ingredients."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitxp.configuration.ingredients import (
    ConfigUnit,
    combine_resolved,
    distribute_named,
    distribute_updates,
    resolve_units,
)
from gitxp.configuration.resolve import ResolvedConfig
from gitxp.configuration.scope import ConfigScope
from gitxp.errors import ConfigError

# ruff: noqa: F841


def dataset_cfg() -> None:
    n = 10  # number of samples
    path = f"/data/{n}"


def dataset_small() -> None:
    n = 2


def paths_cfg() -> None:
    root = "/r"


def root_cfg() -> None:
    lr = 0.1
    total = dataset["n"] * 2  # noqa: F821 - the dataset ingredient's config


UNITS = [
    ConfigUnit("dataset.paths", [ConfigScope(paths_cfg)]),
    ConfigUnit("dataset", [ConfigScope(dataset_cfg)], {"small": ConfigScope(dataset_small)}),
    ConfigUnit("", [ConfigScope(root_cfg)]),
]


def test_distribute_updates_by_longest_prefix() -> None:
    shares = distribute_updates(
        {"lr": 1, "dataset.n": 3, "dataset": {"paths": {"root": "/x"}}, "datasets.k": 1},
        ["dataset", "dataset.paths"],
    )
    assert shares == {
        "": {"lr": 1, "datasets": {"k": 1}},
        "dataset": {"n": 3},
        "dataset.paths": {"root": "/x"},
    }


def test_distribute_named_tokens(tmp_path: Path) -> None:
    groups = distribute_named(
        ["v1", "dataset.small", "dataset.paths.alt", "cfg.yaml", "other.x"],
        ["dataset", "dataset.paths"],
        base_dir=tmp_path,
    )
    assert groups == {
        "": ["v1", "cfg.yaml", "other.x"],
        "dataset": ["dataset.small"],
        "dataset.paths": ["dataset.paths.alt"],
    }


def test_resolve_units() -> None:
    resolved = resolve_units(
        UNITS, {"dataset.n": 5, "lr": 0.2, "dataset.paths.extra": 1}, [], base_dir=Path(".")
    )
    seed = resolved.config["seed"]
    assert resolved.config == {
        "lr": 0.2,
        "total": 10,
        "seed": seed,
        "dataset": {"n": 5, "path": "/data/5", "paths": {"root": "/r", "extra": 1}},
    }
    assert resolved.modified == {"lr", "dataset.n"}
    assert resolved.added == {"dataset.paths.extra"}
    assert resolved.docs["dataset.n"] == "number of samples"


def test_ingredient_named_config() -> None:
    resolved = resolve_units(UNITS, {}, ["dataset.small"])
    assert resolved.config["dataset"] == {"n": 2, "path": "/data/2", "paths": {"root": "/r"}}
    assert resolved.config["total"] == 4
    with pytest.raises(ConfigError) as err:
        resolve_units(UNITS, {}, ["dataset.smal"])
    assert str(err.value) == (
        'Named config not found: "dataset.smal". Available config values are: '
        "['dataset.small']; "
        "unknown named config 'dataset.smal' (did you mean 'dataset.small'?); "
        "available named configs: dataset.small"
    )


def test_resolve_units_checks_paths() -> None:
    with pytest.raises(ConfigError, match="ingredient paths must be unique"):
        resolve_units([ConfigUnit(""), ConfigUnit("")], {}, [])
    with pytest.raises(ConfigError, match="needs the experiment itself"):
        resolve_units([ConfigUnit("data")], {}, [])


def test_combine_resolved_prefixes_keys() -> None:
    combined = combine_resolved(
        {
            "": ResolvedConfig({"a": 1, "seed": 3, "ing": {"stale": 1}}, added={"a"}),
            "ing": ResolvedConfig(
                {"b": 2},
                added={"b"},
                modified={"b"},
                typechanged={"b": (str, int)},
                docs={"b": "bee"},
            ),
        }
    )
    assert combined.config == {"a": 1, "seed": 3, "ing": {"stale": 1, "b": 2}}
    assert combined.added == {"a", "ing.b"}
    assert combined.modified == {"ing.b"}
    assert combined.typechanged == {"ing.b": (str, int)}
    assert combined.docs == {"ing.b": "bee"}
