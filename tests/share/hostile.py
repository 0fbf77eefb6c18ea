"""A remote full of malformed and hostile runs, crafted with real git plumbing.

:func:`build_hostile_remote` makes a teammate's repository with two good runs (recorded
by gitxp) and one run of every kind of damage below, each written object by object with
``git hash-object --literally`` (which writes what ``git mktree`` and libgit2 refuse) and
``git update-ref``, then pushes all of it with plain ``git push`` to a bare repository.

``UNSAFE`` runs hold objects ``git fsck`` rejects or refs that are not runs: ``gitxp fetch``
must refuse them. ``DAMAGED`` runs are sound objects whose records are not: ``gitxp fetch``
takes them (except where run.json itself is broken) and every command lists them as
damaged. Both kinds arrive by plain ``git fetch``.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from gitxp_testing import RUNS, git
from sharing_helpers import make_runs

from gitxp.store.ids import new_run_id

BLOB, TREE = "100644", "40000"
# Nine levels of nine aliases: 387,420,489 values once expanded, 300 bytes of YAML.
ALIAS_BOMB = 'a: &a ["x","x","x","x","x","x","x","x","x"]\n' + "".join(
    f"{name}: &{name} [{','.join(['*' + prev] * 9)}]\n"
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True)
)


@dataclass
class Hostile:
    """The bare remote, the teammate's clone, and the runs made, by kind."""

    remote: Path
    teammate: Path
    good: list[str]
    unsafe: dict[str, str] = field(default_factory=dict)  # run id (or ref tail) → kind
    damaged: dict[str, str] = field(default_factory=dict)  # run id → kind
    broken_info: dict[str, str] = field(default_factory=dict)  # run.json itself is bad

    @property
    def every_kind(self) -> dict[str, str]:
        return {**self.unsafe, **self.damaged, **self.broken_info}


def hash_object(cwd: Path, kind: str, data: bytes) -> str:
    """``git hash-object -t KIND -w --literally``: stored whatever it holds."""
    proc = subprocess.run(
        ["git", "hash-object", "-t", kind, "-w", "--literally", "--stdin"],
        cwd=cwd,
        input=data,
        capture_output=True,
        check=True,
    )
    return proc.stdout.decode().strip()


def raw_tree(cwd: Path, entries: list[tuple[str, bytes, str]], sort: bool = True) -> str:
    """A tree of ``(mode, name, id)`` entries written exactly as given (names unchecked)."""

    def key(entry: tuple[str, bytes, str]) -> bytes:
        return entry[1] + (b"/" if entry[0] == TREE else b"")

    body = b"".join(
        mode.encode() + b" " + name + b"\0" + bytes.fromhex(oid)
        for mode, name, oid in (sorted(entries, key=key) if sort else entries)
    )
    return hash_object(cwd, "tree", body)


def blob(cwd: Path, data: bytes | str) -> str:
    return hash_object(cwd, "blob", data.encode() if isinstance(data, str) else data)


def run_json(run_id: str, base: str, **extra: object) -> bytes:
    info = {
        "id": run_id,
        "experiment": "hostile",
        "name": extra.pop("name", "bad"),
        "command": ["train.py"],
        "cwd": ".",
        "status": "FAILED",
        "start_time": "2026-01-01T00:00:00.000+00:00",
        "stop_time": "2026-01-01T00:00:01.000+00:00",
        "heartbeat": "2026-01-01T00:00:01.000+00:00",
        "exit_code": 1,
        "base_commit": base,
        "branch": "main",
        "dirty": True,
        "tags": [],
        **extra,
    }
    return json.dumps(info).encode()


class _Maker:
    """Writes crafted run commits into the teammate's repository."""

    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd
        self.base = git(cwd, "rev-parse", "HEAD").strip()
        self.base_entries = [
            (mode, name.encode(), oid)
            for mode, _kind, oid, name in (
                line.replace("\t", " ").split(" ", 3)
                for line in git(cwd, "ls-tree", "HEAD").splitlines()
            )
        ]

    def record(self, files: dict[str, bytes], extra: list[tuple[str, bytes, str]] = ()) -> str:
        """A ``.gitxp`` tree of ``files`` (plus raw ``extra`` entries)."""
        entries = [(BLOB, name.encode(), blob(self.cwd, data)) for name, data in files.items()]
        return raw_tree(self.cwd, [*entries, *extra])

    def commit(self, tree: str, author: str | None = None) -> str:
        who = author or "Mallory <mallory@example.com> 1767225600 +0000"
        text = f"tree {tree}\nparent {self.base}\nauthor {who}\ncommitter {who}\n\nhostile run\n"
        return hash_object(self.cwd, "commit", text.encode())

    def run(
        self,
        run_id: str,
        files: dict[str, bytes] | None = None,
        source: list[tuple[str, bytes, str]] = (),
        record_extra: list[tuple[str, bytes, str]] = (),
        author: str | None = None,
    ) -> str:
        """A run commit: the teammate's sources (+ ``source`` entries) and a ``.gitxp``."""
        files = {"run.json": run_json(run_id, self.base), **(files or {})}
        gitxp_tree = self.record(files, list(record_extra))
        root = raw_tree(self.cwd, [*self.base_entries, *source, (TREE, b".gitxp", gitxp_tree)])
        commit = self.commit(root, author)
        git(self.cwd, "update-ref", RUNS + run_id, commit)
        return commit


def build_hostile_remote(root: Path) -> Hostile:
    """The teammate, their runs (good and not), and the bare remote they pushed to."""
    teammate = root / "teammate"
    teammate.mkdir()
    git(teammate, "init", "-q")
    (teammate / "train.py").write_text("print('training')\n")
    git(teammate, "add", "-A")
    git(teammate, "commit", "-q", "-m", "initial")
    good = make_runs(teammate, 2)
    made = Hostile(root / "remote.git", teammate, good)
    maker = _Maker(teammate)

    def unsafe(kind: str, **how: object) -> None:
        run_id = new_run_id()
        maker.run(run_id, **how)  # type: ignore[arg-type]
        made.unsafe[run_id] = kind

    pwned = raw_tree(teammate, [(BLOB, b"pwned.txt", blob(teammate, "written outside\n"))])
    unsafe("dotdot", source=[(TREE, b"..", pwned)])
    unsafe("dotgit", source=[(TREE, b".GIT", pwned)])
    unsafe("slash", source=[(BLOB, b"sub/evil.txt", blob(teammate, "x"))])
    unsafe("bad mode", source=[("100777", b"mode.txt", blob(teammate, "x"))])
    escaped = raw_tree(teammate, [(BLOB, b"escaped.txt", blob(teammate, "outside\n"))])
    artifacts = raw_tree(teammate, [(TREE, b"..", escaped)])
    unsafe("artifact dotdot", record_extra=[(TREE, b"artifacts", artifacts)])
    unsafe("bad author", author="Mallory <mallory@example.com> yesterday")
    not_commit = new_run_id()
    git(teammate, "update-ref", RUNS + not_commit, blob(teammate, "not a commit\n"))
    made.unsafe[not_commit] = "not a commit"
    good_commit = git(teammate, "rev-parse", RUNS + good[0]).strip()
    git(teammate, "update-ref", RUNS + "not-a-run-id", good_commit)
    made.unsafe["not-a-run-id"] = "bad ref name"

    def damaged(kind: str, files: dict[str, bytes] | None = None, **info: object) -> None:
        run_id = new_run_id()
        record = {"run.json": run_json(run_id, maker.base, name=kind, **info), **(files or {})}
        maker.run(run_id, record)
        broken = info or "run.json" in (files or {})
        (made.broken_info if broken else made.damaged)[run_id] = kind

    damaged("alias bomb", {"config.yaml": ALIAS_BOMB.encode()})
    damaged("python tag", {"config.yaml": b"x: !!python/object/apply:os.system [echo hi]\n"})
    damaged("deep config", {"config.yaml": ("[" * 5000 + "]" * 5000).encode()})
    damaged("bad metrics", {"metrics.json": b'{"loss": {"steps": [0], "values": ["lots"]}}'})
    damaged("metrics list", {"metrics.json": b"[1, 2, 3]"})
    damaged("host list", {"host.json": b"[]"})
    damaged("run.json not JSON", {"run.json": b"{not json"})
    damaged("run.json a list", {"run.json": b"[1, 2]"})
    damaged("run.json wrong types", tags=5, start_time="soon")
    summary = {"loss": {"last": "NaN", "min": [], "max": 1, "count": 3}}
    damaged("summary of strings", metrics_summary={"version": 1, "metrics": summary})
    subprocess.run(["git", "init", "-q", "--bare", str(made.remote)], check=True)
    git(teammate, "push", "-q", str(made.remote), "+refs/gitxp/*:refs/gitxp/*", "main")
    return made
