"""The README's quick start records a real run of examples/hello.py (issue 18, point 9)."""

from __future__ import annotations

import json
import re
import shlex
import shutil
from pathlib import Path

from runstore_helpers import git, gitxp

ROOT = Path(__file__).resolve().parents[2]


def test_the_readme_quick_start_run(repo: Path) -> None:
    readme = (ROOT / "README.md").read_text()
    (command,) = re.findall(r"\.venv/bin/gitxp (run examples/hello\.py[^&\n]*)", readme)
    (repo / "examples").mkdir()
    shutil.copy(ROOT / "examples" / "hello.py", repo / "examples" / "hello.py")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "example")
    args = shlex.split(command)
    gitxp(repo, args[0], "-b", "0", *args[1:])
    shown = json.loads(gitxp(repo, "show", "--json", "latest").stdout)
    assert shown["status"] == "COMPLETED"
    assert shown["config"] == {"lr": 0.1, "steps": 200, "seed": 0}  # the defaults recorded too
    assert len(shown["metrics"]["loss"]["values"]) == 200
    assert shown["result"] < 0.02  # the line was fitted
    assert "fitted w=2.0" in shown["output"]
