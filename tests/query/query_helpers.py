"""Repositories with runs for the query, export and plot tests.

``recorded_project`` makes runs with the real ``gitxp run``; ``bench`` is
``benchmarks/query.py``, whose ``write_runs`` writes many finished runs straight into a
repository in the Recorder's format (fast enough for hundreds of runs per test).
"""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path
from types import ModuleType

from gitxp_testing import git, gitxp, isolate

ROOT = Path(__file__).resolve().parents[2]
__all__ = ["git", "gitxp", "isolate"]


def _load(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bench = _load("_gitxp_bench_query", ROOT / "benchmarks" / "query.py")

TRAIN = """\
import gitxp
cfg = gitxp.config()
for step in range(5):
    gitxp.log_scalar("loss", cfg["lr"] * (5 - step))
    gitxp.log_scalar("acc", step / 10 + cfg["lr"])
if cfg.get("fail"):
    raise SystemExit(3)
with open("weights.bin", "wb") as handle:
    handle.write(b"W" * 64)
gitxp.add_artifact("weights.bin")
gitxp.set_result(cfg["lr"] * 2)
"""


def recorded_project(path: Path) -> dict[str, str]:
    """A project with four runs made by ``gitxp run``; returns their ids by label.

    a: lr=0.1 opt.name=adam; b: lr=0.2 opt.name=sgd (named "best", tagged); c: lr=0.3
    opt.name=adam, FAILED; d: lr=0.05 opt.name=sgd. Started in that order.
    """
    path.mkdir(parents=True)
    git(path, "init", "-q")
    (path / "train.py").write_text(TRAIN)
    (path / ".gitignore").write_text("weights.bin\n")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "initial")
    specs = {
        "a": ["train.py", "with", "lr=0.1", "opt.name=adam"],
        "b": ["-n", "best", "-t", "keep", "train.py", "with", "lr=0.2", "opt.name=sgd"],
        "c": ["train.py", "with", "lr=0.3", "opt.name=adam", "fail=True"],
        "d": ["train.py", "with", "lr=0.05", "opt.name=sgd"],
    }
    ids = {}
    for label, args in specs.items():
        before = set(_run_refs(path))
        gitxp(path, "run", "-b", "0", *args, check=label != "c")
        (new,) = set(_run_refs(path)) - before
        ids[label] = new.rsplit("/", 1)[1]
        time.sleep(0.002)  # distinct milliseconds: ids sort in this order
    return ids


def _run_refs(path: Path) -> list[str]:
    out = git(path, "for-each-ref", "--format=%(refname)", "refs/gitxp/runs/")
    return out.split()
