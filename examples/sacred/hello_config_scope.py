#!/usr/bin/env python
"""A config scope: its local variables are the config; comments document them.

$ python hello_config_scope.py print_config
$ python hello_config_scope.py with recipient=Bob
Hello Bob!
"""

# Config scopes define their entries as local variables, which linters call unused.
# ruff: noqa: F841

from gitxp import Experiment

ex = Experiment("hello_config")


@ex.config
def cfg():
    recipient = "world"  # who gets greeted
    message = f"Hello {recipient}!"  # the greeting (derived from recipient)


@ex.automain
def main(message):
    print(message)
    return message
