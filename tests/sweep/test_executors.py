"""The executor registry: lazy imports, one-line errors for what is missing."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitxp.errors import ExecutorError
from gitxp.sweep import executors
from gitxp.sweep.executors import get_executor
from gitxp.sweep.executors.local import LocalExecutor, jobs_option


def test_a_missing_engine_names_the_extra_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "gitxp_fake_executor.py").write_text("import gitxp_no_such_engine\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(
        executors.EXECUTORS,
        "fake",
        ("gitxp_fake_executor", "fake", ("gitxp_no_such_engine",)),
    )
    with pytest.raises(ExecutorError) as caught:
        get_executor("fake", {})
    assert str(caught.value) == (
        "the fake executor needs gitxp_no_such_engine: pip install 'gitxp[fake]'"
    )


def test_unknown_executors_and_bad_options_are_one_line_errors() -> None:
    with pytest.raises(ExecutorError, match="unknown executor 'ray'; choose one of local"):
        get_executor("ray", {})
    with pytest.raises(ExecutorError, match="jobs='many' must be an integer"):
        get_executor("local", {"jobs": "many"})
    with pytest.raises(ExecutorError, match="-j must be at least 1"):
        jobs_option("0")
    assert jobs_option("auto") >= 1
    local = get_executor("local", {"jobs": "3", "repo": "/tmp"})
    assert isinstance(local, LocalExecutor) and local.jobs == 3
