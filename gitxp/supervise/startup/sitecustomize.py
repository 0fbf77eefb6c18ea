"""Started by Python in the program ``gitxp run`` launches: records its argparse values.

``gitxp run`` puts this folder first on ``PYTHONPATH`` and names its own process id in
``GITXP_ARGPARSE_PARENT``. In the process it started (not in the processes that one starts:
the folder is taken off ``PYTHONPATH`` here), ``ArgumentParser.parse_known_args`` (which
``parse_args`` calls) is wrapped: the namespace of the outermost call is recorded as the
run's config, over the ``with`` values (the namespace is what the script uses). A
``sitecustomize`` the environment had is then imported as usual.

Started early (``GITXP_GATE_FD``), it first waits at its gate until ``gitxp run`` has
written the snapshot commit: see :mod:`gitxp.supervise.child`.
"""

from __future__ import annotations

import os
import sys

# Nothing imported that the program may not need: typing only for the type checker, and
# argparse is wrapped when the program imports it (most scripts that use it do so first).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from importlib.machinery import ModuleSpec
    from types import ModuleType
    from typing import Any

PARENT_ENV = "GITXP_ARGPARSE_PARENT"
GATE_ENV = "GITXP_GATE_FD"  # see gitxp/supervise/child.py
GATE_OPEN = b"go\0"
HERE = os.path.dirname(os.path.abspath(__file__))


def _hook_argparse(argparse: ModuleType) -> None:
    original = argparse.ArgumentParser.parse_known_args
    depth = [0]

    def parse_known_args(self: Any, *args: Any, **kwargs: Any) -> Any:
        depth[0] += 1
        try:
            result = original(self, *args, **kwargs)
        finally:
            depth[0] -= 1
        if depth[0] == 0:
            _record(result[0])
        return result

    argparse.ArgumentParser.parse_known_args = parse_known_args


class _WhenImported:
    """A finder on ``sys.meta_path`` that hooks argparse once the program imports it."""

    @classmethod
    def find_spec(cls, name: str, path: Any = None, target: Any = None) -> ModuleSpec | None:
        if name != "argparse":
            return None
        sys.meta_path.remove(cls)
        from importlib.machinery import PathFinder

        spec = PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _HookingLoader(spec.loader)  # type: ignore[assignment]
        return spec


class _HookingLoader:
    """argparse's own loader, which wraps ``parse_known_args`` once the module ran."""

    def __init__(self, loader: Any) -> None:
        self._loader = loader

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self._loader.exec_module(module)
        _hook_argparse(module)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loader, name)  # get_source, is_package … for inspect and pdb


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


def _wait_at_gate(fd: int) -> None:
    """Wait until ``gitxp run`` has recorded the run's start, then take the run's variables.

    Nothing of the user's runs before this returns (the environment's own ``sitecustomize``,
    the script). A gate closed without the go (the run was not recorded, ``gitxp run`` was
    interrupted or killed) ends the process here.
    """
    chunks: list[bytes] = []
    try:
        while not b"".join(chunks[-2:]).endswith(b"\0\0"):  # the end of the message
            data = os.read(fd, 65536)
            if not data:
                break
            chunks.append(data)
        os.close(fd)
    except BaseException:  # Ctrl-C while waiting, or no gate after all: never run unrecorded
        os._exit(1)
    message = b"".join(chunks)
    if not message.startswith(GATE_OPEN) or not message.endswith(b"\0\0"):
        os._exit(1)
    for entry in message[len(GATE_OPEN) :].split(b"\0"):
        key, sep, value = entry.decode("utf-8", "surrogateescape").partition("=")
        if sep:
            os.environ[key] = value


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
    gate = os.environ.pop(GATE_ENV, "")
    if gate:
        _wait_at_gate(int(gate) if gate.isdigit() else -1)
    if os.environ.pop(PARENT_ENV, "") == str(os.getppid()):
        if "argparse" in sys.modules:
            _hook_argparse(sys.modules["argparse"])
        else:
            sys.meta_path.insert(0, _WhenImported)
    _chain()


_start()
