"""``gitxp ls`` and ``gitxp show`` (issue 2, point 8) on real recorded runs."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from runstore_helpers import git, gitxp, gitxp_run, isolate

from gitxp.store.ids import new_run_id


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Three runs, oldest first: A (COMPLETED), B (FAILED), C (COMPLETED, named)."""
    with pytest.MonkeyPatch.context() as mp:
        isolate(mp, tmp_path_factory.mktemp("home"))
        repo = tmp_path_factory.mktemp("ls") / "project"
        repo.mkdir()
        git(repo, "init", "-q")
        (repo / "train.py").write_text(
            "import gitxp\n"
            "cfg = gitxp.config()\n"
            "for i in range(4):\n"
            "    gitxp.log_scalar('loss', cfg['lr'] * (4 - i))\n"
            "print('trained', cfg['lr'])\n"
            "gitxp.set_result(cfg['lr'] * 2)\n"
        )
        (repo / "fail.py").write_text("import gitxp\nraise ValueError('diverged')\n")
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", "initial")
        now = time.time()
        ids = [new_run_id(now - 30), new_run_id(now - 20), new_run_id(now - 10)]
        gitxp_run(repo, "-b", "0", "-i", ids[0], "train.py", "with", "lr=0.1", "epochs=3")
        gitxp_run(
            repo, "-b", "0", "-i", ids[1], "fail.py", "with", "lr=0.2", "epochs=3", check=False
        )
        gitxp_run(
            repo,
            "-b",
            "0",
            "-i",
            ids[2],
            "-n",
            "best",
            "train.py",
            "with",
            "lr=0.2",
            "b=1",
            "epochs=3",
        )
        yield {"repo": repo, "ids": ids}


def one_error_line(proc: Any, *words: str) -> str:
    assert proc.returncode != 0
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("gitxp: error: "), lines[0]
    for word in words:
        assert word in lines[0], lines[0]
    assert "Traceback" not in proc.stdout + proc.stderr
    return lines[0]


def unique_prefix(run_id: str, others: list[str]) -> str:
    for length in range(1, 27):
        if not any(o.startswith(run_id[:length]) for o in others if o != run_id):
            return run_id[:length]
    raise AssertionError("no unique prefix")


def test_ls_table_newest_first_with_differing_config(runs: dict[str, Any]) -> None:
    repo, (a, b, c) = runs["repo"], runs["ids"]
    out = gitxp(repo, "ls").stdout.splitlines()
    header = out[0].split()
    assert header[:6] == ["ID", "EXPERIMENT", "STATUS", "START", "DURATION", "RESULT"]
    assert sorted(header[6:]) == ["b", "lr"]  # epochs is the same everywhere: no column
    rows = out[1:]
    assert len(rows) == 3
    for row, run_id in zip(rows, [c, b, a], strict=True):
        prefix = row.split()[0]
        assert run_id.startswith(prefix) and len(prefix) >= 8
    assert "train/best" in rows[0] and "COMPLETED" in rows[0]
    assert "fail" in rows[1] and "FAILED" in rows[1]
    assert "COMPLETED" in rows[2]
    cells = {run_id: row.split() for run_id, row in zip([c, b, a], rows, strict=True)}
    assert cells[a][-2:] == ["-", "0.1"] or cells[a][-2:] == ["0.1", "-"]
    assert "0.4" in cells[c]  # the result of C
    assert "0.2" in cells[a]  # the result of A


def test_ls_json_status_and_limit(runs: dict[str, Any]) -> None:
    repo, (a, b, c) = runs["repo"], runs["ids"]
    data = json.loads(gitxp(repo, "ls", "--json").stdout)
    assert [d["id"] for d in data] == [c, b, a]
    by_id = {d["id"]: d for d in data}
    assert by_id[a]["config"] == {"lr": 0.1, "epochs": 3}
    assert by_id[c]["config"] == {"lr": 0.2, "b": 1, "epochs": 3}
    assert by_id[c]["name"] == "best"
    assert by_id[b]["status"] == "FAILED"
    assert by_id[a]["result"] == pytest.approx(0.2)
    for d in data:
        assert d["ref"] == f"refs/gitxp/runs/{d['id']}"
        assert d["commit"] == git(repo, "rev-parse", d["ref"]).strip()
    failed = json.loads(gitxp(repo, "ls", "--json", "--status", "FAILED").stdout)
    assert [d["id"] for d in failed] == [b]
    done = json.loads(gitxp(repo, "ls", "--json", "--status", "completed").stdout)
    assert [d["id"] for d in done] == [c, a]
    limited = json.loads(gitxp(repo, "ls", "--json", "--limit", "2").stdout)
    assert [d["id"] for d in limited] == [c, b]
    both = json.loads(gitxp(repo, "ls", "--json", "--status", "COMPLETED", "--limit", "1").stdout)
    assert [d["id"] for d in both] == [c]
    table = gitxp(repo, "ls", "--status", "FAILED").stdout.splitlines()
    assert len(table) == 2 and b.startswith(table[1].split()[0])


def test_show_by_prefix_ref_and_latest(runs: dict[str, Any]) -> None:
    repo, ids = runs["repo"], runs["ids"]
    a, b, c = ids
    for spec, want in [
        (unique_prefix(c, ids), c),
        (unique_prefix(a, ids).lower(), a),
        (b[:16], b),
        (b, b),
        (f"refs/gitxp/runs/{a}", a),
        ("latest", c),
        ("latest~0", c),
        ("latest~1", b),
        ("latest~2", a),
    ]:
        data = json.loads(gitxp(repo, "show", spec, "--json").stdout)
        assert data["id"] == want, spec
    data = json.loads(gitxp(repo, "show", "latest", "--json").stdout)
    assert data["config"] == {"lr": 0.2, "b": 1, "epochs": 3}
    assert data["metrics"]["loss"]["steps"] == [0, 1, 2, 3]
    assert "trained 0.2" in data["output"]
    assert data["host"]["hostname"]
    assert data["snapshot_commit"] == git(repo, "rev-parse", f"refs/gitxp/runs/{c}^").strip()
    failed = json.loads(gitxp(repo, "show", "latest~1", "--json").stdout)
    assert failed["status"] == "FAILED"
    assert "ValueError: diverged" in failed["output"]


def test_show_text(runs: dict[str, Any]) -> None:
    repo, (_, b, c) = runs["repo"], runs["ids"]
    text = gitxp(repo, "show", "latest").stdout
    assert text.startswith(f"run {c}")
    assert "COMPLETED" in text.splitlines()[0]
    for needle in ("best", "train.py", "lr: 0.2", "loss", "trained 0.2", "refs/gitxp/runs/"):
        assert needle in text, needle
    failed = gitxp(repo, "show", b[:16]).stdout
    assert "FAILED" in failed and "diverged" in failed
    env = gitxp(repo, "show", "latest", "--env").stdout
    assert f"pytest=={pytest.__version__}" in env


def test_show_errors(runs: dict[str, Any]) -> None:
    repo, ids = runs["repo"], runs["ids"]
    common = ids[0][: next(i for i in range(26) if len({r[i] for r in ids}) > 1)]
    assert len(common) >= 2
    ambiguous = gitxp(repo, "show", common, check=False)
    line = one_error_line(ambiguous, "ambiguous", repr(common))
    assert all(i[:12] in line for i in ids)
    one_error_line(gitxp(repo, "show", "7ZZZZZZZZZ", check=False), "no run matches")
    one_error_line(gitxp(repo, "show", "latest~3", check=False), "latest~3", "3 runs")
    one_error_line(gitxp(repo, "show", "refs/gitxp/runs/0NOPE", check=False), "no run at")
    one_error_line(gitxp(repo, "show", "not-a-run!", check=False), "not a run id")
    # Nothing was changed by the failed lookups.
    assert len(json.loads(gitxp(repo, "ls", "--json").stdout)) == 3


def test_ls_without_runs(repo: Path) -> None:
    proc = gitxp(repo, "ls")
    assert proc.stdout == ""
    assert "no runs yet" in proc.stderr
    assert json.loads(gitxp(repo, "ls", "--json").stdout) == []
    one_error_line(gitxp(repo, "show", "latest", check=False), "latest")
