#!/usr/bin/env python
"""Commands: extra entry points next to main, run as ``python my_commands.py greet``.

$ python my_commands.py greet with name=Jane
Hello Jane! Nice to greet you!
$ python my_commands.py shout
WHAZZZUUUUUUUUUUP!!!????
"""

# Config scopes define their entries as local variables, which linters call unused.
# ruff: noqa: F841

from gitxp import Experiment

ex = Experiment("my_commands")


@ex.config
def cfg():
    name = "John"  # who to greet


@ex.command
def greet(name):
    """Print a nice greeting, using the name from the config."""
    print(f"Hello {name}! Nice to greet you!")
    return name


@ex.command
def shout():
    """Shout the slang question for "what is up?"."""
    print("WHAZZZUUUUUUUUUUP!!!????")


@ex.automain
def main():
    print("This is just the main command. Try greet or shout.")
