"""Behaviours of ls, show and the row readers that nothing checked before (issue 18, 9)."""

from __future__ import annotations

import time
from pathlib import Path

from query_helpers import bench, git, gitxp

from gitxp.git.repo import GitRepo
from gitxp.query.cache import RunTable
from gitxp.query.listing import STALE_AFTER, query_rows


def test_ls_marks_a_running_run_whose_heartbeat_stopped() -> None:
    now = time.time()
    table = RunTable(
        refs=["r1", "r2"],
        commits=["c1", "c2"],
        columns={
            "id": ["01M8RK9000000000000000000B", "01M8RK9000000000000000000A"],
            "status": ["RUNNING", "RUNNING"],
            "start": [int((now - 1000) * 1e6)] * 2,
            "heartbeat": [int(now * 1e6), int((now - STALE_AFTER - 5) * 1e6)],
        },
    )
    _, rows = query_rows(table, [0, 1])
    assert [row[2] for row in rows] == ["RUNNING", "RUNNING?"]
    _, rows = query_rows(table, [0, 1], ["status"])
    assert [row[1] for row in rows] == ["RUNNING", "RUNNING?"]


def test_show_output_n_shows_the_last_n_lines(repo: Path) -> None:
    (repo / "talk.py").write_text("for i in range(30):\n    print('line', i)\n")
    gitxp(repo, "run", "-b", "0", "talk.py")
    text = gitxp(repo, "show", "latest", "--output", "5").stdout
    shown = text.split("output, last 5 of 30 lines:\n", 1)[1].splitlines()
    assert shown == [f"  line {i}" for i in range(25, 30)]
    assert "  line 0" in gitxp(repo, "show", "latest", "--output", "-1").stdout


def test_ls_where_matching_nothing_says_so(tmp_path: Path) -> None:
    path = tmp_path / "many"
    path.mkdir()
    git(path, "init", "-q")
    bench.write_runs(GitRepo(path), 40, seed=3)
    none = gitxp(path, "ls", "--where", "config.lr > 5")
    assert none.stdout == "" and "no run matches" in none.stderr
