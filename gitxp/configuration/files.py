"""Reading config files: ``.json``, ``.yaml`` and ``.yml``."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from gitxp.configuration.dicts import normalize_config, type_name
from gitxp.errors import ConfigError, ConfigFileNotFoundError, ConfigValueError

__all__ = ["CONFIG_FILE_EXTENSIONS", "load_config_file"]

CONFIG_FILE_EXTENSIONS = (".json", ".yaml", ".yml")


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def load_config_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a ``.json``, ``.yaml`` or ``.yml`` config file into a normalised dict.

    The file must hold a mapping at top level (an empty YAML file is an empty config).
    """
    file = Path(path)
    ext = file.suffix.lower()
    if ext not in CONFIG_FILE_EXTENSIONS:
        raise ConfigValueError(
            f"config file '{file}': unsupported extension '{file.suffix}'; "
            f"use one of {', '.join(CONFIG_FILE_EXTENSIONS)}"
        )
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigFileNotFoundError(
            f"cannot read config file '{file}': No such file or directory; check the path"
        ) from exc
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigValueError(
            f"cannot read config file '{file}': {_one_line(reason)}; check the path"
        ) from exc
    import yaml  # here, not at import: gitxp run and an Experiment rarely read a YAML file

    try:
        data = json.loads(text) if ext == ".json" else yaml.safe_load(text)
    except RecursionError:
        raise ConfigError(
            f"config file '{file}' is nested too deeply to read; flatten it (dotted keys)"
        ) from None
    except (ValueError, yaml.YAMLError) as exc:
        kind = "JSON" if ext == ".json" else "YAML"
        raise ConfigValueError(
            f"config file '{file}' is not valid {kind}: {_one_line(str(exc))}"
        ) from exc
    if data is None and ext != ".json":
        data = {}
    if not isinstance(data, dict):
        raise ConfigValueError(
            f"config file '{file}' holds a value of type {type_name(data)} at top level; "
            "it must hold a mapping of config keys to values"
        )
    try:
        return normalize_config(data)
    except ConfigError as exc:
        raise exc.prefixed(f"config file '{file}'") from exc
