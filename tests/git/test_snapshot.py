"""The snapshot (issue 2, point 2): the tree ``git add -A`` would stage, built aside.

Every test compares gitxp's tree with an oracle: real ``git add -A`` run on a *copy* of
the user's index (``GIT_INDEX_FILE``), then ``git write-tree``. The user's own index,
HEAD, branches and files are checked byte for byte before and after.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from runstore_helpers import (
    add_all_tree,
    files_state,
    fsck,
    git,
    gitxp_run,
    ls_tree,
    run_info,
    user_state,
)

from gitxp.git.repo import GitRepo
from gitxp.git.snapshot import DEFAULT_MAX_UNTRACKED, Snapshot, parse_size, take_snapshot

UNICODE_NAME = "dir with space/ünïcödé ファイル.txt"
NEW_UNICODE = "new dir/é é 名前.txt"


def snapshot(path: Path, **kwargs: int) -> Snapshot:
    return take_snapshot(GitRepo(path), **kwargs)


def oracle(path: Path, tmp_path: Path) -> str:
    return add_all_tree(path, tmp_path / "oracle-index")


def head_tree(path: Path) -> str:
    return git(path, "rev-parse", "HEAD^{tree}").strip()


def make_rich(repo: Path) -> None:
    """Commit files of every kind, then leave edits of every kind in the working tree."""
    (repo / ".gitignore").write_text("*.log\nbuild/\n")
    (repo / "mod.txt").write_text("old\n")
    (repo / "del.txt").write_text("to be deleted\n")
    (repo / "run.sh").write_text("#!/bin/sh\necho run\n")
    (repo / "run.sh").chmod(0o755)
    (repo / "plain.sh").write_text("#!/bin/sh\necho plain\n")
    os.symlink("README.md", repo / "link")
    (repo / "dir with space").mkdir()
    (repo / UNICODE_NAME).write_text("unicode\n")
    (repo / "keep.log").write_text("tracked although ignored\n")
    (repo / "nested").mkdir()
    (repo / "nested" / ".gitignore").write_text("*.tmp\n")
    (repo / "nested" / "a.txt").write_text("a\n")
    git(repo, "add", "-A")
    git(repo, "add", "-f", "keep.log")
    git(repo, "commit", "-q", "-m", "rich")
    # Working-tree changes, none of them staged.
    (repo / "mod.txt").write_text("new\n")
    (repo / "del.txt").unlink()
    (repo / "plain.sh").chmod(0o755)  # mode change only
    (repo / "new.txt").write_text("untracked\n")
    (repo / "new dir").mkdir()
    (repo / NEW_UNICODE).write_text("untracked unicode\n")
    os.symlink("nested", repo / "dirlink")
    (repo / "out.log").write_text("ignored\n")
    (repo / "build").mkdir()
    (repo / "build" / "x.bin").write_bytes(b"\0" * 10)
    (repo / "nested" / "b.tmp").write_text("ignored by nested .gitignore\n")
    (repo / "keep.log").write_text("tracked and edited\n")
    (repo / ".git" / "info").mkdir(exist_ok=True)
    with open(repo / ".git" / "info" / "exclude", "a") as handle:
        handle.write("secret.env\n")
    (repo / "secret.env").write_text("TOKEN=x\n")


def test_snapshot_is_what_git_add_all_stages(repo: Path, tmp_path: Path) -> None:
    make_rich(repo)
    head = git(repo, "rev-parse", "HEAD").strip()
    snap = snapshot(repo)
    assert snap.tree == oracle(repo, tmp_path)
    assert snap.base == head
    assert snap.branch == "main"
    assert not snap.detached
    assert snap.dirty
    assert snap.skipped == []
    tree = ls_tree(repo, snap.tree)
    assert "del.txt" not in tree
    for ignored in ("out.log", "build/x.bin", "nested/b.tmp", "secret.env"):
        assert ignored not in tree
    assert git(repo, "cat-file", "-p", tree["mod.txt"][1]) == "new\n"
    assert git(repo, "cat-file", "-p", tree["keep.log"][1]) == "tracked and edited\n"
    assert git(repo, "cat-file", "-p", tree["new.txt"][1]) == "untracked\n"
    assert tree[UNICODE_NAME][0] == "100644"
    assert git(repo, "cat-file", "-p", tree[NEW_UNICODE][1]) == "untracked unicode\n"
    assert tree["run.sh"][0] == "100755"
    assert tree["plain.sh"][0] == "100755"
    assert tree["link"][0] == "120000"
    assert tree["dirlink"][0] == "120000"
    assert git(repo, "cat-file", "-p", tree["link"][1]) == "README.md"
    assert git(repo, "cat-file", "-p", tree["dirlink"][1]) == "nested"
    assert "nested/a.txt" in tree and "nested/.gitignore" in tree


def test_clean_tree_is_head_tree(repo: Path) -> None:
    snap = snapshot(repo)
    assert snap.tree == head_tree(repo)
    assert not snap.dirty
    assert snap.skipped == []


def test_exec_bit_and_symlinks_kept(repo: Path, tmp_path: Path) -> None:
    (repo / "tool").write_text("#!/bin/sh\n")
    (repo / "tool").chmod(0o755)
    os.symlink("train.py", repo / "alias.py")
    os.symlink("does/not/exist", repo / "dangling")
    os.symlink(str(repo / "README.md"), repo / "absolute")
    (repo / "train.py").chmod(0o755)
    snap = snapshot(repo)
    assert snap.tree == oracle(repo, tmp_path)
    tree = ls_tree(repo, snap.tree)
    assert tree["tool"][0] == "100755"
    assert tree["train.py"][0] == "100755"
    assert tree["README.md"][0] == "100644"
    for link, target in [
        ("alias.py", "train.py"),
        ("dangling", "does/not/exist"),
        ("absolute", str(repo / "README.md")),
    ]:
        assert tree[link][0] == "120000"
        assert git(repo, "cat-file", "-p", tree[link][1]) == target


def test_submodule_recorded_as_its_current_commit(repo: Path, tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    lib.mkdir()
    git(lib, "init", "-q")
    (lib / "lib.py").write_text("X = 1\n")
    git(lib, "add", "-A")
    git(lib, "commit", "-q", "-m", "lib")
    git(repo, "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(lib), "vendor/lib")
    git(repo, "commit", "-q", "-m", "add submodule")
    sub = repo / "vendor" / "lib"
    recorded = git(repo, "ls-tree", "HEAD", "vendor/lib").split()[2]
    # The submodule moves on after the superproject recorded it, and has local junk.
    (sub / "lib.py").write_text("X = 2\n")
    git(sub, "commit", "-q", "-am", "bump")
    (sub / "junk.txt").write_text("untracked inside the submodule\n")
    current = git(sub, "rev-parse", "HEAD").strip()
    assert current != recorded
    before = user_state(repo)
    snap = snapshot(repo)
    assert user_state(repo) == before
    assert snap.tree == oracle(repo, tmp_path)
    tree = ls_tree(repo, snap.tree)
    assert tree["vendor/lib"] == ("160000", current)
    assert ".gitmodules" in tree
    assert not [p for p in tree if p.startswith("vendor/lib/")]
    assert snap.dirty
    # The submodule's own HEAD and files are untouched as well.
    assert git(sub, "rev-parse", "HEAD").strip() == current
    assert (sub / "junk.txt").exists()


def test_untracked_file_over_limit_skipped_with_size(repo: Path, tmp_path: Path) -> None:
    (repo / "big.bin").write_bytes(b"x" * 5000)
    (repo / "data").mkdir()
    (repo / "data" / "huge one.bin").write_bytes(b"y" * 7000)
    (repo / "small.txt").write_bytes(b"z" * 4000)
    (repo / "README.md").write_bytes(b"t" * 9000)  # tracked: never subject to the limit
    snap = snapshot(repo, max_untracked=4096)
    tree = ls_tree(repo, snap.tree)
    assert "big.bin" not in tree and "data/huge one.bin" not in tree
    assert "small.txt" in tree
    assert git(repo, "cat-file", "-s", tree["README.md"][1]).strip() == "9000"
    skipped = sorted(snap.skipped, key=lambda s: str(s["path"]))
    assert skipped == [
        {"path": "big.bin", "size": 5000, "reason": "too large"},
        {"path": "data/huge one.bin", "size": 7000, "reason": "too large"},
    ]
    # Everything else is exactly what git add -A stages.
    (repo / "big.bin").unlink()
    (repo / "data" / "huge one.bin").unlink()
    assert snap.tree == oracle(repo, tmp_path)


def test_size_limit_from_git_config(repo: Path) -> None:
    git(repo, "config", "gitxp.maxUntrackedSize", "1k")
    (repo / "over.bin").write_bytes(b"a" * 2000)
    (repo / "at-limit.bin").write_bytes(b"b" * 1024)
    (repo / "under.bin").write_bytes(b"c" * 1000)
    snap = snapshot(repo)
    tree = ls_tree(repo, snap.tree)
    assert snap.skipped == [{"path": "over.bin", "size": 2000, "reason": "too large"}]
    assert "over.bin" not in tree
    assert "at-limit.bin" in tree and "under.bin" in tree
    # An explicit limit wins over the config.
    assert snapshot(repo, max_untracked=10_000).skipped == []


def test_size_parsing_and_default() -> None:
    assert DEFAULT_MAX_UNTRACKED == 10 * 1024 * 1024
    assert parse_size("1k") == 1024
    assert parse_size("10M") == 10 * 1024 * 1024
    assert parse_size("2MiB") == 2 * 1024 * 1024
    assert parse_size("1g") == 1024**3
    assert parse_size("500") == 500


def test_skipped_file_listed_in_run_record(repo: Path) -> None:
    git(repo, "config", "gitxp.maxUntrackedSize", "1k")
    (repo / "weights.bin").write_bytes(b"w" * 3000)
    _, ref = gitxp_run(repo, "-b", "0", "train.py")
    info = run_info(repo, ref)
    assert info["skipped_files"] == [{"path": "weights.bin", "size": 3000, "reason": "too large"}]
    assert "weights.bin" not in ls_tree(repo, ref)
    shown = git(repo, "show", f"{ref}:.gitxp/run.json")
    assert "weights.bin" in shown


def test_reserved_gitxp_folder_never_taken(repo: Path, tmp_path: Path) -> None:
    # A tracked .gitxp/ (committed by mistake) and an untracked one in the working tree.
    (repo / ".gitxp").mkdir()
    (repo / ".gitxp" / "run.json").write_text('{"forged": true}\n')
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "committed a .gitxp folder")
    (repo / ".gitxp" / "run.json").write_text('{"forged": "again"}\n')
    (repo / ".gitxp" / "metrics.json").write_text("{}\n")
    (repo / "sub").mkdir()
    (repo / "sub" / ".gitxp").mkdir()
    (repo / "sub" / ".gitxp" / "ok.txt").write_text("only the top-level .gitxp is reserved\n")
    snap = snapshot(repo)
    tree = ls_tree(repo, snap.tree)
    assert not [p for p in tree if p == ".gitxp" or p.startswith(".gitxp/")]
    assert "sub/.gitxp/ok.txt" in tree
    # Apart from .gitxp/, it is what git add -A stages.
    want = {p: v for p, v in ls_tree(repo, oracle(repo, tmp_path)).items()}
    want = {p: v for p, v in want.items() if not p.startswith(".gitxp/")}
    assert tree == want
    # And a whole run records gitxp's own .gitxp/, not the forged one.
    _, ref = gitxp_run(repo, "-b", "0", "train.py")
    assert run_info(repo, ref)["id"] == ref.rsplit("/", 1)[1]
    assert "forged" not in git(repo, "show", f"{ref}:.gitxp/run.json")
    assert ".gitxp/metrics.json" in ls_tree(repo, ref)
    assert git(repo, "show", f"{ref}:.gitxp/metrics.json").strip() != "{}"


def test_reserved_name_as_a_file(repo: Path) -> None:
    (repo / ".gitxp").write_text("a file named .gitxp\n")
    tree = ls_tree(repo, snapshot(repo).tree)
    assert ".gitxp" not in tree


def test_staged_but_not_committed(repo: Path, tmp_path: Path) -> None:
    (repo / "staged.txt").write_text("staged\n")
    (repo / "README.md").write_text("staged edit\n")
    (repo / "both.txt").write_text("staged version\n")
    git(repo, "add", "staged.txt", "README.md", "both.txt")
    (repo / "both.txt").write_text("edited again after staging\n")
    git(repo, "rm", "-q", "--cached", "train.py")  # staged deletion, file still on disk
    (repo / "gone.txt").write_text("staged then deleted\n")
    git(repo, "add", "gone.txt")
    (repo / "gone.txt").unlink()
    before = user_state(repo)
    snap = snapshot(repo)
    assert user_state(repo) == before
    assert snap.tree == oracle(repo, tmp_path)
    tree = ls_tree(repo, snap.tree)
    assert git(repo, "cat-file", "-p", tree["staged.txt"][1]) == "staged\n"
    assert git(repo, "cat-file", "-p", tree["README.md"][1]) == "staged edit\n"
    assert git(repo, "cat-file", "-p", tree["both.txt"][1]) == "edited again after staging\n"
    assert "train.py" in tree  # what git add -A does: the file is still there
    assert "gone.txt" not in tree
    assert snap.dirty
    # Only staged changes, working tree equal to the index: still dirty.
    git(repo, "add", "-A")
    snap = snapshot(repo)
    assert snap.dirty
    assert snap.tree == git(repo, "write-tree").strip()


def test_merge_conflict_in_progress(repo: Path, tmp_path: Path) -> None:
    (repo / "c.txt").write_text("base\n")
    (repo / "d.txt").write_text("base d\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "base")
    git(repo, "checkout", "-q", "-b", "other")
    (repo / "c.txt").write_text("other\n")
    git(repo, "rm", "-q", "d.txt")
    git(repo, "commit", "-q", "-am", "other")
    git(repo, "checkout", "-q", "main")
    (repo / "c.txt").write_text("main\n")
    (repo / "d.txt").write_text("main d\n")
    git(repo, "commit", "-q", "-am", "main")
    merge = git(repo, "merge", "other", check=False)
    assert "CONFLICT" in merge
    assert (repo / ".git" / "MERGE_HEAD").exists()
    markers = (repo / "c.txt").read_text()
    assert "<<<<<<<" in markers
    before = user_state(repo)
    snap = snapshot(repo)
    assert user_state(repo) == before
    assert snap.tree == oracle(repo, tmp_path)
    tree = ls_tree(repo, snap.tree)
    assert git(repo, "cat-file", "-p", tree["c.txt"][1]) == markers
    assert git(repo, "cat-file", "-p", tree["d.txt"][1]) == "main d\n"
    assert snap.dirty
    assert snap.tree != head_tree(repo)
    # The merge is still in progress, with its conflicts, after the snapshot.
    assert (repo / ".git" / "MERGE_HEAD").exists()
    assert "c.txt" in git(repo, "diff", "--name-only", "--diff-filter=U")


def test_merge_conflict_without_other_changes_is_dirty(repo: Path, tmp_path: Path) -> None:
    # The conflicting file is the only difference between the snapshot and HEAD.
    git(repo, "checkout", "-q", "-b", "other")
    (repo / "README.md").write_text("other\n")
    git(repo, "commit", "-q", "-am", "other")
    git(repo, "checkout", "-q", "main")
    (repo / "README.md").write_text("main\n")
    git(repo, "commit", "-q", "-am", "main")
    git(repo, "merge", "other", check=False)
    snap = snapshot(repo)
    assert snap.tree == oracle(repo, tmp_path)
    assert snap.tree != head_tree(repo)
    assert snap.dirty


def test_repo_with_no_commits(empty_repo: Path, tmp_path: Path) -> None:
    (empty_repo / "a.py").write_text("print('a')\n")
    (empty_repo / "sub").mkdir()
    (empty_repo / "sub" / "b.txt").write_text("b\n")
    (empty_repo / "staged.txt").write_text("staged\n")
    git(empty_repo, "add", "staged.txt")
    before = user_state(empty_repo)
    snap = snapshot(empty_repo)
    assert user_state(empty_repo) == before
    assert snap.base is None
    assert snap.branch == "main"
    assert not snap.detached
    assert snap.dirty
    assert snap.tree == oracle(empty_repo, tmp_path)
    assert set(ls_tree(empty_repo, snap.tree)) == {"a.py", "sub/b.txt", "staged.txt"}


def test_repo_with_no_commits_and_no_index(empty_repo: Path, tmp_path: Path) -> None:
    assert not (empty_repo / ".git" / "index").exists()
    (empty_repo / "a.py").write_text("print('a')\n")
    snap = snapshot(empty_repo)
    assert snap.tree == oracle(empty_repo, tmp_path)
    assert not (empty_repo / ".git" / "index").exists()
    # A full run works there too: the snapshot commit has no parent.
    _, ref = gitxp_run(empty_repo, "-b", "0", "--", "true")
    info = run_info(empty_repo, ref)
    assert info["base_commit"] is None and info["branch"] == "main"
    snapshot_commit = git(empty_repo, "rev-parse", f"{ref}^").strip()
    assert git(empty_repo, "rev-list", "--parents", "-n", "1", snapshot_commit).split() == [
        snapshot_commit
    ]
    assert not (empty_repo / ".git" / "index").exists()
    assert git(empty_repo, "for-each-ref", "refs/heads") == ""
    fsck(empty_repo)


def test_detached_head(repo: Path, tmp_path: Path) -> None:
    head = git(repo, "rev-parse", "HEAD").strip()
    git(repo, "checkout", "-q", "--detach")
    (repo / "README.md").write_text("edited on a detached HEAD\n")
    snap = snapshot(repo)
    assert snap.base == head
    assert snap.detached
    assert snap.branch is None
    assert snap.dirty
    assert snap.tree == oracle(repo, tmp_path)


def test_opened_from_a_subdirectory(repo: Path, tmp_path: Path) -> None:
    (repo / "src" / "deep").mkdir(parents=True)
    (repo / "src" / "deep" / "m.py").write_text("m = 1\n")
    (repo / "top.txt").write_text("top\n")
    snap = snapshot(repo / "src" / "deep")
    assert snap.tree == oracle(repo, tmp_path)
    assert {"top.txt", "src/deep/m.py", "train.py"} <= set(ls_tree(repo, snap.tree))


def test_linked_worktree_uses_its_own_index(repo: Path, tmp_path: Path) -> None:
    wt = tmp_path / "wt"
    git(repo, "worktree", "add", "-q", "-b", "side", str(wt))
    (wt / "side.txt").write_text("only in the linked worktree\n")
    git(wt, "add", "side.txt")
    (wt / "README.md").write_text("edited in the linked worktree\n")
    (repo / "main-only.txt").write_text("only in the main worktree\n")
    snap = snapshot(wt)
    assert snap.branch == "side"
    assert snap.tree == oracle(wt, tmp_path)
    tree = ls_tree(wt, snap.tree)
    assert "side.txt" in tree and "main-only.txt" not in tree


def test_unicode_and_space_names(repo: Path, tmp_path: Path) -> None:
    names = [
        "with space.txt",
        "  leading and trailing  .txt",
        "ünïcödé/naïve café.py",
        "日本語/ファイル 名.txt",
        "emoji 🚀.md",
        "tab\tname.txt",
        "quote'and\"double.txt",
    ]
    for name in names:
        path = repo / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"content of {name}\n")
    snap = snapshot(repo)
    assert snap.tree == oracle(repo, tmp_path)
    tree = ls_tree(repo, snap.tree)
    for name in names:
        assert git(repo, "cat-file", "-p", tree[name][1]) == f"content of {name}\n"


def test_user_state_untouched_by_snapshot(repo: Path, tmp_path: Path) -> None:
    make_rich(repo)
    git(repo, "add", "new.txt")  # something staged as well
    (repo / "new.txt").write_text("untracked, staged, then edited\n")
    before = user_state(repo)
    assert before["index"] is not None
    for _ in range(2):
        snapshot(repo)
    after = user_state(repo)
    assert after["index"] == before["index"]
    assert after["HEAD"] == before["HEAD"]
    assert after["heads"] == before["heads"]
    assert after["files"] == before["files"]  # bytes, exec bit and mtime of every file
    assert not (repo / ".git" / "index.lock").exists()
    # Staging is exactly what it was.
    assert git(repo, "diff", "--cached", "--name-only") == "new.txt\n"


@pytest.mark.parametrize("detached", [False, True])
def test_user_state_untouched_by_a_whole_run(repo: Path, detached: bool) -> None:
    make_rich(repo)
    git(repo, "add", "mod.txt")
    if detached:
        git(repo, "checkout", "-q", "--detach")
    before = user_state(repo)
    stash_before = git(repo, "stash", "list")
    gitxp_run(repo, "-b", "0.2", "train.py", "with", "lr=0.5")
    gitxp_run(repo, "-b", "0", "--", "sh", "-c", "echo hi; exit 4", check=False)
    after = user_state(repo)
    assert after == before
    assert git(repo, "stash", "list") == stash_before
    assert files_state(repo) == before["files"]
    assert os.listdir(repo / ".git" / "gitxp" / "spool") == []
    fsck(repo)


def _write(path: Path, text: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)


def _nested_repo(repo: Path) -> None:
    inner = repo / "inner"
    inner.mkdir()
    git(inner, "init", "-q")
    _write(inner / "f.txt", "inner\n")
    git(inner, "add", "-A")
    git(inner, "commit", "-q", "-m", "inner")


EDGE_CASES = {
    "file becomes a directory": (
        lambda r: _write(r / "a", "file\n"),
        lambda r: ((r / "a").unlink(), _write(r / "a" / "x", "now a dir\n")),
    ),
    "directory becomes a file": (
        lambda r: _write(r / "d" / "x", "in a dir\n"),
        lambda r: (shutil.rmtree(r / "d"), _write(r / "d", "now a file\n")),
    ),
    "symlink becomes a file": (
        lambda r: os.symlink("README.md", r / "l"),
        lambda r: ((r / "l").unlink(), _write(r / "l", "a file now\n")),
    ),
    "file becomes a symlink": (
        lambda r: _write(r / "l", "a file\n"),
        lambda r: ((r / "l").unlink(), os.symlink("README.md", r / "l")),
    ),
    "intent to add": (
        lambda r: None,
        lambda r: (_write(r / "n.txt", "new\n"), git(r, "add", "-N", "n.txt")),
    ),
    "intent to add, then deleted": (
        lambda r: None,
        lambda r: (
            _write(r / "n.txt", "new\n"),
            git(r, "add", "-N", "n.txt"),
            (r / "n.txt").unlink(),
        ),
    ),
    "crlf with text=auto": (
        lambda r: _write(r / ".gitattributes", "* text=auto\n"),
        lambda r: _write(r / "c.txt", b"a\r\nb\r\n"),
    ),
    "whole directory deleted": (
        lambda r: (_write(r / "dd" / "a", "1\n"), _write(r / "dd" / "b" / "c", "2\n")),
        lambda r: shutil.rmtree(r / "dd"),
    ),
    "negated ignore pattern": (
        lambda r: _write(r / ".gitignore", "logs/*\n!logs/keep.txt\n"),
        lambda r: (_write(r / "logs" / "keep.txt", "k\n"), _write(r / "logs" / "drop.txt", "d\n")),
    ),
    "untracked nested repository": (lambda r: None, _nested_repo),
    "empty files": (lambda r: _write(r / "e0", ""), lambda r: _write(r / "e1", "")),
}


@pytest.mark.parametrize("case", sorted(EDGE_CASES))
def test_edge_cases_match_git_add_all(repo: Path, tmp_path: Path, case: str) -> None:
    setup, change = EDGE_CASES[case]
    setup(repo)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--allow-empty", "-m", "setup")
    change(repo)
    before = user_state(repo)
    snap = snapshot(repo)
    assert user_state(repo) == before
    assert snap.tree == oracle(repo, tmp_path)
    assert snap.dirty
