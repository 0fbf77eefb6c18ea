"""The command line a git user expects (issue 18, point 6).

Help without a command, ``gitxp help CMD``, id prefixes unique among all runs, shell
completion through click, non-ASCII shown as it is, read-only commands in a bare mirror,
``gitxp diff`` of three runs, and ``ls`` columns kept in git config.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from runstore_helpers import git, gitxp, isolate

A = "01M8RK8CKK3A00000000000000"  # the first 11 characters are shared with B
B = "01M8RK8CKK3B00000000000000"
C = "01M8RK9000000000000000000C"
SCRIPT = (
    "import gitxp\n"
    "cfg = gitxp.config()\n"
    "gitxp.log_scalar('loss', cfg.get('lr', 0) * 2)\n"
    "gitxp.set_result({'note': 'café ü'})\n"
)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with pytest.MonkeyPatch.context() as mp:
        isolate(mp, tmp_path_factory.mktemp("home"))
        path = tmp_path_factory.mktemp("cli") / "project"
        path.mkdir()
        git(path, "init", "-q")
        (path / "train.py").write_text(SCRIPT)
        git(path, "add", "-A")
        git(path, "commit", "-q", "-m", "initial")
        for run_id, lr in ((A, "0.1"), (B, "0.2"), (C, "0.3")):
            gitxp(
                path,
                "run",
                "-b",
                "0",
                "-i",
                run_id,
                "-n",
                "überlauf",
                "train.py",
                "with",
                f"lr={lr}",
            )
        yield path


def test_bare_gitxp_prints_help_and_help_names_a_command(project: Path) -> None:
    bare = gitxp(project)
    assert bare.returncode == 0 and bare.stderr == ""
    assert bare.stdout.startswith("Usage: gitxp") and "  ls " in bare.stdout
    assert gitxp(project, "help", "ls").stdout == gitxp(project, "ls", "--help").stdout
    hooks = gitxp(project, "help", "hooks", "install").stdout
    assert hooks == gitxp(project, "hooks", "install", "--help").stdout
    bad = gitxp(project, "help", "nosuch", check=False)
    assert bad.returncode == 2 and bad.stderr.startswith("gitxp: error: no command 'nosuch'")


def test_ls_prints_prefixes_unique_among_all_runs(project: Path) -> None:
    (line,) = gitxp(
        project, "ls", "--limit", "1", "--status", "COMPLETED", "-s", "start"
    ).stdout.splitlines()[1:]
    prefix = line.split()[0]
    assert prefix == A[:12]  # one more character than A and B share, as git's %h
    assert gitxp(project, "show", prefix).stdout.startswith(f"run {A}")


def test_shell_completion_of_commands_options_and_runs(project: Path) -> None:
    def complete(words: str) -> list[str]:
        env = {"_GITXP_COMPLETE": "bash_complete", "COMP_WORDS": words}
        env["COMP_CWORD"] = str(len(words.split()) - (0 if words.endswith(" ") else 1))
        out = gitxp(project, env=env).stdout
        return [line.split(",", 1)[1] for line in out.splitlines()]

    assert complete("gitxp sh") == ["show"]
    assert "--status" in complete("gitxp ls --st")
    assert complete("gitxp show 01M8RK8") == [B, A]  # newest first
    assert complete("gitxp diff 01m8rk9") == [C]
    assert set(complete("gitxp tag ")) == {A, B, C}


def test_show_prints_non_ascii_as_it_is(project: Path) -> None:
    text = gitxp(project, "show", A).stdout
    assert "überlauf" in text and '{"note": "café ü"}' in text and "\\u" not in text
    raw = gitxp(project, "show", "--json", A).stdout
    assert '"name": "überlauf"' in raw and json.loads(raw)["result"] == {"note": "café ü"}


def test_read_only_commands_work_in_a_bare_mirror(project: Path, tmp_path: Path) -> None:
    mirror = tmp_path / "mirror.git"
    git(tmp_path, "clone", "-q", "--mirror", str(project), str(mirror))
    ids = [row["id"] for row in json.loads(gitxp(mirror, "ls", "--json").stdout)]
    assert ids == [C, B, A]
    assert gitxp(mirror, "show", A[:12]).stdout.startswith(f"run {A}")
    assert "config.lr" in gitxp(mirror, "diff", A, B, C).stdout
    gitxp(mirror, "export", "-o", str(tmp_path / "runs.csv"))
    assert (tmp_path / "runs.csv").read_text().count("\n") == 4
    refused = gitxp(mirror, "run", "train.py", check=False)
    assert refused.returncode == 2 and "is a bare repository" in refused.stderr
    assert not os.path.exists(mirror / "gitxp" / "spool") or not os.listdir(
        mirror / "gitxp" / "spool"
    )


def test_diff_of_three_runs_is_a_table(project: Path) -> None:
    lines = gitxp(project, "diff", A, B[:12], C).stdout.splitlines()
    assert lines[0].split() == [A[:12], B[:12], C[:12]]
    rows = {line.split()[0]: line.split()[1:] for line in lines[1:]}
    assert rows["config.lr"] == ["0.1", "0.2", "0.3"]
    assert rows["metrics.loss.last"] == ["0.2", "0.4", "0.6"]
    assert rows["status"] == ["COMPLETED"] * 3
    assert "sources" not in rows  # the same code
    data = json.loads(gitxp(project, "diff", "--json", A, B, C).stdout)
    assert data["runs"] == [A, B, C] and data["rows"]["config.lr"] == [0.1, 0.2, 0.3]
    one = gitxp(project, "diff", A, check=False)
    assert one.returncode == 2 and "name two runs or more" in one.stderr


def test_ls_columns_kept_in_git_config(project: Path) -> None:
    git(project, "config", "gitxp.lsColumns", "status,config.lr,config.nosuch,metrics.*.last")
    try:
        header, *rows = gitxp(project, "ls").stdout.splitlines()
        assert header.split() == ["ID", "STATUS", "config.lr", "metrics.loss.last"]
        assert rows[0].split()[1:] == ["COMPLETED", "0.3", "0.6"]
        given = gitxp(project, "ls", "--columns", "result").stdout.splitlines()[0]
        assert given.split() == ["ID", "RESULT"]  # --columns still wins
    finally:
        git(project, "config", "--unset", "gitxp.lsColumns")
