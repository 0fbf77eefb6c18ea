#!/usr/bin/env python
"""Config from a dict: ``add_config`` entries are filled into the main function.

$ python hello_config_dict.py
Hello world!
$ python hello_config_dict.py with message='"Hi there!"'
Hi there!
"""

from gitxp import Experiment

ex = Experiment("hello_config_dict")
ex.add_config({"message": "Hello world!"})


@ex.automain
def my_main(message):
    print(message)
