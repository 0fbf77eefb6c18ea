"""Config files: .json, .yaml and .yml."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitxp.configuration.scope import load_config_file
from gitxp.errors import ConfigError


def test_json(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text('{"lr": 0.1, "opt": {"m": [1, 2]}, "name": null}')
    assert load_config_file(path) == {"lr": 0.1, "opt": {"m": [1, 2]}, "name": None}


@pytest.mark.parametrize("ext", [".yaml", ".yml", ".YAML"])
def test_yaml(tmp_path: Path, ext: str) -> None:
    path = tmp_path / f"c{ext}"
    path.write_text("lr: 1.0e-3\nopt:\n  m: [1, 2]\n  nesterov: true\nname: bob\n")
    assert load_config_file(str(path)) == {
        "lr": 0.001,
        "opt": {"m": [1, 2], "nesterov": True},
        "name": "bob",
    }


def test_empty_yaml_is_an_empty_config(tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text("# nothing yet\n")
    assert load_config_file(path) == {}


def test_unsupported_extension_lists_the_supported_ones(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("a = 1\n")
    with pytest.raises(ConfigError) as err:
        load_config_file(path)
    assert str(err.value) == (
        f"config file '{path}': unsupported extension '.toml'; use one of .json, .yaml, .yml"
    )


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.json"
    with pytest.raises(ConfigError) as err:
        load_config_file(path)
    assert str(err.value) == (
        f"cannot read config file '{path}': No such file or directory; check the path"
    )


def test_invalid_json_gives_a_one_line_message(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"a": 1,\n "b": }\n')
    with pytest.raises(ConfigError) as err:
        load_config_file(path)
    message = str(err.value)
    assert message.startswith(f"config file '{path}' is not valid JSON: Expecting value: line 2")
    assert "\n" not in message


def test_invalid_yaml_gives_a_one_line_message(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("a: [1, 2\nb: 3\n")
    with pytest.raises(ConfigError) as err:
        load_config_file(path)
    message = str(err.value)
    assert message.startswith(f"config file '{path}' is not valid YAML: ")
    assert "line 2" in message
    assert "\n" not in message


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    path = tmp_path / "list.yaml"
    path.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError) as err:
        load_config_file(path)
    assert str(err.value) == (
        f"config file '{path}' holds a value of type list at top level; "
        "it must hold a mapping of config keys to values"
    )


def test_invalid_keys_and_values_name_file_and_key(tmp_path: Path) -> None:
    path = tmp_path / "keys.yaml"
    path.write_text("opt:\n  1: x\n")
    with pytest.raises(ConfigError) as err:
        load_config_file(path)
    assert str(err.value) == (
        f"config file '{path}': config key 'opt': key 1 has type int; config keys must be strings"
    )
    dated = tmp_path / "date.yaml"
    dated.write_text("when: 2024-01-02\n")
    with pytest.raises(ConfigError, match=r"config key 'when': value of type datetime\.date"):
        load_config_file(dated)
