#!/usr/bin/env python
"""The smallest experiment: one main function, recorded as a git run.

$ python hello_world.py
INFO - hello_world - Running command 'my_main'
INFO - hello_world - Started run with ID "01J..."
Hello world!
INFO - hello_world - Completed after 0.0 s
"""

from gitxp import Experiment

ex = Experiment()


@ex.automain
def my_main():
    print("Hello world!")
