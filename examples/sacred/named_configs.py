#!/usr/bin/env python
"""Named configs: alternative settings selected with ``with NAME``.

$ python named_configs.py
a=10 b=30 c=foo
$ python named_configs.py with variant1
a=100 b=300 c=bar
$ python named_configs.py with variant1 a=1
a=1 b=3 c=bar
"""

# Config scopes define their entries as local variables, which linters call unused.
# ruff: noqa: F841

from gitxp import Experiment

ex = Experiment("named_configs")


@ex.config
def cfg():
    a = 10  # some integer
    b = 3 * a  # derived from a
    c = "foo"  # a string


@ex.named_config
def variant1():
    """A bigger a and another c."""
    a = 100
    c = "bar"


ex.add_named_config("small", a=1)


@ex.automain
def main(a, b, c):
    print(f"a={a} b={b} c={c}")
    return b
