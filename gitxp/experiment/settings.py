"""``gitxp.SETTINGS``: Sacred's global settings, for code that sets them.

The keys are Sacred's and frozen: setting an unknown key raises ``KeyError`` (a typo must
not pass silently). What gitxp honours:

* ``CAPTURE_MODE`` (``fd``/``sys``/``no``): the capture mode when ``-C`` is not given;
* ``CONFIG.READ_ONLY_CONFIG``: captured functions get a read-only config (default True);
* ``DISCOVER_SOURCES`` (``none``/``imported``/``sys``/``dir``): which files the run lists as
  sources (the snapshot holds the whole working tree either way);
* ``DISCOVER_DEPENDENCIES`` (``none`` or anything else): whether imported packages are listed;
* ``HOST_INFO.CAPTURED_ENV``: environment variables recorded in ``host.json``;
* ``DEFAULT_BEAT_INTERVAL``: the heartbeat period when ``-b`` is not given.

The other keys are accepted and have no effect in gitxp (docs/coming-from-sacred.md).
Unlike the rest of gitxp this is mutable state of the process, because Sacred code sets it.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

__all__ = ["SETTINGS", "Settings"]


class Settings(dict[str, Any]):
    """A dict whose keys are fixed once made; entries are also attributes (``S.CONFIG``)."""

    def __init__(self, entries: Mapping[str, Any]) -> None:
        super().__init__(
            (k, Settings(v) if isinstance(v, Mapping) else v) for k, v in entries.items()
        )

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"SETTINGS has no key {name!r}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value

    def __setitem__(self, key: str, value: Any) -> None:
        if key not in self:
            known = ", ".join(sorted(self))
            raise KeyError(f"SETTINGS has no key {key!r}; the keys here are: {known}")
        if isinstance(self[key], Settings):
            raise KeyError(
                f"SETTINGS.{key} is a group; set one of its keys: {', '.join(self[key])}"
            )
        super().__setitem__(key, value)


SETTINGS = Settings(
    {
        "CONFIG": {
            "ENFORCE_KEYS_MONGO_COMPATIBLE": True,
            "ENFORCE_KEYS_JSONPICKLE_COMPATIBLE": True,
            "ENFORCE_VALID_PYTHON_IDENTIFIER_KEYS": False,
            "ENFORCE_STRING_KEYS": False,
            "ENFORCE_KEYS_NO_EQUALS": True,
            "IGNORED_COMMENTS": ["^pylint:", "^noinspection"],
            "READ_ONLY_CONFIG": True,
            "NUMPY_RANDOM_LEGACY_API": False,
        },
        "HOST_INFO": {
            "INCLUDE_GPU_INFO": True,
            "INCLUDE_CPU_INFO": True,
            "CAPTURED_ENV": [],
        },
        "COMMAND_LINE": {
            "STRICT_PARSING": False,
            "SHOW_DISABLED_OPTIONS": True,
        },
        "CAPTURE_MODE": "sys" if sys.platform.startswith("win") else "fd",
        "DISCOVER_SOURCES": "imported",
        "DISCOVER_DEPENDENCIES": "imported",
        "DEFAULT_BEAT_INTERVAL": 10.0,
    }
)
