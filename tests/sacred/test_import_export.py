"""Issue 14, point 10: FileStorageObserver folders in (``gitxp import sacred``) and out
(``gitxp export --sacred``), with hostile folders refused run by run."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from gitxp_testing import git, gitxp, gitxp_raw, run_refs
from runstore_helpers import fsck

SACRED_SCRIPT = """
from sacred import Experiment
from sacred.observers import FileStorageObserver

ex = Experiment("legacy")
ex.observers.append(FileStorageObserver("fs"))


@ex.config
def cfg():
    lr = 0.1


@ex.main
def main(_run, lr):
    print("epoch done")
    _run.log_scalar("loss", 0.75)
    _run.log_scalar("loss", 0.5)
    with open("model.txt", "w") as f:
        f.write("weights")
    _run.add_artifact("model.txt")
    if lr > 1:
        raise ValueError("lr too high")
    return lr


if __name__ == "__main__":
    ex.run_commandline()
"""


def sacred(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-W", "ignore", "legacy.py", *args],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def written_by_sacred(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A FileStorageObserver folder written by Sacred once: run 1 completed, run 2 failed."""
    folder = tmp_path_factory.mktemp("sacred") / "legacy"
    folder.mkdir()
    (folder / "legacy.py").write_text(textwrap.dedent(SACRED_SCRIPT))
    assert sacred(folder, "with", "lr=0.5").returncode == 0
    assert sacred(folder, "with", "lr=5").returncode == 1
    return folder


@pytest.fixture
def sacred_runs(written_by_sacred: Path, tmp_path: Path) -> Path:
    """A fresh copy of that folder for one test (tests change it)."""
    copy = tmp_path / "legacy"
    shutil.copytree(written_by_sacred, copy, symlinks=True)
    return copy / "fs"


def show(repo: Path, ref: str, path: str) -> str:
    return git(repo, "show", f"{ref}:{path}")


def test_import_keeps_ids_times_config_metrics_output_artifacts_sources(
    repo: Path, sacred_runs: Path
) -> None:
    out = gitxp(repo, "import", "sacred", str(sacred_runs))
    assert "imported 2 runs, 0 already here, 0 skipped" in out.stderr
    by_sacred_id = {}
    for ref in run_refs(repo):
        info = json.loads(show(repo, ref, ".gitxp/run.json"))
        by_sacred_id[info["sacred"]["id"]] = (ref, info)
    assert set(by_sacred_id) == {"1", "2"}
    ref, done = by_sacred_id["1"]
    original = json.loads((sacred_runs / "1" / "run.json").read_text())
    assert done["status"] == "COMPLETED" and done["result"] == 0.5
    assert done["start_time"].startswith(original["start_time"][:23])
    assert done["stop_time"].startswith(original["stop_time"][:23])
    assert "lr: 0.5" in show(repo, ref, ".gitxp/config.yaml")
    metrics = json.loads(show(repo, ref, ".gitxp/metrics.json"))
    assert metrics["loss"]["steps"] == [0, 1] and metrics["loss"]["values"] == [0.75, 0.5]
    cout = (sacred_runs / "1" / "cout.txt").read_text()
    assert cout and show(repo, ref, ".gitxp/output.log") == cout
    assert show(repo, ref, ".gitxp/artifacts/model.txt") == "weights"
    assert show(repo, ref, "legacy.py") == textwrap.dedent(SACRED_SCRIPT)  # the source
    assert "sacred==" in show(repo, ref, ".gitxp/env.lock")
    ref, failed = by_sacred_id["2"]
    assert failed["status"] == "FAILED" and "ValueError: lr too high" in failed["fail_trace"]
    again = gitxp(repo, "import", "sacred", str(sacred_runs))
    assert "imported 0 runs, 2 already here" in again.stderr
    assert len(run_refs(repo)) == 2
    assert git(repo, "status", "--porcelain") == ""  # the user's tree is untouched
    fsck(repo)


def _bad(folder: Path, name: str, run: dict[str, object], files: dict[str, str]) -> None:
    run_dir = folder / name
    run_dir.mkdir()
    (run_dir / "run.json").write_text(json.dumps(run))
    for path, text in files.items():
        (run_dir / path).write_text(text)


def test_hostile_folders_are_refused_run_by_run(repo: Path, sacred_runs: Path) -> None:
    base = json.loads((sacred_runs / "1" / "run.json").read_text())
    outside = sacred_runs.parent / "secret.txt"
    outside.write_text("do not copy")
    escape = {**base, "experiment": {**base["experiment"], "sources": [["x.py", "../secret.txt"]]}}
    _bad(sacred_runs, "3", escape, {})
    _bad(sacred_runs, "4", {**base, "artifacts": ["../../secret.txt"]}, {})
    _bad(sacred_runs, "5", {**base, "status": "WEIRD", "artifacts": []}, {})
    (sacred_runs / "6").mkdir()
    (sacred_runs / "6" / "run.json").write_text("{not json")
    _bad(sacred_runs, "7", {**base, "artifacts": ["link.txt"]}, {})
    os.symlink(outside, sacred_runs / "7" / "link.txt")
    reserved = [[".gitxp/run.json", base["experiment"]["sources"][0][1]]]
    _bad(sacred_runs, "8", {**base, "experiment": {**base["experiment"], "sources": reserved}}, {})
    _bad(sacred_runs, "9", {**base, "start_time": "yesterday", "artifacts": []}, {})
    proc = gitxp(repo, "import", "sacred", str(sacred_runs))
    lines = [line for line in proc.stderr.splitlines() if "skipped" in line and "warning" in line]
    reasons = {line.split(": ", 3)[2].rsplit("/", 1)[1]: line for line in lines}
    assert set(reasons) == {"3", "4", "5", "6", "7", "8", "9"}
    assert "not a plain path" in reasons["3"]
    assert "not a plain path" in reasons["4"]
    assert "not one of Sacred's" in reasons["5"]
    assert "not valid JSON" in reasons["6"]
    assert "leads outside the folder" in reasons["7"]
    assert "reserved .gitxp/" in reasons["8"]
    assert "not an ISO time" in reasons["9"]
    assert "imported 2 runs, 0 already here, 7 skipped" in proc.stderr
    assert len(run_refs(repo)) == 2
    for ref in run_refs(repo):
        assert "do not copy" not in git(repo, "grep", "-r", "-h", "-I", "-e", "x", ref, check=False)
    fsck(repo)


def test_size_limit_and_not_a_folder(
    repo: Path, sacred_runs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gitxp.git.repo import GitRepo
    from gitxp.sacred import importer

    monkeypatch.setattr(importer, "MAX_FILE", 3)
    report = importer.import_file_storage(GitRepo(repo), sacred_runs)
    assert report.imported == [] and len(report.skipped) == 2
    assert all("larger than" in reason for _, reason in report.skipped)
    assert run_refs(repo) == {}
    proc = gitxp_raw(repo, "import", "sacred", str(repo / "README.md"))
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1


def test_export_writes_file_storage_that_sacred_continues(
    repo: Path, sacred_runs: Path, tmp_path: Path
) -> None:
    gitxp(repo, "import", "sacred", str(sacred_runs))
    out = tmp_path / "exported"
    assert "wrote 2 runs" in gitxp(repo, "export", "--sacred", str(out)).stderr
    assert "wrote 0 runs" in gitxp(repo, "export", "--sacred", str(out)).stderr
    first = json.loads((out / "1" / "run.json").read_text())
    assert first["status"] == "COMPLETED" and first["result"] == 0.5
    assert json.loads((out / "1" / "config.json").read_text())["lr"] == 0.5
    assert json.loads((out / "1" / "metrics.json").read_text())["loss"]["values"] == [0.75, 0.5]
    assert (out / "1" / "model.txt").read_text() == "weights"
    assert (out / first["experiment"]["sources"][0][1]).read_text() == textwrap.dedent(
        SACRED_SCRIPT
    )
    assert isinstance(json.loads((out / "2" / "run.json").read_text())["fail_trace"], list)
    folder = sacred_runs.parent  # Sacred writes its next run beside the exported ones
    (folder / "legacy.py").write_text(
        textwrap.dedent(SACRED_SCRIPT).replace(
            'FileStorageObserver("fs")', f"FileStorageObserver({str(out)!r})"
        )
    )
    assert sacred(folder, "with", "lr=0.2").returncode == 0
    assert json.loads((out / "3" / "run.json").read_text())["status"] == "COMPLETED"
    other = tmp_path / "other"
    other.mkdir()
    git(other, "init", "-q")
    assert "imported 3 runs" in gitxp(other, "import", "sacred", str(out)).stderr


def test_import_from_a_sqlobserver_database(repo: Path, tmp_path: Path) -> None:
    folder = tmp_path / "sql"
    folder.mkdir()
    script = textwrap.dedent(SACRED_SCRIPT).replace(
        'FileStorageObserver("fs")', 'SqlObserver("sqlite:///runs.db")'
    )
    (folder / "legacy.py").write_text(
        script.replace("import FileStorageObserver", "import SqlObserver")
    )
    assert sacred(folder, "--capture=sys", "with", "lr=0.5").returncode == 0
    url = f"sqlite:///{folder / 'runs.db'}"
    assert "imported 1 run, 0 already here" in gitxp(repo, "import", "sacred", "--sql", url).stderr
    assert "imported 0 runs, 1 already here" in gitxp(repo, "import", "sacred", "--sql", url).stderr
    (ref,) = run_refs(repo)
    info = json.loads(show(repo, ref, ".gitxp/run.json"))
    assert info["status"] == "COMPLETED" and info["result"] == 0.5
    assert info["experiment"] == "legacy" and info["supervisor"] == "sacred-import"
    assert "lr: 0.5" in show(repo, ref, ".gitxp/config.yaml")
    assert "epoch done" in show(repo, ref, ".gitxp/output.log")
    assert show(repo, ref, ".gitxp/artifacts/model.txt") == "weights"
    assert show(repo, ref, "legacy.py") == (folder / "legacy.py").read_text()
    missing = tmp_path / "nothere.db"
    proc = gitxp_raw(repo, "import", "sacred", "--sql", f"sqlite:///{missing}")
    assert proc.returncode == 2 and b"no such SQLite file" in proc.stderr
    assert not missing.exists()  # nothing written while refusing
    fsck(repo)
