"""Issue point 10: ingredients with their own config, captured functions, commands and named
configs."""

# ruff: noqa: F841

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from exp_helpers import cli_error, latest, load_ex, run_py, run_refs, show_json, write

from gitxp import Experiment, Ingredient
from gitxp.errors import UsageError

SCRIPT = """
    from gitxp import Experiment, Ingredient

    paths = Ingredient("dataset.paths")

    @paths.config
    def paths_cfg():
        root = "/data"

    data = Ingredient("dataset", ingredients=[paths])

    @data.config
    def data_cfg():
        name = "mnist"  # which dataset
        size = 100

    @data.named_config
    def tiny():
        size = 3

    @data.capture
    def load(name, size, paths):
        return f"{paths['root']}/{name}:{size}"

    @data.command
    def stats(name, size):
        print(f"{name} has {size} samples")
        return size

    ex = Experiment("ingredients", ingredients=[data])

    @ex.config
    def cfg(dataset):
        epochs = dataset["size"] // 10  # reads the ingredient's config

    @ex.automain
    def main(epochs, dataset):
        return [load(), epochs, dataset["name"]]
"""


def test_ingredient_config_functions_and_nesting(exrepo: Path) -> None:
    write(exrepo, "ing.py", SCRIPT)
    run_py(exrepo, "ing.py", "with", "dataset.name=cifar", "dataset.paths.root=/mnt")
    rec = latest(exrepo)
    assert rec.info["result"] == ["/mnt/cifar:100", 10, "cifar"]
    assert rec.config["dataset"] == {"name": "cifar", "size": 100, "paths": {"root": "/mnt"}}
    assert rec.info["config_docs"]["dataset.name"] == "which dataset"


def test_ingredient_named_config_and_command(exrepo: Path) -> None:
    write(exrepo, "ing.py", SCRIPT)
    run_py(exrepo, "ing.py", "with", "dataset.tiny")
    assert latest(exrepo).info["result"] == ["/data/mnist:3", 0, "mnist"]
    proc = run_py(exrepo, "ing.py", "dataset.stats", "with", "dataset.tiny")
    assert proc.stdout == "mnist has 3 samples\n"
    info = show_json(exrepo, run_refs(exrepo)[-1])
    assert info["command_name"] == "dataset.stats" and info["result"] == 3
    assert "dataset.tiny" in run_py(exrepo, "ing.py", "print_named_configs").stdout
    assert "dataset.stats" in run_py(exrepo, "ing.py", "--help").stdout


def test_unknown_ingredient_key_and_named_config(exrepo: Path) -> None:
    write(exrepo, "ing.py", SCRIPT)
    ex = load_ex(exrepo, "ing.py")
    assert "'dataset.sise' (did you mean 'dataset.size'?)" in cli_error(
        ex, "with", "dataset.sise=3"
    )
    message = cli_error(ex, "with", "dataset.tine")
    assert "unknown named config 'dataset.tine'" in message and "dataset.tiny" in message
    assert "unknown command 'dataset.stat'" in cli_error(ex, "dataset.stat")
    assert run_refs(exrepo) == []


def test_ingredients_from_python(exrepo: Path) -> None:
    ing = Ingredient("model")
    calls: list[str] = []

    @ing.config
    def cfg() -> None:
        width = 8

    @ing.pre_run_hook
    def announce(width: int) -> None:
        calls.append(f"model pre {width}")

    @ing.capture
    def build(width: int, _seed: int) -> int:
        return width

    ex = Experiment("withing", ingredients=[ing], base_dir=exrepo)

    @ex.pre_run_hook
    def root_pre() -> None:
        calls.append("root pre")

    @ex.main
    def main(model: Any) -> list[Any]:
        return [build(), model["width"]]

    run = ex.run(config_updates={"model": {"width": 16}})
    assert run.result == [16, 16]
    assert calls == ["model pre 16", "root pre"]  # ingredients first
    assert sorted(name for name, _ in ex.gather_commands())[:1] == ["main"]
    assert [i.path for i, _ in ex.traverse_ingredients()] == ["withing", "model"]


def test_circular_ingredients_are_refused() -> None:
    a = Ingredient("a")
    b = Ingredient("b", ingredients=[a])
    a.ingredients.append(b)
    with pytest.raises(UsageError, match="circular ingredient dependency: a -> b -> a"):
        list(a.traverse_ingredients())


def test_ingredient_paths_must_be_unique(exrepo: Path) -> None:
    ex = Experiment("dupes", ingredients=[Ingredient("x"), Ingredient("x")], base_dir=exrepo)

    @ex.main
    def main() -> None:
        pass

    with pytest.raises(UsageError, match="unique"):
        ex.run()


def test_experiment_named_config_sets_ingredient_entries(exrepo: Path) -> None:
    data = Ingredient("dataset")

    @data.config
    def data_cfg() -> None:
        workers = 1
        size = 10

    ex = Experiment("rootnamed", ingredients=[data], base_dir=exrepo)

    @ex.named_config
    def gpu() -> None:
        dataset = {"workers": 8}

    @ex.main
    def main(dataset: Any) -> list[int]:
        return [dataset["workers"], dataset["size"]]

    assert ex.run(named_configs=["gpu"]).result == [8, 10]
    assert ex.run(named_configs=["gpu"], config_updates={"dataset.workers": 3}).result == [3, 10]
    assert latest(exrepo).config["dataset"] == {"workers": 3, "size": 10}
