#!/usr/bin/env python
"""Logging: ``_log`` is a logger named after the function; ``-l`` sets the level.

$ python logging_example.py -l DEBUG
"""

from gitxp import Experiment

ex = Experiment("log_example")


@ex.capture
def some_function(_log):
    _log.warning("a warning from a captured function")
    _log.debug("a debug message")


@ex.automain
def main(_log):
    _log.info("main starts")
    some_function()
