"""gitxp.git.fsck against what real git writes, and what ``git fsck`` refuses."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from gitxp_testing import git

from gitxp.git.fsck import COMMIT, TAG, TREE, check_object, links, unsafe_name, unsafe_path

ID = bytes.fromhex("ce013625030ba8dba906f756967f9e9ca394464a")  # the blob "hello\n"


def tree(*entries: tuple[bytes, bytes]) -> bytes:
    return b"".join(mode + b" " + name + b"\0" + ID for mode, name in entries)


def test_what_git_writes_passes(repo: Path) -> None:
    (repo / "sub").mkdir()
    (repo / "sub" / "a.txt").write_text("a\n")
    (repo / "run.sh").write_text("#!/bin/sh\n")
    (repo / "run.sh").chmod(0o755)
    (repo / "link").symlink_to("run.sh")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "more")
    git(repo, "tag", "-a", "v1", "-m", "tag")
    for oid in git(repo, "rev-list", "--objects", "--all").split()[::1]:
        if len(oid) != 40:
            continue
        kind = git(repo, "cat-file", "-t", oid).strip()
        number = {"commit": COMMIT, "tree": TREE, "tag": TAG}.get(kind)
        if number is None:
            continue
        data = subprocess.run(
            ["git", "cat-file", kind, oid], cwd=repo, capture_output=True, check=True
        ).stdout
        assert check_object(number, data) is None, (kind, oid)
        assert all(len(x) == 20 for x in links(number, data))
    head = git(repo, "cat-file", "commit", "HEAD").encode()
    assert len(links(COMMIT, head)) == 2  # its tree and one parent


@pytest.mark.parametrize(
    ("data", "check"),
    [
        (tree((b"40000", b"..")), "hasDotdot"),
        (
            tree(
                (b"40000", b"."),
            ),
            "hasDot",
        ),
        (tree((b"40000", b".git")), "hasDotgit"),
        (tree((b"40000", b".Git. ")), "hasDotgit"),
        (tree((b"40000", b"GIT~1")), "hasDotgit"),
        (tree((b"40000", ".g\u200cit".encode())), "hasDotgit"),
        (tree((b"100644", b"a/b")), "fullPathname"),
        (tree((b"100644", b"")), "emptyName"),
        (tree((b"100777", b"a")), "badFilemode"),
        (tree((b"0100644", b"a")), "badFilemode"),
        (tree((b"100644", b"b"), (b"100644", b"a")), "treeNotSorted"),
        (tree((b"100644", b"a"), (b"100644", b"a")), "duplicateEntries"),
        (tree((b"100644", b"a"), (b"100644", b"a.b"), (b"40000", b"a")), "duplicateEntries"),
        (tree((b"100644", b"a"))[:-3], "badTree"),
        (b"100644 a\0" + bytes(20), "nullSha1"),
    ],
)
def test_bad_trees_are_named_like_git_fsck(data: bytes, check: str) -> None:
    problem = check_object(TREE, data)
    assert problem is not None and f"({check})" in problem, problem


def test_bad_commits_and_tags() -> None:
    good = (
        b"tree " + b"a" * 40 + b"\nparent " + b"b" * 40 + b"\n"
        b"author A U <a@example.com> 1700000000 +0100\n"
        b"committer A U <a@example.com> 1700000000 +0100\n\nmessage\n"
    )
    assert check_object(COMMIT, good) is None
    assert links(COMMIT, good) == [bytes.fromhex("a" * 40), bytes.fromhex("b" * 40)]
    for bad in (
        good.replace(b"tree ", b"tree  "),
        good.replace(b"1700000000", b"yesterday"),
        good.replace(b"<a@example.com>", b"a@example.com"),
        good.replace(b"+0100", b"+1"),
        b"",
    ):
        assert "badCommit" in str(check_object(COMMIT, bad)), bad
    tag = b"object " + b"a" * 40 + b"\ntype commit\ntag v1\ntagger A <a@b> 1 +0000\n\nm\n"
    assert check_object(TAG, tag) is None
    assert "badTag" in str(check_object(TAG, b"object x\n"))


def test_unsafe_names_and_paths() -> None:
    for name in ("a", "a.txt", ".gitignore", ".gitxp", "git", "..a", "a..", "~1"):
        assert unsafe_name(name) is None, name
    for name in ("", ".", "..", ".git", ".GIT", ".git.", "git~1", "a/b", "a\0b"):
        assert unsafe_name(name) is not None, name
    assert unsafe_path("src/model/train.py") is None
    for path in ("../x", "a/../b", "/etc/passwd", "a//b", "a/.git/config", "a/"):
        assert unsafe_path(path) is not None, path
