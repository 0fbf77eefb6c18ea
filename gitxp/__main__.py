"""``python -m gitxp`` is the ``gitxp`` command."""

from gitxp.cli.main import main

main()
