"""``where`` over columns of mixed kinds and list columns (gitxp.query.where)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from gitxp.errors import GitxpWarning, UsageError
from gitxp.query.where import filter_where


def frame() -> pd.DataFrame:
    lr = np.empty(4, dtype=object)
    lr[:] = [0.1, "fast", 0.3, None]
    tags = np.empty(4, dtype=object)
    tags[:] = [["best"], [], ["best", "keep"], []]
    return pd.DataFrame(
        {"id": ["r1", "r2", "r3", "r4"], "config.lr": lr, "tags": tags, "status": ["A"] * 4}
    )


def ids(expr: str) -> list[str]:
    return list(filter_where(frame(), expr)["id"])


def test_a_comparison_that_does_not_apply_is_false_and_named() -> None:
    with pytest.warns(GitxpWarning, match=r"taken as false for 1 run: r2$"):
        assert ids("config.lr > 0.2") == ["r3"]
    with pytest.warns(GitxpWarning, match="r2"):
        assert ids("config.lr <= 0.2 or id == 'r2'") == ["r1", "r2"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # equality applies to any kind: no warning
        assert ids("config.lr == 'fast'") == ["r2"]
        assert ids("config.lr != 0.1") == ["r2", "r3", "r4"]


def test_tags_contains() -> None:
    assert ids("tags.contains('best')") == ["r1", "r3"]
    assert ids("tags.contains('keep') and config.lr == 0.3") == ["r3"]
    assert ids("~tags.contains('best')") == ["r2", "r4"]
    with pytest.raises(UsageError, match="failed"):
        ids("tags.contains()")
