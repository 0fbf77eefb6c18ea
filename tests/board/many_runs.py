"""A second project for the board's tests at scale: hundreds of runs, a sweep, a series of
100,000 points, a plain script that fails with coloured output, and a sweep of two runs
made by the real ``gitxp sweep``.

The hundreds of runs come from ``benchmarks/query.py``'s generator (the Recorder's format,
written straight through GitRepo); the sweep and the long series are single-commit runs
(:func:`board_helpers.fake_run`); the failing script is a real ``gitxp run``.
"""

from __future__ import annotations

import importlib.util
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from board_helpers import ROOT, fake_run, git, gitxp, run_refs

MANY = 300
LONG = 100_000
SPIKE_AT = 54_321  # the one step of the long series far above the rest
SWEEP = "sw-1"
TRAIN = """\
import gitxp
cfg = gitxp.config({"lr": 0.1})
for step in range(5):
    gitxp.log_scalar("loss", cfg["lr"] * (5 - step))
"""
FAIL = """\
print("\\x1b[31mred text\\x1b[0m and \\x1b[1mbold\\x1b[0m")
def inner():
    return 1 / 0
inner()
"""


@dataclass
class Many:
    """The project and its special runs."""

    path: Path
    sweep: list[str] = field(default_factory=list)
    sweep_best: str = ""
    sweep_failed: str = ""
    long: str = ""
    failed: str = ""
    real_sweep: str = ""  # the id of a sweep made by the real ``gitxp sweep``


def make_many(path: Path) -> Many:
    """The project (see the module docstring)."""
    from gitxp.git.repo import GitRepo

    path.mkdir(parents=True)
    git(path, "init", "-q")
    (path / "fail.py").write_text(FAIL)
    (path / "train.py").write_text(TRAIN)
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "initial")
    spec = importlib.util.spec_from_file_location("_bench_query", ROOT / "benchmarks" / "query.py")
    assert spec is not None and spec.loader is not None
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    generator.write_runs(GitRepo(path), MANY)
    many = Many(path)
    for i, lr in enumerate((0.1, 0.05, 0.02, 0.01, 0.005, 0.002)):
        status = "FAILED" if i == 4 else "COMPLETED"
        steps = list(range(20))
        loss = [math.exp(-lr * 10 * s) + (0 if i != 2 else -0.5) for s in steps]
        run_id = fake_run(
            path,
            status=status,
            config={"lr": lr, "depth": 2 + i % 3, "dataset": "toy"},
            metrics={"loss": {"steps": steps, "values": loss, "timestamps": steps}},
            sweep=SWEEP,
            experiment="sweep",
        )
        many.sweep.append(run_id)
        if i == 2:
            many.sweep_best = run_id
        if status == "FAILED":
            many.sweep_failed = run_id
    many.sweep.append(fake_run(path, config={"lr": 0.001, "depth": 2}, sweep=SWEEP))
    values = [math.sin(s / 500) for s in range(LONG)]
    values[SPIKE_AT] = 50.0
    many.long = fake_run(
        path,
        status="COMPLETED",
        config={"lr": 0.3},
        metrics={
            "long": {"steps": list(range(LONG)), "values": values, "timestamps": list(range(LONG))}
        },
        experiment="long",
    )
    before = set(run_refs(path))
    gitxp(path, "run", "-b", "0", "fail.py", check=False)
    (new,) = set(run_refs(path)) - before
    many.failed = new.rsplit("/", 1)[1]
    out = gitxp(path, "sweep", "train.py", "with", "lr=0.1,0.2")
    found = re.search(r"sweep (sw-[0-9A-Z]+)", out.stdout + out.stderr)
    assert found, out.stderr
    many.real_sweep = found.group(1)
    return many
