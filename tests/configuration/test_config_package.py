"""Importing the configuration package never hides the run-time function ``gitxp.config``."""

from __future__ import annotations

import gitxp
import gitxp.api
import gitxp.configuration.dicts


def test_gitxp_config_stays_the_api_function() -> None:
    assert callable(gitxp.config)  # the callable module gitxp/config.py (Sacred's path too)
    assert gitxp.config() == gitxp.api.config() == {}
    assert gitxp.configuration.dicts.join_path("a", "b") == "a.b"
