"""The ``print_config`` text."""

from __future__ import annotations

from gitxp.configuration.resolve import SEED_DOC, ResolvedConfig, format_config, resolve_config
from gitxp.configuration.scope import ConfigScope

# ruff: noqa: F841


def sample() -> ResolvedConfig:
    return ResolvedConfig(
        config={
            "a": 23,
            "b": "x",
            "lrr": 3,
            "seed": 5,
            "opt": {"lr": 1, "m": 0.9, "sched": {"kind": "cos"}},
            "empty": {},
        },
        added={"lrr"},
        modified={"a", "opt.lr"},
        typechanged={"b": (int, str)},
        docs={"a": "the a", "opt.lr": "learning rate", "seed": SEED_DOC, "opt": "optimizer"},
    )


def test_format_config_markers_and_docs() -> None:
    assert format_config(sample()) == (
        "Configuration (* modified, + added, ~ typechanged, # doc):\n"
        "* a = 23                             # the a\n"
        "~ b = 'x'                            # type was int\n"
        "+ lrr = 3\n"
        "  seed = 5                           # the random seed for this experiment\n"
        "  empty = {}\n"
        "  opt:                               # optimizer\n"
        "*   lr = 1                           # learning rate\n"
        "    m = 0.9\n"
        "    sched:\n"
        "      kind = 'cos'"
    )


def test_format_config_colour_is_sacreds_layout() -> None:
    text = format_config(sample(), color=True)
    lines = text.split("\n")
    assert lines[0] == (
        "Configuration (\x1b[34mmodified\x1b[0m, \x1b[32madded\x1b[0m, "
        "\x1b[31mtypechanged\x1b[0m, \x1b[2mdoc\x1b[0m):"
    )
    assert lines[1] == "\x1b[34m  a = 23" + " " * 29 + "\x1b[2m# the a\x1b[0m\x1b[0m"
    assert lines[2] == "\x1b[31m  b = 'x'\x1b[0m"
    assert lines[3] == "\x1b[32m  lrr = 3\x1b[0m"
    assert lines[5] == "  empty = {}"
    assert "\x1b" not in format_config(sample())


def test_typechanged_note_is_appended_to_an_existing_doc() -> None:
    resolved = ResolvedConfig(
        config={"n": "3"}, typechanged={"n": (int, str)}, modified={"n"}, docs={"n": "count"}
    )
    assert format_config(resolved) == (
        "Configuration (* modified, + added, ~ typechanged, # doc):\n"
        "~ n = '3'                            # count (type was int)"
    )


def test_format_resolved_config_end_to_end() -> None:
    def cfg() -> None:
        lr = 0.1  # learning rate
        batch = 32

    resolved = resolve_config([ConfigScope(cfg)], {}, [], {"lr": 0.5, "seed": 3, "x": 1}, [])
    assert format_config(resolved) == (
        "Configuration (* modified, + added, ~ typechanged, # doc):\n"
        "* lr = 0.5                           # learning rate\n"
        "  batch = 32\n"
        "* seed = 3                           # the random seed for this experiment\n"
        "+ x = 1"
    )
