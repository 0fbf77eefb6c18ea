"""The board's JSON endpoints against a repository of real runs (``gitxp board``)."""

from __future__ import annotations

import gzip
import os
import signal
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

import pytest
from board_helpers import (
    XSS,
    Board,
    Project,
    fake_running_run,
    git,
    gitxp,
    run_refs,
    slow_run,
    stop_slow_run,
)

Q = urllib.parse.quote


def test_page_and_static_files_are_served(board: Board) -> None:
    page = board.get("/")
    assert page.status == 200
    assert page.headers["content-type"].startswith("text/html")
    assert board.server.csrf.encode() in page.body
    assert "script-src 'self'" in page.headers["content-security-policy"]
    for name in ("app.js", "board.css", "chart.js", "list.js", "run.js", "compare.js"):
        answer = board.get(f"/static/{name}")
        assert answer.status == 200, name
        assert b"http://" not in answer.body and b"https://" not in answer.body, name
    assert board.get("/static/nope.js").status == 404


def test_run_list_has_every_run_with_config_and_metric_columns(
    board: Board, project: Project
) -> None:
    data = board.get("/api/runs").json()
    columns = data["columns"]
    for name in ("id", "status", "start", "duration", "heartbeat", "result", "tags", "note"):
        assert name in columns
    assert {"config.lr", "config.opt.name", "metrics.loss.last", "metrics.loss.min"} <= set(columns)
    rows = {row[columns.index("id")]: dict(zip(columns, row, strict=True)) for row in data["rows"]}
    assert {project.ids[k] for k in ("a", "b", "c", "dirty", "xss")} <= set(rows)
    a = rows[project.ids["a"]]
    assert a["status"] == "COMPLETED"
    assert a["config.lr"] == 0.1
    assert a["result"] == pytest.approx(0.2)
    assert isinstance(a["start"], float) and a["start"] > 1e12  # milliseconds
    assert a["duration"] >= 0
    assert rows[project.ids["b"]]["tags"] == ["keep"]
    assert rows[project.ids["c"]]["status"] == "FAILED"
    assert rows[project.ids["xss"]]["config.label"] == XSS


def test_where_filter_uses_the_query_layer(board: Board, project: Project) -> None:
    data = board.get("/api/runs?where=" + Q("config.lr >= 0.3 and status == 'COMPLETED'")).json()
    ids = {row[data["columns"].index("id")] for row in data["rows"]}
    assert project.ids["b"] in ids
    assert not ids & {project.ids[k] for k in ("a", "c", "dirty", "xss")}
    bad = board.get("/api/runs?where=" + Q("config.lrr > 1"))
    assert bad.status == 400
    assert "unknown column 'config.lrr'" in bad.json()["error"]
    assert board.get("/api/runs?where=" + Q("config.lr >")).status == 400


def test_unchanged_list_is_not_sent_again(board: Board) -> None:
    first = board.get("/api/runs").json()
    again = board.get(f"/api/runs?known={first['version']}").json()
    assert again["unchanged"] is True
    assert "rows" not in again


def test_new_runs_show_up_without_a_restart(board: Board, project: Project) -> None:
    before = board.get("/api/runs").json()
    run_id = fake_running_run(project.path, heartbeat_age=1)
    try:
        after = board.get(f"/api/runs?known={before['version']}").json()
        assert "rows" in after
        assert run_id in {row[0] for row in after["rows"]}
    finally:
        git(project.path, "update-ref", "-d", f"refs/gitxp/runs/{run_id}")


def test_run_page_has_config_docs_status_failure_and_artifacts(
    board: Board, project: Project
) -> None:
    run = board.get(f"/api/runs/{project.ids['c'][:12]}").json()
    assert run["id"] == project.ids["c"]
    assert run["status"] == "FAILED"
    assert "diverged: loss is NaN" in run["info"]["fail_trace"]
    assert run["config"]["lr"] == 0.5
    assert run["config_docs"]["lr"] == "learning rate"
    assert run["config_docs"]["opt"] == "the optimizer"
    assert run["meta"]["config_updates"] == {"lr": 0.5, "fail": True}
    assert run["host"]["hostname"]
    assert "pyyaml" in run["env_lock"].lower() or "==" in run["env_lock"]
    assert run["metrics"] == {"accuracy": 30, "loss": 30, "odd": 2}
    names = {a["name"]: a for a in run["artifacts"]}
    assert set(names) == {"summary.txt", "curve.png", "page.html"}
    assert names["summary.txt"]["size"] == len("summary <b>not bold</b>\n")
    assert board.get("/api/runs/ZZZZZZ").status == 404


def test_metrics_map_nan_to_null(board: Board, project: Project) -> None:
    answer = board.get(f"/api/metrics?runs={project.ids['a']},{project.ids['b']}")
    data = answer.json()  # strict JSON: NaN would fail here
    odd = data["runs"][project.ids["a"]]["odd"]
    assert odd["values"] == [None, 1.5]
    assert data["runs"][project.ids["b"]]["loss"]["steps"] == list(range(30))
    assert len(data["runs"][project.ids["a"]]["loss"]["timestamps"]) == 30


def test_output_is_sent_as_data_and_only_when_changed(board: Board, project: Project) -> None:
    out = board.get(f"/api/runs/{project.ids['xss']}/output").json()
    assert "<script>window.__xss = 1</script> end of output" in out["text"]
    assert XSS in out["text"]
    assert out["live"] is False
    again = board.get(f"/api/runs/{project.ids['xss']}/output?known={out['key']}").json()
    assert again == {"key": out["key"], "unchanged": True}


def test_source_files_and_file_view(board: Board, project: Project) -> None:
    files = board.get(f"/api/runs/{project.ids['a']}/files").json()
    paths = [f["path"] for f in files["files"]]
    assert paths == [".gitignore", "README.md", "data/blob.bin", "train.py"]
    view = board.get(f"/api/runs/{project.ids['dirty']}/file?path=train.py").json()
    assert "steps = 40  # edited, uncommitted" in view["text"]
    assert view["binary"] is False
    blob = board.get(f"/api/runs/{project.ids['a']}/file?path=data/blob.bin").json()
    assert blob["binary"] is True and blob["text"] is None and blob["size"] == 256
    raw = board.get(f"/api/runs/{project.ids['a']}/source?path=data/blob.bin&download=1")
    assert raw.body == bytes(range(256))
    assert raw.headers["content-disposition"].startswith("attachment")


def test_changes_are_what_was_uncommitted(board: Board, project: Project) -> None:
    dirty = board.get(f"/api/runs/{project.ids['dirty']}/changes").json()
    assert dirty["available"] and dirty["dirty"] is True
    assert [f["path"] for f in dirty["files"]] == ["train.py"]
    assert "+    steps = 40  # edited, uncommitted" in dirty["patch"]
    assert ".gitxp" not in dirty["patch"]
    clean = board.get(f"/api/runs/{project.ids['a']}/changes").json()
    assert clean["available"] and clean["files"] == [] and clean["patch"] == ""


def test_artifacts_are_served_safely(board: Board, project: Project) -> None:
    base = f"/api/runs/{project.ids['a']}/artifact?name="
    image = board.get(base + "curve.png")
    assert image.status == 200
    assert image.headers["content-type"] == "image/png"
    assert image.body.startswith(b"\x89PNG")
    assert "sandbox" in image.headers["content-security-policy"]
    html = board.get(base + "page.html")
    assert html.status == 200
    assert "html" not in html.headers["content-type"]
    assert html.headers["content-disposition"].startswith("attachment")
    assert html.headers["x-content-type-options"] == "nosniff"
    text = board.get(base + "summary.txt&view=text")
    assert text.headers["content-type"] == "text/plain; charset=utf-8"
    assert text.headers["content-disposition"].startswith("inline")
    assert text.body == b"summary <b>not bold</b>\n"


def test_compare_and_pair_diff(board: Board, project: Project) -> None:
    ids = [project.ids[k] for k in ("a", "b", "dirty")]
    data = board.get("/api/compare?runs=" + ",".join(ids)).json()
    assert [r["id"] for r in data["runs"]] == ids
    rows = {r["key"]: r for r in data["config"]}
    assert rows["lr"]["values"] == [0.1, 0.3, 0.2] and rows["lr"]["differs"]
    assert rows["opt.momentum"]["differs"] is False
    assert board.get(f"/api/compare?runs={ids[0]}").status == 400
    diff = board.get(f"/api/diff?a={project.ids['a']}&b={project.ids['dirty']}").json()
    assert diff["config"]["changed"]["lr"] == [0.1, 0.2]
    assert [f["path"] for f in diff["code"]["files"]] == ["train.py"]
    assert "steps = 40" in diff["code"]["patch"]
    assert diff["environment"]["packages"] == {"added": {}, "removed": {}, "changed": {}}
    assert "output.log" in diff["output"]["patch"] or diff["output"]["patch"] == ""


def test_tags_and_notes_are_git_notes(board: Board, project: Project) -> None:
    run_id = project.ids["b"]
    saved = board.post(
        f"/api/runs/{run_id}/note",
        {"tags": ["best", " baseline ", "best"], "note": "why\nit works"},
    )
    assert saved.status == 200, saved.body
    data = saved.json()
    assert data["note_tags"] == ["best", "baseline"]
    snapshot = data["snapshot_commit"]
    shown = git(project.path, "notes", "--ref", "gitxp", "show", snapshot)
    assert shown == "Tags: best, baseline\n\nwhy\nit works\n"
    listed = board.get("/api/runs").json()
    row = next(r for r in listed["rows"] if r[0] == run_id)
    assert row[listed["columns"].index("tags")] == ["keep", "best", "baseline"]
    assert row[listed["columns"].index("note")] == "why\nit works"
    assert board.get(f"/api/runs/{run_id}").json()["note_tags"] == ["best", "baseline"]
    bad = board.post(f"/api/runs/{run_id}/note", {"tags": ["a,b"], "note": ""})
    assert bad.status == 400
    cleared = board.post(f"/api/runs/{run_id}/note", {"tags": [], "note": ""})
    assert cleared.status == 200
    gone = subprocess.run(
        ["git", "notes", "--ref", "gitxp", "show", snapshot],
        cwd=project.path,
        capture_output=True,
        text=True,
    )
    assert gone.returncode != 0


def test_delete_removes_the_ref_and_refuses_running_runs(board: Board, project: Project) -> None:
    victim = project.ids["victim_api"]
    assert f"refs/gitxp/runs/{victim}" in run_refs(project.path)
    done = board.post("/api/delete", {"runs": [victim]})
    assert done.status == 200, done.body
    assert done.json()["deleted"] == [victim]
    assert f"refs/gitxp/runs/{victim}" not in run_refs(project.path)
    assert victim not in {r[0] for r in board.get("/api/runs").json()["rows"]}
    running = fake_running_run(project.path, heartbeat_age=1)
    refused = board.post("/api/delete", {"runs": [running]})
    assert refused.status == 400
    assert "still RUNNING" in refused.json()["error"]
    assert board.post("/api/delete", {"runs": [running], "force": True}).status == 200
    assert f"refs/gitxp/runs/{running}" not in run_refs(project.path)


def test_stale_running_run_is_probably_dead(board: Board, project: Project) -> None:
    ghost = fake_running_run(project.path, heartbeat_age=600)
    try:
        assert board.get(f"/api/runs/{ghost}").json()["status"] == "PROBABLY_DEAD"
        data = board.get("/api/runs").json()
        row = dict(
            zip(data["columns"], next(r for r in data["rows"] if r[0] == ghost), strict=True)
        )
        assert row["status"] == "PROBABLY_DEAD"  # heartbeat older than stale_after
        assert data["now"] * 1000 - row["heartbeat"] > data["stale_after"] * 1000
        assert data["counts"]["PROBABLY_DEAD"] == 1
        dead = board.get("/api/runs?status=PROBABLY_DEAD").json()
        assert [r[0] for r in dead["rows"]] == [ghost]
    finally:
        git(project.path, "update-ref", "-d", f"refs/gitxp/runs/{ghost}")


def test_big_answers_are_compressed(board: Board, project: Project) -> None:
    path = "/api/metrics?runs=" + ",".join(project.ids[k] for k in ("a", "b", "c", "dirty"))
    plain = board.get(path)
    packed = board.get(path, {"Accept-Encoding": "gzip"})
    assert len(plain.body) > 8_000 and "content-encoding" not in plain.headers
    assert packed.headers["content-encoding"] == "gzip"
    assert gzip.decompress(packed.body) == plain.body


def test_output_of_a_running_run_is_live(board: Board, project: Project) -> None:
    with slow_run(project.path) as (proc, run_id):
        deadline = time.monotonic() + 20
        out = board.get(f"/api/runs/{run_id}/output").json()
        while "tick 1" not in out["text"] and time.monotonic() < deadline:
            time.sleep(0.1)
            out = board.get(f"/api/runs/{run_id}/output").json()
        assert board.get(f"/api/runs/{run_id}").json()["status"] == "RUNNING"
        assert out["live"] is True and "tick 1" in out["text"]
        stop_slow_run(project.path)
        assert proc.wait(timeout=20) == 0
        final = board.get(f"/api/runs/{run_id}/output").json()
        assert final["live"] is False and "tick 2" in final["text"]


def test_cli_board_prints_its_url_and_stops_on_ctrl_c(project: Project) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "gitxp", "board", "--port", "0"],
        cwd=project.path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("gitxp board: http://127.0.0.1:"), line
        url = line.split(": ", 1)[1].strip()
        assert "token" not in url
        import urllib.request

        with urllib.request.urlopen(url + "api/runs", timeout=10) as answer:
            assert answer.status == 200
        proc.send_signal(signal.SIGINT)
        out, _err = proc.communicate(timeout=10)
        assert proc.returncode == 0
        assert "stopped" in out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_cli_board_reports_a_busy_port(project: Project, board: Board) -> None:
    proc = gitxp(project.path, "board", "--port", str(board.port), check=False, timeout=20)
    assert proc.returncode == 2
    assert "choose another --port" in proc.stderr


def test_board_of_an_empty_repository(empty_repo: Path) -> None:
    served = Board(empty_repo)
    try:
        data = served.get("/api/runs").json()
        assert data["rows"] == [] and data["total"] == 0
    finally:
        served.stop()


def test_pair_diff_shows_how_the_outputs_differ(board: Board, project: Project) -> None:
    diff = board.get(f"/api/diff?a={project.ids['a']}&b={project.ids['xss']}").json()
    patch = diff["output"]["patch"]
    assert "-trained with plain" in patch and "+trained with " in patch
    same = board.get(f"/api/diff?a={project.ids['a']}&b={project.ids['a']}").json()
    assert same["output"]["patch"] == ""
