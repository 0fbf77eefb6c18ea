"""What a run's processes import: the in-script API no git, CLI or YAML library, and the
``gitxp run`` supervisor nothing its path does not use (docs/performance.md)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from gitxp_testing import RUNS, git, gitxp

PROBE = """\
import sys
{imports}
{logging}
loaded = sorted({{m.split(".")[0] for m in sys.modules}} & {{"pygit2", "click", "yaml"}})
print("LOADED", loaded)
"""
API = PROBE.format(imports="import gitxp", logging='gitxp.log_scalar("loss", 0.5)')
EXPERIMENT = PROBE.format(
    imports="from gitxp import Experiment\nex = Experiment('probe')",
    logging="ex.main(lambda _run: _run.log_scalar('loss', 0.5))\nex.run_commandline()",
)
# Not on the path of `gitxp run SCRIPT.py with K=V` in a tree with a new, untracked file.
NOT_FOR_A_RUN = (
    "pandas",
    "matplotlib",
    "dulwich",
    "yaml",
    "pathspec",
    "urllib.request",
    "email.utils",
    "tempfile",
    "gitxp.cli.history",
    "gitxp.cli.share",
    "gitxp.cli.sweeps",
    "gitxp.cli.views",
    "gitxp.cli.sacred",
    "gitxp.configuration.scope",
    "gitxp.query",
    "gitxp.experiment",
)


def latest_metrics(repo: Path) -> dict[str, object]:
    ref = git(repo, "for-each-ref", "--sort=-creatordate", "--format=%(refname)", RUNS)
    return dict(json.loads(git(repo, "show", f"{ref.split()[0]}:.gitxp/metrics.json")))


def test_log_scalar_loads_no_pygit2_click_or_yaml_in_a_run_and_outside(repo: Path) -> None:
    (repo / "probe.py").write_text(API)
    outside = subprocess.run(
        [sys.executable, "probe.py"], cwd=repo, capture_output=True, text=True, check=True
    )
    assert "LOADED []" in outside.stdout
    inside = gitxp(repo, "run", "probe.py")
    assert "LOADED []" in inside.stdout
    assert latest_metrics(repo)["loss"]["values"] == [0.5]  # type: ignore[index]


def test_an_experiment_under_gitxp_run_loads_no_pygit2_or_click(repo: Path) -> None:
    (repo / "probe.py").write_text(EXPERIMENT)
    inside = gitxp(repo, "run", "probe.py")
    line = next(x for x in inside.stdout.splitlines() if x.startswith("LOADED"))
    assert "pygit2" not in line and "click" not in line, line
    assert latest_metrics(repo)["loss"]["values"] == [0.5]  # type: ignore[index]


def test_the_run_supervisor_imports_only_what_its_path_needs(repo: Path) -> None:
    (repo / "notes.txt").write_text("an untracked file: the snapshot checks it for secrets\n")
    report = repo.parent / "modules.txt"
    code = (
        "import atexit, sys\n"
        f"atexit.register(lambda: open({str(report)!r}, 'w').write('\\n'.join(sys.modules)))\n"
        "from gitxp.cli.main import main\n"
        "main(['run', 'train.py', 'with', 'lr=0.5', 'opt.name=adam'])\n"
    )
    for _ in range(2):  # the first run lists the packages (importlib.metadata), then cached
        proc = subprocess.run(
            [sys.executable, "-c", code], cwd=repo, capture_output=True, text=True
        )
    assert proc.returncode == 0, proc.stderr
    assert "COMPLETED" in proc.stderr
    loaded = set(report.read_text().split())
    assert "pygit2" in loaded and "gitxp.supervise.runner" in loaded  # the probe saw the run
    assert sorted(m for m in loaded if m.startswith(NOT_FOR_A_RUN)) == []
