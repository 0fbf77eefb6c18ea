"""A loop of ``ex.run()`` pays for what changed (issue 16, point 3).

One process runs an experiment again and again while the test changes the working tree
between runs. Every run's source tree (its commit's tree without ``.gitxp``, rebuilt with
real ``git mktree``) must be exactly the oracle's: real ``git add -A`` into a copy of the
index, taken right before the run. Runs between which nothing a snapshot reads changed
reuse the last snapshot; the same loop with watching off, or past the watch limit, or
after a queue overflow, records the same trees from full snapshots.
"""

from __future__ import annotations

import contextlib
import io
import os
import random
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from exp_helpers import commit_all, git, load_ex, write
from runstore_helpers import add_all_tree, fsck, user_state

from gitxp.experiment.snapshots import SnapshotReuse
from gitxp.git.repo import GitRepo
from gitxp.git.watch import WATCH_ENV

LOOP = """
from pathlib import Path

from gitxp import Experiment

ex = Experiment("loop")


@ex.config
def cfg():
    a = 1
    source = ""  # a file of the tree this run writes (recorded from the next run on)


@ex.main
def main(a, source):
    out = Path("outputs")
    out.mkdir(exist_ok=True)
    (out / f"result-{a}.txt").write_text(str(a))  # ignored: no new snapshot for it
    if source:
        Path(source).write_text(f"written by run {a}\\n")
    return a
"""
QUIET = {"--loglevel": "ERROR"}
linux = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reuse needs inotify")


class Loop:
    """The experiment of ``loop.py``, run in this process, each run checked."""

    def __init__(self, repo: Path, tmp: Path) -> None:
        self.repo, self.tmp, self.count = repo, tmp, 0
        self.ex = load_ex(repo, "loop.py")

    def run(self, source: str = "") -> str:
        """One run; returns its source tree id, checked against the oracle."""
        self.count += 1
        expected = add_all_tree(self.repo, self.tmp / f"oracle-{self.count}")
        updates = {"a": self.count, "source": source}
        with contextlib.redirect_stdout(io.StringIO()):
            run = self.ex.run(config_updates=updates, options=QUIET)
        listing = git(self.repo, "ls-tree", "-z", run.ref).split("\0")
        source = "\0".join(e for e in listing if e and not e.endswith("\t.gitxp")) + "\0"
        got = subprocess.run(
            ["git", "mktree", "-z"], cwd=self.repo, input=source, text=True,
            capture_output=True, check=True,
        ).stdout.strip()  # fmt: skip
        assert got == expected, f"run {self.count}: source tree differs from git add -A"
        return got

    @property
    def reused(self) -> int:
        return int(self.ex._snapshots.state(GitRepo(self.repo)).reused)

    def changes(self, tree: str, *paths: str) -> dict[str, str]:
        return {p: git(self.repo, "cat-file", "-p", f"{tree}:{p}") for p in paths}


@pytest.fixture
def loop(exrepo: Path, tmp_path: Path) -> Loop:
    write(exrepo, "loop.py", LOOP)
    write(exrepo, ".gitignore", "outputs/\n__pycache__/\n")
    write(exrepo, "src/model.py", "width = 1\n")
    commit_all(exrepo)
    return Loop(exrepo, tmp_path)


def _sequence(loop: Loop) -> list[tuple[str, str]]:
    """Runs with each kind of change between them; (what changed, tree) for each run."""
    repo = loop.repo
    steps: list[tuple[str, Callable[[], Any]]] = [
        ("first", lambda: None),
        ("second", lambda: None),
        ("nothing", lambda: None),
        ("edit", lambda: (repo / "src/model.py").write_text("width = 2\n")),  # same size
        ("untracked", lambda: (repo / "notes.txt").write_text("a note\n")),
        ("delete", lambda: (repo / "README.md").unlink()),
        ("ignored", lambda: (repo / "outputs" / "cache.bin").write_bytes(b"\0" * 64)),
        ("new dir", lambda: write(repo, "extra/deep/table.csv", "x,y\n")),
        ("in new dir", lambda: write(repo, "extra/deep/table.csv", "x,y,z\n")),
        ("other process", lambda: subprocess.run(["sh", "-c", "echo w >> notes.txt"], cwd=repo)),
        ("commit", lambda: commit_all(repo)),
        ("nothing again", lambda: None),
    ]
    out = []
    for what, change in steps:
        change()
        out.append((what, loop.run()))
    out.append(("writes src/gen.py", loop.run(source="src/gen.py")))
    out.append(("after the writing run", loop.run()))
    return out


@linux
def test_each_run_records_the_tree_as_it_was_and_reuses_it_when_nothing_changed(
    loop: Loop,
) -> None:
    trees = dict(_sequence(loop))
    assert trees["first"] == trees["second"] == trees["nothing"]
    assert loop.changes(trees["edit"], "src/model.py") == {"src/model.py": "width = 2\n"}
    assert loop.changes(trees["untracked"], "notes.txt") == {"notes.txt": "a note\n"}
    assert "README.md" not in git(loop.repo, "ls-tree", "--name-only", trees["delete"])
    assert trees["ignored"] == trees["delete"]
    assert loop.changes(trees["new dir"], "extra/deep/table.csv")["extra/deep/table.csv"] == "x,y\n"
    assert loop.changes(trees["in new dir"], "extra/deep/table.csv")["extra/deep/table.csv"] == (
        "x,y,z\n"
    )
    assert loop.changes(trees["other process"], "notes.txt") == {"notes.txt": "a note\nw\n"}
    assert trees["commit"] == trees["other process"] == trees["nothing again"]
    assert trees["writes src/gen.py"] == trees["nothing again"]  # as it was at its start
    assert loop.changes(trees["after the writing run"], "src/gen.py") == {
        "src/gen.py": "written by run 13\n"
    }
    # reused: "nothing", "ignored" (and the program's own outputs/), "nothing again" and
    # the run that wrote src/gen.py
    assert loop.reused == 4
    fsck(loop.repo)


@linux
def test_a_loop_of_runs_never_touches_the_users_index_head_or_files(loop: Loop) -> None:
    def state() -> dict[str, Any]:
        found = user_state(loop.repo)
        found["files"] = {k: v for k, v in found["files"].items() if not k.startswith("outputs")}
        return found

    loop.run()
    before = state()
    for _ in range(4):
        loop.run()
    assert state() == before
    assert loop.reused == 3
    fsck(loop.repo)


@pytest.mark.parametrize("setting", ["off", "2"], ids=["watch-off", "watch-limit"])
def test_without_a_watch_every_run_takes_a_full_snapshot_of_the_same_trees(
    loop: Loop, exrepo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, setting: str
) -> None:
    monkeypatch.setenv(WATCH_ENV, setting)
    trees = dict(_sequence(loop))
    assert loop.reused == 0
    assert trees["nothing"] == trees["first"] and trees["ignored"] == trees["delete"]
    assert loop.changes(trees["in new dir"], "extra/deep/table.csv")["extra/deep/table.csv"] == (
        "x,y,z\n"
    )
    fsck(loop.repo)


@linux
def test_after_a_queue_overflow_the_next_run_takes_a_full_snapshot(loop: Loop) -> None:
    queue = int(Path("/proc/sys/fs/inotify/max_queued_events").read_text())
    if queue > 100_000:
        pytest.skip(f"fs.inotify.max_queued_events is {queue}: too many files to overflow it")
    first, second = loop.run(), loop.run()
    for i in range(queue // 2 + 100):  # a create and a delete each: past the queue's end
        (loop.repo / f"t{i}").touch()
        (loop.repo / f"t{i}").unlink()
    (loop.repo / "src/model.py").write_text("width = 3\n")  # lost in the overflow's noise
    third = loop.run()
    assert first == second != third
    assert loop.changes(third, "src/model.py") == {"src/model.py": "width = 3\n"}
    watch = loop.ex._snapshots.state(GitRepo(loop.repo)).watch
    assert watch is not None and watch.overflows == 1
    assert loop.run() == third and loop.reused == 1  # watching again
    fsck(loop.repo)


def test_a_script_that_runs_once_places_no_watch(exrepo: Path) -> None:
    write(exrepo, "once.py", LOOP + "\nex.run()\nprint(ex._snapshots.state(ex._repo('.')))\n")
    commit_all(exrepo)
    out = subprocess.run(
        [sys.executable, "once.py"], cwd=exrepo, capture_output=True, text=True, check=True
    ).stdout
    assert "runs=1, watch=None" in out


SEED = int(os.environ.get("GITXP_TORTURE_SEED", str(random.SystemRandom().randrange(10**6))))


def _random_change(repo: Path, rng: random.Random, outside: Path) -> str:
    """One change of a random kind (or none); returns what it did, for the failure text."""
    files = sorted(
        p.relative_to(repo).as_posix()
        for p in repo.rglob("*")
        if ".git" not in p.parts and p.is_file() and not p.is_symlink() and p.name != ".gitignore"
    )
    folders = sorted({str(Path(f).parent) for f in files} | {"."})
    kind = rng.choice(
        ["nothing", "edit", "same size", "new", "ignored", "tmp", "new dir", "delete",
         "rename", "move dir", "chmod", "symlink", "gitignore", "add", "commit", "outside"]
    )  # fmt: skip
    where = repo / rng.choice(folders)
    name = f"f{rng.randrange(1000)}"
    if kind in ("edit", "same size", "delete", "rename", "chmod", "add") and files:
        target = repo / rng.choice(files)
        if kind == "edit":
            target.write_text(target.read_text() + "more\n")
        elif kind == "same size":
            text = target.read_text()
            target.write_text(text[:-1] + ("x" if text[-1:] != "x" else "y"))
        elif kind == "delete":
            target.unlink()
        elif kind == "rename":
            target.rename(where / f"{name}.py")
        elif kind == "chmod":
            target.chmod(target.stat().st_mode ^ 0o100)
        else:
            git(repo, "add", "-f", "--", str(target.relative_to(repo)))  # ignored ones too
        return f"{kind} {target.relative_to(repo)}"
    if kind == "new":
        (where / f"{name}.py").write_text("new\n")
    elif kind == "ignored":
        (repo / "outputs").mkdir(exist_ok=True)
        (repo / "outputs" / f"{name}.out").write_text("ignored\n")
    elif kind == "tmp":
        (where / f"{name}.tmp").write_text("ignored while *.tmp is in .gitignore\n")
    elif kind == "new dir":
        (where / f"d{name}" / "sub").mkdir(parents=True, exist_ok=True)
        (where / f"d{name}" / "sub" / "x.py").write_text("deep\n")
    elif kind == "move dir" and where != repo:
        where.rename(repo / f"moved{rng.randrange(1000)}")
    elif kind == "symlink" and not (where / f"{name}.lnk").exists():
        os.symlink("README.md", where / f"{name}.lnk")
    elif kind == "gitignore":
        rules = (repo / ".gitignore").read_text()
        toggled = rules.replace("*.tmp\n", "") if "*.tmp" in rules else rules + "*.tmp\n"
        (repo / ".gitignore").write_text(toggled)
    elif kind == "outside":  # through a hard link made before the first snapshot
        with open(outside, "a") as handle:
            handle.write("written from outside the tree\n")
    elif kind == "commit":
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "--allow-empty", "-m", "step")
    return f"{kind} in {where.relative_to(repo)}"


@linux
def test_random_changes_between_runs_give_the_trees_git_add_would(
    exrepo: Path, tmp_path: Path
) -> None:
    write(exrepo, ".gitignore", "outputs/\n*.tmp\n")
    write(exrepo, "src/a.py", "a\n")
    commit_all(exrepo)
    outside = tmp_path / "linked.py"
    os.link(exrepo / "src" / "a.py", outside)
    reuse, repo, rng = SnapshotReuse(), GitRepo(exrepo), random.Random(SEED)
    done: list[str] = []
    for step in range(40):
        done.append(_random_change(exrepo, rng, outside))
        expected = add_all_tree(exrepo, tmp_path / f"oracle-{step}")
        assert reuse.take(repo).tree == expected, f"GITXP_TORTURE_SEED={SEED}: {done}"
    assert reuse.state(repo).reused > 0, f"GITXP_TORTURE_SEED={SEED}: {done}"
    fsck(exrepo)
