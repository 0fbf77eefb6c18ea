"""A run started in a notebook records the .ipynb and the cells' outputs (issue 18, point 7).

The kernel is simulated as the other interactive tests do it: the cell's source goes
through ``linecache`` and ``exec`` with no ``__file__``, and a stand-in ``IPython`` module
answers ``get_ipython()`` with a shell whose namespace holds ``In``, ``Out`` and
``__session__`` (what ipykernel sets to the notebook's path).
"""

from __future__ import annotations

import json
import linecache
import sys
import types
from pathlib import Path
from typing import Any

import pytest
from exp_helpers import show_json, show_text

NOTEBOOK = {
    "cells": [
        {
            "cell_type": "code",
            "execution_count": 1,
            "metadata": {},
            "source": ["from gitxp import Experiment\n", "ex = Experiment('nb', interactive=True)"],
            "outputs": [{"output_type": "stream", "name": "stdout", "text": ["ready ✓\n"]}],
        }
    ],
    "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}},
    "nbformat": 4,
    "nbformat_minor": 5,
}
CELL = (
    "from gitxp import Experiment\n"
    "ex = Experiment('nb', interactive=True)\n"
    "@ex.main\n"
    "def main():\n"
    "    return 21 * 2\n"
    "run = ex.run()\n"
)


def run_cell(source: str, name: str) -> dict[str, Any]:
    linecache.cache[name] = (len(source), None, source.splitlines(True), name)
    namespace: dict[str, Any] = {"__name__": "__main__"}
    exec(compile(source, name, "exec"), namespace)
    return namespace


def fake_kernel(monkeypatch: pytest.MonkeyPatch, user_ns: dict[str, Any]) -> None:
    shell = types.SimpleNamespace(user_ns=user_ns)
    ipython = types.ModuleType("IPython")
    ipython.get_ipython = lambda: shell  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "IPython", ipython)


def test_the_notebook_and_its_outputs_are_recorded(
    exrepo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    notebook = tmp_path / "elsewhere" / "Sweep.ipynb"  # outside the repository
    notebook.parent.mkdir()
    notebook.write_text(json.dumps(NOTEBOOK, ensure_ascii=False))
    fake_kernel(
        monkeypatch,
        {
            "In": ["", "import gitxp", CELL],
            "Out": {1: 42, 2: "ready"},
            "__session__": str(notebook),
        },
    )
    run = run_cell(CELL, "<ipython-input-2>")["run"]
    assert run.status == "COMPLETED" and run.result == 42
    info = show_json(exrepo, run.ref)
    assert info["interactive"]["notebook"] == str(notebook.resolve())
    assert ".gitxp/resources/interactive/notebook.ipynb" in info["interactive"]["recorded"]
    stored = show_text(exrepo, run.ref, ".gitxp/resources/interactive/notebook.ipynb")
    assert stored == notebook.read_text()  # byte for byte: sources and saved outputs
    outputs = json.loads(show_text(exrepo, run.ref, ".gitxp/resources/interactive/outputs.json"))
    assert outputs == {"1": "42", "2": "'ready'"}
    session = show_text(exrepo, run.ref, ".gitxp/resources/interactive/session.py")
    assert "# In[1]:\nimport gitxp" in session


def test_a_kernel_that_names_no_notebook_says_so(
    exrepo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    fake_kernel(monkeypatch, {"In": ["", CELL], "Out": {}})
    run = run_cell(CELL, "<ipython-input-1>")["run"]
    info = show_json(exrepo, run.ref)
    assert "notebook" not in info["interactive"]
    assert any(".ipynb file" in line for line in info["interactive"]["not_recorded"])
