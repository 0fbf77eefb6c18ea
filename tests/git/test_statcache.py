"""gitxp's own stat cache (issue 16, point 2): a stale user index costs one full hash.

Every snapshot is compared with the oracle (real ``git add -A`` on a copy of the user's
index); the user's index is checked byte for byte (sha256) before and after. What the
cache holds is read with real git (``GIT_INDEX_FILE=… git ls-files --debug`` and
``git diff-files``, which trusts stat data and hashes nothing).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from runstore_helpers import add_all_tree, fsck, git, gitxp_run, ls_tree

from gitxp.git.repo import GitRepo
from gitxp.git.snapshot import Snapshot, take_snapshot
from gitxp.git.statcache import CACHE_INDEX, CACHE_META, cache_dir


def snapshot(path: Path) -> Snapshot:
    return take_snapshot(GitRepo(path))


def index_sha(path: Path) -> str:
    return hashlib.sha256((path / ".git" / "index").read_bytes()).hexdigest()


def cache_index(path: Path) -> Path:
    return cache_dir(GitRepo(path)) / CACHE_INDEX


def with_index(path: Path, index: Path, *args: str) -> str:
    env = {**os.environ, "GIT_INDEX_FILE": str(index)}
    proc = subprocess.run(
        ["git", *args], cwd=path, env=env, check=True, capture_output=True, text=True
    )
    return proc.stdout


def cached_stat(path: Path) -> dict[str, tuple[int, int]]:
    """path → (mtime in ns, size) as the cache index records them (git's own reading)."""
    out: dict[str, tuple[int, int]] = {}
    name = ""
    mtime = 0
    for line in with_index(path, cache_index(path), "ls-files", "--debug").splitlines():
        if not line.startswith(" "):
            name = line
        elif line.strip().startswith("mtime:"):
            sec, nsec = line.split()[1].split(":")
            mtime = int(sec) * 1_000_000_000 + int(nsec)
        elif line.strip().startswith("size:"):
            out[name] = (mtime, int(line.split()[1]))
    return out


def make_tree(repo: Path, count: int = 40) -> list[str]:
    names = []
    for i in range(count):
        name = f"src/d{i % 4}/f{i}.txt"
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(f"content of file {i:04d}\n")
        names.append(name)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "tree")
    return names


def age_all(repo: Path, seconds: int = 30) -> None:
    """Give every file an older mtime (and a new ctime): the user's stat data goes stale,
    as after ``touch``, a fresh checkout or rsync; the content stays."""
    stamp = time.time_ns() - seconds * 1_000_000_000
    for name in git(repo, "ls-files").splitlines():
        if os.path.lexists(repo / name):
            os.utime(repo / name, ns=(stamp, stamp), follow_symlinks=False)


def test_stale_user_index_snapshot_is_what_git_add_all_stages(repo: Path, tmp_path: Path) -> None:
    make_tree(repo)
    (repo / "run.sh").write_text("#!/bin/sh\n")
    os.symlink("README.md", repo / "link")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "more")
    age_all(repo)
    (repo / "src/d0/f0.txt").write_text("CONTENT OF FILE 0000\n")  # same size
    (repo / "src/d1/f1.txt").unlink()
    (repo / "run.sh").chmod(0o755)
    (repo / "new.txt").write_text("untracked\n")
    (repo / "src/d2/f2.txt").write_text("staged\n")
    git(repo, "add", "src/d2/f2.txt")
    (repo / "src/d2/f2.txt").write_text("staged, then edited\n")
    age_all(repo, 20)
    before = index_sha(repo)
    for _ in range(3):  # a full pass, then from the cache
        snap = snapshot(repo)
        assert snap.tree == add_all_tree(repo, tmp_path / "oracle")
        assert snap.dirty
    tree = ls_tree(repo, snap.tree)
    assert git(repo, "cat-file", "-p", tree["src/d0/f0.txt"][1]) == "CONTENT OF FILE 0000\n"
    assert git(repo, "cat-file", "-p", tree["src/d2/f2.txt"][1]) == "staged, then edited\n"
    assert tree["run.sh"][0] == "100755" and tree["link"][0] == "120000"
    assert "src/d1/f1.txt" not in tree
    assert index_sha(repo) == before
    fsck(repo)


def test_second_snapshot_after_touch_reuses_the_cache(repo: Path, tmp_path: Path) -> None:
    names = make_tree(repo, 60)
    age_all(repo)
    (repo / names[5]).write_text("edited\n")
    before = index_sha(repo)
    first = snapshot(repo)
    # The user's stat data is stale for every file; the cache's is current: git itself,
    # trusting stat data, finds only the edited file changed against the cache.
    assert len(git(repo, "diff-files", "--name-only").split()) > 60
    changed = with_index(repo, cache_index(repo), "diff-files", "--name-only").split()
    assert changed == [names[5]]
    recorded = cached_stat(repo)
    for name in names:
        if name != names[5]:
            st = os.lstat(repo / name)
            assert recorded[name] == (st.st_mtime_ns, st.st_size), name
    written = os.stat(cache_index(repo))
    second = snapshot(repo)
    assert second.tree == first.tree == add_all_tree(repo, tmp_path / "oracle")
    # The second snapshot started from the cache as it was: nothing rewritten.
    again = os.stat(cache_index(repo))
    assert (again.st_ino, again.st_mtime_ns) == (written.st_ino, written.st_mtime_ns)
    age_all(repo, 10)  # touched again: the next snapshot repairs the cache once more
    assert snapshot(repo).tree == first.tree
    assert with_index(repo, cache_index(repo), "diff-files", "--name-only").split() == [names[5]]
    assert index_sha(repo) == before


@pytest.mark.parametrize("whole_seconds", [True, False], ids=["whole-seconds", "nanoseconds"])
def test_file_changed_in_the_same_second_is_hashed_again(
    repo: Path, tmp_path: Path, whole_seconds: bool
) -> None:
    """A file rewritten (same size) within the tick the cache recorded it in keeps its
    stat data; the cache must not vouch for it. ctime, which would betray the change,
    is switched off."""
    git(repo, "config", "core.trustctime", "false")
    make_tree(repo, 10)
    target = repo / "src/d0/f0.txt"
    now = time.time_ns()
    # A time no older than the snapshot's start: the file was written in that tick.
    mtime = (now // 1_000_000_000 + 1) * 1_000_000_000 if whole_seconds else now + 50_000_000
    os.utime(target, ns=(mtime, mtime))
    before = index_sha(repo)
    first = snapshot(repo)
    assert git(repo, "cat-file", "-p", ls_tree(repo, first.tree)["src/d0/f0.txt"][1]).startswith(
        "content"
    )
    assert cached_stat(repo)["src/d0/f0.txt"][1] == 0  # smudged: hashed next time
    inode = os.lstat(target).st_ino
    with open(target, "r+") as handle:  # in place: same inode, same size
        handle.write("CONTENT")
    os.utime(target, ns=(mtime, mtime))
    assert os.lstat(target).st_ino == inode
    second = snapshot(repo)
    blob = ls_tree(repo, second.tree)["src/d0/f0.txt"][1]
    assert git(repo, "cat-file", "-p", blob) == "CONTENT of file 0000\n"
    assert second.tree == add_all_tree(repo, tmp_path / "oracle")
    assert index_sha(repo) == before


def test_racy_entries_are_checked_again_by_the_next_snapshot(repo: Path, tmp_path: Path) -> None:
    names = make_tree(repo, 10)
    age_all(repo)
    racy = repo / names[4]
    mtime = time.time_ns() + 50_000_000  # within the tick the snapshot looks at it in
    os.utime(racy, ns=(mtime, mtime))
    snapshot(repo)
    meta = cache_index(repo).with_name(CACHE_META)
    assert json.loads(meta.read_text())["racy"] == [names[4]]
    assert cached_stat(repo)[names[4]] == (0, 0)  # smudged: no file matches it
    while time.time_ns() < mtime + 100_000_000:  # the file's tick is over
        time.sleep(0.02)
    assert snapshot(repo).tree == add_all_tree(repo, tmp_path / "oracle")
    assert json.loads(meta.read_text())["racy"] == []
    assert cached_stat(repo)[names[4]] == (mtime, racy.stat().st_size)


def test_staged_changes_count_as_dirty_from_the_cache(repo: Path, tmp_path: Path) -> None:
    names = make_tree(repo, 10)
    age_all(repo)
    assert [snapshot(repo).dirty for _ in range(2)] == [False, False]
    (repo / names[0]).write_text("staged, and the same in the working tree\n")
    git(repo, "add", names[0])
    age_all(repo, 20)
    for _ in range(2):  # a full pass, then from the cache
        snap = snapshot(repo)
        assert snap.dirty
        assert snap.tree == add_all_tree(repo, tmp_path / "oracle")
    git(repo, "commit", "-q", "-m", "staged")
    git(repo, "reset", "-q", "--soft", "HEAD~1")  # HEAD moves, the index stays
    assert snapshot(repo).dirty


CONCURRENT = """
import sys
from gitxp.git.repo import GitRepo
from gitxp.git.snapshot import take_snapshot
for _ in range(4):
    print(take_snapshot(GitRepo(".")).tree, flush=True)
"""


def test_concurrent_snapshots_agree_and_leave_a_valid_cache(repo: Path, tmp_path: Path) -> None:
    names = make_tree(repo, 200)
    (repo / names[0]).write_text("edited\n")
    age_all(repo)
    before = index_sha(repo)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CONCURRENT], cwd=repo, stdout=subprocess.PIPE, text=True
        )
        for _ in range(4)
    ]
    trees = set()
    for proc in procs:
        out, _ = proc.communicate(timeout=120)
        assert proc.returncode == 0
        trees.update(out.split())
    assert trees == {add_all_tree(repo, tmp_path / "oracle")}
    folder = cache_dir(GitRepo(repo))
    assert sorted(p.name for p in folder.iterdir()) == [CACHE_INDEX, CACHE_META]
    assert len(with_index(repo, cache_index(repo), "ls-files").split()) == len(names) + 2
    json.loads((folder / CACHE_META).read_text())
    assert index_sha(repo) == before


@pytest.mark.parametrize(
    "damage", ["garbage", "truncated", "empty", "bad-json", "other-cache-json", "no-json"]
)
def test_damaged_cache_is_ignored_and_rebuilt(repo: Path, tmp_path: Path, damage: str) -> None:
    names = make_tree(repo)
    age_all(repo)
    snapshot(repo)
    folder = cache_dir(GitRepo(repo))
    index, meta = folder / CACHE_INDEX, folder / CACHE_META
    if damage == "garbage":
        index.write_bytes(b"DIRC not an index at all" * 10)
    elif damage == "truncated":
        index.write_bytes(index.read_bytes()[:-30])
    elif damage == "empty":
        index.write_bytes(b"")
    elif damage == "bad-json":
        meta.write_text("{not json")
    elif damage == "other-cache-json":
        data = json.loads(meta.read_text())
        meta.write_text(json.dumps({**data, "cache": "0" * 40}))
    else:
        meta.unlink()
    (repo / names[3]).write_text("after the damage\n")
    age_all(repo, 10)
    before = index_sha(repo)
    assert snapshot(repo).tree == add_all_tree(repo, tmp_path / "oracle")
    # Rebuilt: git reads it, and it finds only the edited file changed.
    assert with_index(repo, index, "diff-files", "--name-only").split() == [names[3]]
    assert json.loads(meta.read_text())["format"] == 1
    assert index_sha(repo) == before


def test_leftovers_of_a_killed_snapshot_are_ignored(repo: Path, tmp_path: Path) -> None:
    make_tree(repo)
    age_all(repo)
    folder = cache_dir(GitRepo(repo))
    folder.mkdir(parents=True)
    fresh, old = folder / "index.123.abc.tmp", folder / "index.json.456.def.tmp"
    fresh.write_bytes(b"half a file")
    old.write_bytes(b"half a file")
    two_hours_ago = time.time_ns() - 7200 * 1_000_000_000
    os.utime(old, ns=(two_hours_ago, two_hours_ago))
    assert snapshot(repo).tree == add_all_tree(repo, tmp_path / "oracle")
    assert fresh.exists() and not old.exists()  # another snapshot may still be writing one
    assert with_index(repo, cache_index(repo), "diff-files", "--name-only") == ""


def test_user_index_changed_since_the_cache(repo: Path, tmp_path: Path) -> None:
    names = make_tree(repo)
    age_all(repo)
    snapshot(repo)
    (repo / names[0]).write_text("committed later\n")
    git(repo, "rm", "-q", "--cached", names[1])
    (repo / ".gitignore").write_text(names[1] + "\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "later")
    (repo / names[2]).write_text("edited after\n")
    age_all(repo, 10)
    for _ in range(2):
        snap = snapshot(repo)
        assert snap.tree == add_all_tree(repo, tmp_path / "oracle")
    tree = ls_tree(repo, snap.tree)
    assert names[1] not in tree  # untracked and ignored now
    assert git(repo, "cat-file", "-p", tree[names[0]][1]) == "committed later\n"


def test_converted_files_are_hashed_as_git_stores_them(repo: Path, tmp_path: Path) -> None:
    (repo / ".gitattributes").write_text("*.txt text eol=crlf\n*.id ident\n")
    (repo / "crlf.txt").write_bytes(b"one\r\ntwo\r\n")
    (repo / "plain.bin").write_bytes(b"one\r\ntwo\r\n")
    (repo / "v.id").write_text("$Id$\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "attributes")
    (repo / "v.id").write_text("$Id: 0123456789abcdef0123456789abcdef01234567 $\n")
    age_all(repo)
    snap = snapshot(repo)
    assert snap.tree == add_all_tree(repo, tmp_path / "oracle")
    assert not snap.dirty
    assert with_index(repo, cache_index(repo), "diff-files", "--name-only") == ""


@pytest.mark.parametrize("kind", ["conflict", "assume-unchanged", "skip-worktree", "intent-to-add"])
def test_indexes_the_cache_does_not_hold_are_used_as_they_are(
    repo: Path, tmp_path: Path, kind: str
) -> None:
    names = make_tree(repo, 10)
    if kind == "conflict":
        git(repo, "checkout", "-q", "-b", "side")
        (repo / names[0]).write_text("side\n")
        git(repo, "commit", "-q", "-am", "side")
        git(repo, "checkout", "-q", "main")
        (repo / names[0]).write_text("main\n")
        git(repo, "commit", "-q", "-am", "main")
        git(repo, "merge", "-q", "side", check=False)
    elif kind == "assume-unchanged":
        git(repo, "update-index", "--assume-unchanged", names[0])
        (repo / names[0]).write_text("changed, assumed not\n")
    elif kind == "skip-worktree":
        git(repo, "update-index", "--skip-worktree", names[0])
        (repo / names[0]).write_text("changed, skipped\n")
    else:
        (repo / "new.txt").write_text("intended\n")
        git(repo, "add", "-N", "new.txt")
    age_all(repo)
    before = index_sha(repo)
    for _ in range(2):
        assert snapshot(repo).tree == add_all_tree(repo, tmp_path / "oracle")
    assert not cache_index(repo).exists()
    assert index_sha(repo) == before


def test_deleting_the_cache_loses_nothing(repo: Path, tmp_path: Path) -> None:
    make_tree(repo)
    age_all(repo)
    first = snapshot(repo)
    shutil.rmtree(cache_dir(GitRepo(repo)).parent)
    assert snapshot(repo).tree == first.tree == add_all_tree(repo, tmp_path / "oracle")
    assert cache_index(repo).exists()


def test_each_worktree_has_its_own_cache(repo: Path, tmp_path: Path) -> None:
    make_tree(repo)
    other = tmp_path / "other"
    git(repo, "worktree", "add", "-q", "-b", "other", str(other))
    (other / "src/d0/f0.txt").write_text("only in the other worktree\n")
    age_all(other)
    snap = take_snapshot(GitRepo(other))
    assert snap.tree == add_all_tree(other, tmp_path / "oracle")
    assert (repo / ".git" / "worktrees" / "other" / "gitxp" / "statcache" / CACHE_INDEX).exists()
    assert not (repo / ".git" / "gitxp" / "statcache").exists()


def test_gitxp_run_after_touch_records_the_working_tree(repo: Path, tmp_path: Path) -> None:
    make_tree(repo)
    (repo / "train.py").write_text("print('edited')\n")
    age_all(repo)
    before = index_sha(repo)
    refs = [gitxp_run(repo, "-b", "0", "train.py")[1] for _ in range(2)]
    oracle = ls_tree(repo, add_all_tree(repo, tmp_path / "oracle"))
    for ref in refs:
        recorded = ls_tree(repo, f"{ref}^{{tree}}")
        assert {k: v for k, v in recorded.items() if not k.startswith(".gitxp/")} == oracle
    assert index_sha(repo) == before
    fsck(repo)
