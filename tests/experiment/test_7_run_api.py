"""Issue point 7: the Run API: metrics, info, result, artifacts, resources, sources,
dependencies, pre/post-run hooks, captured_out_filter, numpy scalars."""

# ruff: noqa: F841

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from exp_helpers import git, latest, make_repo, run_refs, show_json, show_text

from gitxp import Experiment
from gitxp.errors import UsageError
from gitxp.experiment.runobj import Run


def test_metrics_from_run_and_experiment_with_numpy_scalars(exrepo: Path) -> None:
    ex = Experiment("metrics", base_dir=exrepo)
    ex.add_config(scale=np.float32(0.5), count=np.int64(3))

    @ex.main
    def main(_run: Run) -> Any:
        for i in range(3):
            _run.log_scalar("loss", np.float32(1.0 / (i + 1)))
        ex.log_scalar("acc", np.int64(7), step=10)
        ex.log_scalar("acc", 8)
        return np.float64(0.25)

    run = ex.run()
    rec = latest(exrepo)
    assert rec.metrics["loss"]["steps"] == [0, 1, 2]
    assert rec.metrics["loss"]["values"] == [1.0, 0.5, pytest.approx(1 / 3)]
    assert rec.metrics["acc"] == {**rec.metrics["acc"], "steps": [10, 11], "values": [7, 8]}
    assert show_json(exrepo, run.ref)["result"] == 0.25
    assert type(rec.info["result"]) is float
    assert rec.config["scale"] == 0.5 and rec.config["count"] == 3
    assert type(run.config["count"]) is int


def test_info_and_result_set_while_running(exrepo: Path) -> None:
    ex = Experiment("info", base_dir=exrepo)

    @ex.main
    def main(_run: Run) -> None:
        _run.info["epochs_done"] = np.int32(3)
        ex.info["best"] = {"acc": 0.9}
        _run.result = 0.75  # main returns nothing: the set value stays

    run = ex.run()
    assert run.result == 0.75
    rec = latest(exrepo)
    assert rec.info["info"] == {"epochs_done": 3, "best": {"acc": 0.9}}
    assert rec.info["result"] == 0.75


def test_result_set_before_a_failure_is_kept(exrepo: Path) -> None:
    ex = Experiment("partial", base_dir=exrepo)

    @ex.main
    def main(_run: Run) -> None:
        _run.result = 0.5
        raise RuntimeError("late failure")

    with pytest.raises(RuntimeError):
        ex.run()
    rec = latest(exrepo)
    assert rec.info["status"] == "FAILED" and rec.info["result"] == 0.5


def test_artifacts(exrepo: Path) -> None:
    ex = Experiment("artifacts", base_dir=exrepo)
    (exrepo / "model.bin").write_bytes(b"\x00weights")
    (exrepo / "plot.png").write_bytes(b"\x89PNG")

    @ex.main
    def main(_run: Run) -> None:
        ex.add_artifact(exrepo / "model.bin", name="models/final.bin", metadata={"epoch": 3})
        _run.add_artifact(str(exrepo / "plot.png"))

    run = ex.run()
    assert git(exrepo, "show", f"{run.ref}:.gitxp/artifacts/models/final.bin") == "\x00weights"
    listed = {a["name"]: a for a in show_json(exrepo, run.ref)["artifacts"]}
    assert listed["models/final.bin"]["metadata"] == {"epoch": 3}
    assert listed["plot.png"]["content_type"] == "image/png"


def test_resources_are_stored_in_the_run_and_deduplicated_by_git(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "proj")
    outside = tmp_path / "shared" / "vocab.txt"
    outside.parent.mkdir()
    outside.write_text("a\nb\n")
    (repo / "data").mkdir()
    (repo / "data" / "train.csv").write_text("x,y\n1,2\n")
    ex = Experiment("resources", base_dir=repo)

    @ex.main
    def main() -> str:
        with ex.open_resource(repo / "data" / "train.csv") as handle:
            header = handle.readline().strip()
        ex.add_resource(outside)
        return header

    first, second = ex.run(), ex.run()
    assert first.result == "x,y"
    for run in (first, second):
        assert show_text(repo, run.ref, ".gitxp/resources/data/train.csv") == "x,y\n1,2\n"
        assert show_text(repo, run.ref, ".gitxp/resources/vocab.txt") == "a\nb\n"
    blob = [git(repo, "rev-parse", f"{r.ref}:.gitxp/resources/vocab.txt") for r in (first, second)]
    assert blob[0] == blob[1]
    listed = show_json(repo, first.ref)["resources"]
    inputs = [r for r in listed if r["metadata"].get("kind") != "source"]  # not the test file
    assert {r["metadata"]["source"] for r in inputs} == {
        str(outside.resolve()),
        str((repo / "data" / "train.csv").resolve()),
    }


def test_helpers_need_a_running_experiment(exrepo: Path) -> None:
    ex = Experiment("idle", base_dir=exrepo)
    with pytest.raises(UsageError, match="only while the experiment runs"):
        ex.log_scalar("x", 1)
    with pytest.raises(UsageError, match="only while the experiment runs"):
        ex.open_resource("README.md")


def test_source_files_and_package_dependencies(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "proj")
    helper = tmp_path / "lib" / "helper.py"
    helper.parent.mkdir()
    helper.write_text("VALUE = 1\n")
    (repo / "local.py").write_text("X = 2\n")
    ex = Experiment("sources", base_dir=repo)
    ex.add_source_file(helper)
    ex.add_source_file(repo / "local.py")
    ex.add_package_dependency("mylib", "1.2.3")
    with pytest.raises(UsageError, match="not a PEP 440 version"):
        ex.add_package_dependency("other", "latest")

    @ex.main
    def main() -> None:
        pass

    run = ex.run()
    info = show_json(repo, run.ref)["experiment_info"]
    paths = {s["path"]: s for s in info["sources"]}
    assert paths["local.py"]["inside"] is True
    assert paths[str(helper.resolve())]["inside"] is False
    assert "mylib==1.2.3" in info["dependencies"]
    assert any(dep.startswith("numpy==") for dep in info["dependencies"])
    assert show_text(repo, run.ref, ".gitxp/resources/sources/helper.py") == "VALUE = 1\n"


def test_pre_and_post_run_hooks(exrepo: Path) -> None:
    ex = Experiment("hooks", base_dir=exrepo)
    calls: list[str] = []

    @ex.config
    def cfg() -> None:
        a = 1

    @ex.pre_run_hook
    def before(a: int, _run: Run) -> None:
        calls.append(f"pre {a} {_run.status}")

    @ex.post_run_hook
    def after(_run: Run) -> None:
        calls.append(f"post {_run.result}")

    @ex.main
    def main(fail: bool = False) -> str:
        calls.append("main")
        if fail:
            raise ValueError
        return "done"

    ex.run()
    assert calls == ["pre 1 RUNNING", "main", "post done"]
    calls.clear()
    with pytest.raises(ValueError):
        ex.run(config_updates={"fail": True})
    assert calls == ["pre 1 RUNNING", "main"]  # post-run hooks do not run after a failure


def test_captured_out_filter(exrepo: Path) -> None:
    ex = Experiment("filtered", base_dir=exrepo)
    ex.captured_out_filter = lambda text: text.replace("SECRET", "******")

    @ex.main
    def main() -> None:
        print("token=SECRET")

    run = ex.run()
    output = show_text(exrepo, run.ref, ".gitxp/output.log")
    assert "token=******" in output and "SECRET" not in output


def test_log_from_gitxp_module_functions_goes_to_the_experiment_run(exrepo: Path) -> None:
    import gitxp

    ex = Experiment("modfuncs", base_dir=exrepo)

    @ex.main
    def main() -> None:
        gitxp.log_scalar("via_api", 1.5)

    ex.run()
    assert latest(exrepo).metrics["via_api"]["values"] == [1.5]
    assert len(run_refs(exrepo)) == 1


def test_result_from_the_module_api_is_kept_when_main_returns_none(exrepo: Path) -> None:
    import gitxp

    ex = Experiment("apiresult", base_dir=exrepo)

    @ex.main
    def main() -> None:
        gitxp.set_result({"acc": 0.5})

    run = ex.run()
    assert run.result is None
    assert latest(exrepo).info["result"] == {"acc": 0.5}
