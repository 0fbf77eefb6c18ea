"""Seeding: one root ``seed`` controls every random draw of a run.

* :func:`set_global_seed` seeds ``random``, numpy's legacy global generator (if numpy is
  installed: right away if it is imported, else the moment it is imported during the run)
  and torch and tensorflow (only if the program already imported them). An
  Experiment calls it twice: before any config scope runs (so draws inside ``@ex.config``
  are reproducible, unlike Sacred, see its issue #455) and again right before the main
  function.
* :func:`derive_seed` gives every ingredient and captured function its own seed, computed
  from the root seed and the function's dotted name. Adding or removing calls in one
  function therefore never shifts the numbers another function gets (in Sacred the seeds of
  captured functions are drawn one after another from a shared generator).
* :class:`SeedStream` is the per-function generator behind ``_seed`` and ``_rnd``: each call
  that asks for them gets the next seed of the function's own stream.
"""

from __future__ import annotations

import hashlib
import importlib.util
import random
import sys
from collections.abc import Callable
from typing import Any

__all__ = [
    "SEED_HIGH",
    "SEED_LOW",
    "SeedStream",
    "create_rnd",
    "derive_seed",
    "end_seeding",
    "set_global_seed",
]

SEED_LOW, SEED_HIGH = 1, 10**9  # seeds are ints in [SEED_LOW, SEED_HIGH)
_NUMPY: dict[str, bool] = {}


def derive_seed(seed: int, name: str) -> int:
    """A seed for ``name`` (``"dataset.load"``) that depends only on ``seed`` and ``name``."""
    digest = hashlib.blake2b(f"{seed}\0{name}".encode(), digest_size=8).digest()
    return SEED_LOW + int.from_bytes(digest, "big") % (SEED_HIGH - SEED_LOW)


def _numpy_installed() -> bool:
    if "numpy" not in _NUMPY:
        _NUMPY["numpy"] = "numpy" in sys.modules or importlib.util.find_spec("numpy") is not None
    return _NUMPY["numpy"]


def create_rnd(seed: int) -> Any:
    """A generator seeded with ``seed``: numpy's ``default_rng`` if numpy is installed,
    else ``random.Random`` (what ``_rnd`` is in Sacred with numpy >= 1.19)."""
    if _numpy_installed():
        import numpy

        return numpy.random.default_rng(seed)
    return random.Random(seed)


class _SeedNumpyOnImport:
    """Seeds ``numpy.random`` the moment it is imported, while a run is being set up or runs.

    Importing numpy only to seed it would cost every script that never uses numpy a
    noticeable part of its start-up; seeding it on import gives the same state. (A finder
    by its ``find_spec`` alone: ``importlib.abc`` would import ``importlib.resources``.)
    """

    seed: int | None = None

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname != "numpy.random" or self.seed is None:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None and spec.loader is not None:
                loader: Any = spec.loader
                loader.exec_module = _seeding(loader.exec_module, self.seed)
                return spec
        return None


def _seeding(exec_module: Callable[[Any], None], seed: int) -> Callable[[Any], None]:
    def run_and_seed(module: Any) -> None:
        exec_module(module)
        module.seed(seed % 2**32)

    return run_and_seed


_HOOK = _SeedNumpyOnImport()


def set_global_seed(seed: int) -> None:
    """Seed ``random``, numpy (now if imported, else when imported), torch and tensorflow
    (if imported)."""
    random.seed(seed)
    numpy_random = sys.modules.get("numpy.random")
    if numpy_random is not None:
        numpy_random.seed(seed % 2**32)
    elif _numpy_installed():
        _HOOK.seed = seed
        if _HOOK not in sys.meta_path:
            sys.meta_path.insert(0, _HOOK)
    torch = sys.modules.get("torch")
    if torch is not None and hasattr(torch, "manual_seed"):
        torch.manual_seed(seed)
        cuda = getattr(torch, "cuda", None)
        if cuda is not None and cuda.is_available():
            cuda.manual_seed_all(seed)
    tf = sys.modules.get("tensorflow")
    if tf is not None:
        setter = getattr(getattr(tf, "random", None), "set_seed", None)
        setter = setter or getattr(tf, "set_random_seed", None)
        if setter is not None:
            setter(seed)


def end_seeding() -> None:
    """A run ended: numpy imported from now on is not seeded by gitxp."""
    _HOOK.seed = None


class SeedStream:
    """The seeds one captured function hands out, one per call that asks for them."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._rng = random.Random(seed)

    def next_seed(self) -> int:
        """The next seed of this function's stream."""
        return self._rng.randrange(SEED_LOW, SEED_HIGH)
