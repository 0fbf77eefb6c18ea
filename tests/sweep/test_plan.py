"""The sweep syntax: grids, ranges, random draws, quoting, and the errors of each."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitxp.errors import ConfigError, UsageError
from gitxp.sweep.plan import combinations, render, split_sweep_args, split_top_level


def configs(tokens: list[str], **kw: int) -> list[dict[str, object]]:
    return [c.config for c in combinations(tokens, **kw)]


def test_a_grid_is_every_combination_in_order() -> None:
    got = configs(["lr=0.1,0.01", "seed=range(3)", "model.depth=2,4"])
    assert len(got) == 12
    assert got[0] == {"lr": 0.1, "seed": 0, "model": {"depth": 2}}
    assert got[-1] == {"lr": 0.01, "seed": 2, "model": {"depth": 4}}
    assert configs(["x=range(2, 7, 2)"]) == [{"x": 2}, {"x": 4}, {"x": 6}]


def test_brackets_and_quotes_keep_commas_inside_one_value() -> None:
    assert split_top_level("[1,2],{'a': (3,4)},'x,y'") == ["[1,2]", "{'a': (3,4)}", "'x,y'"]
    got = configs(['name="a,b"', "x=[1,2],[3]", "epochs=3"])
    assert got == [
        {"name": "a,b", "x": [1, 2], "epochs": 3},
        {"name": "a,b", "x": [3], "epochs": 3},
    ]
    # a word that only looks like a sweep function is a string when quoted
    assert configs(["f='range(3)'"]) == [{"f": "range(3)"}]


@pytest.mark.parametrize("value", ["adam", "1", "a b", "", "x,y", "True", 0.1, 3, [1, "a"], None])
def test_rendered_values_read_back_as_themselves(value: object) -> None:
    assert configs([f"k={render(value)}"]) == [{"k": value}]


def test_random_draws_are_seeded_and_crossed_with_the_grid() -> None:
    words = ["lr=loguniform(1e-4,1e-1)", "opt=choice(adam,sgd)", "seed=range(2)"]
    first = configs(words, trials=4, seed=7)
    assert len(first) == 8
    assert first == configs(words, trials=4, seed=7)
    assert first != configs(words, trials=4, seed=8)
    assert all(1e-4 <= c["lr"] <= 1e-1 and c["opt"] in ("adam", "sgd") for c in first)  # type: ignore[operator]
    assert all(0 <= c["u"] <= 1 for c in configs(["u=uniform(0,1)"], trials=5))  # type: ignore[operator]


def test_named_configs_go_to_every_run() -> None:
    got = combinations(["large", "lr=0.1,0.2"])
    assert [c.named for c in got] == [["large"], ["large"]]
    assert got[1].tokens == ["large", "lr=0.2"]


@pytest.mark.parametrize(
    ("words", "kw", "error", "says"),
    [
        (["seed=range(0)"], {}, UsageError, "no runs: seed has no values"),
        (["lr=logunif(1,2)"], {}, ConfigError, "unknown sweep function logunif()"),
        (["lr=0.1,"], {}, ConfigError, "an empty value in the list"),
        (["lr=loguniform(0,1)"], {}, ConfigError, "needs 0 < low < high"),
        (["lr=uniform(1)"], {}, ConfigError, "takes two numbers"),
        (["lr=loguniform(1e-3,1e-1)"], {}, UsageError, "--trials N"),
        (["lr=0.1,0.2"], {"trials": 3}, UsageError, "--trials needs a random dimension"),
        (["'lr'=1,2"], {}, ConfigError, "contains a quote"),
    ],
)
def test_bad_sweeps_say_what_to_fix(
    words: list[str], kw: dict[str, int], error: type[Exception], says: str
) -> None:
    with pytest.raises(error, match=None) as caught:
        combinations(words, **kw)
    assert says in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_sweep_file_says_the_same_as_the_with_line(tmp_path: Path) -> None:
    (tmp_path / "sweep.yaml").write_text(
        "sweep:\n  lr: [0.1, 0.01]\n  seed: range(2)\n  epochs: 3\n  opt: choice(adam, sgd)\n"
        "named: [large]\ntrials: 2\nseed: 5\n"
    )
    program, combos = split_sweep_args(["train.py", "sweep.yaml", "--fast"], tmp_path, None, None)
    assert program == ["train.py", "--fast"]
    assert len(combos) == 2 * 2 * 2
    assert combos[0].named == ["large"]
    assert {c.config["epochs"] for c in combos} == {3}
    line = combinations(
        ["large", "lr=0.1,0.01", "seed=range(2)", "epochs=3", "opt=choice(adam,sgd)"], 2, 5
    )
    assert [c.config for c in combos] == [c.config for c in line]
    (tmp_path / "bad.yaml").write_text("sweep:\n  lr: []\n")
    with pytest.raises(UsageError, match="lr has no values"):
        split_sweep_args(["train.py", "bad.yaml"], tmp_path, None, None)
