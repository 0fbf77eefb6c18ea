#!/usr/bin/env python
"""Randomness: one seed controls random, numpy and the per-function ``_seed``/``_rnd``.

$ python randomness.py with seed=12345
(the same numbers on every run with seed=12345)
"""

# Config scopes define their entries as local variables, which linters call unused.
# ruff: noqa: F841

import random

from gitxp import Experiment

ex = Experiment("randomness")


@ex.config
def cfg():
    reverse = False
    start = random.randint(0, 100)  # drawn in the config scope: also seeded


@ex.capture
def do_random_stuff(_rnd, _seed):
    return int(_rnd.integers(0, 1000)), _seed


@ex.automain
def main(start, reverse, _run):
    numbers = [start, random.randint(0, 1000), *do_random_stuff()]
    if reverse:
        numbers.reverse()
    print(numbers)
    _run.info["numbers"] = numbers
    return numbers
