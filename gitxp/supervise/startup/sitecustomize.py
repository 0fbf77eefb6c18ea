"""Started by Python in the program ``gitxp run`` launches: records its argparse values.

``gitxp run`` puts this folder first on ``PYTHONPATH`` and names its own process id in
``GITXP_ARGPARSE_PARENT``. In the process it started (not in the processes that one starts:
the folder is taken off ``PYTHONPATH`` here), ``ArgumentParser.parse_known_args`` (which
``parse_args`` calls) is wrapped: the namespace of the outermost call is recorded as the
run's config, over the ``with`` values (the namespace is what the script uses). A
``sitecustomize`` the environment had is then imported as usual.
"""

from __future__ import annotations

import os
import sys
from typing import Any

PARENT_ENV = "GITXP_ARGPARSE_PARENT"
HERE = os.path.dirname(os.path.abspath(__file__))


def _hook_argparse() -> None:
    import argparse

    original = argparse.ArgumentParser.parse_known_args
    depth = [0]

    def parse_known_args(self: argparse.ArgumentParser, *args: Any, **kwargs: Any) -> Any:
        depth[0] += 1
        try:
            result = original(self, *args, **kwargs)
        finally:
            depth[0] -= 1
        if depth[0] == 0:
            _record(result[0])
        return result

    argparse.ArgumentParser.parse_known_args = parse_known_args  # type: ignore[method-assign]


def _record(namespace: Any) -> None:
    try:
        from gitxp import api
        from gitxp.configuration.dicts import recursive_update
    except ImportError:  # another interpreter (gitxp run --python) without gitxp
        return
    try:
        values = api.storable(api.plain_parameters(namespace))
        given = api.config()
        for key, value in given.items():
            if key in values and values[key] != value:
                print(
                    f"gitxp: with {key}={value!r} is not what the script's argparse gave "
                    f"({values[key]!r}); the run records {values[key]!r}",
                    file=sys.stderr,
                )
        api.record_config(recursive_update(given, values))
    except Exception as err:  # recording must never break the user's script
        print(f"gitxp: the argparse values were not recorded: {err}", file=sys.stderr)


def _chain() -> None:
    """Import the ``sitecustomize`` this one hides, if there is one."""
    this = sys.modules.pop(__name__, None)
    saved = list(sys.path)
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != HERE]
    try:
        import sitecustomize  # noqa: F401  # the environment's own, if any
    except ImportError:
        pass
    finally:
        sys.path[:] = saved
        if this is not None:
            sys.modules.setdefault(__name__, this)  # the import that started us expects one


def _start() -> None:
    paths = os.environ.get("PYTHONPATH", "").split(os.pathsep)
    rest = [p for p in paths if p and os.path.abspath(p) != HERE]
    if rest:
        os.environ["PYTHONPATH"] = os.pathsep.join(rest)
    else:
        os.environ.pop("PYTHONPATH", None)
    if os.environ.pop(PARENT_ENV, "") == str(os.getppid()):
        _hook_argparse()
    _chain()


_start()
