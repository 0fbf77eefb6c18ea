"""A project with real runs (made by the real ``gitxp run``) and a board serving it.

``make_project`` records runs of an Experiment script with documented config keys,
metrics (a NaN among them), output, a text and a PNG artifact; one run with an
uncommitted edit, one that fails, one whose config and output hold HTML, and spare runs
for the tests that delete. ``Board`` is a started :class:`BoardServer` with a small
HTTP client that can send any header (Host, Origin, Cookie …).
"""

from __future__ import annotations

import contextlib
import http.client
import importlib.util
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def _load(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


from gitxp_testing import git, gitxp, isolate, run_refs  # noqa: E402

__all__ = ["git", "gitxp", "isolate", "run_refs"]

TRAIN = """\
import math
import struct
import zlib

from gitxp import Experiment

ex = Experiment("mnist")


@ex.config
def cfg():
    lr = 0.1  # learning rate
    steps = 30  # number of training steps
    opt = {"name": "adam", "momentum": 0.9}  # the optimizer
    label = "plain"  # a free-form label
    fail = False  # raise at the end


def png(width, height):
    rows = b"".join(
        b"\\x00" + b"".join(bytes((x * 8 % 256, y * 10 % 256, 160)) for x in range(width))
        for y in range(height)
    )
    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\\x89PNG\\r\\n\\x1a\\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


@ex.automain
def main(_run, lr, steps, label, fail):
    for step in range(steps):
        _run.log_scalar("loss", math.exp(-lr * step / 3) + 0.01 * (step % 3))
        _run.log_scalar("accuracy", 1 - 0.9 * math.exp(-lr * step / 3))
    _run.log_scalar("odd", float("nan"))
    _run.log_scalar("odd", 1.5)
    print("trained with", label)
    print("<script>window.__xss = 1</script> end of output")
    with open("summary.txt", "w") as handle:
        handle.write("summary <b>not bold</b>\\n")
    _run.add_artifact("summary.txt")
    with open("curve.png", "wb") as handle:
        handle.write(png(32, 24))
    _run.add_artifact("curve.png")
    with open("page.html", "w") as handle:
        handle.write("<script>window.__xss = 2</script>")
    _run.add_artifact("page.html")
    if fail:
        raise ValueError("diverged: loss is NaN")
    return lr * 2
"""

XSS = '<img src=x onerror="window.__xss=3">'


@dataclass
class Project:
    """The project folder and its runs' ids by label."""

    path: Path
    ids: dict[str, str] = field(default_factory=dict)


def _run(path: Path, *args: str, check: bool = True) -> str:
    before = set(run_refs(path))
    gitxp(path, "run", "-b", "0", *args, check=check)
    (new,) = set(run_refs(path)) - before
    time.sleep(0.002)  # distinct milliseconds: ids sort in the order made
    return new.rsplit("/", 1)[1]


def make_project(path: Path) -> Project:
    """A committed project and its runs (see the module docstring), oldest first."""
    path.mkdir(parents=True)
    git(path, "init", "-q")
    (path / "train.py").write_text(TRAIN)
    (path / "README.md").write_text("# demo\n")
    (path / "data").mkdir()
    (path / "data" / "blob.bin").write_bytes(bytes(range(256)))
    (path / ".gitignore").write_text("summary.txt\ncurve.png\npage.html\n")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "initial")
    project = Project(path)
    ids = project.ids
    ids["a"] = _run(path, "train.py", "with", "lr=0.1")
    ids["b"] = _run(path, "-n", "best", "-t", "keep", "train.py", "with", "lr=0.3", "opt.name=sgd")
    ids["c"] = _run(path, "train.py", "with", "lr=0.5", "fail=True", check=False)
    (path / "train.py").write_text(TRAIN.replace("steps = 30", "steps = 40  # edited, uncommitted"))
    ids["dirty"] = _run(path, "train.py", "with", "lr=0.2")
    (path / "train.py").write_text(TRAIN)
    ids["xss"] = _run(path, "train.py", "with", f"label={XSS}")
    ids["victim_api"] = _run(path, "-n", "victim-api", "train.py", "with", "lr=0.7")
    ids["victim_ui"] = _run(path, "-n", "victim-ui", "train.py", "with", "lr=0.9")
    return project


def fake_running_run(path: Path, heartbeat_age: float) -> str:
    """A RUNNING run whose last heartbeat is ``heartbeat_age`` seconds old (no process)."""
    return fake_run(path, heartbeat_age=heartbeat_age)


def fake_run(
    path: Path,
    status: str = "RUNNING",
    heartbeat_age: float = 0.0,
    config: dict[str, Any] | None = None,
    metrics: dict[str, dict[str, list[Any]]] | None = None,
    **fields: Any,
) -> str:
    """A run written straight in the Recorder's format (no process): run.json with
    ``status`` and ``fields`` (``sweep=`` …), ``config``, ``metrics`` (name → steps,
    values, timestamps). Returns its id."""
    from gitxp.git.repo import RUNS_PREFIX, GitRepo
    from gitxp.store import record
    from gitxp.store.ids import new_run_id

    repo = GitRepo(path)
    started = time.time() - heartbeat_age - 5
    run_id = new_run_id(started)
    head = repo.head().commit
    final = status != "RUNNING"
    info = {
        "id": run_id,
        "experiment": "ghost",
        "name": "ghost",
        "command": ["python", "ghost.py"],
        "cwd": ".",
        "status": status,
        "start_time": record.iso(started),
        "stop_time": record.iso(time.time() - heartbeat_age) if final else None,
        "heartbeat": record.iso(time.time() - heartbeat_age),
        "base_commit": head,
        "branch": "main",
        "dirty": False,
        "tags": [],
        "config_docs": {},
        **fields,
    }
    files: dict[str, Any] = {
        "run.json": record.dump_json(info),
        "config.yaml": record.dump_yaml(config or {"x": 1}),
    }
    if metrics:
        files["metrics.json"] = record.dump_metrics(metrics)
    tree = repo.write_tree(
        {record.RECORD_DIR: files}, base=repo.commit_tree(head) if head else None
    )
    commit = repo.write_commit(tree, [head] if head else [], record.commit_message(info))
    repo.create_ref(RUNS_PREFIX + run_id, commit)
    time.sleep(0.002)  # distinct milliseconds: ids sort in the order made
    return run_id


@dataclass
class Response:
    """An HTTP answer: status, headers (lower-case names) and body."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """The body as JSON; NaN or Infinity in it fail (browsers refuse them too)."""

        def refuse(token: str) -> Any:
            raise AssertionError(f"non-standard JSON token {token} in the answer")

        return json.loads(self.body, parse_constant=refuse)


class Board:
    """A running board (its server in a thread) and a client for it."""

    def __init__(self, path: Path, **options: Any) -> None:
        from gitxp.board.server import BoardServer

        self.server = BoardServer(path, "127.0.0.1", 0, **options)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.port = self.server.port
        self.base = f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        """One request with exactly the headers given (plus Host unless given)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
            sent = {"Host": f"127.0.0.1:{self.port}", **(headers or {})}
            if body is not None:
                sent.setdefault("Content-Length", str(len(body)))
            for key, value in sent.items():
                conn.putheader(key, value)
            conn.endheaders(body)
            answer = conn.getresponse()
            data = answer.read()
            return Response(answer.status, {k.lower(): v for k, v in answer.getheaders()}, data)
        finally:
            conn.close()

    def get(self, path: str, headers: dict[str, str] | None = None) -> Response:
        """GET ``path``."""
        return self.request("GET", path, headers=headers)

    def post(self, path: str, data: Any, headers: dict[str, str] | None = None) -> Response:
        """POST ``data`` as JSON with the page's CSRF token and a same-origin Origin."""
        sent = {
            "Content-Type": "application/json",
            "X-Gitxp-CSRF": self.server.csrf,
            "Origin": self.base,
            **(headers or {}),
        }
        return self.request("POST", path, json.dumps(data).encode(), sent)


SLOW = """\
import pathlib, time
print("tick 1", flush=True)
for _ in range(400):
    if pathlib.Path("stop-slow-run").exists():
        break
    time.sleep(0.05)
print("tick 2", flush=True)
"""


@contextlib.contextmanager
def slow_run(path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """A real ``gitxp run`` that prints "tick 1", then "tick 2" once ``stop_slow_run``.

    Yields the process and the run id once the run's ref exists; afterwards the process
    is stopped, and the script, the stop file and the run's ref are removed.
    """
    (path / "slow.py").write_text(SLOW)
    before = set(run_refs(path))
    proc = subprocess.Popen(
        [sys.executable, "-m", "gitxp", "run", "-b", "30", "slow.py"],
        cwd=path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    run_id = None
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and run_id is None:
            new = set(run_refs(path)) - before
            run_id = new.pop().rsplit("/", 1)[1] if new else None
            time.sleep(0.05)
        assert run_id is not None, "the run never started"
        yield proc, run_id
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for name in ("slow.py", "stop-slow-run"):
            (path / name).unlink(missing_ok=True)
        if run_id is not None:
            git(path, "update-ref", "-d", f"refs/gitxp/runs/{run_id}")


def stop_slow_run(path: Path) -> None:
    """Let the run of :func:`slow_run` print its last line and end."""
    (path / "stop-slow-run").write_text("")
