"""Helpers shared by the run-store tests (ids, snapshot, run, crash, concurrency, ls/show).

``git``, ``gitxp`` and friends come from :mod:`gitxp_testing`, shared by every folder.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gitxp_testing import RUNS, git, gitxp, gitxp_raw, isolate, run_refs

__all__ = ["RUNS", "git", "gitxp", "gitxp_raw", "isolate", "run_refs"]


def all_refs(cwd: Path) -> str:
    """``git for-each-ref`` of everything (refs/heads, refs/gitxp, tags …)."""
    return git(cwd, "for-each-ref", "--format=%(refname) %(objecttype) %(objectname)")


def new_ref(before: dict[str, str], after: dict[str, str]) -> str:
    """The one run ref in ``after`` that was not in ``before``."""
    added = sorted(set(after) - set(before))
    assert len(added) == 1, f"expected exactly one new run ref, got {added}"
    return added[0]


def gitxp_run(
    cwd: Path, *args: str, check: bool = True, env: dict[str, str] | None = None
) -> tuple[subprocess.CompletedProcess[str], str]:
    """``gitxp run ARGS`` in ``cwd``; returns the process and the ref of the new run."""
    before = run_refs(cwd)
    proc = gitxp(cwd, "run", *args, check=check, env=env)
    return proc, new_ref(before, run_refs(cwd))


def show_json(cwd: Path, rev: str, path: str) -> Any:
    """The JSON file ``path`` of commit ``rev``, read with ``git show``."""
    return json.loads(git(cwd, "show", f"{rev}:{path}"))


def run_info(cwd: Path, ref: str) -> dict[str, Any]:
    """``.gitxp/run.json`` of ``ref``."""
    return dict(show_json(cwd, ref, ".gitxp/run.json"))


def parents(cwd: Path, rev: str) -> list[str]:
    """The parent commit ids of ``rev``."""
    line = git(cwd, "rev-list", "--parents", "-n", "1", rev).split()
    return line[1:]


def ls_tree(cwd: Path, treeish: str) -> dict[str, tuple[str, str]]:
    """``git ls-tree -r -z`` of ``treeish``: path → (mode, object id)."""
    out = subprocess.run(
        ["git", "ls-tree", "-r", "-z", "--full-tree", treeish],
        cwd=cwd,
        capture_output=True,
        check=True,
    ).stdout
    entries: dict[str, tuple[str, str]] = {}
    for item in out.split(b"\0"):
        if not item:
            continue
        meta, path = item.split(b"\t", 1)
        mode, _kind, oid = meta.decode().split()
        entries[path.decode("utf-8", "surrogateescape")] = (mode, oid)
    return entries


def add_all_tree(cwd: Path, index_file: Path) -> str:
    """The oracle: the tree real ``git add -A`` stages, built in a copy of the index.

    The user's own index is copied first and never written. The copy keeps the index's
    modification time: git trusts the stat data of entries older than the index file, so
    a copy dated now would hide a same-size edit made in the second the index was written.
    """
    real_index = Path(git(cwd, "rev-parse", "--git-path", "index").strip())
    if not real_index.is_absolute():
        real_index = cwd / real_index
    if real_index.exists():
        index_file.write_bytes(real_index.read_bytes())
        st = real_index.stat()
        os.utime(index_file, ns=(st.st_atime_ns, st.st_mtime_ns))
    env = {**os.environ, "GIT_INDEX_FILE": str(index_file)}
    subprocess.run(["git", "add", "-A"], cwd=cwd, env=env, check=True, capture_output=True)
    proc = subprocess.run(
        ["git", "write-tree"], cwd=cwd, env=env, check=True, capture_output=True, text=True
    )
    return proc.stdout.strip()


def files_state(root: Path, skip: tuple[str, ...] = (".git",)) -> dict[str, tuple[Any, ...]]:
    """Every file below ``root`` (top-level names in ``skip`` left out).

    Each path maps to (kind, content, executable, mtime_ns): content is the bytes of a
    file or the target of a symlink.
    """
    state: dict[str, tuple[Any, ...]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        if rel_dir == ".":
            dirnames[:] = [d for d in dirnames if d not in skip]
        names = list(filenames) + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]
        for name in names:
            full = os.path.join(dirpath, name)
            rel = os.path.normpath(os.path.join(rel_dir, name))
            if rel_dir == "." and name in skip:
                continue
            st = os.lstat(full)
            if stat.S_ISLNK(st.st_mode):
                state[rel] = ("link", os.readlink(full), False, st.st_mtime_ns)
            else:
                with open(full, "rb") as handle:
                    data = handle.read()
                state[rel] = ("file", data, bool(st.st_mode & 0o100), st.st_mtime_ns)
    return state


def without_mtime(state: dict[str, tuple[Any, ...]]) -> dict[str, tuple[Any, ...]]:
    """``files_state`` without the modification times (for comparing checkouts)."""
    return {path: entry[:3] for path, entry in state.items()}


def user_state(cwd: Path) -> dict[str, Any]:
    """Everything of the user's that gitxp must never touch, byte for byte."""
    git_dir = cwd / ".git"
    index = git_dir / "index"
    return {
        "index": index.read_bytes() if index.exists() else None,
        "HEAD": (git_dir / "HEAD").read_bytes(),
        "heads": git(cwd, "for-each-ref", "refs/heads", "refs/tags", "refs/stash"),
        "files": files_state(cwd),
    }


def fsck(cwd: Path) -> None:
    """``git fsck --strict`` must find nothing wrong."""
    proc = subprocess.run(
        ["git", "fsck", "--strict", "--no-progress"], cwd=cwd, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    bad = [
        line
        for line in (proc.stdout + proc.stderr).splitlines()
        if line and not line.startswith(("dangling", "Checking", "notice:"))
    ]
    assert not bad, bad


def write_script(path: Path, text: str) -> Path:
    """Write a small script (dedented by the caller) and return its path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


PY = sys.executable
ROOT = Path(__file__).resolve().parent.parent


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 30) -> None:
    """Poll ``condition`` until it holds (an AssertionError naming ``what`` after ``timeout``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def kill_under(folder: Path) -> None:
    """SIGKILL every process working in ``folder``: a test that failed half-way must not
    leave a run's child (in a process group of its own) running on its own."""
    me = os.getpid()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            cwd = os.readlink(f"/proc/{entry}/cwd")
        except OSError:
            continue
        if cwd == str(folder) or cwd.startswith(f"{folder}{os.sep}"):
            try:
                os.kill(int(entry), 9)
            except OSError:
                pass
