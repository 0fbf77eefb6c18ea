"""Issue point 1: Experiment and its lifecycle (main, automain, ex.run, run_commandline,
interactive use)."""

# ruff: noqa: F841  (config scopes define their entries as unused locals)

from __future__ import annotations

import linecache
import runpy
from pathlib import Path
from typing import Any

import pytest
from exp_helpers import latest, records, run_py, run_refs, show_json, show_text, write

from gitxp import Experiment
from gitxp.errors import UsageError
from gitxp.store.ids import is_run_id


def test_name_defaults_to_the_file_name_and_python_script_records_a_run(exrepo: Path) -> None:
    write(
        exrepo,
        "train.py",
        """
        from gitxp import Experiment
        ex = Experiment()

        @ex.automain
        def main():
            print("training")
            return 42
    """,
    )
    proc = run_py(exrepo, "train.py")
    assert "training" in proc.stdout
    (ref,) = run_refs(exrepo)
    run = show_json(exrepo, ref)
    assert run["experiment"] == "train"
    assert run["status"] == "COMPLETED"
    assert run["result"] == 42
    assert run["command_name"] == "main"
    assert run["exit_code"] == 0
    assert "training" in show_text(exrepo, ref, ".gitxp/output.log")
    assert show_text(exrepo, ref, "train.py").startswith("from gitxp import Experiment")


def test_ex_run_returns_the_run(exrepo: Path) -> None:
    ex = Experiment("demo", base_dir=exrepo)

    @ex.config
    def cfg() -> None:
        lr = 0.1

    @ex.main
    def main(lr: float) -> float:
        return lr * 10

    run = ex.run(config_updates={"lr": 0.5})
    assert run.status == "COMPLETED"
    assert run.result == 5.0
    assert run.config["lr"] == 0.5
    assert run.id is not None and is_run_id(run.id)
    assert run.ref == f"refs/gitxp/runs/{run.id}"
    assert run_refs(exrepo) == [run.ref]
    rec = latest(exrepo)
    assert rec.info["result"] == 5.0
    assert rec.info["experiment"] == "demo"
    assert rec.config["lr"] == 0.5
    assert rec.info["config_updates"] == {"lr": 0.5}
    assert rec.info["exit_code"] is None  # not a process of its own


def test_automain_runs_only_as_main(exrepo: Path) -> None:
    script = write(
        exrepo,
        "auto.py",
        """
        from gitxp import Experiment
        ex = Experiment(base_dir=".")
        CALLS = []

        @ex.automain
        def main():
            CALLS.append(1)
    """,
    )
    namespace = runpy.run_path(str(script), run_name="imported")
    assert namespace["CALLS"] == []
    assert run_refs(exrepo) == []


def _interactive(source: str, name: str) -> dict[str, Any]:
    """Run ``source`` the way a notebook cell runs: no __file__, source in linecache."""
    linecache.cache[name] = (len(source), None, source.splitlines(True), name)
    namespace: dict[str, Any] = {"__name__": "__main__"}
    exec(compile(source, name, "exec"), namespace)
    return namespace


def test_notebook_experiment_needs_interactive_and_a_name(exrepo: Path) -> None:
    with pytest.raises(UsageError, match="interactive=True"):
        _interactive("from gitxp import Experiment\nex = Experiment('x')\n", "<cell-a>")
    with pytest.raises(UsageError, match="needs a name"):
        _interactive(
            "from gitxp import Experiment\nex = Experiment(interactive=True)\n", "<cell-b>"
        )


def test_automain_refuses_in_interactive_mode(exrepo: Path) -> None:
    source = (
        "from gitxp import Experiment\n"
        "ex = Experiment('nb', interactive=True)\n"
        "@ex.automain\n"
        "def main():\n"
        "    return 1\n"
    )
    with pytest.raises(UsageError, match=r"use @ex.main and call ex.run\(\)"):
        _interactive(source, "<cell-c>")


def test_interactive_run_records_what_source_there_is(exrepo: Path) -> None:
    source = (
        "from gitxp import Experiment\n"
        "ex = Experiment('notebook_exp', interactive=True)\n"
        "@ex.config\n"
        "def cfg():\n"
        "    width = 3  # the width\n"
        "@ex.main\n"
        "def main(width):\n"
        "    return width * 2\n"
        "run = ex.run(config_updates={'width': 4})\n"
    )
    namespace = _interactive(source, "<ipython-input-7>")
    run = namespace["run"]
    assert run.status == "COMPLETED" and run.result == 8
    info = show_json(exrepo, run.ref)
    assert info["experiment"] == "notebook_exp"
    assert info["experiment_info"]["interactive"] is True
    assert "notebook/REPL session itself" in info["interactive"]["not_recorded"][0]
    stored = show_text(exrepo, run.ref, ".gitxp/resources/interactive/session.py")
    assert "width = 3  # the width" in stored
    assert "return width * 2" in stored


def test_run_commandline_accepts_a_list_or_a_string(exrepo: Path) -> None:
    ex = Experiment("cli", base_dir=exrepo)

    @ex.config
    def cfg() -> None:
        a = 1

    @ex.main
    def main(a: int) -> int:
        return a + 1

    first = ex.run_commandline(["prog", "with", "a=5"])
    second = ex.run_commandline("prog with a=7 -n seventh")
    assert first is not None and first.result == 6
    assert second is not None and second.result == 8
    names = {r.info["result"]: r.info["name"] for r in records(exrepo)}
    assert names == {6: None, 8: "seventh"}


def test_no_main_function_is_a_clear_error(exrepo: Path) -> None:
    ex = Experiment("nomain", base_dir=exrepo)
    with pytest.raises(UsageError, match="no main function"):
        ex.run()
    assert run_refs(exrepo) == []


def test_additional_host_info_is_recorded(exrepo: Path) -> None:
    ex = Experiment("hostinfo", base_dir=exrepo, additional_host_info=[lambda: "x"])

    def gpu_count() -> int:
        return 0

    ex.additional_host_info.append(gpu_count)

    @ex.main
    def main() -> None:
        pass

    run = ex.run()
    assert show_json(exrepo, run.ref or "")["host_info"] == {"<lambda>": "x", "gpu_count": 0}
