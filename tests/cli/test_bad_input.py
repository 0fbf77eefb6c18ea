"""Bad input (issue 2, point 9): one clear line, exit code ≠ 0, no traceback, nothing written."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from runstore_helpers import all_refs, files_state, fsck, git, gitxp, gitxp_run

from gitxp.store.ids import new_run_id


def repo_state(path: Path) -> tuple[str, str, list[str]]:
    """Objects, refs and spools: what a failed command must leave exactly as it was."""
    objects = git(path, "count-objects", "-v")
    git_dir = Path(git(path, "rev-parse", "--absolute-git-dir").strip())
    spool = git_dir / "gitxp" / "spool"
    spools = sorted(p.name for p in spool.iterdir()) if spool.exists() else []
    return objects, all_refs(path), spools


def check_error(proc: subprocess.CompletedProcess[str], *words: str) -> str:
    """Exit ≠ 0, exactly one non-empty stderr line ``gitxp: error: …``, no traceback."""
    assert proc.returncode not in (0, None), proc
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("gitxp: error: "), lines[0]
    assert len(lines[0]) > len("gitxp: error: ") + 10
    assert "Traceback" not in proc.stdout + proc.stderr
    assert "internal error" not in proc.stderr
    assert proc.stdout == ""
    for word in words:
        assert word in lines[0], (word, lines[0])
    return lines[0]


def test_not_a_git_repository(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "train.py").write_text("print('hi')\n")
    before = files_state(plain)
    for args in (
        ("run", "train.py"),
        ("run", "--", "true"),
        ("ls",),
        ("show", "latest"),
        ("recover",),
    ):
        proc = gitxp(plain, *args, check=False)
        line = check_error(proc, "not a git repository")
        assert "git init" in line  # says what to do
    assert files_state(plain) == before
    assert not (plain / ".git").exists()


def test_bare_repository(tmp_path: Path) -> None:
    bare = tmp_path / "bare.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    (bare / "train.py").write_text("print('hi')\n")
    before = repo_state(bare)
    for args in (("run", "train.py"), ("recover",)):
        check_error(gitxp(bare, *args, check=False), "bare repository", "clone")
    assert not (bare / "gitxp").exists()
    # Reading runs works in a bare repository (a CI mirror; tests/cli/test_git_user_cli.py).
    assert gitxp(bare, "ls").stderr.startswith("no runs yet")
    check_error(gitxp(bare, "show", "latest", check=False), "0 runs")
    assert repo_state(bare) == before
    fsck(bare)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("run", "nope.py"), ("nope.py", "no such script")),
        (("run", "sub/nope.py", "with", "lr=1"), ("sub/nope.py",)),
        (("run", "--", "no-such-command-gitxp"), ("no-such-command-gitxp", "not found")),
        (("run",), ("nothing to run",)),
        (("run", "with", "lr=1"), ("nothing to run",)),
        (("run", "train.py", "with", "a..b=1"), ("a..b",)),
        (("run", "train.py", "with", "=3"), ("'=3'",)),
        (("run", "train.py", "with", "lr=1", "lr.x=2"), ("lr",)),
        (("run", "train.py", "with", "a b=1"), ("a b",)),
        (("run", "train.py", "with", "$x=1"), ("$x",)),
        (("run", "train.py", "with", "l[0]=1"), ("l[0]",)),
        (("run", "-i", "not-an-id", "train.py"), ("not-an-id",)),
        (("run", "-i", "01ABC", "train.py"), ("01ABC",)),
        (("run", "-i", new_run_id().lower(), "train.py"), ("run id",)),
        (("show", "0123456789ABC"), ("0123456789ABC",)),
        (("show", "refs/heads/main"), ("refs/heads/main",)),
        (("show", "latest~1"), ("latest~1",)),
        (("show", "zz!"), ("zz!",)),
    ],
)
def test_bad_input_writes_nothing(repo: Path, args: tuple[str, ...], words: tuple[str]) -> None:
    (repo / "README.md").write_text("a dirty tree, so a snapshot would write objects\n")
    (repo / "new.txt").write_text("untracked\n")
    before = repo_state(repo)
    files = files_state(repo)
    check_error(gitxp(repo, *args, check=False), *words)
    assert repo_state(repo) == before
    assert files_state(repo) == files
    fsck(repo)


def test_existing_run_id_refused_and_kept(repo: Path) -> None:
    run_id = new_run_id()
    _, ref = gitxp_run(repo, "-b", "0", "-i", run_id, "train.py", "with", "lr=1")
    assert ref == f"refs/gitxp/runs/{run_id}"
    (repo / "README.md").write_text("changed since\n")
    before = repo_state(repo)
    check_error(gitxp(repo, "run", "-i", run_id, "train.py", check=False), run_id, "exists")
    assert repo_state(repo) == before
    fsck(repo)


def test_ambiguous_and_unknown_ids(repo: Path) -> None:
    base = new_run_id()
    ids = [base[:10] + "A" * 15 + "0", base[:10] + "A" * 15 + "1"]
    for run_id in ids:
        gitxp_run(repo, "-b", "0", "-i", run_id, "--", "true")
    before = repo_state(repo)
    line = check_error(gitxp(repo, "show", ids[0][:20], check=False), "ambiguous")
    assert "more characters" in line
    check_error(gitxp(repo, "show", base[:10] + "B", check=False), "no run matches")
    assert repo_state(repo) == before
    assert gitxp(repo, "show", ids[1].lower(), "--json").returncode == 0


def test_usage_errors_from_the_command_line_parser(repo: Path) -> None:
    before = repo_state(repo)
    cases = {
        ("run", "-C", "bogus", "train.py"): "'bogus' is not one of 'no', 'sys', 'fd'",
        ("ls", "--limit", "many"): "'many' is not a valid integer",
        ("nosuch",): "No such command 'nosuch'",
        ("show",): "Missing argument 'RUN'",
    }
    for args, why in cases.items():
        line = check_error(gitxp(repo, *args, check=False), why)
        assert line.endswith("--help')")
    assert repo_state(repo) == before
