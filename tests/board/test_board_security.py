"""The board's safety: paths cannot leave the run, tokens, CSRF, Host and escaping."""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Iterator

import pytest
from board_helpers import Board, Project, fake_running_run, run_refs

from gitxp.board.server import BoardServer, is_loopback, to_json

Q = urllib.parse.quote


@pytest.mark.parametrize(
    "name",
    [
        "../run.json",
        "../../.gitxp/run.json",
        "../../train.py",
        "/etc/passwd",
        "%2e%2e/run.json",
        "summary.txt/../../run.json",
        "./summary.txt",
        "",
        "artifacts/summary.txt",
    ],
)
def test_artifact_names_cannot_leave_the_artifacts(
    board: Board, project: Project, name: str
) -> None:
    answer = board.get(f"/api/runs/{project.ids['a']}/artifact?name={Q(name)}")
    assert answer.status in (400, 404), answer.body
    assert b"learning rate" not in answer.body and b"root:" not in answer.body


@pytest.mark.parametrize(
    "path",
    [
        ".gitxp/run.json",
        ".gitxp/config.yaml",
        "../README.md",
        "/etc/passwd",
        "data/../train.py",
        "data",
        "./train.py",
        str(__file__),
    ],
)
def test_source_paths_are_exact_paths_of_the_snapshot(
    board: Board, project: Project, path: str
) -> None:
    for what in ("file", "source"):
        answer = board.get(f"/api/runs/{project.ids['a']}/{what}?path={Q(path)}")
        assert answer.status in (400, 404), (what, path, answer.body)


@pytest.mark.parametrize(
    "path",
    [
        "/static/../server.py",
        "/static/%2e%2e/server.py",
        "/static/..%2fserver.py",
        "/static/index.html",
        "/static/",
        "/api/runs/..%2f..%2fetc/file?path=passwd",
        "/../../etc/passwd",
    ],
)
def test_no_other_file_is_reachable(board: Board, path: str) -> None:
    answer = board.get(path)
    assert answer.status == 404, (path, answer.status)
    assert b"import" not in answer.body


def test_a_foreign_host_header_is_refused(board: Board) -> None:
    """A page on another site that rebinds its name to 127.0.0.1 gets nothing."""
    answer = board.get("/api/runs", {"Host": f"attacker.example:{board.port}"})
    assert answer.status == 403
    assert board.get("/api/runs", {"Host": f"localhost:{board.port}"}).status == 200


def test_posts_need_the_csrf_token_json_and_the_same_origin(board: Board, project: Project) -> None:
    victim = fake_running_run(project.path, heartbeat_age=1)
    body = json.dumps({"runs": [victim], "force": True}).encode()
    same = {"Content-Type": "application/json", "Origin": board.base}
    cases = [
        ({**same}, 403),  # no CSRF header
        ({**same, "X-Gitxp-CSRF": "guess"}, 403),
        ({**same, "X-Gitxp-CSRF": board.server.csrf, "Origin": "http://evil.example"}, 403),
        ({**same, "X-Gitxp-CSRF": board.server.csrf, "Sec-Fetch-Site": "cross-site"}, 403),
        (
            {"Content-Type": "text/plain", "X-Gitxp-CSRF": board.server.csrf, "Origin": board.base},
            415,
        ),
    ]
    for headers, status in cases:
        answer = board.request("POST", "/api/delete", body, headers)
        assert answer.status == status, (headers, answer.body)
    note = board.request("POST", f"/api/runs/{victim}/note", b'{"tags":["x"]}', same)
    assert note.status == 403
    assert f"refs/gitxp/runs/{victim}" in run_refs(project.path)
    assert board.get("/api/delete").status == 404  # no write through GET
    assert board.post("/api/delete", {"runs": [victim], "force": True}).status == 200


@pytest.fixture
def token_board(project: Project) -> Iterator[Board]:
    served = Board(project.path, require_token=True)
    yield served
    served.stop()


def test_a_board_with_a_token_refuses_requests_without_it(token_board: Board) -> None:
    token = token_board.server.token
    assert token and f"?token={token}" in token_board.server.url
    for path in ("/", "/static/app.js", "/api/runs", "/api/runs/latest"):
        assert token_board.get(path).status == 401, path
        assert token_board.get(path, {"X-Gitxp-Token": "wrong"}).status == 401, path
        assert token_board.get(f"{path}?token=wrong").status == 401, path
    entry = token_board.get(f"/?token={token}")
    assert entry.status == 303 and entry.headers["location"] == "/"
    cookie = entry.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    pair = cookie.split(";", 1)[0]
    assert token_board.get("/api/runs", {"Cookie": pair}).status == 200
    assert token_board.get("/static/app.js", {"Cookie": pair}).status == 200
    assert token_board.get("/api/runs", {"X-Gitxp-Token": token}).status == 200
    assert token_board.get("/api/runs", {"Cookie": pair.replace(token, "x" * 10)}).status == 401


def test_other_hosts_need_a_token() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5")
    assert not is_loopback("example.org")


def test_a_non_loopback_board_makes_a_token(project: Project) -> None:
    server = BoardServer(project.path, "0.0.0.0", 0)  # bound, never served
    try:
        assert server.token is not None and len(server.token) >= 24
        assert server.url.endswith(f"/?token={server.token}")
        assert not server.local
    finally:
        server.server_close()


def test_html_in_runs_is_data_not_markup(board: Board, project: Project) -> None:
    run = board.get(f"/api/runs/{project.ids['xss']}")
    assert run.headers["content-type"] == "application/json"
    assert "default-src 'none'" in run.headers["content-security-policy"]
    assert run.json()["config"]["label"].startswith("<img src=x")


def test_json_never_holds_nan_or_infinity() -> None:
    data = {"a": float("nan"), "b": [float("inf"), -float("inf"), 1.5], "c": {"d": 2}}
    text = to_json(data).decode()
    assert json.loads(text) == {"a": "NaN", "b": ["Infinity", "-Infinity", 1.5], "c": {"d": 2}}
