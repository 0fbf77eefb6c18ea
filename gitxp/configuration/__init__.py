"""The configuration subsystem (pure Python: stdlib + PyYAML).

* :mod:`gitxp.configuration.withargs` - parsing ``with KEY=VALUE NAME ...`` tokens;
* :mod:`gitxp.configuration.dicts` - dotted paths, merging, normalising, read-only views;
* :mod:`gitxp.configuration.scope` - config scopes (``@ex.config``), config dicts and files;
* :mod:`gitxp.configuration.resolve` - precedence, seed, added/modified keys, unknown-key check;
* :mod:`gitxp.configuration.ingredients` - resolving an experiment together with its ingredients;
* :mod:`gitxp.configuration.printing` - the text of ``print_config``.

Import the submodule you need; this package imports nothing by itself, so
``gitxp run`` loads only the parts it uses.
"""
