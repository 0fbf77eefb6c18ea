"""Issue 14, point 8: a gitxp Experiment feeds Sacred's observers as Sacred does.

The same script runs once under Sacred and once under gitxp (``sed s/sacred/gitxp/``), each
with Sacred's own FileStorageObserver, SqlObserver (sqlite) and TinyDbObserver; what the
observers wrote is compared. Event order and a failing observer are checked in-process
against both libraries.
"""

from __future__ import annotations

import json
import sqlite3
import textwrap
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from exp_helpers import latest, run_py, run_refs
from sacred_flavours import QUIET

SCRIPT = """
from sacred import Experiment
from sacred.observers import FileStorageObserver, SqlObserver, TinyDbObserver

ex = Experiment("obsdemo")
ex.observers.append(FileStorageObserver("fs"))
ex.observers.append(SqlObserver("sqlite:///runs.db"))
ex.observers.append(TinyDbObserver("tiny"))


@ex.config
def cfg():
    lr = 0.1


@ex.main
def main(_run, lr):
    print("training")
    for i in range(3):
        _run.log_scalar("loss", 1.0 / (i + 1))
    with open("model.txt", "w") as f:
        f.write("weights")
    _run.add_artifact("model.txt")
    return lr * 2


if __name__ == "__main__":
    ex.run_commandline()
"""


def observed(folder: Path, flavour: str) -> dict[str, Any]:
    """Run the script under ``flavour``; return what each observer wrote."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "demo.py").write_text(textwrap.dedent(SCRIPT).replace("sacred", flavour))
    # --capture=sys: Sacred's fd capture reaches observers through a tee process, late
    run_py(folder, "-W", "ignore", "demo.py", "--capture=sys", "with", "lr=0.5", "seed=7")
    run_dir = next(p for p in (folder / "fs").iterdir() if not p.name.startswith("_"))
    db = sqlite3.connect(folder / "runs.db")
    sql = db.execute("select command, status, config, result, captured_out from run").fetchall()
    artifacts = db.execute("select filename, content from artifact").fetchall()
    db.close()
    tiny = json.loads((folder / "tiny" / "metadata.json").read_text())["runs"]
    return {
        "run": json.loads((run_dir / "run.json").read_text()),
        "config": json.loads((run_dir / "config.json").read_text()),
        "metrics": json.loads((run_dir / "metrics.json").read_text()),
        "cout": (run_dir / "cout.txt").read_text(),
        "artifact": (run_dir / "model.txt").read_text(),
        "sources": sorted(p.name.split("_")[0] for p in (folder / "fs" / "_sources").iterdir()),
        "sql": sql,
        "sql_artifacts": artifacts,
        "tiny": list(tiny.values()),
    }


def test_file_sql_and_tinydb_observers_write_what_sacred_writes(
    exrepo: Path, tmp_path: Path
) -> None:
    sacred = observed(tmp_path / "plain", "sacred")
    gitxp = observed(exrepo, "gitxp")
    for got in (sacred, gitxp):
        run = got["run"]
        assert run["status"] == "COMPLETED" and run["command"] == "main"
        assert run["result"] == 1.0 and run["artifacts"] == ["model.txt"]
        assert run["experiment"]["name"] == "obsdemo"
        assert run["experiment"]["mainfile"] == "demo.py"
        assert run["meta"]["config_updates"] == {"lr": 0.5, "seed": 7}
        assert run["meta"]["named_configs"] == []
        assert got["config"] == {"lr": 0.5, "seed": 7}
        assert got["metrics"]["loss"]["steps"] == [0, 1, 2]
        assert got["metrics"]["loss"]["values"] == [1.0, 0.5, 1 / 3]
        assert len(got["metrics"]["loss"]["timestamps"]) == 3
        assert "training" in got["cout"] and got["artifact"] == "weights"
        assert got["sources"] == ["demo"]
        (command, status, config, result, captured), *more = got["sql"]
        assert not more and (command, status, float(result)) == ("main", "COMPLETED", 1.0)
        assert json.loads(config) == {"lr": 0.5, "seed": 7} and "training" in captured
        assert got["sql_artifacts"] == [("model.txt", b"weights")]
        (tiny,) = got["tiny"]
        assert (tiny["status"], tiny["command"], tiny["result"]) == ("COMPLETED", "main", 1.0)
        assert tiny["config"] == {"lr": 0.5, "seed": 7}
    assert set(gitxp["run"]) == set(sacred["run"])
    assert set(gitxp["run"]["host"]) == set(sacred["run"]["host"])
    assert set(gitxp["run"]["experiment"]) == set(sacred["run"]["experiment"])
    assert set(gitxp["tiny"][0]) == set(sacred["tiny"][0])
    assert set(gitxp["run"]["meta"]) == set(sacred["run"]["meta"])
    record = latest(exrepo)  # and the run is in git as always
    assert record.info["status"] == "COMPLETED" and record.metrics["loss"]["steps"] == [0, 1, 2]
    assert len(run_refs(exrepo)) == 1


class Recorder:
    """A Sacred-style observer that notes the events it gets (and can break on one)."""

    priority = 5

    def __init__(self, break_on: str | None = None) -> None:
        self.events: list[str] = []
        self.break_on = break_on
        self.seen: dict[str, Any] = {}

    def _note(self, event: str, **kw: Any) -> Any:
        if not self.events or self.events[-1] != event:
            self.events.append(event)
        self.seen.setdefault(event, kw)
        if event == self.break_on:
            raise RuntimeError(f"observer broke on {event}")
        return None

    def started_event(self, **kw: Any) -> Any:
        return self._note("started", **kw)

    def queued_event(self, **kw: Any) -> Any:
        return self._note("queued", **kw)

    def heartbeat_event(self, **kw: Any) -> Any:
        return self._note("heartbeat", **kw)

    def log_metrics(self, **kw: Any) -> Any:
        return self._note("log_metrics", **kw) if kw["metrics_by_name"] else None

    def artifact_event(self, **kw: Any) -> Any:
        return self._note("artifact", **kw)

    def resource_event(self, **kw: Any) -> Any:
        return self._note("resource", **kw)

    def completed_event(self, **kw: Any) -> Any:
        return self._note("completed", **kw)

    def failed_event(self, **kw: Any) -> Any:
        return self._note("failed", **kw)

    def interrupted_event(self, **kw: Any) -> Any:
        return self._note("interrupted", **kw)

    def join(self) -> None:
        self._note("join")


def _experiment(lib: SimpleNamespace, tmp_path: Path, observer: Any) -> Any:
    ex = lib.Experiment("events")
    ex.observers.append(observer)
    (tmp_path / "in.txt").write_text("input")
    (tmp_path / "out.txt").write_text("output")

    @ex.main
    def main(_run: Any) -> int:
        _run.open_resource(str(tmp_path / "in.txt")).close()
        _run.log_scalar("acc", 0.5)
        _run.add_artifact(str(tmp_path / "out.txt"))
        return 1

    @ex.command
    def fails() -> None:
        raise ValueError("nope")

    return ex


def test_events_in_sacreds_order(lib: SimpleNamespace, tmp_path: Path) -> None:
    observer = Recorder()
    ex = _experiment(lib, tmp_path, observer)
    ex.run(options=QUIET)
    assert observer.events == [
        "started",
        "resource",
        "artifact",
        "log_metrics",
        "heartbeat",
        "completed",
        "join",
    ]
    started = observer.seen["started"]
    assert set(started) == {
        "ex_info",
        "command",
        "host_info",
        "start_time",
        "config",
        "meta_info",
        "_id",
    }
    assert {"name", "base_dir", "sources", "dependencies", "mainfile"} <= set(started["ex_info"])
    metrics = observer.seen["log_metrics"]["metrics_by_name"]["acc"]
    assert metrics["steps"] == [0] and metrics["values"] == [0.5] and metrics["name"] == "acc"
    assert observer.seen["artifact"]["name"] == "out.txt"
    assert observer.seen["completed"]["result"] == 1
    failing = Recorder()
    ex = _experiment(lib, tmp_path, failing)
    with pytest.raises(ValueError):
        ex.run("fails", options=QUIET)
    assert failing.events[-2:] == ["failed", "join"]
    trace = failing.seen["failed"]["fail_trace"]
    assert isinstance(trace, list) and "ValueError: nope" in trace[-1]


def test_a_queued_run_sends_only_the_queued_event(lib: SimpleNamespace, tmp_path: Path) -> None:
    observer = Recorder()
    ex = _experiment(lib, tmp_path, observer)
    ex.run(options={**QUIET, "--queue": True})
    assert observer.events == ["queued"]
    assert {"queue_time", "config", "meta_info", "ex_info"} <= set(observer.seen["queued"])


@pytest.mark.parametrize("event", ["heartbeat", "artifact", "completed"])
def test_a_failing_observer_never_kills_the_run(
    lib: SimpleNamespace, tmp_path: Path, event: str
) -> None:
    observer = Recorder(break_on=event)
    ex = _experiment(lib, tmp_path, observer)
    run = ex.run(options=QUIET)
    assert run.status == "COMPLETED" and run.result == 1


def test_a_broken_start_is_survived_and_the_run_recorded(exrepo: Path, tmp_path: Path) -> None:
    from sacred_flavours import load

    lib = load("gitxp", exrepo)
    observer = Recorder(break_on="started")
    ex = _experiment(lib, tmp_path, observer)
    run = ex.run()
    assert run.status == "COMPLETED"
    assert observer.events == ["started", "completed"]  # only the final event, as in Sacred
    assert latest(exrepo).info["status"] == "COMPLETED"


def test_observers_are_fed_under_gitxp_run_too(exrepo: Path) -> None:
    from exp_helpers import gitxp_run

    (exrepo / "demo.py").write_text(textwrap.dedent(SCRIPT).replace("sacred", "gitxp"))
    gitxp_run(exrepo, "-b", "0", "demo.py", "with", "lr=0.5")
    run = json.loads((exrepo / "fs" / "0" / "run.json").read_text())  # SqlObserver chose 0
    assert run["status"] == "COMPLETED" and run["result"] == 1.0
    assert json.loads((exrepo / "fs" / "0" / "metrics.json").read_text())["loss"]["steps"] == [
        0,
        1,
        2,
    ]
    assert latest(exrepo).info["status"] == "COMPLETED"
