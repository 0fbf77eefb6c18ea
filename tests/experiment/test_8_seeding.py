"""Issue point 8: seeding before config scopes and before main; per-function seeds."""

# ruff: noqa: F841

from __future__ import annotations

import random
import sys
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from exp_helpers import latest, run_py, write

from gitxp import Experiment


def _draws(repo: Path) -> Experiment:
    ex = Experiment("seeded", base_dir=repo)

    @ex.config
    def cfg() -> None:
        py_in_scope = random.random()
        np_in_scope = float(np.random.rand())

    @ex.capture
    def helper(_seed: int, _rnd: Any) -> list[Any]:
        return [_seed, int(_rnd.integers(0, 10**6))]

    @ex.main
    def main(py_in_scope: float, np_in_scope: float) -> list[Any]:
        return [py_in_scope, np_in_scope, random.random(), float(np.random.rand()), helper()]

    return ex


def test_same_seed_same_draws_including_config_scopes(exrepo: Path) -> None:
    ex = _draws(exrepo)
    first = ex.run(config_updates={"seed": 123}).result
    random.seed(999)  # whatever happened before must not matter
    np.random.seed(999)
    second = ex.run(config_updates={"seed": 123}).result
    other = ex.run(config_updates={"seed": 124}).result
    assert first == second
    assert all(a != b for a, b in zip(first[:4], other[:4], strict=True))
    assert first[4] != other[4]
    random.seed(123)
    assert first[0] == random.random()  # the scope ran right after seeding with 123
    assert latest(exrepo).config["py_in_scope"] == other[0]


def test_a_seed_chosen_by_a_scope_is_used_from_the_start(exrepo: Path) -> None:
    ex = Experiment("scopeseed", base_dir=exrepo)

    @ex.config
    def cfg() -> None:
        seed = 42
        noise = random.random()

    @ex.main
    def main(noise: float, seed: int) -> list[Any]:
        return [seed, noise, random.random()]

    a = ex.run().result
    b = ex.run().result
    assert a == b and a[0] == 42
    random.seed(42)
    assert a[1] == random.random()


def test_draws_in_one_function_never_shift_another(exrepo: Path) -> None:
    def build(extra_calls: int, extra_function: bool) -> Experiment:
        ex = Experiment("independent", base_dir=exrepo)

        @ex.capture
        def noisy(_seed: int) -> int:
            return _seed

        @ex.capture
        def steady(_seed: int, _rnd: Any) -> list[int]:
            return [_seed, int(_rnd.integers(0, 10**6))]

        if extra_function:

            @ex.capture
            def newcomer(_seed: int) -> int:
                return _seed

        @ex.main
        def main() -> list[Any]:
            for _ in range(extra_calls):
                noisy()
            return [steady(), steady()]

        return ex

    base = build(0, False).run(config_updates={"seed": 5}).result
    more_calls = build(3, False).run(config_updates={"seed": 5}).result
    more_functions = build(0, True).run(config_updates={"seed": 5}).result
    assert base == more_calls == more_functions
    assert base[0] != base[1]  # a new seed on each call


def test_seeds_are_recorded_and_reproduce_from_the_command_line(exrepo: Path) -> None:
    write(
        exrepo,
        "rand.py",
        """
        import random
        import numpy as np
        from gitxp import Experiment
        ex = Experiment()

        @ex.config
        def cfg():
            start = random.randint(0, 10**6)

        @ex.capture
        def rnd_numbers(_rnd):
            return [int(x) for x in _rnd.integers(0, 100, size=3)]

        @ex.automain
        def main(start):
            return [start, random.randint(0, 10**6), int(np.random.randint(0, 10**6)),
                    rnd_numbers()]
    """,
    )
    run_py(exrepo, "rand.py")
    first = latest(exrepo).info
    run_py(exrepo, "rand.py", "with", f"seed={first['seed']}")
    again = latest(exrepo).info
    assert again["result"] == first["result"]
    assert again["seed"] == first["seed"] and again["config_updates"] == {"seed": first["seed"]}


def test_torch_and_tensorflow_are_seeded_when_imported(
    exrepo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[str, int]] = []
    torch = types.ModuleType("torch")
    torch.manual_seed = lambda s: calls.append(("torch", s))  # type: ignore[attr-defined]
    torch.cuda = types.SimpleNamespace(  # type: ignore[attr-defined]
        is_available=lambda: True, manual_seed_all=lambda s: calls.append(("cuda", s))
    )
    tf = types.ModuleType("tensorflow")
    tf.random = types.SimpleNamespace(  # type: ignore[attr-defined]
        set_seed=lambda s: calls.append(("tf", s))
    )
    monkeypatch.setitem(sys.modules, "torch", torch)
    monkeypatch.setitem(sys.modules, "tensorflow", tf)
    ex = Experiment("frameworks", base_dir=exrepo)

    @ex.main
    def main() -> None:
        calls.append(("main", 0))

    ex.run(config_updates={"seed": 77})
    # once before the config scopes, once before main
    assert calls == [("torch", 77), ("cuda", 77), ("tf", 77)] * 2 + [("main", 0)]


def test_main_draws_match_sacred_for_the_same_seed(exrepo: Path) -> None:
    sacred = pytest.importorskip("sacred")
    sex = sacred.Experiment("same", save_git_info=False)
    gex = Experiment("same", base_dir=exrepo)

    def draws() -> list[float]:
        return [random.random(), float(np.random.rand())]

    sex.main(draws)
    gex.main(draws)
    options = {"--loglevel": "ERROR"}
    theirs = sex.run(config_updates={"seed": 2024}, options=options).result
    assert gex.run(config_updates={"seed": 2024}, options=options).result == theirs
