"""``python -m gitxp`` is the ``gitxp`` command."""

from gitxp.cli import main

main()
