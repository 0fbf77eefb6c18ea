"""The env lock rebuilds an environment: local installs with their source, what cannot come
back named, per-metric tolerances, the first step that diverged, and ``gc`` of venvs.

The local packages are real projects with a tiny in-tree PEP 517 backend (no build
dependencies), installed by real pip with ``--no-index``: no network anywhere.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from runstore_helpers import fsck, git, gitxp, run_refs
from wheel_helpers import make_venv, pip_env

from gitxp.git.repo import GitRepo
from gitxp.reproduce.drift import environment_checks
from gitxp.store.runs import RunRecord, resolve

BACKEND = '''\
"""A PEP 517 backend in ~30 lines: the package folder, as a wheel or as an editable .pth."""
import base64, hashlib, os, zipfile

NAME, VERSION = open("NAME").read().split()


def _wheel(directory, files):
    info = f"{NAME}-{VERSION}.dist-info"
    files[f"{info}/METADATA"] = f"Metadata-Version: 2.1\\nName: {NAME}\\nVersion: {VERSION}\\n"
    files[f"{info}/WHEEL"] = "Wheel-Version: 1.0\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n"
    rows = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        rows.append(f"{path},sha256={digest.decode()},{len(text.encode())}")
    files[f"{info}/RECORD"] = "\\n".join(rows + [f"{info}/RECORD,,"]) + "\\n"
    name = f"{NAME}-{VERSION}-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(directory, name), "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
    return name


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    files = {}
    for root, _, names in os.walk(NAME):
        for n in names:
            if n.endswith(".py"):
                path = os.path.join(root, n)
                files[path] = open(path).read()
    return _wheel(wheel_directory, files)


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    return _wheel(wheel_directory, {f"{NAME}.pth": os.path.abspath(".") + "\\n"})
'''

SCRIPT = """\
import os
import gitxp
import localpkg
noise = float(os.environ.get("NOISE", "0"))
for step in range(4):
    gitxp.log_scalar("loss", 1.0 / (step + 1) + (noise if step >= 2 else 0.0))
gitxp.set_result(localpkg.VALUE + noise)
"""


def local_project(folder: Path, name: str, value: int) -> Path:
    (folder / name).mkdir(parents=True)
    (folder / name / "__init__.py").write_text(f"VALUE = {value}\n")
    (folder / "NAME").write_text(f"{name} 0.{value}\n")
    (folder / "backend.py").write_text(BACKEND)
    (folder / "pyproject.toml").write_text(
        '[build-system]\nrequires = []\nbuild-backend = "backend"\nbackend-path = ["."]\n'
    )
    return folder


@pytest.fixture
def project(repo: Path, tmp_path: Path) -> dict[str, Path]:
    """The repo with a local package inside it (installed editable) and one elsewhere
    (installed from its folder): a venv holding both."""
    local_project(repo / "pkg", "localpkg", 7)
    (repo / "train.py").write_text(SCRIPT)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "a local package")
    elsewhere = local_project(tmp_path / "elsewhere", "otherpkg", 3)
    python = make_venv(tmp_path / "venv", tmp_path)
    env = pip_env(tmp_path, tmp_path)
    for args in (["-e", str(repo / "pkg")], [str(elsewhere)]):
        subprocess.run(
            [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", *args],
            check=True,
            env=env,
        )
    return {"repo": repo, "python": python, "home": tmp_path}


def record(repo: Path, python: Path, *args: str) -> str:
    before = run_refs(repo)
    gitxp(repo, "run", "-b", "0", "--python", str(python), *args)
    (new,) = set(run_refs(repo)) - set(before)
    return new.rsplit("/", 1)[-1]


def test_local_installs_come_back_from_the_runs_sources_or_are_named(
    project: dict[str, Path],
) -> None:
    repo, python = project["repo"], project["python"]
    run_id = record(repo, python, "train.py")
    lock = git(repo, "show", f"refs/gitxp/runs/{run_id}:.gitxp/env.lock")
    assert "# editable: localpkg==0.7 from file://" in lock
    assert "# source: localpkg from run:pkg" in lock
    assert "# local: otherpkg==0.3 from file://" in lock and "source: otherpkg" not in lock
    env = {"PIP_NO_INDEX": "1", "PIP_NO_CACHE_DIR": "1"}
    proc = gitxp(repo, "reproduce", run_id, "--env", "venv", check=False, env=env, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "pip install localpkg from the run's sources" in proc.stderr
    assert "gitxp: environment drift: rebuild env lock → 1 not rebuilt" in proc.stderr
    assert "cannot rebuild: otherpkg==0.3 (local install from file://" in proc.stderr
    assert "- (missing here) otherpkg 0.3" in proc.stdout
    assert "reproduced: all" in proc.stdout and "with environment drift" in proc.stdout
    (venv,) = (repo / ".git" / "gitxp" / "venvs").glob("*/gitxp-venv.json")
    assert json.loads(venv.read_text())["from_run"] == {"localpkg": "pkg"}
    # gc removes the venvs nothing used lately; --venv-age 0s: all of them.
    kept = gitxp(repo, "gc").stdout
    assert "reproduction venv" not in kept and venv.exists()
    gone = gitxp(repo, "gc", "--venv-age", "0s").stdout
    assert "removed 1 reproduction venv" in gone and not venv.parent.exists()
    fsck(repo)


def test_first_diverging_step_and_tolerances_per_metric(
    project: dict[str, Path], tmp_path: Path
) -> None:
    repo, python = project["repo"], project["python"]
    run_id = record(repo, python, "train.py")
    noisy = {"NOISE": "0.001"}
    proc = gitxp(repo, "reproduce", run_id, "--python", str(python), check=False, env=noisy)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "first differs at step 2: 0.3333333333333333 → 0.3343333333333333" in proc.stdout
    assert "2 of 4 steps differ" in proc.stdout
    verdict = json.loads(
        gitxp(repo, "reproduce", run_id, "--python", str(python), "--json",
              check=False, env=noisy).stdout
    )  # fmt: skip
    loss = next(c for c in verdict["checks"] if c["what"] == "metric loss")
    assert loss["first_step"] == 2 and loss["verdict"] == "differs"
    tolerances = tmp_path / "tolerances.yaml"
    tolerances.write_text("loss: {atol: 0.01}\nresult: {rtol: 0.001}\n")
    ok = gitxp(repo, "reproduce", run_id, "--python", str(python), "--tolerances",
               str(tolerances), check=False, env=noisy)  # fmt: skip
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "(2 set per metric)" in ok.stdout
    before = run_refs(repo)
    tolerances.write_text("loss: 0.01\n")
    bad = gitxp(repo, "reproduce", run_id, "--tolerances", str(tolerances), check=False)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1, bad.stderr
    assert "must map to {rtol: N, atol: N}" in bad.stderr
    assert run_refs(repo) == before
    assert not os.listdir(repo / ".git" / "gitxp" / "spool")
    fsck(repo)


def test_drift_names_interpreter_packages_os_cpu_gpu_and_driver(repo: Path) -> None:
    """What another machine would show: each host fact that differs is a drift row."""
    gitxp(repo, "run", "-b", "0", "train.py")
    repo_ = GitRepo(repo)
    rec = RunRecord.load(repo_, resolve(repo_, "latest"))
    there = copy.deepcopy(rec.host)
    there["cpu"] = {"model": "Other CPU", "cores": 64}
    there["os"] = {"system": "Linux", "distro": "Ubuntu 24.04", "release": "6.8"}
    there["gpus"] = [{"name": "NVIDIA A100", "driver_version": "550.54"}]
    lock = rec.env_lock.replace("# python: ", "# python: 3.99.0 (CPython) /elsewhere/python #")
    lock += "extra-pkg==1.0\n"
    checks = {c.what: c for c in environment_checks(rec, lock, there)}
    assert {w for w, c in checks.items() if c.verdict == "drift"} == {
        "python", "packages", "os", "cpu", "gpu"
    }  # fmt: skip
    assert checks["gpu"].reproduction == "NVIDIA A100 (driver 550.54)"
    assert checks["cpu"].reproduction == "Other CPU (64 cores)"
    assert checks["python"].reproduction == "3.99.0"
    assert checks["packages"].detail == ["+ (only here) extra-pkg 1.0"]
