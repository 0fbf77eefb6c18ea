"""Many finished runs in a new repository, fast: one ``git fast-import`` stream.

``benchmarks/query.py`` writes runs one object at a time through pygit2; a repository of
100,000 runs needs something faster. This writes the same format (``query.run_info``
gives run.json as the Recorder writes it) as one fast-import stream (100,000 runs in
about 45 s on 2 CPUs):

- a project commit on ``main`` (``train.py``, ``trivial.py``, a README), checked out;
- per run a snapshot commit (the project's tree plus ``.gitxp/``: format, run.json
  RUNNING, config.yaml, env.lock, host.json) whose parent is that commit, then a record
  commit (final run.json, metrics.json, output.log) that ``refs/gitxp/runs/<id>`` points
  at. The files every run shares are one blob each, as git stores them anyway.

The runs' objects end up in one pack (as after ``git gc``). Refs are either loose, one file per
run (as gitxp's recorder leaves them), or in ``packed-refs`` (as ``git gc`` or
``git pack-refs`` leaves them): :func:`pack_refs_copy` makes the packed twin of a
repository without writing its runs again.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from query import HOST, run_info
from run_overhead import TRIVIAL

from gitxp.git.repo import RUNS_PREFIX
from gitxp.store import record
from gitxp.store.ids import new_run_id

PROJECT = {
    "README.md": b"# growth benchmark\n",
    "train.py": b"import gitxp\ncfg = gitxp.config()\n",
    "trivial.py": TRIVIAL.encode(),
}
LRS = (0.1, 0.03, 0.01, 0.003, 0.001)
IDENT = "bench <bench@example.com>"
IDENTITY = {
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
}


def _data(payload: bytes) -> bytes:
    return b"data %d\n%s\n" % (len(payload), payload)


def _commit(ref: str, mark: int, when: int, message: str, parent: str) -> bytes:
    head = b"commit %s\nmark :%d\ncommitter %s %d +0000\n" % (
        ref.encode(),
        mark,
        IDENT.encode(),
        when,
    )
    return head + _data(message.encode()) + b"from %s\n" % parent.encode()


def _file(path: str, payload: bytes | int) -> bytes:
    """A file of a commit: its content inline, or the mark of a blob written before."""
    if isinstance(payload, int):
        return b"M 100644 :%d %s/%s\n" % (payload, record.RECORD_DIR.encode(), path.encode())
    return b"M 100644 inline %s/%s\n" % (record.RECORD_DIR.encode(), path.encode()) + _data(payload)


def _stream(count: int, first: float, base: str) -> Iterator[bytes]:
    """fast-import commands: the blobs every run shares, then two commits per run."""
    shared = {
        "format": record.FORMAT_TEXT.encode(),
        "env.lock": b"pandas==3.0\n",
        "host.json": record.dump_json(HOST),
        "output.log": b"training\n",
    }
    marks: dict[str, int] = {}
    for mark, (name, payload) in enumerate(shared.items(), start=1):
        marks[name] = mark
        yield b"blob\nmark :%d\n" % mark + _data(payload)
    configs: dict[float, int] = {}
    for mark, lr in enumerate(LRS, start=len(shared) + 1):
        configs[lr] = mark
        config = {"lr": lr, "batch_size": 64, "model": {"depth": 4}}
        yield b"blob\nmark :%d\n" % mark + _data(record.dump_yaml(config))
    mark = 100
    for index in range(count):
        start = first + index * 60.0
        lr = LRS[index % len(LRS)]
        data: dict[str, Any] = {
            "start": start,
            "stop": start + 30.0,
            "config": {"lr": lr, "seed": index},
            "result": 1.0 - lr,
            "status": "COMPLETED" if index % 20 else "FAILED",
        }
        run_id = new_run_id(start, key=b"%d" % index)
        ref = RUNS_PREFIX + run_id
        snap_info = run_info(run_id, data, base, final=False)
        mark += 1
        yield (
            _commit(ref, mark, int(start), record.commit_message(snap_info), base)
            + b"".join(_file(name, marks[name]) for name in ("format", "env.lock", "host.json"))
            + _file("config.yaml", configs[lr])
            + _file("run.json", record.dump_json(snap_info))
        )
        info = run_info(run_id, data, base, final=True)
        metrics = {
            "loss": {
                "steps": [0, 1, 2],
                "values": [2.0, 1.0 - lr, 0.5 - lr / 2],
                "timestamps": [start, start + 10.0, start + 20.0],
            }
        }
        mark += 1
        yield (
            _commit(ref, mark, int(start) + 30, record.commit_message(info), f":{mark - 1}")
            + _file("run.json", record.dump_json(info))
            + _file("metrics.json", record.dump_metrics(metrics))
            + _file("output.log", marks["output.log"])
        )
    yield b"done\n"


def _git(cwd: Path, *args: str, stdin: bytes | None = None) -> str:
    done = subprocess.run(
        ["git", *args],
        cwd=cwd,
        env={**os.environ, **IDENTITY},
        input=stdin,
        check=True,
        capture_output=True,
    )
    return done.stdout.decode()


def make_runs_repo(path: Path, count: int) -> float:
    """A new repository at ``path``: the project committed on ``main`` and checked out,
    and ``count`` finished runs on it with loose refs. Returns the seconds taken."""
    began = time.perf_counter()
    path.mkdir(parents=True)
    _git(path, "init", "-q", "-b", "main")
    for name, payload in PROJECT.items():
        (path / name).write_bytes(payload)
    _git(path, "add", "-A")
    _git(path, "commit", "-q", "-m", "project")
    base = _git(path, "rev-parse", "HEAD").strip()
    if count:
        proc = subprocess.Popen(
            ["git", "fast-import", "--quiet", "--done"],
            cwd=path,
            env={**os.environ, **IDENTITY},
            stdin=subprocess.PIPE,
        )
        assert proc.stdin is not None
        first = time.time() - count * 60.0 - 3600.0
        for chunk in _stream(count, first, base):
            proc.stdin.write(chunk)
        proc.stdin.close()
        if proc.wait() != 0:
            raise RuntimeError(f"git fast-import failed in {path}")
    return time.perf_counter() - began


def pack_refs_copy(source: Path, path: Path) -> None:
    """``source``'s twin at ``path`` with every ref in ``packed-refs`` (as ``git gc``
    leaves them); the objects are copied, not written again."""
    _git(source.parent, "init", "-q", "-b", "main", str(path))
    shutil.copytree(source / ".git" / "objects", path / ".git" / "objects", dirs_exist_ok=True)
    listing = _git(source, "for-each-ref", "--format=%(objectname) %(refname)")
    lines = sorted(listing.splitlines(), key=lambda line: line.split(" ", 1)[1])
    text = "# pack-refs with: peeled fully-peeled sorted \n" + "\n".join(lines) + "\n"
    (path / ".git" / "packed-refs").write_text(text)
    _git(path, "reset", "-q", "--hard", "main")
