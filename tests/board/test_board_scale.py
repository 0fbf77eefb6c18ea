"""The board's answers at scale and for analysis, without a browser: paging, sorting and
filtering on the server, default columns, downsampled series, groups, sweeps, tracebacks."""

from __future__ import annotations

from urllib.parse import quote

from board_helpers import Board, Project
from many_runs import LONG, MANY, SPIKE_AT, SWEEP, Many


def test_the_list_is_paged_sorted_and_filtered_on_the_server(many_board: Board, many: Many) -> None:
    first = many_board.get("/api/runs?limit=50").json()
    assert len(first["rows"]) == 50 and first["matched"] == first["total"] > MANY
    at = {c: i for i, c in enumerate(first["columns"])}
    starts = [r[at["start"]] for r in first["rows"]]
    assert starts == sorted(starts, reverse=True)  # newest first by default
    page = many_board.get("/api/runs?sort=config.lr&offset=100&limit=40").json()
    assert page["offset"] == 100 and len(page["rows"]) == 40
    lrs = [r[at["config.lr"]] for r in page["rows"]]
    assert lrs == sorted(lrs)
    last = many_board.get(f"/api/runs?sort=-config.lr&offset={page['matched'] - 2}").json()
    assert [r[at["config.lr"]] for r in last["rows"]][1] is None  # missing values last
    assert last["rows"][1][0] == many.failed  # the plain script has no config
    failed = many_board.get("/api/runs?status=FAILED&limit=1000").json()
    assert {r[at["status"]] for r in failed["rows"]} == {"FAILED"}
    assert failed["matched"] == failed["counts"]["FAILED"] < failed["total"]
    where = quote("config.lr >= 0.05 and status == 'COMPLETED'")
    chosen = many_board.get(f"/api/runs?where={where}&limit=1000").json()
    assert chosen["matched"] == len(chosen["rows"]) > 0
    assert all(r[at["config.lr"]] >= 0.05 for r in chosen["rows"])
    again = many_board.get(f"/api/runs?where={where}&limit=1000&known={chosen['version']}")
    assert again.json()["unchanged"] is True and "rows" not in again.json()


def test_bad_list_requests_are_one_line_errors(many_board: Board) -> None:
    for query, words in (
        ("sort=nope", "cannot sort by 'nope'"),
        ("offset=x", "offset must be a whole number"),
        ("where=config.nope%20%3E%201", "unknown column 'config.nope'"),
    ):
        answer = many_board.get(f"/api/runs?{query}")
        assert answer.status == 400, query
        message = answer.json()["error"]
        assert words in message and "\n" not in message and "Traceback" not in message


def test_tags_and_notes_are_filterable(board: Board, project: Project) -> None:
    keep = board.get("/api/runs?where=" + quote("tags.contains('keep')")).json()
    assert [r[0] for r in keep["rows"]] == [project.ids["b"]]
    run_id = project.ids["xss"]
    assert board.post(f"/api/runs/{run_id}/note", {"tags": ["t1"], "note": "why"}).status == 200
    tagged = board.get("/api/runs?where=" + quote("tags.contains('t1')")).json()
    assert [r[0] for r in tagged["rows"]] == [run_id]
    noted = board.get("/api/runs?where=" + quote("note == 'why'")).json()
    assert [r[0] for r in noted["rows"]] == [run_id]
    assert board.post(f"/api/runs/{run_id}/note", {"tags": [], "note": ""}).status == 200


def test_default_columns_prefer_keys_that_vary_most(board: Board) -> None:
    data = board.get("/api/runs?limit=1").json()
    defaults = data["defaults"]
    config = [c for c in defaults if c.startswith("config.")]
    assert config[0] == "config.lr"  # six values, against two of fail, label, steps…
    assert {"metrics.loss.last", "metrics.accuracy.last"} <= set(defaults)
    assert len(data["repo_key"]) == 12


def test_long_series_are_downsampled_keeping_extremes(many_board: Board, many: Many) -> None:
    full = many_board.get(f"/api/metrics?runs={many.long}&points=500").json()
    series = full["runs"][many.long]["long"]
    assert series["total"] == LONG and series["shown"] <= 2 * 500 + 2
    assert max(series["values"]) == 50.0 and SPIKE_AT in series["steps"]
    assert min(series["values"]) < -0.99  # the dips survive too
    summary = series["summary"]
    assert summary["max"] == 50.0 and summary["count"] == LONG
    assert summary["last"] == series["values"][-1] and summary["min"] < -0.99
    lo, hi = SPIKE_AT - 300, SPIKE_AT + 300
    zoomed = many_board.get(f"/api/metrics?runs={many.long}&points=800&lo={lo}&hi={hi}").json()
    steps = zoomed["runs"][many.long]["long"]["steps"]
    assert steps == list(range(lo - 1, hi + 2))  # every point of the range, one beyond each end
    bad = many_board.get(f"/api/metrics?runs={many.long}&lo=nan")
    assert bad.status == 400 and "lo must be a finite number" in bad.json()["error"]


def test_groups_columns_and_sweeps(many_board: Board, many: Many) -> None:
    where = quote("experiment == 'sweep'")
    groups = many_board.get(f"/api/groups?by=config.depth&metric=loss&where={where}").json()
    assert [g["values"] for g in groups["groups"]] == [[2], [3], [4]]
    assert sum(g["count"] for g in groups["groups"]) == 6
    two = groups["groups"][0]  # lr 0.1 and 0.01: loss at step 0 is 1 for both
    assert two["mean"][0] == 1.0 and two["std"][0] == 0.0 and two["summary"]["last"]["n"] == 2
    cols = many_board.get(f"/api/columns?names=config.lr,metrics.loss.min&where={where}").json()
    assert cols["matched"] == 6 and len(cols["columns"]["config.lr"]) == 6
    unknown = many_board.get("/api/columns?names=config.nope")
    assert unknown.status == 400 and "unknown column 'config.nope'" in unknown.json()["error"]
    listed = many_board.get("/api/sweeps").json()["sweeps"]
    assert {"sweep": SWEEP, "runs": 7} in listed
    assert {"sweep": many.real_sweep, "runs": 2} in listed and len(listed) == 2
    sweep = many_board.get(f"/api/sweep?id={SWEEP}").json()
    assert sweep["total"] == 7 and sweep["done"] == 6 and sweep["counts"]["RUNNING"] == 1
    assert sweep["best"]["id"] == many.sweep_best and sweep["metric"] == "loss"
    assert [f["id"] for f in sweep["failures"]] == [many.sweep_failed]
    assert sweep["config"] == ["config.dataset", "config.depth", "config.lr"]  # one lacks dataset
    real = many_board.get(f"/api/sweep?id={many.real_sweep}").json()  # by `gitxp sweep`
    assert real["done"] == 2 and real["counts"] == {"COMPLETED": 2}
    assert real["config"] == ["config.lr"] and real["best"]["value"] == 0.1
    missing = many_board.get("/api/sweep?id=nope")
    assert missing.status == 400 and "no runs of sweep 'nope'" in missing.json()["error"]


def test_a_failed_scripts_traceback_comes_from_its_output(many_board: Board, many: Many) -> None:
    run = many_board.get(f"/api/runs/{many.failed}").json()
    assert run["info"]["fail_trace"].startswith("exit code 1")
    trace = run["output_trace"]
    assert trace.startswith("Traceback (most recent call last):")
    assert "in inner" in trace and trace.rstrip().endswith("ZeroDivisionError: division by zero")


def test_the_vendored_charting_library_is_served_with_its_etag(board: Board) -> None:
    path = "/static/vendor/echarts-6.1.0.esm.min.js"
    first = board.get(path, headers={"Accept-Encoding": "gzip"})
    assert first.status == 200 and first.headers["content-encoding"] == "gzip"
    assert first.headers["content-type"].startswith("text/javascript")
    assert "script-src 'self'" in first.headers["content-security-policy"]
    etag = first.headers["etag"]
    again = board.get(path, headers={"If-None-Match": etag})
    assert again.status == 304 and again.body == b""
    for missing in ("/static/vendor/README.md", "/static/vendor/../server.py", "/static/x.js"):
        assert board.get(missing).status == 404, missing
