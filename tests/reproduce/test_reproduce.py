"""``gitxp reproduce`` and ``gitxp run --resume``: real repositories, real ``gitxp`` processes.

Dependencies are changed without any network: a tiny wheel (``tinydep``) is built here in
two versions and installed into throwaway venvs with ``pip --no-index``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from runstore_helpers import fsck, git, gitxp, gitxp_run, run_info, run_refs, user_state
from wheel_helpers import PIP_ENV

from gitxp.query.diff import values_close
from gitxp.reproduce.rerun import _in_worktree, rerun_args

SCRIPT = """\
import os
import gitxp
cfg = gitxp.config()
noise = float(os.environ.get("NOISE", "0"))
for step in range(4):
    gitxp.log_scalar("loss", 1.0 / (step + 1) + noise)
with open("model.txt", "w") as handle:
    handle.write(f"weights {cfg['lr']} {round(noise, 1)}\\n")
gitxp.add_artifact("model.txt")
gitxp.set_result(cfg["lr"] * 2 + noise)
print("trained with", cfg)
"""


def record(cwd: Path, *args: str, env: dict[str, str] | None = None) -> str:
    """Record a run with ``gitxp run`` and return its id."""
    _, ref = gitxp_run(cwd, "-b", "0", *args, env=env)
    return ref.rsplit("/", 1)[-1]


def reproduce(cwd: Path, *args: str, **kw: Any) -> subprocess.CompletedProcess[str]:
    return gitxp(cwd, "reproduce", *args, check=False, **kw)


def new_runs(before: dict[str, str], after: dict[str, str]) -> list[str]:
    return sorted(ref.rsplit("/", 1)[-1] for ref in set(after) - set(before))


def source_tree(cwd: Path, rev: str) -> str:
    """The tree of a run's sources: its snapshot commit's tree without .gitxp/."""
    entries = git(cwd, "ls-tree", f"{rev}^{{tree}}").splitlines()
    kept = "".join(line + "\n" for line in entries if not line.endswith("\t.gitxp"))
    return subprocess.run(
        ["git", "mktree"], cwd=cwd, input=kept, capture_output=True, text=True, check=True
    ).stdout.strip()


def no_worktrees_left(cwd: Path) -> None:
    listed = git(cwd, "worktree", "list", "--porcelain")
    assert listed.count("worktree ") == 1, listed
    assert not (cwd / ".git" / "worktrees").exists() or not any(
        (cwd / ".git" / "worktrees").iterdir()
    )
    prune = subprocess.run(
        ["git", "worktree", "prune", "-n", "-v"], cwd=cwd, capture_output=True, text=True
    )
    assert prune.stdout + prune.stderr == ""


@pytest.fixture
def project(repo: Path) -> Path:
    (repo / "train.py").write_text(SCRIPT)
    (repo / ".gitignore").write_text("model.txt\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "deterministic training")
    return repo


# -- the deterministic case ---------------------------------------------------------------


def test_deterministic_run_is_reproduced_with_every_value_identical(project: Path) -> None:
    original = record(project, "train.py", "with", "lr=0.25")
    before = run_refs(project)
    proc = reproduce(project, original[:8])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "reproduced: all" in proc.stdout and "exactly" in proc.stdout
    for row in ("status", "config", "result", "metric loss", "artifact model.txt", "python"):
        line = next(x for x in proc.stdout.splitlines() if x.strip().startswith(row))
        assert line.rstrip().endswith("match"), line
    (new,) = new_runs(before, run_refs(project))
    info = run_info(project, f"refs/gitxp/runs/{new}")
    old = run_info(project, f"refs/gitxp/runs/{original}")
    assert info["reproduction_of"] == original
    assert f"reproduces: {original}" in gitxp(project, "show", new).stdout
    assert info["status"] == "COMPLETED" and info["result"] == old["result"] == 0.5
    assert info["base_commit"] == old["base_commit"] and info["cwd"] == old["cwd"]
    assert info["command"][1:] == old["command"][1:]
    for name in ("metrics.json", "config.yaml", "artifacts/model.txt"):
        a = git(project, "rev-parse", f"refs/gitxp/runs/{original}:.gitxp/{name}")
        b = git(project, "rev-parse", f"refs/gitxp/runs/{new}:.gitxp/{name}")
        if name == "metrics.json":  # timestamps differ: compare steps and values
            ma = json.loads(git(project, "show", f"refs/gitxp/runs/{original}:.gitxp/{name}"))
            mb = json.loads(git(project, "show", f"refs/gitxp/runs/{new}:.gitxp/{name}"))
            assert {k: (v["steps"], v["values"]) for k, v in ma.items()} == {
                k: (v["steps"], v["values"]) for k, v in mb.items()
            }
        else:
            assert a == b, name
    # The reproduction recorded exactly the original sources, on the original base.
    assert source_tree(project, f"refs/gitxp/runs/{new}~1") == source_tree(
        project, f"refs/gitxp/runs/{original}~1"
    )
    assert git(project, "rev-parse", f"refs/gitxp/runs/{new}~2").strip() == old["base_commit"]
    no_worktrees_left(project)
    data = json.loads(reproduce(project, original, "--json").stdout)
    assert data["reproduced"] is True and data["original"] == original
    assert all(c["verdict"] == "match" for c in data["checks"])
    fsck(project)


def test_differences_are_named_with_their_size_and_tolerances_apply(project: Path) -> None:
    original = record(project, "train.py", "with", "lr=0.25")
    proc = reproduce(project, original, env={"NOISE": "0.001"})
    assert proc.returncode == 1, proc.stdout + proc.stderr
    rows = [x for x in proc.stdout.splitlines() if x.startswith("  ")]
    lines = {" ".join(x.split()[:2]): x for x in rows}
    assert "differs by +0.001" in lines["result 0.5"]
    assert "differs" in lines["metric loss"]
    assert lines["artifact model.txt"].rstrip().endswith("match")  # rounded: same bytes
    assert "NOT reproduced: 2 of" in proc.stdout and "(result, metric loss)" in proc.stdout
    # Within a tolerance the same reproduction passes.
    ok = reproduce(project, original, "--atol", "0.01", env={"NOISE": "0.001"})
    assert ok.returncode == 0, ok.stdout
    assert "within rtol=0 atol=0.01" in ok.stdout
    # An artifact whose bytes differ is named even when numbers are within tolerance.
    far = reproduce(project, original, "--rtol", "10", env={"NOISE": "0.5"})
    assert far.returncode == 1
    assert "(artifact model.txt)" in far.stdout


def test_reproduce_after_branch_moved_on_and_files_edited_touches_nothing(project: Path) -> None:
    # The run itself had an uncommitted edit and an untracked helper file.
    (project / "train.py").write_text(SCRIPT.replace("* 2", "* 4"))
    (project / "notes.txt").write_text("run notes\n")
    original = record(project, "train.py", "with", "lr=0.25")
    assert run_info(project, f"refs/gitxp/runs/{original}")["result"] == 1.0
    # The branch moves on and the files are edited again.
    (project / "train.py").write_text(SCRIPT.replace("* 2", "* 8"))
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "later work")
    (project / "train.py").write_text("raise SystemExit('work in progress')\n")
    (project / "scratch.py").write_text("x = 1\n")
    before = user_state(project)
    status = git(project, "status", "--porcelain")
    proc = reproduce(project, original)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = next(x for x in proc.stdout.splitlines() if x.startswith("  result"))
    assert result.split()[1:] == ["1.0", "1.0", "match"]  # the run's code, not today's
    after = user_state(project)
    assert after == before  # index, HEAD, branches and every file with its mtime
    assert git(project, "status", "--porcelain") == status
    no_worktrees_left(project)


# -- a dependency changed (local wheels, no network) -----------------------------------------


@pytest.fixture
def deps(tinydep: dict[str, Path]) -> dict[str, Path]:
    """Wheels of tinydep 1.0 and 1.1, and a venv (without pip) holding each."""
    return tinydep


DEP_SCRIPT = """\
import gitxp
import tinydep
gitxp.log_scalar("version", float(tinydep.VALUE))
gitxp.set_result(tinydep.VALUE)
"""


def test_changed_dependency_is_named_by_reproduce_and_diff(
    repo: Path, deps: dict[str, Path]
) -> None:
    (repo / "dep.py").write_text(DEP_SCRIPT)
    a = record(repo, "--python", str(deps["1.0"]), "dep.py")
    proc = reproduce(repo, a, "--python", str(deps["1.1"]))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "gitxp: environment drift: packages" in proc.stderr
    drift = [x.strip() for x in proc.stderr.splitlines() if x.startswith("gitxp:   ")]
    assert drift == ["gitxp:   ~ tinydep 1.0 → 1.1"], proc.stderr
    assert "~ tinydep 1.0 → 1.1" in proc.stdout
    assert "NOT reproduced: 2 of" in proc.stdout and "(result, metric version)" in proc.stdout
    # --strict: drift alone fails, before anything runs.
    before = run_refs(repo)
    strict = reproduce(repo, a, "--strict", "--python", str(deps["1.1"]))
    assert strict.returncode == 1 and run_refs(repo) == before
    assert strict.stdout.rstrip().endswith("NOT reproduced: packages"), strict.stdout
    # The same interpreter: no drift, reproduced.
    same = reproduce(repo, a, "--strict", "--python", str(deps["1.0"]))
    assert same.returncode == 0, same.stdout + same.stderr
    # gitxp diff names exactly that package, and nothing else of the environment.
    b = record(repo, "--python", str(deps["1.1"]), "dep.py")
    data = json.loads(gitxp(repo, "diff", a, b, "--json").stdout)
    assert data["environment"]["packages"] == {
        "added": {},
        "removed": {},
        "changed": {"tinydep": ["1.0", "1.1"]},
    }
    assert data["environment"]["python"] is None and data["environment"]["host"] == {}
    assert data["code"]["files"] == []
    text = gitxp(repo, "diff", a, b).stdout
    assert "~ tinydep 1.0 → 1.1" in text and "code: identical" in text


def test_env_venv_builds_from_the_lock_and_reuses_it(repo: Path, deps: dict[str, Path]) -> None:
    (repo / "dep.py").write_text(DEP_SCRIPT)
    a = record(repo, "--python", str(deps["1.0"]), "dep.py")
    env = {**PIP_ENV, "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(deps["wheels"])}
    first = reproduce(repo, a, "--env", "venv", env=env)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "building an environment from the run's env lock (1 package" in first.stderr
    assert "tinydep" in first.stderr and "environment ready in" in first.stderr
    venvs = list((repo / ".git" / "gitxp" / "venvs").glob("*/gitxp-venv.json"))
    assert len(venvs) == 1
    second = reproduce(repo, a, "--env", "venv", env=env)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "reusing the environment built for this lock" in second.stderr
    assert "building" not in second.stderr
    newest = run_info(repo, git(repo, "for-each-ref", "--sort=-refname", "--count=1",
                                "--format=%(refname)", "refs/gitxp/runs/").strip())  # fmt: skip
    assert newest["reproduction_of"] == a
    lock = git(repo, "show", f"refs/gitxp/runs/{newest['id']}:.gitxp/env.lock")
    assert "tinydep==1.0" in lock and str(venvs[0].parent) in lock


# -- runs from elsewhere ---------------------------------------------------------------------


def test_reproduce_in_a_fresh_clone_asks_about_someone_elses_run(
    project: Path, tmp_path: Path
) -> None:
    git(project, "config", "user.name", "Alice Example")
    git(project, "config", "user.email", "alice@example.com")
    original = record(project, "train.py", "with", "lr=0.25")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(project), str(clone))
    git(clone, "fetch", "-q", "origin", "refs/gitxp/*:refs/gitxp/*")
    assert run_refs(clone) == run_refs(project)
    cmd = [sys.executable, "-m", "gitxp", "reproduce", original]
    declined = subprocess.run(cmd, cwd=clone, input="n\n", capture_output=True, text=True)
    assert declined.returncode == 2, declined.stdout + declined.stderr
    assert "recorded by Alice Example <alice@example.com>" in declined.stderr
    assert "train.py with lr=0.25" in declined.stderr
    assert len(run_refs(clone)) == 1
    proc = reproduce(clone, original, "--yes")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    refs = run_refs(clone)
    assert len(refs) == 2
    (new,) = new_runs({f"refs/gitxp/runs/{original}": ""}, refs)
    assert run_info(clone, f"refs/gitxp/runs/{new}")["reproduction_of"] == original
    no_worktrees_left(clone)
    fsck(clone)


# -- resume ------------------------------------------------------------------------------------

RESUMABLE_SCRIPT = """\
import os
import sys
import gitxp
checkpoint = gitxp.resume_artifact("ckpt.txt")
start = int(checkpoint.read_text()) if checkpoint else 0
print("start", start, "resumed from", gitxp.resumed_from(), sorted(gitxp.previous_artifacts()))
for step in range(start, 6):
    gitxp.log_scalar("step", step, step=step)
    with open("ckpt.txt", "w") as handle:
        handle.write(str(step + 1))
    if step == 2 and checkpoint is None:
        gitxp.add_artifact("ckpt.txt")
        sys.exit(3)
gitxp.add_artifact("ckpt.txt")
gitxp.set_result(start)
"""


def test_resume_continues_from_original_sources_and_artifacts(repo: Path) -> None:
    (repo / "loop.py").write_text(RESUMABLE_SCRIPT)
    (repo / ".gitignore").write_text("ckpt.txt\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "loop")
    proc, ref = gitxp_run(repo, "-b", "0", "loop.py", check=False)
    assert proc.returncode == 3
    first = ref.rsplit("/", 1)[-1]
    assert run_info(repo, ref)["status"] == "FAILED"
    # Edits made since must not leak into the resumed run.
    (repo / "loop.py").write_text("raise SystemExit('edited since')\n")
    before = user_state(repo)
    refs = run_refs(repo)
    resumed = gitxp(repo, "run", "-b", "0", "--resume", first[:10])
    assert "start 3 resumed from " + first + " ['ckpt.txt']" in resumed.stdout
    (new,) = new_runs(refs, run_refs(repo))
    info = run_info(repo, f"refs/gitxp/runs/{new}")
    assert info["resumed_from"] == first and info["status"] == "COMPLETED"
    assert info["result"] == 3
    metrics = json.loads(git(repo, "show", f"refs/gitxp/runs/{new}:.gitxp/metrics.json"))
    assert metrics["step"]["steps"] == [3, 4, 5]
    assert source_tree(repo, f"refs/gitxp/runs/{new}~1") == source_tree(repo, f"{ref}~1")
    assert user_state(repo) == before
    no_worktrees_left(repo)
    # A completed run is not resumed.
    again = gitxp(repo, "run", "--resume", new, check=False)
    assert again.returncode == 2 and "only INTERRUPTED, DIED or FAILED" in again.stderr


# -- pieces ------------------------------------------------------------------------------------


def test_rerun_args_drop_the_recorded_interpreter_and_keep_the_seed() -> None:
    info = {"command": ["/old/bin/python3.11", "train.py", "with", "lr=1"], "seed": 7}
    assert rerun_args(info) == ["train.py", "with", "lr=1", "seed=7"]
    info = {"command": ["/old/bin/python", "t.py", "with", "seed=3"], "seed": 3}
    assert rerun_args(info) == ["t.py", "with", "seed=3"]
    info = {"command": ["/old/python3", "-m", "pkg.train"], "seed": None}
    assert rerun_args(info, "/new/python") == ["/new/python", "-m", "pkg.train"]
    assert rerun_args({"command": ["bash", "run.sh"]}) == ["bash", "run.sh"]
    # A script recorded by absolute path inside the project runs from the worktree.
    args = ["/home/me/proj/sub/t.py", "/home/me/proj/c.yaml", "/data/x"]
    moved = _in_worktree(args, Path("/home/me/proj"), Path("/w"), Path("/w/sub"))
    assert moved == ["t.py", "../c.yaml", "/data/x"]


def test_values_close() -> None:
    assert values_close(0.1 + 0.2, 0.3, rtol=1e-9)
    assert not values_close(0.1 + 0.2, 0.3)
    assert values_close(float("nan"), float("nan"))
    assert values_close({"a": [1.0, 2.0]}, {"a": [1.0, 2.05]}, atol=0.1)
    assert not values_close({"a": 1}, {"b": 1})
    assert not values_close("x", "y")


def test_previous_artifacts_api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import gitxp

    assert gitxp.previous_artifacts() == {} and gitxp.resume_artifact("x") is None
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "w.bin").write_bytes(b"1")
    monkeypatch.setenv("GITXP_RESUME_DIR", str(tmp_path))
    monkeypatch.setenv("GITXP_RESUMED_FROM", "01ABC")
    assert gitxp.previous_artifacts() == {"sub/w.bin": tmp_path / "sub" / "w.bin"}
    assert gitxp.resume_artifact("sub/w.bin") == tmp_path / "sub" / "w.bin"
    assert gitxp.resumed_from() == "01ABC"
