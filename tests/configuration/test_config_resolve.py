"""Precedence, seed, added/modified/typechanged keys and the unknown-key check."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from gitxp.configuration.resolve import (
    SEED_DOC,
    ResolvedConfig,
    check_unknown_keys,
    resolve_config,
    type_changed,
)
from gitxp.configuration.scope import ConfigDict, ConfigScope
from gitxp.errors import ConfigError

# ruff: noqa: F841


def cfg() -> None:
    a = 10  # the a value
    b = 3 * a


def variant1() -> None:
    """A bigger a."""
    a = 100
    c = 2 * a


def variant2(a: int) -> None:
    a = a + 1
    d = "two"


SCOPES = [ConfigScope(cfg)]
NAMED = {"variant1": ConfigScope(variant1), "variant2": ConfigScope(variant2)}


def resolve(
    updates: dict[str, Any] | None = None, named: list[str] | None = None, **kw: Any
) -> ResolvedConfig:
    return resolve_config(SCOPES, NAMED, [], updates or {}, named or [], **kw)


def without_seed(resolved: ResolvedConfig) -> dict[str, Any]:
    return {k: v for k, v in resolved.config.items() if k != "seed"}


# ----------------------------------------------------------------------------- precedence


def test_defaults() -> None:
    resolved = resolve()
    assert without_seed(resolved) == {"a": 10, "b": 30}
    assert resolved.added == set()
    assert resolved.modified == set()
    assert resolved.docs == {"a": "the a value", "seed": SEED_DOC}


def test_named_config_values_are_fixed_for_the_defaults() -> None:
    assert without_seed(resolve(named=["variant1"])) == {"a": 100, "b": 300, "c": 200}


def test_with_variant1_a_23_as_in_sacred() -> None:
    # sacred.md 1.3: a=23 is fixed, variant1 runs with a fixed, then the defaults run.
    resolved = resolve({"a": 23}, ["variant1"])
    assert without_seed(resolved) == {"a": 23, "b": 69, "c": 46}
    assert resolved.modified == {"a"}
    assert resolved.added == set()


def test_later_named_configs_override_earlier_ones_and_see_them() -> None:
    assert without_seed(resolve(named=["variant1", "variant2"])) == {
        "a": 101,
        "b": 303,
        "c": 200,
        "d": "two",
    }
    with pytest.raises(ConfigError, match="needs the config entry 'a'"):
        resolve(named=["variant2"])


def test_named_config_keys_are_not_added() -> None:
    resolved = resolve({"c": 5}, ["variant1"])
    assert resolved.config["c"] == 5
    assert resolved.added == set()
    assert resolved.modified == {"c"}


def test_unknown_named_config_lists_the_available_ones() -> None:
    with pytest.raises(ConfigError) as err:
        resolve(named=["varaint1"])
    assert str(err.value) == (
        'Named config not found: "varaint1". Available config values are: '
        "['variant1', 'variant2']; "
        "unknown named config 'varaint1' (did you mean 'variant1'?); "
        "available named configs: variant1, variant2"
    )
    with pytest.raises(ConfigError) as err:
        resolve_config(SCOPES, {}, [], {}, ["fast"])
    assert "unknown named config 'fast': there are no named configs" in str(err.value)


def test_later_scopes_override_and_build_on_earlier_ones() -> None:
    def more(a: int) -> None:
        b = a + 1  # b doc from the second scope
        e = b * 2

    resolved = resolve_config([ConfigScope(cfg), ConfigScope(more)], {}, [], {"a": 1}, [])
    assert without_seed(resolved) == {"a": 1, "b": 2, "e": 4}
    assert resolved.docs["b"] == "b doc from the second scope"
    assert resolved.docs["a"] == "the a value"


def test_dotted_update_keys_and_nested_partial_override() -> None:
    def opt_cfg() -> None:
        opt = {"lr": 0.1, "m": 0.9}
        lr_copy = opt["lr"]

    resolved = resolve_config([ConfigScope(opt_cfg)], {}, [], {"opt.lr": 0.5}, [])
    assert without_seed(resolved) == {"opt": {"lr": 0.5, "m": 0.9}, "lr_copy": 0.5}
    assert resolved.modified == {"opt.lr"}
    assert resolved.added == set()


# ----------------------------------------------------------------------------- config files


def test_config_file_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "run.yaml").write_text("a: 7\nz: true\n")
    resolved = resolve({"b": 1}, ["run.yaml"], base_dir=tmp_path)
    assert without_seed(resolved) == {"a": 7, "b": 1, "z": True}
    assert resolved.added == set()
    monkeypatch.chdir(tmp_path)
    assert without_seed(resolve(named=["run.yaml"])) == {"a": 7, "b": 21, "z": True}


def test_config_file_wins_over_named_config_of_the_same_name(tmp_path: Path) -> None:
    (tmp_path / "variant1.json").write_text('{"a": 1}')
    named: dict[str, Any] = {**NAMED, "variant1.json": ConfigDict({"a": 2})}
    resolved = resolve_config(SCOPES, named, [], {}, ["variant1.json"], base_dir=tmp_path)
    assert resolved.config["a"] == 1


def test_missing_or_unsupported_config_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        resolve(named=["missing.yaml"], base_dir=tmp_path)
    assert str(err.value) == f"config file 'missing.yaml' not found in {tmp_path}; check the path"
    (tmp_path / "params.toml").write_text("a = 1\n")
    with pytest.raises(ConfigError, match=r"unsupported extension '\.toml'; use one of"):
        resolve(named=["params.toml"], base_dir=tmp_path)


# ----------------------------------------------------------------------------- hooks


def test_hooks_override_scopes_but_not_updates() -> None:
    seen: list[dict[str, Any]] = []

    def hook(config: dict[str, Any]) -> dict[str, Any]:
        seen.append(dict(config))
        config["a"] = -1  # changing the copy has no effect
        return {"a": 1000, "b": 1000, "h": "hooked"}

    resolved = resolve_config(SCOPES, NAMED, [hook], {"a": 5}, [])
    assert without_seed(resolved) == {"a": 5, "b": 1000, "h": "hooked"}
    assert seen == [{"a": 5, "b": 15}]


def test_named_configs_also_win_over_hooks() -> None:
    def hook(config: dict[str, Any]) -> dict[str, Any]:
        return {"c": 0, "b": 1}

    resolved = resolve_config(SCOPES, NAMED, [hook], {}, ["variant1"])
    assert without_seed(resolved) == {"a": 100, "b": 1, "c": 200}


def test_hook_results_accumulate_and_none_is_allowed() -> None:
    def h1(config: dict[str, Any]) -> dict[str, Any]:
        return {"x": {"p": 1}}

    def h2(config: dict[str, Any]) -> None:
        return None

    def h3(config: dict[str, Any]) -> dict[str, Any]:
        return {"x.q": 2}

    resolved = resolve_config(SCOPES, {}, [h1, h2, h3], {"x.q": 3}, [])
    assert resolved.config["x"] == {"p": 1, "q": 3}
    assert resolved.added == set()  # the hook defines x.q


def test_hook_returning_a_non_dict_is_an_error() -> None:
    def bad(config: dict[str, Any]) -> Any:
        return [1]

    with pytest.raises(ConfigError, match=r"^config hook '.*bad' returned a value of type list"):
        resolve_config(SCOPES, {}, [bad], {}, [])


# ----------------------------------------------------------------------------- seed


def test_seed_is_always_present_and_random() -> None:
    random.seed(0)
    first = resolve().config["seed"]
    random.seed(0)
    second = resolve().config["seed"]
    for seed in (first, second):
        assert type(seed) is int
        assert 1 <= seed < 10**9
    assert first != second  # drawn from a private RNG, not the seeded global one


def test_seed_is_stable_when_given() -> None:
    resolved = resolve({"seed": 1234})
    assert resolved.config["seed"] == 1234
    assert resolved.modified == {"seed"}
    assert resolved.added == set()

    def seeded() -> None:
        seed = 99

    assert resolve_config([ConfigScope(seeded)], {}, [], {}, []).config["seed"] == 99
    from_scope = resolve_config([ConfigScope(seeded)], {}, [], {"seed": 5}, [])
    assert from_scope.config["seed"] == 5
    assert from_scope.modified == {"seed"}


@pytest.mark.parametrize("seed", ["abc", -1, 2**32, 1.5, True])
def test_invalid_seed(seed: Any) -> None:
    with pytest.raises(ConfigError, match=r"config key 'seed': .* is not a valid seed"):
        resolve({"seed": seed})


def test_no_seed_for_ingredients() -> None:
    resolved = resolve(add_seed=False)
    assert resolved.config == {"a": 10, "b": 30}
    assert "seed" not in resolved.docs


# ----------------------------------------------------------------------------- modifications


def test_added_modified_and_typechanged() -> None:
    def base() -> None:
        i = 1
        f = 1.5
        n = None
        s = "x"
        same = 3
        opt = {"lr": 0.1}
        scalar = 5

    resolved = resolve_config(
        [ConfigScope(base)],
        {},
        [],
        {
            "i": 2.5,
            "f": 2,
            "n": "now set",
            "s": 4,
            "same": 3,
            "opt.lr": 0.1,
            "opt.extra": 1,
            "new": {"deep": 1},
            "scalar.sub": 1,
        },
        [],
    )
    assert resolved.added == {"opt.extra", "new.deep", "scalar.sub"}
    assert resolved.modified == {"i", "f", "n", "s", "scalar", "opt"}  # opt gained an entry
    assert resolved.typechanged == {"s": (str, int), "scalar": (int, dict)}


def test_type_changed() -> None:
    assert type_changed(1, 2.0) is False
    assert type_changed(None, "x") is False
    assert type_changed(1, True) is True
    assert type_changed("1", 1) is True
    assert type_changed([1], [2]) is False


def test_plain_callables_work_as_scopes() -> None:
    def plain(fixed: dict[str, Any], preset: dict[str, Any]) -> dict[str, Any]:
        a = fixed.get("a", 1)
        return {"a": a, "b": a * 2}

    resolved = resolve_config([plain], {}, [], {"a": 4, "zz": 1}, [])
    assert without_seed(resolved) == {"a": 4, "b": 8, "zz": 1}
    assert resolved.added == {"zz"}


# ----------------------------------------------------------------------------- unknown keys


def test_unknown_key_with_suggestion() -> None:
    def lr_cfg() -> None:
        lr = 0.1
        momentum = 0.9

    resolved = resolve_config([ConfigScope(lr_cfg)], {}, [], {"lrr": 0.5}, [])
    assert resolved.added == {"lrr"}
    with pytest.raises(ConfigError) as err:
        check_unknown_keys(resolved, ["lr", "momentum"], force=False)
    assert str(err.value) == (
        "Added new config entry that is not used anywhere: "
        "'lrr' (did you mean 'lr'?); pass -f/--force to add it anyway"
    )
    assert check_unknown_keys(resolved, ["lr"], force=True) == []


def test_unknown_keys_several_and_without_suggestion() -> None:
    resolved = resolve({"qqq": 1, "bb": 2})
    with pytest.raises(ConfigError) as err:
        check_unknown_keys(resolved, [], force=False)
    assert str(err.value) == (
        "Added new config entry that is not used anywhere: "
        "'bb' (did you mean 'b'?), 'qqq'; pass -f/--force to add them anyway"
    )


def test_added_keys_used_by_captured_functions_only_warn() -> None:
    resolved = resolve({"extra": 1, "opt": {"new": 2}, "b": "str"})
    warnings = check_unknown_keys(resolved, ["extra", "opt"], force=False)
    assert warnings == [
        "added new config entry 'extra'",
        "added new config entry 'opt.new'",
        "changed type of config entry 'b' from int to str",
    ]
