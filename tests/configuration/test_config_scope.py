"""Config scopes (``@ex.config``) and config dicts (``add_config``)."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from gitxp.configuration.dicts import is_code_object
from gitxp.configuration.scope import ConfigDict, ConfigScope
from gitxp.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parents[2]

# Config functions are plain functions whose locals become entries; their bodies look odd to
# linters (unused variables, imports inside functions), which is the point.
# ruff: noqa: F841


def basic() -> None:
    """The default configuration."""
    import math

    lr = 0.1  # learning rate
    # number of hidden layers
    # (not counting the output layer)
    n_layers = 3
    opt = {
        "lr": lr,  # step size of the optimizer
        "momentum": 0.9,
        "schedule": {
            "kind": "cosine",  # the schedule type
        },
    }
    sizes = [n_layers * i for i in range(n_layers)]  # uses a local inside a comprehension
    shape = (2, 3)
    root = math.sqrt(16)
    name = "run"  # pylint: disable=invalid-name
    _hidden = 42

    def helper(x: int) -> int:
        return x * n_layers

    doubled = helper(2)

    class Local:
        pass


def data_only(config: dict[str, Any]) -> dict[str, Any]:
    """The entries that are data (modules, classes and functions left out)."""
    return {k: v for k, v in config.items() if not is_code_object(v)}


def test_locals_become_entries() -> None:
    scope = ConfigScope(basic)
    result = scope({}, {})
    assert result["math"] is math and callable(result["helper"])
    assert result["Local"].__name__ == "Local"
    assert data_only(result) == {
        "lr": 0.1,
        "n_layers": 3,
        "opt": {"lr": 0.1, "momentum": 0.9, "schedule": {"kind": "cosine"}},
        "sizes": [0, 3, 6],
        "shape": [2, 3],
        "root": 4.0,
        "name": "run",
        "doubled": 6,
    }


def test_entries_keep_definition_order() -> None:
    assert list(data_only(ConfigScope(basic)({}, {}))) == [
        "lr",
        "n_layers",
        "opt",
        "sizes",
        "shape",
        "root",
        "name",
        "doubled",
    ]


def test_comments_become_docs() -> None:
    scope = ConfigScope(basic)
    assert scope.docs == {
        "lr": "learning rate",
        "n_layers": "number of hidden layers (not counting the output layer)",
        "opt.lr": "step size of the optimizer",
        "opt.schedule.kind": "the schedule type",
        "sizes": "uses a local inside a comprehension",
    }
    assert scope.doc == "The default configuration."
    assert scope.__doc__ == "The default configuration."
    assert scope.__name__ == "basic"


def test_fixed_values_win_and_derived_values_follow() -> None:
    def cfg() -> None:
        a = 10
        b = 3 * a
        a = 11  # a second assignment is ignored as well

    assert ConfigScope(cfg)({"a": 23}, {}) == {"a": 23, "b": 69}
    assert ConfigScope(cfg)({}, {}) == {"a": 11, "b": 30}


def test_nested_partial_override_merges_into_the_assigned_dict() -> None:
    def cfg() -> None:
        opt = {"lr": 1, "m": 2, "sub": {"x": 1, "y": 2}}
        seen = opt["lr"]
        opt["lr"] = 7  # mutating a fixed part has no lasting effect

    result = ConfigScope(cfg).evaluate({"opt": {"lr": 5, "sub": {"y": 9}}}, {})
    assert result.config == {"opt": {"lr": 5, "m": 2, "sub": {"x": 1, "y": 9}}, "seen": 5}
    assert result.shadowed == {"opt.lr": 1, "opt.sub.y": 2}
    assert result.produced == {"opt.lr", "opt.m", "opt.sub.x", "opt.sub.y", "seen"}


def test_fixed_scalar_replaces_an_assigned_dict_and_vice_versa() -> None:
    def cfg() -> None:
        opt = {"lr": 1}
        n = 3

    result = ConfigScope(cfg).evaluate({"opt": "adam", "n": {"k": 1}}, {})
    assert result.config == {"opt": "adam", "n": {"k": 1}}
    assert result.shadowed == {"opt": {"lr": 1}, "n": 3}


def test_fixed_keys_the_body_never_sets_are_kept() -> None:
    def cfg() -> None:
        a = 1

    result = ConfigScope(cfg).evaluate({"extra": [1]}, {})
    assert result.config == {"a": 1, "extra": [1]}
    assert result.produced == {"a"}


def test_preset_values_are_visible_and_may_be_overwritten() -> None:
    def later(a: int, c: int) -> None:
        b = a + 1
        c = c * 2

    result = ConfigScope(later)({}, {"a": 1, "c": 5, "untouched": "x"})
    assert result == {"a": 1, "c": 10, "untouched": "x", "b": 2}


def test_later_scope_builds_on_earlier_one() -> None:
    def first() -> None:
        a = 1
        b = 2

    def second(a: int) -> None:
        b = a * 10
        c = b + 1

    config = ConfigScope(first)({}, {})
    config = ConfigScope(second)({}, config)
    assert config == {"a": 1, "b": 10, "c": 11}
    assert ConfigScope(second)({"b": 0}, ConfigScope(first)({"b": 0}, {})) == {
        "a": 1,
        "b": 0,
        "c": 1,
    }


def test_parameters_must_exist_unless_they_have_defaults() -> None:
    def needs(lr: float) -> None:
        x = lr

    def defaults(lr: float = 0.5) -> None:
        x = lr * 2

    with pytest.raises(ConfigError) as err:
        ConfigScope(needs)({}, {})
    assert "needs the config entry 'lr', which no earlier config scope defines" in str(err.value)
    assert ConfigScope(needs)({"lr": 1}, {}) == {"lr": 1, "x": 1}
    assert ConfigScope(defaults)({}, {}) == {"lr": 0.5, "x": 1.0}
    assert ConfigScope(defaults)({}, {"lr": 2}) == {"lr": 2, "x": 4}
    assert ConfigScope(defaults).arg_names == ["lr"]


def test_fallback_values_are_readable_but_not_entries() -> None:
    def cfg() -> None:
        n = dataset["n"] * 2  # noqa: F821 - provided as a fallback

    assert ConfigScope(cfg)({}, {}, {"dataset": {"n": 4}}) == {"n": 8}


def test_closure_variables_are_available() -> None:
    factor = 7

    def cfg() -> None:
        a = factor * 2

    assert ConfigScope(cfg)({}, {}) == {"a": 14}


def test_return_is_rejected() -> None:
    def cfg() -> int:
        a = 1
        return a

    line = cfg.__code__.co_firstlineno + 2
    with pytest.raises(ConfigError) as err:
        ConfigScope(cfg)
    assert str(err.value) == (
        f"config function 'test_return_is_rejected.<locals>.cfg' "
        f"(test_config_scope.py:{cfg.__code__.co_firstlineno}): 'return' on line {line} is not "
        "allowed in a config scope; assign the config entries to local variables"
    )


def test_yield_is_rejected_but_nested_functions_may_return() -> None:
    def gen() -> Any:
        a = 1
        yield a

    def fine() -> None:
        def inner() -> int:
            return 3

        a = inner()

    with pytest.raises(ConfigError, match="'yield' on line"):
        ConfigScope(gen)
    assert data_only(ConfigScope(fine)({}, {})) == {"a": 3}


def test_unstorable_value_names_function_and_key() -> None:
    def cfg() -> None:
        opt = {"fn": print, "obj": object()}

    with pytest.raises(ConfigError) as err:
        ConfigScope(cfg)({}, {})
    message = str(err.value)
    assert message.startswith("config function 'test_unstorable_value_names_function_and_key")
    assert message.endswith(
        "config key 'opt.obj': value of type object cannot be stored; "
        "use a number, string, bool, None, list or dict"
    )


def test_errors_in_the_body_name_the_function_and_line() -> None:
    def cfg() -> None:
        a = 1
        b = a / 0

    with pytest.raises(ConfigError) as err:
        ConfigScope(cfg)({}, {})
    line = cfg.__code__.co_firstlineno + 2
    assert f"failed at line {line}: ZeroDivisionError: division by zero" in str(err.value)


def test_lambdas_and_sourceless_functions_are_rejected() -> None:
    with pytest.raises(ConfigError, match="config scope is a lambda"):
        ConfigScope(lambda: None)
    namespace: dict[str, Any] = {}
    exec("def made_up():\n    a = 1\n", namespace)
    with pytest.raises(ConfigError, match=r"^cannot read the source of config function"):
        ConfigScope(namespace["made_up"])
    with pytest.raises(ConfigError, match="not a function"):
        ConfigScope(len)


def test_body_can_delete_its_own_entries_but_not_fixed_ones() -> None:
    def cfg() -> None:
        a = 1
        b = 2
        del a
        del b

    assert ConfigScope(cfg)({"b": 5}, {}) == {"b": 5}


def test_function_in_a_script_run_as_main(tmp_path: Path) -> None:
    script = tmp_path / "train.py"
    script.write_text(
        textwrap.dedent(
            """
            import json
            from gitxp.configuration.scope import ConfigScope

            def config():
                lr = 0.01  # learning rate
                steps = [lr * i for i in range(3)]

            if __name__ == "__main__":
                scope = ConfigScope(config)
                print(json.dumps([scope({"lr": 1}, {}), scope.docs]))
            """
        )
    )
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    proc = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, env=env, check=True
    )
    assert proc.stdout.strip() == ('[{"lr": 1, "steps": [0, 1, 2]}, {"lr": "learning rate"}]')


class Holder:
    def method_like(self) -> None:  # defined in a class body: indented source
        x = 1  # an x


def test_indented_source_is_handled() -> None:
    scope = ConfigScope(Holder.method_like)
    assert scope({}, {"self": None}) == {"self": None, "x": 1}
    assert scope.docs == {"x": "an x"}


def test_pragmas_are_not_docs() -> None:
    def cfg() -> None:
        # pylint: disable=invalid-name
        a = 1  # pragma: no cover
        b = 2  # type: int
        # real doc
        c = 3  # fmt: skip

    assert ConfigScope(cfg).docs == {"c": "real doc"}


def test_docs_for_tuple_targets_and_branches() -> None:
    def cfg() -> None:
        x, y = 1, 2  # coordinates
        if x > 0:
            z = 3  # only when x is positive

    assert ConfigScope(cfg).docs == {
        "x": "coordinates",
        "y": "coordinates",
        "z": "only when x is positive",
    }


# ----------------------------------------------------------------------------- ConfigDict


def test_config_dict_merges_over_preset_and_fixed_wins() -> None:
    cd = ConfigDict({"opt": {"lr": 0.1}, "t": (1, 2)})
    result = cd.evaluate({"opt": {"lr": 5}}, {"opt": {"m": 0.9}, "old": 1})
    assert result.config == {"opt": {"m": 0.9, "lr": 5}, "old": 1, "t": [1, 2]}
    assert result.produced == {"opt.lr", "t"}
    assert result.shadowed == {"opt.lr": 0.1}
    assert cd({}, {}) == {"opt": {"lr": 0.1}, "t": [1, 2]}
    assert cd.docs == {}


def test_config_dict_rejects_unstorable_values() -> None:
    with pytest.raises(ConfigError) as err:
        ConfigDict({"a": {"f": len, "o": object()}})
    assert str(err.value) == (
        "config dict: config key 'a.o': value of type object cannot be "
        "stored; use a number, string, bool, None, list or dict"
    )


def identity(func: Any) -> Any:
    return func


@identity
@identity
def decorated() -> None:
    """Docstring only lines are not entries."""
    a = 1  # decorated a


def test_decorator_lines_are_skipped() -> None:
    scope = ConfigScope(decorated)
    assert scope({}, {}) == {"a": 1}
    assert scope.docs == {"a": "decorated a"}
    assert scope.doc == "Docstring only lines are not entries."


def test_nested_function_with_a_string_at_column_zero() -> None:
    def cfg() -> None:
        text = """first
second"""
        n = 2  # after the string

    scope = ConfigScope(cfg)
    assert scope({}, {}) == {"text": "first\nsecond", "n": 2}
    assert scope.docs == {"n": "after the string"}


def test_empty_body() -> None:
    def cfg() -> None:
        """Nothing here."""

    assert ConfigScope(cfg)({"a": 1}, {"b": 2}) == {"b": 2, "a": 1}
