"""A teammate's remote full of malformed and hostile runs (tests/share/hostile.py).

``gitxp fetch`` (from a real ``git daemon``) must refuse every unsafe run with one line
naming it and take the rest; after a plain ``git fetch`` of everything, every gitxp
command and every board route must keep working for the good runs, say in one line what
is wrong with the others, write nothing outside the work tree, and ``gitxp rm`` + ``gc``
must leave a repository ``git fsck`` finds clean.
"""

from __future__ import annotations

import contextlib
import http.client
import io
import json
import os
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from gitxp_testing import isolate
from hostile import Hostile, build_hostile_remote
from runstore_helpers import files_state, fsck
from servers import GitDaemon
from sharing_helpers import RUNS, git, gitxp, run_refs

ESCAPES = ("pwned.txt", "escaped.txt", "evil.txt")


@dataclass
class Answer:
    status: int
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Board:
    """The board of ``path`` in a thread, and a client with the page's CSRF token."""

    def __init__(self, path: Path) -> None:
        from gitxp.board.server import BoardServer

        self.server = BoardServer(path, "127.0.0.1", 0)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.host = f"127.0.0.1:{self.server.port}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    def request(self, method: str, route: str, data: Any = None) -> Answer:
        conn = http.client.HTTPConnection(self.host, timeout=60)
        headers = {"Host": self.host}
        body = None
        if data is not None:
            body = json.dumps(data).encode()
            headers.update(
                {
                    "Content-Type": "application/json",
                    "X-Gitxp-CSRF": self.server.csrf,
                    "Origin": f"http://{self.host}",
                }
            )
        try:
            conn.request(method, route, body, headers)
            answer = conn.getresponse()
            return Answer(answer.status, answer.read())
        finally:
            conn.close()

    def get(self, route: str) -> Answer:
        return self.request("GET", route)

    def post(self, route: str, data: Any) -> Answer:
        return self.request("POST", route, data)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hostile]:
    """The hostile remote, built once for the module (in its own isolated HOME)."""
    with pytest.MonkeyPatch.context() as mp:
        isolate(mp, tmp_path_factory.mktemp("hostile-home"))
        yield build_hostile_remote(tmp_path_factory.mktemp("hostile"))


def project(root: Path) -> Path:
    path = root / "victim"
    path.mkdir()
    git(path, "init", "-q")
    (path / "mine.txt").write_text("my own work\n")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "mine")
    return path


def plain_fetch(hostile: Hostile, root: Path) -> Path:
    """A project that took every run of the remote by plain ``git fetch`` (no checks)."""
    path = project(root)
    git(path, "fetch", "-q", str(hostile.remote), f"+{RUNS}*:{RUNS}*")
    return path


def escaped(root: Path) -> list[Path]:
    """Files of the hostile runs found anywhere they must not be."""
    places = [root, Path(tempfile.gettempdir())]
    found = []
    for place in places:
        for name in ESCAPES:
            found += [p for p in place.glob(f"*/{name}")] + [p for p in place.glob(name)]
    return found


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


def in_process(path: Path, *args: str) -> Ran:
    """``gitxp ARGS`` run by ``gitxp.cli.main.main`` in this process (no interpreter start)."""
    from gitxp.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    here = os.getcwd()
    os.chdir(path)
    code = 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            main(list(args))
    except SystemExit as stop:
        code = int(stop.code or 0)
    finally:
        os.chdir(here)
    return Ran(code, out.getvalue(), err.getvalue())


def refused(kind: str, command: str) -> bool:
    """Whether ``command`` must refuse a run of ``kind`` (see hostile.py)."""
    if kind in ("dotdot", "dotgit", "slash"):  # unsafe sources: nothing of them is written
        return command in ("checkout", "run", "reproduce")
    if kind == "artifact dotdot":  # only --resume writes artifacts
        return command == "run"
    if command in ("tag", "note") and kind in ("bad mode", "slash", "dotdot", "dotgit"):
        return False  # a note beside a sound record: nothing of the run is written
    return kind != "bad mode"  # damaged records: every command says so in one line


def one_line_error(proc: object) -> None:
    """A refusal: exit status 1 or 2, one ``gitxp: error:`` line, no traceback."""
    stderr = proc.stderr  # type: ignore[attr-defined]
    assert "Traceback" not in stderr and "internal error" not in stderr, stderr
    errors = [line for line in stderr.splitlines() if line.startswith("gitxp: error:")]
    assert len(errors) == 1, stderr
    assert proc.returncode in (1, 2), (proc.returncode, stderr)  # type: ignore[attr-defined]


def test_fetch_refuses_unsafe_runs_and_takes_the_rest(hostile: Hostile, tmp_path: Path) -> None:
    daemon = GitDaemon(hostile.remote.parent)
    try:
        path = project(tmp_path)
        url = daemon.url(hostile.remote.name)
        proc = gitxp(path, "fetch", url, check=False)
        assert proc.returncode == 1, proc.stderr
        assert "Traceback" not in proc.stderr
        refused = [line for line in proc.stderr.splitlines() if "refused run" in line]
        wanted = {**hostile.unsafe, **hostile.broken_info}
        del wanted["not-a-run-id"]  # not a run ref at all: not listed, not fetched
        assert len(refused) == len(wanted), proc.stderr
        for run_id in wanted:
            assert sum(f"refused run {run_id} " in line for line in refused) == 1, run_id
        assert "hasDotdot" in proc.stderr and "hasDotgit" in proc.stderr
        assert "badFilemode" in proc.stderr and "not at a commit" in proc.stderr
        assert f"{len(wanted)} runs not fetched" in proc.stderr
        assert set(run_refs(path)) == {RUNS + r for r in [*hostile.good, *hostile.damaged]}
        fsck(path)
        again = gitxp(path, "fetch", url, check=False)
        assert again.returncode == 1 and "0 new" not in again.stdout
        assert set(run_refs(path)) == {RUNS + r for r in [*hostile.good, *hostile.damaged]}
        fsck(path)
        assert not escaped(tmp_path)
    finally:
        daemon.stop()


def test_every_command_on_runs_taken_by_plain_git_fetch(hostile: Hostile, tmp_path: Path) -> None:
    path = plain_fetch(hostile, tmp_path)
    good_a, good_b = hostile.good
    listing = gitxp(path, "ls")
    not_runs = 3  # a ref to a blob, a malformed commit, a ref name that is not a run id
    assert (
        listing.stdout.count("DAMAGED")
        == len(hostile.damaged) + len(hostile.broken_info) + not_runs
    )
    assert "damaged runs: 'gitxp show" in listing.stderr
    assert listing.stdout.count("COMPLETED") == 2
    data = json.loads(gitxp(path, "ls", "--json").stdout)
    by_id = {run["id"]: run for run in data}
    for run_id in [*hostile.damaged, *hostile.broken_info]:
        assert by_id[run_id]["status"] == "DAMAGED" and by_id[run_id]["damage"]
    assert by_id[good_a]["status"] == "COMPLETED"
    where = gitxp(path, "ls", "--where", "status == 'COMPLETED'", "--sort", "-start").stdout
    assert good_a[:8] in where and "DAMAGED" not in where
    gitxp(path, "ls", "--columns", "status,damage,config.*")
    gitxp(path, "export", "-o", str(tmp_path / "runs.csv"))
    gitxp(path, "export", "-o", str(tmp_path / "runs.json"))
    gitxp(path, "export", "--metrics", "-o", str(tmp_path / "metrics.csv"))
    gitxp(path, "plot", "loss", "-o", str(tmp_path / "loss.png"))
    gitxp(
        path, "plot", "--scatter", "config.lr", "metrics.loss.last", "-o", str(tmp_path / "s.png")
    )
    assert "run " + good_a in gitxp(path, "show", good_a).stdout
    gitxp(path, "diff", good_a, good_b)
    gitxp(path, "checkout", good_a)
    gitxp(path, "branch", good_a, "from-good")
    first = True
    for run_id, kind in hostile.every_kind.items():
        for args in (
            ("show", run_id),
            ("show", "--json", run_id),
            ("diff", good_a, run_id),
            ("checkout", "--force", run_id),
            ("branch", run_id, "b-" + kind.replace(" ", "-")),
            ("run", "--resume", run_id, "--yes"),
            ("reproduce", run_id, "--yes"),
            ("tag", run_id, "x"),
            ("note", run_id, "a note"),
        ):
            if kind == "bad mode" and args[0] in ("run", "reproduce"):
                continue  # it would run (a bad mode is no escape): the time is better spent
            before = files_state(path)
            proc = gitxp(path, *args, check=False) if first else in_process(path, *args)
            if not refused(kind, args[0]):
                assert "Traceback" not in proc.stderr, proc.stderr
                continue
            one_line_error(proc)
            assert run_id in proc.stderr, (args, proc.stderr)
            assert files_state(path) == before, args  # a refusal writes nothing
        first = False
    assert not escaped(tmp_path), escaped(tmp_path)
    assert not list(path.rglob("pwned.txt")) and not (path / ".GIT").exists()
    from gitxp.query import frames

    runs = frames.runs(path)
    assert set(runs[runs["status"] == "COMPLETED"]["id"]) >= set(hostile.good)
    assert set(runs[runs["status"] == "DAMAGED"]["id"]) >= set(hostile.damaged)
    values = frames.metrics(repo=path)
    assert set(values["run"]) >= set(hostile.good)
    assert not set(values["run"]) & set(hostile.damaged)
    gitxp(path, "recover")


def test_rm_deletes_every_bad_run_and_gc_leaves_fsck_clean(
    hostile: Hostile, tmp_path: Path
) -> None:
    path = plain_fetch(hostile, tmp_path)
    carried = tmp_path / "runs.bundle"
    gitxp(path, "bundle", "create", str(carried))
    (tmp_path / "elsewhere").mkdir()
    other = project(tmp_path / "elsewhere")
    imported = gitxp(other, "bundle", "import", str(carried), check=False)
    assert imported.returncode == 1 and "Traceback" not in imported.stderr
    assert imported.stderr.count("refused run") == len(hostile.every_kind) - 1 - len(
        hostile.damaged
    ), imported.stderr
    assert set(run_refs(other)) == {RUNS + r for r in [*hostile.good, *hostile.damaged]}
    fsck(other)
    bad = list(hostile.every_kind)
    specs = [r if r != "not-a-run-id" else RUNS + r for r in bad]
    proc = gitxp(path, "rm", *specs)
    assert "Traceback" not in proc.stderr
    assert set(run_refs(path)) == {RUNS + r for r in hostile.good}
    gitxp(path, "gc")
    fsck(path)
    assert len(json.loads(gitxp(path, "ls", "--json").stdout)) == 2


def test_every_board_route_on_hostile_runs(hostile: Hostile, tmp_path: Path) -> None:
    path = plain_fetch(hostile, tmp_path)
    board = Board(path)
    try:
        listed = board.get("/api/runs").json()
        assert listed["total"] == len(hostile.good) + len(hostile.every_kind)
        status = listed["columns"].index("status")
        assert sum(row[status] == "DAMAGED" for row in listed["rows"]) >= len(hostile.damaged)
        good = ",".join(hostile.good)
        for route in (
            f"/api/metrics?runs={good}",
            f"/api/compare?runs={good}",
            f"/api/diff?a={hostile.good[0]}&b={hostile.good[1]}",
            "/api/runs?sort=-status&status=DAMAGED,COMPLETED&limit=5&offset=3",
            "/api/runs?where=" + quote("status == 'DAMAGED'"),
            "/api/columns?names=" + quote("status,damage,config.lr,metrics.loss.last"),
            "/api/groups?by=status&metric=metrics.loss.last",
            "/api/sweeps",
            "/api/sweep?id=none",
        ):
            answer = board.get(route)
            assert answer.status < 500, (route, answer.body[:300])
            if answer.status >= 400:  # no such sweep: one line, not a crash
                assert "\n" not in answer.json()["error"], (route, answer.body[:300])
        for run_id in [*hostile.good, *hostile.every_kind]:
            quoted = quote(run_id)
            routes = [
                f"/api/runs/{quoted}",
                f"/api/runs/{quoted}/output",
                f"/api/runs/{quoted}/files",
                f"/api/runs/{quoted}/file?path=train.py",
                f"/api/runs/{quoted}/file?path=../pwned.txt",
                f"/api/runs/{quoted}/changes",
                f"/api/runs/{quoted}/artifact?name=../escaped.txt",
                f"/api/runs/{quoted}/source?path=train.py",
                f"/api/runs/{quoted}/source?path=sub/evil.txt",
                f"/api/metrics?runs={quoted},{hostile.good[0]}",
                f"/api/compare?runs={quoted},{hostile.good[0]}",
                f"/api/diff?a={hostile.good[0]}&b={quoted}",
            ]
            for route in routes:
                answer = board.get(route)
                assert answer.status < 500, (route, answer.body[:300])
                if answer.status >= 400:
                    message = answer.json()["error"]
                    assert "\n" not in message and "internal" not in message, (route, message)
            note = board.post(f"/api/runs/{quoted}/note", {"tags": ["x"], "note": "hi"})
            assert note.status < 500, note.body[:300]
        for run_id in hostile.good:
            assert board.get(f"/api/runs/{run_id}").status == 200
            assert board.get(f"/api/runs/{run_id}/source?path=train.py").status == 200
        deleted = board.post("/api/delete", {"runs": list(hostile.every_kind)})
        assert deleted.status == 200, deleted.body[:300]
        assert board.get("/api/runs").json()["total"] == len(hostile.good)
    finally:
        board.stop()
    assert not escaped(tmp_path)
    assert set(os.listdir(path)) == {".git", "mine.txt"}
