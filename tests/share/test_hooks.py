"""Hooks: the git pre-push hook that shares runs, and the user's pre-run/post-run hooks."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from servers import bare_repo
from sharing_helpers import RUNS, git, gitxp, make_runs, run_refs

from gitxp.errors import UsageError
from gitxp.git.repo import GitRepo
from gitxp.share import hooks

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def project(repo: Path, tmp_path: Path) -> tuple[Path, Path]:
    """The test project with ``origin`` a bare repository by path; returns both."""
    bare = bare_repo(tmp_path, "origin.git")
    git(repo, "remote", "add", "origin", str(bare))
    return repo, bare


def executable(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


# -- the git pre-push hook -----------------------------------------------------------------


def test_git_push_also_pushes_runs(project: tuple[Path, Path]) -> None:
    repo, bare = project
    out = gitxp(repo, "hooks", "install").stdout
    assert f"installed {repo / '.git/hooks/pre-push'}" in out
    ids = make_runs(repo, 2)
    proc = git_push(repo, "origin", "HEAD:refs/heads/main")
    assert "pushed 2 runs to" in proc
    assert set(run_refs(bare)) == {RUNS + i for i in ids}
    assert git(bare, "rev-parse", "main").strip() == git(repo, "rev-parse", "HEAD").strip()
    assert "pushed" not in git_push(repo, "origin", "HEAD:refs/heads/main")  # nothing new: quiet
    make_runs(repo, 1)
    git_push(repo, "origin", "HEAD:refs/heads/main", env={"GITXP_NO_PRE_PUSH": "1"})
    git(repo, "config", "gitxp.prePush", "false")
    git_push(repo, "origin", "HEAD:refs/heads/main")
    assert len(run_refs(bare)) == 2  # both ways of skipping it


def git_push(repo: Path, *args: str, env: dict[str, str] | None = None) -> str:
    """``git push`` (hooks run); returns what it printed."""
    import os
    import subprocess

    proc = subprocess.run(
        ["git", "push", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **(env or {})},
    )
    return proc.stdout + proc.stderr


def test_an_existing_hook_is_chained_never_overwritten(project: tuple[Path, Path]) -> None:
    repo, bare = project
    seen = repo.parent / "seen.txt"
    mine = executable(
        repo / ".git/hooks/pre-push",
        f'#!/bin/sh\necho "args: $*" > {seen}\ncat >> {seen}\nexit ${{MY_HOOK_EXIT:-0}}\n',
    )
    original = mine.read_text()
    out = gitxp(repo, "hooks", "install").stdout
    chained = repo / ".git/hooks/pre-push.gitxp-chained"
    assert "kept your pre-push hook as" in out and chained.read_text() == original
    assert gitxp(repo, "hooks", "install").stdout.startswith("updated")  # idempotent
    assert chained.read_text() == original

    make_runs(repo, 1)
    git_push(repo, "origin", "HEAD:refs/heads/main")
    lines = seen.read_text().splitlines()
    assert lines[0] == f"args: origin {bare}"
    assert lines[1].startswith("HEAD refs/heads/main") or "refs/heads/main" in lines[1]
    assert len(run_refs(bare)) == 1

    # The chained hook still decides: when it refuses, nothing is pushed.
    make_runs(repo, 1)
    import os
    import subprocess

    refused = subprocess.run(
        ["git", "push", "origin", "HEAD:refs/heads/other"],
        cwd=repo,
        capture_output=True,
        text=True,
        env={**os.environ, "MY_HOOK_EXIT": "1"},
    )
    assert refused.returncode != 0 and len(run_refs(bare)) == 1

    assert "restored your pre-push hook" in gitxp(repo, "hooks", "uninstall").stdout
    assert (repo / ".git/hooks/pre-push").read_text() == original and not chained.exists()


def test_core_hooks_path_is_respected(project: tuple[Path, Path]) -> None:
    repo, bare = project
    git(repo, "config", "core.hooksPath", ".githooks")
    gitxp(repo, "hooks", "install")
    assert (repo / ".githooks/pre-push").exists()
    assert not (repo / ".git/hooks/pre-push").exists()
    make_runs(repo, 1)
    git_push(repo, "origin", "HEAD:refs/heads/main")
    assert len(run_refs(bare)) == 1
    listed = gitxp(repo, "hooks", "list").stdout
    assert f"git pre-push: installed ({repo / '.githooks/pre-push'})" in listed


def test_install_refuses_to_guess(repo: Path) -> None:
    executable(repo / ".git/hooks/pre-push", "#!/bin/sh\nexit 0\n")
    executable(repo / ".git/hooks/pre-push.gitxp-chained", "#!/bin/sh\nexit 0\n")
    with pytest.raises(UsageError, match="merge them by hand"):
        hooks.install(GitRepo(repo))


def test_shipped_hooks_are_the_installed_ones() -> None:
    assert (ROOT / "hooks/pre-push").read_text() == hooks.pre_push_script(None)
    for name in ("pre-push", "pre-run.require-clean-tree", "post-run.log"):
        assert (ROOT / "hooks" / name).stat().st_mode & stat.S_IXUSR


# -- user hooks around a run ---------------------------------------------------------------


def test_pre_run_hook_vetoes_the_run(repo: Path) -> None:
    executable(repo / ".gitxp-hooks/pre-run", "#!/bin/sh\necho 'all GPUs are busy'\nexit 3\n")
    proc = gitxp(repo, "run", "train.py", check=False)
    assert proc.returncode == 1
    assert (
        "gitxp: error: run vetoed by pre-run hook .gitxp-hooks/pre-run: all GPUs are busy"
        in proc.stderr
    )
    assert "training with" not in proc.stdout  # the user's code never ran
    assert run_refs(repo) == {}
    assert not list((repo / ".git/gitxp/spool").glob("*"))


def test_hooks_get_the_run_and_post_run_sees_the_end(repo: Path) -> None:
    dump = repo.parent / "env"
    dump.mkdir()
    record = (
        "#!/bin/sh\nenv | grep '^GITXP_' | sort > {dump}/$GITXP_HOOK\n"
        '[ -d "$GITXP_SPOOL" ] && echo spool-exists >> {dump}/$GITXP_HOOK\n'
    )
    executable(repo / ".gitxp-hooks/pre-run", record.format(dump=dump))
    executable(
        repo / ".gitxp-hooks/pre-run.d/10-info",
        f"#!/bin/sh\n'{__import__('sys').executable}' -c "
        "\"import gitxp; gitxp.add_info(checked_by='pre-run hook')\"\n",
    )
    executable(repo / ".gitxp-hooks/post-run", record.format(dump=dump) + "exit 4\n")
    proc = gitxp(repo, "run", "train.py", "with", "lr=0.1")
    assert proc.returncode == 0
    assert "post-run hook .gitxp-hooks/post-run exited 4" in proc.stderr
    ((ref, commit),) = run_refs(repo).items()
    pre = dict(line.split("=", 1) for line in (dump / "pre-run").read_text().splitlines()[:-1])
    assert (dump / "pre-run").read_text().endswith("spool-exists\n")
    assert pre["GITXP_RUN_ID"] == ref.removeprefix(RUNS) and pre["GITXP_RUN_REF"] == ref
    assert pre["GITXP_COMMAND"].endswith("train.py with lr=0.1")
    post = dict(line.split("=", 1) for line in (dump / "post-run").read_text().splitlines())
    assert post["GITXP_STATUS"] == "COMPLETED" and post["GITXP_EXIT_CODE"] == "0"
    assert post["GITXP_RUN_COMMIT"] == commit and "GITXP_SPOOL" not in post
    info = json.loads(git(repo, "show", f"{commit}:.gitxp/run.json"))
    assert info["info"] == {"checked_by": "pre-run hook"}


def test_hooks_dir_config_order_and_non_executables(repo: Path) -> None:
    order = repo.parent / "order.txt"
    git(repo, "config", "gitxp.hooksDir", "tools/hooks")
    for name in ("20-second", "10-first"):
        executable(repo / "tools/hooks/pre-run.d" / name, f"#!/bin/sh\necho {name} >> {order}\n")
    (repo / "tools/hooks/post-run").write_text("#!/bin/sh\nexit 1\n")  # not executable
    proc = gitxp(repo, "run", "train.py")
    assert order.read_text().split() == ["10-first", "20-second"]
    assert "hook tools/hooks/post-run is not executable (chmod +x it); skipped" in proc.stderr
    assert len(run_refs(repo)) == 1


EXPERIMENT = """\
from gitxp import Experiment
ex = Experiment("hooked")

@ex.automain
def main():
    print("main ran")
    return 7
"""


def test_a_self_recording_experiment_runs_the_same_hooks(repo: Path) -> None:
    import subprocess
    import sys

    (repo / "exp.py").write_text(EXPERIMENT)
    executable(repo / ".gitxp-hooks/pre-run", "#!/bin/sh\necho 'not today'\nexit 1\n")
    vetoed = subprocess.run(
        [sys.executable, "exp.py"], cwd=repo, capture_output=True, text=True, check=False
    )
    assert vetoed.returncode != 0
    assert "run vetoed by pre-run hook .gitxp-hooks/pre-run: not today" in vetoed.stderr
    assert "main ran" not in vetoed.stdout and "Traceback" not in vetoed.stderr
    assert run_refs(repo) == {}

    (repo / ".gitxp-hooks/pre-run").unlink()
    mark = repo.parent / "post-run-saw"
    executable(repo / ".gitxp-hooks/post-run", f"#!/bin/sh\necho $GITXP_STATUS > {mark}\n")
    done = subprocess.run(
        [sys.executable, "exp.py"], cwd=repo, capture_output=True, text=True, check=True
    )
    assert "main ran" in done.stdout
    assert mark.read_text() == "COMPLETED\n"
    assert len(run_refs(repo)) == 1
