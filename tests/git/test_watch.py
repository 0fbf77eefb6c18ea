"""The working-tree watch (issue 16, point 3): quiet only while a snapshot would not change.

Each test arms a real inotify watch on a real repository, changes something with real
files, git or another process, and checks what the watch says; where it matters, a fresh
snapshot is compared with the oracle (real ``git add -A`` into a copy of the index).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from runstore_helpers import add_all_tree, git

from gitxp.git.repo import GitRepo
from gitxp.git.snapshot import take_snapshot
from gitxp.git.watch import WATCH_ENV, TreeWatch

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="inotify: Linux")


@pytest.fixture
def tree(repo: Path) -> Path:
    """``repo`` with an ignored folder, a tracked file forced into an ignored folder and a
    nested source folder, all committed."""
    (repo / ".gitignore").write_text("outputs/\n*.log\ndata/\n")
    (repo / "src" / "pkg").mkdir(parents=True)
    (repo / "src" / "pkg" / "model.py").write_text("x = 1\n")
    (repo / "data").mkdir()
    (repo / "data" / "keep.csv").write_text("a,b\n")
    git(repo, "add", "-A")
    git(repo, "add", "-f", "data/keep.csv")
    git(repo, "commit", "-q", "-m", "tree")
    return repo


def armed(path: Path) -> TreeWatch:
    watch = TreeWatch.open(GitRepo(path))
    assert watch is not None
    assert watch.arm()
    assert watch.quiet()
    return watch


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda r: (r / "src/pkg/model.py").write_text("x = 2\n"), id="same-size"),
        pytest.param(lambda r: (r / "README.md").unlink(), id="delete"),
        pytest.param(lambda r: (r / "notes.txt").write_text("n\n"), id="untracked"),
        pytest.param(lambda r: (r / "src/pkg/model.py").chmod(0o755), id="chmod"),
        pytest.param(lambda r: (r / "data/keep.csv").write_text("c\n"), id="tracked-ignored"),
        pytest.param(lambda r: (r / "new").mkdir(), id="new-dir"),
        pytest.param(lambda r: os.symlink("README.md", r / "link"), id="symlink"),
        pytest.param(lambda r: (r / ".gitignore").write_text("outputs/\n"), id="gitignore"),
        pytest.param(lambda r: (r / ".git/info/exclude").write_text("src/\n"), id="exclude"),
        pytest.param(lambda r: git(r, "rm", "-q", "--cached", "README.md"), id="index"),
        pytest.param(lambda r: git(r, "commit", "-q", "--allow-empty", "-m", "e"), id="commit"),
        pytest.param(lambda r: git(r, "config", "gitxp.maxUntrackedSize", "1"), id="config"),
        pytest.param(
            lambda r: subprocess.run(["sh", "-c", "echo y >> src/pkg/model.py"], cwd=r),
            id="other-process",
        ),
    ],
)
def test_a_change_a_snapshot_would_see_ends_the_quiet(tree: Path, change: object) -> None:
    watch = armed(tree)
    change(tree)  # type: ignore[operator]
    assert not watch.quiet()
    assert watch.arm() and watch.quiet()  # armed again, quiet again until the next change


def test_writes_under_ignored_paths_keep_it_quiet(tree: Path) -> None:
    watch = armed(tree)
    (tree / "outputs").mkdir()
    for i in range(50):
        (tree / "outputs" / f"step{i}.txt").write_text(str(i))
    (tree / "train.log").write_text("log\n")
    (tree / "data" / "cache.bin").write_bytes(b"\0" * 100)  # untracked in an ignored dir
    (tree / ".gitxp").mkdir()
    (tree / ".gitxp" / "x").write_text("reserved: never in a snapshot\n")
    assert watch.quiet()


def test_a_new_directory_is_watched_from_the_next_arm(tree: Path) -> None:
    watch = armed(tree)
    (tree / "new" / "deep").mkdir(parents=True)
    (tree / "new" / "deep" / "a.py").write_text("a\n")
    assert not watch.quiet()
    assert watch.arm() and watch.quiet()
    (tree / "new" / "deep" / "a.py").write_text("b\n")
    assert not watch.quiet()


def test_un_ignoring_a_folder_watches_it(tree: Path) -> None:
    (tree / "outputs").mkdir()
    watch = armed(tree)
    (tree / ".gitignore").write_text("*.log\n")  # outputs/ is part of the snapshot now
    assert not watch.quiet()
    assert watch.arm() and watch.quiet()
    (tree / "outputs" / "now-recorded.txt").write_text("r\n")
    assert not watch.quiet()


def test_a_moved_directory_is_watched_under_its_new_name(tree: Path) -> None:
    (tree / ".gitignore").write_text("outputs/\nsrc/pkg/*.tmp\n")
    git(tree, "commit", "-qam", "tmp")
    watch = armed(tree)
    (tree / "src" / "pkg").rename(tree / "lib")
    assert not watch.quiet()
    assert watch.arm() and watch.quiet()
    (tree / "lib" / "x.tmp").write_text("recorded: only src/pkg/*.tmp is ignored\n")
    assert not watch.quiet()


def test_a_file_written_through_a_hard_link_outside_the_tree(tree: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere.py"
    os.link(tree / "src" / "pkg" / "model.py", outside)
    watch = armed(tree)
    with open(outside, "a") as handle:
        handle.write("y = 2\n")
    assert not watch.quiet()


def test_a_file_under_two_names_in_the_tree_one_of_them_ignored(tree: Path, tmp_path: Path) -> None:
    os.link(tree / "src" / "pkg" / "model.py", tree / "model.log")  # *.log: ignored
    os.link(tree / "src" / "pkg" / "model.py", tmp_path / "outside.py")
    watch = armed(tree)
    with open(tmp_path / "outside.py", "a") as handle:
        handle.write("y = 3\n")
    assert not watch.quiet()


def test_a_global_git_config_change_ends_the_quiet(tree: Path) -> None:
    watch = armed(tree)
    home = Path(os.environ["HOME"])
    (home / ".config" / "git").mkdir(parents=True)
    (home / ".config" / "git" / "ignore").write_text("README.md\n")
    assert not watch.quiet()
    assert watch.arm() and watch.quiet()
    with open(home / ".gitconfig", "a") as handle:
        handle.write("[core]\n\texcludesFile = ~/more-ignores\n")
    assert not watch.quiet()


def test_a_repository_in_the_home_folder_is_watched_as_a_tree_too(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tree))  # ~/.gitconfig's folder is the top of the tree
    watch = armed(tree)
    (tree / "README.md").write_text("edited in the home folder\n")
    assert not watch.quiet()
    assert watch.arm() and watch.quiet()
    (tree / ".gitconfig").write_text("[core]\n\tfileMode = false\n")
    assert not watch.quiet()


def test_a_queue_overflow_means_a_full_snapshot_then_watching_again(
    tree: Path, tmp_path: Path
) -> None:
    queue = int(Path("/proc/sys/fs/inotify/max_queued_events").read_text())
    if queue > 100_000:
        pytest.skip(f"fs.inotify.max_queued_events is {queue}: too many files to overflow it")
    watch = armed(tree)
    burst = tree / "burst"
    burst.mkdir()
    assert not watch.quiet()  # the new folder; it is watched from the next arm
    assert watch.arm() and watch.quiet()
    for i in range(queue // 2 + 100):  # a create and a delete each: past the queue's end
        name = burst / f"f{i}"
        name.touch()
        name.unlink()
    assert not watch.quiet()
    assert watch.overflows == 1
    assert watch.arm() and watch.quiet()  # every watch placed again
    snap = take_snapshot(GitRepo(tree))
    assert snap.tree == add_all_tree(tree, tmp_path / "oracle-index")
    (burst / "kept.txt").write_text("k\n")
    assert not watch.quiet()


def test_what_cannot_be_watched_is_never_quiet(
    tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(WATCH_ENV, "off")
    assert TreeWatch.open(GitRepo(tree)) is None
    monkeypatch.setenv(WATCH_ENV, "3")  # fewer watches than the tree has folders
    watch = TreeWatch.open(GitRepo(tree))
    assert watch is not None and not watch.arm() and not watch.quiet()
    monkeypatch.delenv(WATCH_ENV)
    sub = tree / "vendor" / "lib"
    sub.mkdir(parents=True)
    git(sub, "init", "-q")  # a nested repository: its own HEAD is not watched
    watch = TreeWatch.open(GitRepo(tree))
    assert watch is not None and not watch.arm() and not watch.quiet()


def test_a_watch_limit_reached_later_means_full_snapshots_from_then_on(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    watch = armed(tree)
    fdinfo = Path(f"/proc/self/fdinfo/{watch._fd}").read_text()
    assert fdinfo.count("inotify wd:") == watch.watches  # what the kernel holds
    monkeypatch.setenv(WATCH_ENV, str(watch.watches))
    watch = armed(tree)  # exactly at the limit
    (tree / "more").mkdir()
    assert not watch.quiet()
    assert not watch.arm()  # the new folder would be one watch too many
    (tree / "more" / "x.txt").write_text("x\n")
    assert not watch.quiet() and not watch.arm()


def test_a_forked_child_never_reads_the_parents_queue(tree: Path) -> None:
    watch = armed(tree)
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its answer must be "not quiet", and it must read nothing
        os.close(reader)
        os.write(writer, b"quiet" if watch.quiet() else b"unsure")
        os._exit(0)
    os.close(writer)
    os.waitpid(pid, 0)
    assert os.read(reader, 10) == b"unsure"
    os.close(reader)
    (tree / "README.md").write_text("changed after the fork\n")
    assert not watch.quiet()
