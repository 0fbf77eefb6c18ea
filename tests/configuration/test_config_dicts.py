"""Dotted-path helpers, merging, normalisation and read-only configs."""

from __future__ import annotations

import copy
import enum
import json
import pickle
from collections.abc import Callable
from typing import Any

import pytest
import yaml

from gitxp.configuration.dicts import (
    ReadOnlyDict,
    ReadOnlyList,
    expand_dotted_keys,
    get_by_dotted_path,
    has_dotted_path,
    iterate_flattened,
    make_read_only,
    nearest_key,
    normalize_config,
    normalize_value,
    recursive_update,
    set_by_dotted_path,
)
from gitxp.errors import ConfigError

# ----------------------------------------------------------------------------- dotted paths


def test_set_by_dotted_path_creates_intermediate_dicts() -> None:
    d: dict[str, Any] = {"a": {"x": 1}}
    set_by_dotted_path(d, "a.b.c", 5)
    set_by_dotted_path(d, "top", [1])
    assert d == {"a": {"x": 1, "b": {"c": 5}}, "top": [1]}


def test_set_by_dotted_path_refuses_to_descend_into_a_scalar() -> None:
    d: dict[str, Any] = {"a": {"b": 3}}
    with pytest.raises(ConfigError) as err:
        set_by_dotted_path(d, "a.b.c", 1)
    assert str(err.value).startswith(
        "cannot set config key 'a.b.c': 'a.b' is already set to a value of type int"
    )
    assert d == {"a": {"b": 3}}


def test_get_by_dotted_path() -> None:
    d = {"a": {"b": {"c": 0}}, "n": None}
    assert get_by_dotted_path(d, "a.b.c") == 0
    assert get_by_dotted_path(d, "a.b") == {"c": 0}
    assert get_by_dotted_path(d, "") is d
    assert get_by_dotted_path(d, "a.x") is None
    assert get_by_dotted_path(d, "a.x", default=7) == 7
    assert get_by_dotted_path(d, "a.b.c.d", default="no") == "no"
    assert get_by_dotted_path(d, "n", default=1) is None
    assert has_dotted_path(d, "n") is True
    assert has_dotted_path(d, "a.b.c") is True
    assert has_dotted_path(d, "a.c") is False


def test_iterate_flattened_yields_leaves_in_order() -> None:
    d = {"z": 1, "a": {"y": {"k": [1, {"no": 1}]}, "e": {}}, "b": None}
    assert list(iterate_flattened(d)) == [
        ("z", 1),
        ("a.y.k", [1, {"no": 1}]),
        ("a.e", {}),
        ("b", None),
    ]


def test_recursive_update_merges_without_touching_inputs() -> None:
    base = {"a": 1, "opt": {"lr": 0.1, "m": 0.9, "deep": {"x": 1}}, "l": [1, 2], "s": 5}
    update = {"opt": {"lr": 0.5, "deep": {"y": 2}}, "n": {"k": 1}, "s": {"now": "dict"}}
    base_copy = copy.deepcopy(base)
    update_copy = copy.deepcopy(update)
    result = recursive_update(base, update)
    assert result == {
        "a": 1,
        "opt": {"lr": 0.5, "m": 0.9, "deep": {"x": 1, "y": 2}},
        "l": [1, 2],
        "s": {"now": "dict"},
        "n": {"k": 1},
    }
    assert base == base_copy
    assert update == update_copy
    result["l"].append(3)
    result["opt"]["deep"]["x"] = 99
    result["n"]["k"] = 2
    assert base == base_copy
    assert update == update_copy


def test_recursive_update_scalar_replaces_dict() -> None:
    assert recursive_update({"a": {"b": 1}}, {"a": 3}) == {"a": 3}


def test_expand_dotted_keys() -> None:
    assert expand_dotted_keys({"a.b": 1, "a": {"c": 2}, "x": {"y.z": 3}, "a.d.e": 4}) == {
        "a": {"b": 1, "c": 2, "d": {"e": 4}},
        "x": {"y": {"z": 3}},
    }


# ----------------------------------------------------------------------------- normalising


class Color(enum.IntEnum):
    RED = 1


class Name(str):
    pass


def test_normalize_value_converts_containers_and_subclasses() -> None:
    value = {"t": (1, (2, 3)), "e": Color.RED, "s": Name("x"), "n": None, "f": 1.5}
    result = normalize_value(value, "cfg")
    assert result == {"t": [1, [2, 3]], "e": 1, "s": "x", "n": None, "f": 1.5}
    assert type(result["e"]) is int
    assert type(result["s"]) is str


def test_normalize_value_numpy_scalars() -> None:
    np = pytest.importorskip("numpy")
    result = normalize_config(
        {
            "f32": np.float32(0.5),
            "f64": np.float64(0.25),
            "i64": np.int64(3),
            "u8": np.uint8(7),
            "b": np.bool_(True),
            "s": np.str_("hi"),
            "nested": {"l": [np.int32(1), (np.float16(2.0),)]},
            "zero_d": np.array(4),
        }
    )
    assert result == {
        "f32": 0.5,
        "f64": 0.25,
        "i64": 3,
        "u8": 7,
        "b": True,
        "s": "hi",
        "nested": {"l": [1, [2.0]]},
        "zero_d": 4,
    }
    assert [type(result[k]) for k in ("f32", "f64", "i64", "u8", "b", "s")] == [
        float,
        float,
        int,
        int,
        bool,
        str,
    ]
    assert type(result["nested"]["l"][0]) is int
    assert yaml.safe_load(yaml.safe_dump(result)) == result
    with pytest.raises(ConfigError) as err:
        normalize_value({"w": np.zeros(3)}, "model")
    assert str(err.value) == (
        "config key 'model.w': value of type numpy.ndarray cannot be stored; "
        "convert it with .tolist() first"
    )


def test_unstorable_value_names_the_key_path() -> None:
    with pytest.raises(ConfigError) as err:
        normalize_config({"opt": {"lr": 0.1, "fn": object()}})
    assert str(err.value) == (
        "config key 'opt.fn': value of type object cannot be stored; "
        "use a number, string, bool, None, list or dict"
    )


def print_something() -> None:
    """A function, which is not a storable config value."""


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"a": {"l": [1, object()]}}, "config key 'a.l[1]': value of type object cannot be stored"),
        ({"a": {1, 2}}, "config key 'a': value of type set cannot be stored; use a list instead"),
        ({"a": b"x"}, "config key 'a': value of type bytes cannot be stored"),
        ({"a": {1: "x"}}, "config key 'a': key 1 has type int; config keys must be strings"),
        ({"a": {"b.c": 1}}, "config key 'a': key 'b.c' contains '.'"),
        ({"$x": 1}, "config: key '$x' starts with '$'"),
        ({"a": {"k=v": 1}}, "config key 'a': key 'k=v' contains '='"),
        ({"py/object": 1}, "config: key 'py/object' looks like a jsonpickle tag"),
        ({"": 1}, "config: key '' is empty"),
    ],
)
def test_normalize_config_rejects(value: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        normalize_config(value)
    assert str(err.value).startswith(message)


# ----------------------------------------------------------------------------- read-only


def sample() -> dict[str, Any]:
    return {"a": {"b": 1, "l": [1, {"x": 2}]}, "c": "s"}


def test_read_only_is_a_dict_that_compares_and_dumps_like_one() -> None:
    ro = make_read_only(sample())
    assert isinstance(ro, dict)
    assert isinstance(ro, ReadOnlyDict)
    assert isinstance(ro["a"], ReadOnlyDict)
    assert isinstance(ro["a"]["l"], ReadOnlyList)
    assert isinstance(ro["a"]["l"], list)
    assert ro == sample()
    assert ro["a"]["l"] == [1, {"x": 2}]
    assert json.dumps(ro, sort_keys=True) == json.dumps(sample(), sort_keys=True)
    assert yaml.safe_dump(ro) == yaml.safe_dump(sample())
    assert yaml.dump(ro) == yaml.dump(sample())
    assert ro.get("c") == "s"
    assert dict(ro, c="t") == {"a": sample()["a"], "c": "t"}


def test_read_only_does_not_alias_the_source() -> None:
    src = sample()
    ro = make_read_only(src)
    src["a"]["b"] = 100
    assert ro["a"]["b"] == 1


MUTATIONS: list[tuple[str, Callable[[Any], Any], str]] = [
    ("setitem", lambda d: d["a"].__setitem__("b", 2), "cannot set 'a.b'"),
    ("new key", lambda d: d.__setitem__("new", 2), "cannot set 'new'"),
    ("delitem", lambda d: d["a"].__delitem__("b"), "cannot delete 'a.b'"),
    ("update", lambda d: d["a"].update(b=3), "cannot set 'a.b'"),
    ("update dict", lambda d: d.update({"c": 3}), "cannot set 'c'"),
    ("setdefault", lambda d: d.setdefault("z", 1), "cannot set 'z'"),
    ("pop", lambda d: d["a"].pop("b"), "cannot delete 'a.b'"),
    ("popitem", lambda d: d["a"].popitem(), "cannot change 'a'"),
    ("clear", lambda d: d.clear(), "cannot change the config"),
    ("ior", lambda d: d["a"].__ior__({"b": 1}), "cannot update 'a'"),
    ("list setitem", lambda d: d["a"]["l"].__setitem__(0, 5), "cannot set 'a.l[0]'"),
    ("list delitem", lambda d: d["a"]["l"].__delitem__(0), "cannot delete 'a.l[0]'"),
    ("append", lambda d: d["a"]["l"].append(3), "cannot change 'a.l'"),
    ("extend", lambda d: d["a"]["l"].extend([3]), "cannot change 'a.l'"),
    ("insert", lambda d: d["a"]["l"].insert(0, 3), "cannot change 'a.l'"),
    ("list pop", lambda d: d["a"]["l"].pop(), "cannot change 'a.l'"),
    ("remove", lambda d: d["a"]["l"].remove(1), "cannot change 'a.l'"),
    ("sort", lambda d: d["a"]["l"].sort(), "cannot change 'a.l'"),
    ("reverse", lambda d: d["a"]["l"].reverse(), "cannot change 'a.l'"),
    ("list clear", lambda d: d["a"]["l"].clear(), "cannot change 'a.l'"),
    ("iadd", lambda d: d["a"]["l"].__iadd__([1]), "cannot change 'a.l'"),
    ("imul", lambda d: d["a"]["l"].__imul__(2), "cannot change 'a.l'"),
    ("dict in list", lambda d: d["a"]["l"][1].__setitem__("x", 0), "cannot set 'a.l[1].x'"),
]


@pytest.mark.parametrize(("name", "mutate", "what"), MUTATIONS, ids=[m[0] for m in MUTATIONS])
def test_read_only_refuses_mutation(name: str, mutate: Callable[[Any], Any], what: str) -> None:
    ro = make_read_only(sample())
    with pytest.raises(ConfigError) as err:
        mutate(ro)
    assert str(err.value).startswith(
        f"config is read-only inside captured functions: {what}; make a copy"
    )
    assert ro == sample()


def test_augmented_assignment_on_a_read_only_list_is_refused() -> None:
    ro = make_read_only({"l": [1]})
    lst = ro["l"]
    with pytest.raises(ConfigError, match="cannot change 'l'"):
        lst += [2]
    assert ro == {"l": [1]}


def test_copies_of_read_only_configs_are_mutable_plain_containers() -> None:
    ro = make_read_only(sample())
    deep = copy.deepcopy(ro)
    shallow = copy.copy(ro)
    assert type(deep) is dict
    assert type(deep["a"]["l"]) is list
    assert type(shallow) is dict
    deep["a"]["b"] = 5
    deep["a"]["l"].append(9)
    assert ro == sample()
    merged = ro | {"c": "t"}
    assert type(merged) is dict


def test_read_only_survives_pickling() -> None:
    ro = make_read_only(sample(), "cfg")
    back = pickle.loads(pickle.dumps(ro))
    assert back == sample()
    with pytest.raises(ConfigError, match=r"cannot set 'cfg\.a\.b'"):
        back["a"]["b"] = 1


def test_make_read_only_leaves_scalars_alone() -> None:
    assert make_read_only(3) == 3
    assert make_read_only("x") == "x"
    assert make_read_only((1, 2)) == [1, 2]


# ----------------------------------------------------------------------------- suggestions


def test_nearest_key() -> None:
    assert nearest_key("lrr", ["lr", "momentum", "seed"]) == "lr"
    assert nearest_key("momentun", ["lr", "momentum"]) == "momentum"
    assert nearest_key("xyz", ["lr", "momentum"]) is None
    assert nearest_key("lr", ["lr"]) is None
    assert nearest_key("opt.lrr", ["opt.lr", "opt.m", "lr"]) == "opt.lr"
    assert nearest_key("lrr", ["opt.lr", "batch_size"]) == "opt.lr"
    assert nearest_key("x", []) is None
