#!/usr/bin/env python
"""Captured functions take their missing arguments from the config.

$ python captured_functions.py
This is printed by function foo.
This is printed by function bar.
Overriding the default message for foo.
"""

# Config scopes define their entries as local variables, which linters call unused.
# ruff: noqa: F841

from gitxp import Experiment

ex = Experiment("captured_functions")


@ex.config
def cfg():
    message = "This is printed by function {}."


@ex.capture
def foo(message):
    print(message.format("foo"))


@ex.capture
def bar(message):
    print(message.format("bar"))


@ex.automain
def main():
    foo()  # message is taken from the config
    bar()
    foo("Overriding the default message for {}.")  # an explicit argument wins
