#!/usr/bin/env python
"""Ingredients: a reusable dataset part with its own config, command and named config.

$ python ingredients.py with dataset.filename=other.csv
$ python ingredients.py dataset.stats
$ python ingredients.py with dataset.small
"""

# Config scopes define their entries as local variables, which linters call unused.
# ruff: noqa: F841

from gitxp import Experiment, Ingredient

data_ingredient = Ingredient("dataset")


@data_ingredient.config
def dataset_cfg():
    filename = "my_dataset.csv"  # where the data lives
    normalize = True  # scale the values to [0, 1]
    size = 100  # number of samples


@data_ingredient.named_config
def small():
    size = 10


@data_ingredient.capture
def load_data(filename, normalize, size):
    data = list(range(size))
    if normalize:
        data = [x / (size - 1) for x in data]
    print(f"loaded {size} samples from {filename}")
    return data


@data_ingredient.command
def stats(filename, size):
    """Print facts about the dataset."""
    print(f"{filename}: {size} samples")
    return size


ex = Experiment("my_experiment", ingredients=[data_ingredient])


@ex.config
def cfg():
    factor = 2.0  # multiplies the data


@ex.automain
def run(factor, _run):
    data = load_data()
    total = sum(x * factor for x in data)
    _run.log_scalar("total", total)
    return total
