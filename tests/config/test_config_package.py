"""``gitxp.config`` is both this package and the run-time function ``gitxp.api.config``."""

from __future__ import annotations

from typing import Any

import pytest

import gitxp
import gitxp.api
import gitxp.config.dicts


def test_package_forwards_calls_to_the_api_function(monkeypatch: pytest.MonkeyPatch) -> None:
    def fake_config(*args: Any, **kwargs: Any) -> dict[str, Any]:
        return {"args": list(args), "kwargs": kwargs}

    monkeypatch.setattr(gitxp.api, "config", fake_config)
    # Importing a submodule rebinds the attribute gitxp.config to the package; it must still work.
    assert callable(gitxp.config)
    assert gitxp.config(1, k=2) == {"args": [1], "kwargs": {"k": 2}}
    assert gitxp.config.dicts.join_path("a", "b") == "a.b"
