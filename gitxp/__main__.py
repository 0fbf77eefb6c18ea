"""``python -m gitxp`` is the ``gitxp`` command; :func:`entry` is its console script.

The command's modules are imported inside :func:`entry`, so a Ctrl-C while they load (the
first few tens of milliseconds) ends the command with one line, not a Python traceback.
"""

import sys


def entry() -> None:
    """Import the command line and run it; Ctrl-C at any moment exits 130 quietly."""
    try:
        from gitxp.cli.main import main
    except KeyboardInterrupt:
        sys.stderr.write("gitxp: interrupted\n")
        sys.exit(130)
    main()


if __name__ == "__main__":
    entry()
