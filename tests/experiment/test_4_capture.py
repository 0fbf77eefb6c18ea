"""Issue point 4: captured functions: injection, prefix, special arguments, read-only
config, and the error for a missing argument."""

# ruff: noqa: F841

from __future__ import annotations

import logging
import random
from pathlib import Path
from typing import Any

import pytest
from exp_helpers import latest

from gitxp import Experiment
from gitxp.configuration.dicts import ReadOnlyDict
from gitxp.errors import ConfigError
from gitxp.experiment.runobj import Run


def _ex(repo: Path) -> Experiment:
    ex = Experiment("capture", base_dir=repo)

    @ex.config
    def cfg() -> None:
        a = 1
        b = 2
        opt = {"lr": 0.1, "inner": {"depth": 3}}

    return ex


def test_missing_arguments_come_from_the_config_explicit_ones_win(exrepo: Path) -> None:
    ex = _ex(exrepo)

    @ex.capture
    def f(a: int, b: int, c: int = 30) -> tuple[int, int, int]:
        return a, b, c

    @ex.main
    def main() -> list[Any]:
        return [f(), f(10), f(b=20), f(1, 2, 3)]

    assert ex.run().result == [(1, 2, 30), (10, 2, 30), (1, 20, 30), (1, 2, 3)]
    assert latest(exrepo).info["result"] == [[1, 2, 30], [10, 2, 30], [1, 20, 30], [1, 2, 3]]


def test_config_beats_defaults(exrepo: Path) -> None:
    ex = _ex(exrepo)

    @ex.capture
    def f(a: int = 100) -> int:
        return a

    @ex.main
    def main() -> int:
        return f()

    assert ex.run().result == 1


def test_prefix_restricts_to_a_subtree(exrepo: Path) -> None:
    ex = _ex(exrepo)

    @ex.capture(prefix="opt")
    def make(lr: float, inner: Any) -> tuple[float, int]:
        return lr, inner["depth"]

    @ex.capture(prefix="opt.inner")
    def deep(depth: int) -> int:
        return depth

    @ex.main
    def main() -> list[Any]:
        return [make(), deep()]

    assert ex.run(config_updates={"opt.inner.depth": 5}).result == [(0.1, 5), 5]


def test_special_arguments(exrepo: Path) -> None:
    ex = _ex(exrepo)
    seen: dict[str, Any] = {}

    @ex.capture(prefix="opt")
    def special(_config: Any, _run: Run, _log: logging.Logger, _seed: int, _rnd: Any) -> None:
        seen.update(config=_config, run=_run, log=_log, seed=_seed, rnd=_rnd)

    @ex.main
    def main(_run: Run) -> None:
        special()
        seen["main_run"] = _run

    run = ex.run()
    assert seen["config"] == {"lr": 0.1, "inner": {"depth": 3}}
    assert isinstance(seen["config"], ReadOnlyDict)
    assert seen["run"] is run and seen["main_run"] is run
    assert seen["log"].name == "capture.special"
    assert isinstance(seen["seed"], int) and 1 <= seen["seed"] < 10**9
    assert hasattr(seen["rnd"], "integers")  # numpy Generator


def test_seed_is_new_on_every_call(exrepo: Path) -> None:
    ex = _ex(exrepo)

    @ex.capture
    def seed_of(_seed: int) -> int:
        return _seed

    @ex.main
    def main() -> list[int]:
        return [seed_of() for _ in range(3)]

    seeds = ex.run().result
    assert len(set(seeds)) == 3


def test_missing_value_names_function_and_parameter(exrepo: Path) -> None:
    ex = _ex(exrepo)

    @ex.capture
    def needs(bb: int) -> int:
        return bb

    @ex.main
    def main() -> int:
        return needs()

    with pytest.raises(ConfigError) as err:
        ex.run()
    message = str(err.value)
    assert "needs()" in message and "'bb'" in message and "did you mean 'b'?" in message
    assert latest(exrepo).info["status"] == "FAILED"
    assert "missing value for parameter 'bb'" in latest(exrepo).info["fail_trace"]


def test_called_outside_a_run(exrepo: Path) -> None:
    ex = _ex(exrepo)

    @ex.capture
    def needs(a: int, b: int = 5) -> int:
        return a + b

    assert needs(1) == 6
    with pytest.raises(ConfigError, match="outside a run"):
        needs()


def test_config_is_read_only_inside_captured_functions(exrepo: Path) -> None:
    ex = _ex(exrepo)

    @ex.main
    def main(opt: Any, _config: Any) -> None:
        opt["lr"] = 5

    with pytest.raises(ConfigError, match=r"read-only.*'opt.lr'"):
        ex.run()
    rec = latest(exrepo)
    assert rec.info["status"] == "FAILED" and "read-only" in rec.info["fail_trace"]


def test_wrong_arguments_are_type_errors(exrepo: Path) -> None:
    ex = _ex(exrepo)

    @ex.capture
    def f(a: int) -> int:
        return a

    @ex.main
    def main() -> None:
        f(1, 2)

    with pytest.raises(TypeError, match="positional"):
        ex.run(options={"--unobserved": True})


def test_capture_methods(exrepo: Path) -> None:
    ex = _ex(exrepo)

    class Model:
        @ex.capture
        def build(self, a: int, b: int) -> int:
            return a * 10 + b

    @ex.main
    def main() -> int:
        return Model().build()

    assert ex.run().result == 12


def test_captured_functions_see_unchanged_random_state(exrepo: Path) -> None:
    ex = _ex(exrepo)

    @ex.capture
    def draw(_seed: int) -> float:
        return random.random()

    @ex.main
    def main() -> float:
        return draw()

    assert ex.run(config_updates={"seed": 3}).result == ex.run(config_updates={"seed": 3}).result
