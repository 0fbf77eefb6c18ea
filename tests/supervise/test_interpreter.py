"""``gitxp run`` starts the user's Python, records it, and works with gitxp installed elsewhere.

The pipx-style case uses two real venvs: the suite's own (gitxp installed, started by its
``bin/gitxp`` entry point as pipx links it) and a project venv without gitxp holding
``tinydep`` (built once per session from a local wheel). PATH and ``$VIRTUAL_ENV`` are
those of a shell with the project venv activated; no PYTHONPATH leads to gitxp.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from runstore_helpers import fsck, git, gitxp, run_info, run_refs

from gitxp.errors import UsageError
from gitxp.machine.python import user_python

PLAIN = """\
import sys
import tinydep
print("tinydep", tinydep.VALUE, "on", sys.executable)
"""

EXPERIMENT = """\
import tinydep
from gitxp import Experiment

ex = Experiment("exp")


@ex.config
def cfg():
    lr = 0.5


@ex.automain
def main(lr, _run):
    for step in range(3):
        _run.log_scalar("loss", lr / (step + 1))
    return float(tinydep.VALUE) + lr
"""


def project_shell(project_python: Path) -> dict[str, str]:
    """The environment of a shell with the project venv activated (gitxp not on PATH)."""
    venv = project_python.parent.parent
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PATH"] = os.pathsep.join([str(venv / "bin"), "/usr/bin", "/bin"])
    env["VIRTUAL_ENV"] = str(venv)
    return env


def pipx_gitxp(cwd: Path, env: dict[str, str], *args: str) -> tuple[str, str]:
    """``gitxp ARGS`` through the entry point of gitxp's own venv; (stderr, new run id)."""
    import subprocess

    before = run_refs(cwd)
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "gitxp"), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (new,) = set(run_refs(cwd)) - set(before)
    return proc.stderr, new.rsplit("/", 1)[-1]


def test_pipx_style_gitxp_runs_scripts_in_the_project_venv(
    repo: Path, tinydep: dict[str, Path]
) -> None:
    project_python = tinydep["1.0"]
    (repo / "plain.py").write_text(PLAIN)
    (repo / "exp.py").write_text(EXPERIMENT)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "scripts")
    env = project_shell(project_python)

    err, plain = pipx_gitxp(repo, env, "run", "-b", "0", "plain.py")
    assert f"gitxp: python {project_python} ($VIRTUAL_ENV)" in err
    info = run_info(repo, f"refs/gitxp/runs/{plain}")
    assert info["status"] == "COMPLETED"
    assert info["python"] == {"executable": str(project_python), "chosen_by": "$VIRTUAL_ENV"}
    assert info["command"][0] == str(project_python)
    lock = git(repo, "show", f"refs/gitxp/runs/{plain}:.gitxp/env.lock")
    # The project's environment, not gitxp's: tinydep, and none of gitxp's dependencies.
    pins = [line for line in lock.splitlines() if line and not line.startswith("#")]
    assert pins == ["tinydep==1.0"], lock
    host = json.loads(git(repo, "show", f"refs/gitxp/runs/{plain}:.gitxp/host.json"))
    assert host["python"]["executable"] in (str(project_python), str(project_python.resolve()))
    output = git(repo, "show", f"refs/gitxp/runs/{plain}:.gitxp/output.log")
    assert "tinydep 1.0 on" in output

    # An Experiment script imports gitxp, which the project venv does not have.
    err, exp = pipx_gitxp(repo, env, "run", "-b", "0", "exp.py", "with", "lr=0.25")
    assert "gitxp is not installed for that python" in err and "pip install gitxp" in err
    info = run_info(repo, f"refs/gitxp/runs/{exp}")
    assert info["status"] == "COMPLETED", info.get("fail_trace")
    assert info["result"] == 1.25
    metrics = json.loads(git(repo, "show", f"refs/gitxp/runs/{exp}:.gitxp/metrics.json"))
    assert metrics["loss"]["values"] == [0.25, 0.125, 0.25 / 3]
    lock = git(repo, "show", f"refs/gitxp/runs/{exp}:.gitxp/env.lock")
    assert "gitxp" not in lock.lower().replace("# gitxp env lock", "")
    fsck(repo)


def test_python_choice_follows_the_shell(tmp_path: Path, tinydep: dict[str, Path]) -> None:
    venv = tinydep["1.0"].parent.parent
    other = tinydep["1.1"].parent.parent
    path = os.pathsep.join([str(other / "bin"), "/usr/bin"])
    mine, theirs = str(venv / "bin" / "python"), str(other / "bin" / "python")
    cases = [
        ({"PATH": path, "VIRTUAL_ENV": str(venv)}, None, mine, "$VIRTUAL_ENV"),
        ({"PATH": path, "CONDA_PREFIX": str(venv)}, None, mine, "$CONDA_PREFIX"),
        ({"PATH": path}, None, theirs, "PATH"),
        ({"PATH": path, "VIRTUAL_ENV": str(venv)}, theirs, theirs, "--python"),
        ({"PATH": str(tmp_path)}, None, sys.executable, "gitxp's own interpreter"),
    ]
    for env, explicit, expected, how in cases:
        chosen = user_python(explicit, env)
        assert (chosen.path, chosen.chosen_by) == (expected, how), env
    with pytest.raises(UsageError, match="no such interpreter"):
        user_python("python9.99", {"PATH": path})


def test_missing_interpreter_is_one_line_and_writes_nothing(repo: Path) -> None:
    before = run_refs(repo)
    proc = gitxp(repo, "run", "--python", "python9.99", "train.py", check=False)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines() == [
        "gitxp: error: --python python9.99: no such interpreter (or not executable)"
    ]
    assert run_refs(repo) == before
    fsck(repo)
