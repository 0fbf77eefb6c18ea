"""The ``with`` token syntax (sacred.md 1.3)."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import pytest

from gitxp.configuration.withargs import WithArgs, parse_value, parse_with_args, split_with
from gitxp.errors import ConfigError


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        ("a=1", 1),
        ("a=-3", -3),
        ("a=1.5", 1.5),
        ("a=1e-3", 0.001),
        ("a=1e3", 1000.0),
        ("a=.1", 0.1),
        ("a=1.", 1.0),
        ("a=-.4e-12", -0.4e-12),
        ("a=0b111", 7),
        ("a=0x1f", 31),
        ("a=True", True),
        ("a=False", False),
        ("a=None", None),
        ("a=[1, 2.5, 'x']", [1, 2.5, "x"]),
        ("a=(1, 2)", [1, 2]),
        ("a=[(1, 2), {'k': (3,)}]", [[1, 2], {"k": [3]}]),
        ("a={'x': 1, 'y': [None]}", {"x": 1, "y": [None]}),
        ("a={}", {}),
        ("a=[]", []),
        ('a="Bob"', "Bob"),
        ("a='1'", "1"),
        ('a="True"', "True"),
        ("a=Bob", "Bob"),
        ("a=hello world", "hello world"),
        ("a=/tmp/data.csv", "/tmp/data.csv"),
        ('a=""', ""),
        ("a=inf", float("inf")),
        ("a=-Inf", float("-inf")),
        ("a=nano", "nano"),
        ("a==b", "=b"),
        ("a=x=y", "x=y"),
        ("  a  =  5  ", 5),
    ],
)
def test_value_types(token: str, expected: Any) -> None:
    updates = parse_with_args([token]).updates
    assert updates == {"a": expected}
    assert type(updates["a"]) is type(expected)


def test_nan_is_the_float() -> None:
    value = parse_with_args(["lr=nan"]).updates["lr"]
    assert isinstance(value, float) and math.isnan(value)
    assert parse_with_args(["lr='nan'"]).updates == {"lr": "nan"}  # quoted: the text


def test_shell_quoted_string_token() -> None:
    # `with 'name="Bob"'`: the shell strips the outer quotes, the inner ones reach us.
    assert parse_with_args(['name="Bob"']).updates == {"name": "Bob"}
    assert parse_with_args(["name='1'"]).updates == {"name": "1"}
    assert parse_with_args(["name=1"]).updates == {"name": 1}


def test_dotted_keys_nest() -> None:
    args = parse_with_args(["a.b.c=1", "d.e=2", "d.f=x", "g=3"])
    assert args.updates == {"a": {"b": {"c": 1}}, "d": {"e": 2, "f": "x"}, "g": 3}
    assert args.named == ()


def test_later_tokens_override_and_merge() -> None:
    assert parse_with_args(["a=1", "a=2"]).updates == {"a": 2}
    assert parse_with_args(["a={'x': 1}", "a.y=2"]).updates == {"a": {"x": 1, "y": 2}}
    assert parse_with_args(["a.y=2", "a={'x': 1}"]).updates == {"a": {"x": 1}}


def test_named_tokens_and_empty_tokens() -> None:
    args = parse_with_args(["variant1", "", "  ", "lr=0.1", "dataset.small", "cfg/run.yaml"])
    assert args == WithArgs(
        updates={"lr": 0.1}, named=("variant1", "dataset.small", "cfg/run.yaml")
    )


def test_with_args_is_frozen() -> None:
    args = parse_with_args(["a=1"])
    with pytest.raises(dataclasses.FrozenInstanceError):
        args.named = ("x",)  # type: ignore[misc]


def test_malformed_token_message_names_token_and_position() -> None:
    with pytest.raises(ConfigError) as err:
        parse_with_args(["x=1", "variant", "a..b=1"])
    assert str(err.value) == (
        "with: token 3 'a..b=1': empty key part; write KEY=VALUE with a dotted KEY like a.b"
    )


def test_position_counts_skipped_empty_tokens() -> None:
    with pytest.raises(ConfigError, match=r"^with: token 2 '\.a=1': empty key part"):
        parse_with_args(["", ".a=1"])


@pytest.mark.parametrize(
    ("token", "problem"),
    [
        ("=5", "with: token 1 '=5': empty key; write KEY=VALUE"),
        ("a.=5", "with: token 1 'a.=5': empty key part"),
        ("$a=5", "with: token 1 '$a=5': key part '$a' starts with '$'"),
        ("a.$b=5", "with: token 1 'a.$b=5': key part '$b' starts with '$'"),
        ("a b=5", "with: token 1 'a b=5': key 'a b' contains whitespace"),
        ("'a'=5", "with: token 1 ''a'=5': key ''a'' contains a quote"),
        ('"a=5', "with: token 1 '\"a=5': key '\"a' contains a quote"),
        ("a[0]=5", "with: token 1 'a[0]=5': key 'a[0]' indexes a list"),
        ("a={1, 2}", "with: token 1 'a={1, 2}': config key 'a': value of type set cannot be"),
        ("a=[b'x']", "with: token 1 'a=[b'x']': config key 'a[0]': value of type bytes"),
        ("a=1j", "with: token 1 'a=1j': config key 'a': value of type complex"),
        ("a={'b.c': 1}", "with: token 1 'a={'b.c': 1}': config key 'a': key 'b.c' contains '.'"),
        ("a=", "with: token 1 'a=': no value for 'a'; write a=VALUE (for empty text: a=\"''\")"),
        ("x=[1,", "with: token 1 'x=[1,': 'x=[1,' is not a valid value ('[' was never closed)"),
        ('a="Bob', "with: token 1 'a=\"Bob': 'a=\"Bob' is not a valid value"),
        ("a={'k': }", "with: token 1 'a={'k': }': 'a={'k': }' is not a valid value"),
    ],
)
def test_invalid_tokens(token: str, problem: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_with_args([token])
    message = str(err.value)
    assert message.startswith(problem)
    assert "\n" not in message


def test_setting_below_a_scalar_is_an_error() -> None:
    with pytest.raises(ConfigError) as err:
        parse_with_args(["a=1", "a.b=2"])
    assert str(err.value).startswith(
        "with: token 2 'a.b=2': cannot set config key 'a.b': 'a' is already set to a value "
        "of type int, not a dict"
    )


def test_parse_value_directly() -> None:
    assert parse_value("[1, (2, 3)]") == [1, [2, 3]]
    assert parse_value("not a literal") == "not a literal"


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["run", "-f", "with", "a=1", "v1"], (["run", "-f"], ["a=1", "v1"])),
        (["run", "-f"], (["run", "-f"], [])),
        (["with"], ([], [])),
        (["with", "a=1", "with", "b=2"], ([], ["a=1", "with", "b=2"])),
        ([], ([], [])),
        (["run", "without", "x"], (["run", "without", "x"], [])),
    ],
)
def test_split_with(argv: list[str], expected: tuple[list[str], list[str]]) -> None:
    assert split_with(argv) == expected
    assert split_with(tuple(argv)) == expected
