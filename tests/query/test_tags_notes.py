"""Tags and notes (git notes under refs/notes/gitxp) in every view of the query layer.

``gitxp tag`` / ``gitxp note`` write the same notes the board writes; ``ls``, ``show``,
``gitxp.runs()`` and ``where`` expressions read them, and the row cache notices when the
notes ref moves.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from query_helpers import git, gitxp, isolate, recorded_project

import gitxp as gx
from gitxp.git.repo import GitRepo
from gitxp.query import cache as rowcache


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with pytest.MonkeyPatch.context() as mp:
        isolate(mp, tmp_path_factory.mktemp("home"))
        path = tmp_path_factory.mktemp("tags") / "project"
        ids = recorded_project(path)
        yield {"path": path, "ids": ids}


def snapshot(path: Path, run_id: str) -> str:
    """The run's snapshot commit, by real git: its first commit on top of the base (HEAD)."""
    out = git(path, "rev-list", "--reverse", f"refs/gitxp/runs/{run_id}", "--not", "HEAD")
    return out.split()[0]


def ids_listed(path: Path, *args: str) -> list[str]:
    out = gitxp(path, "ls", "--json", "--columns", "id", *args).stdout
    return [item["id"] for item in json.loads(out)]


def test_tag_and_note_show_everywhere(project: dict[str, Any]) -> None:
    path, ids = project["path"], project["ids"]
    before = gx.runs(path)  # fills the row cache before any note exists
    assert before.set_index("id").loc[ids["b"], "tags"] == ["keep"]
    assert before["note"].isna().all()

    out = gitxp(path, "tag", ids["a"], ids["b"][:10], "best").stdout
    assert f"{ids['b']}  keep, best" in out
    gitxp(path, "note", ids["a"], "why it works: ü")
    shown = git(path, "notes", "--ref", "gitxp", "show", snapshot(path, ids["a"]))
    assert shown == "Tags: best\n\nwhy it works: ü\n"

    frame = gx.runs(path).set_index("id")
    assert frame.loc[ids["a"], "tags"] == ["best"]
    assert frame.loc[ids["b"], "tags"] == ["keep", "best"]
    assert frame.loc[ids["a"], "note"] == "why it works: ü"
    assert list(gx.runs(path, tag="best")["id"]) == [ids["b"], ids["a"]]
    assert ids_listed(path, "--tag", "best") == [ids["b"], ids["a"]]
    assert ids_listed(path, "--where", "tags.contains('best')") == [ids["b"], ids["a"]]
    assert ids_listed(path, "--where", "not tags.contains('best')") == [ids["d"], ids["c"]]
    assert ids_listed(path, "--where", "note.str.contains('works')") == [ids["a"]]
    assert ids_listed(path, "--tag", "keep") == [ids["b"]]
    plain = gitxp(path, "ls").stdout.splitlines()
    assert "TAGS" in plain[0].split()
    assert "keep,best" in next(line for line in plain[1:] if ids["b"].startswith(line.split()[0]))

    text = gitxp(path, "show", ids["a"]).stdout
    assert "  tags:       best" in text
    assert "note:\n  why it works: ü" in text
    data = json.loads(gitxp(path, "show", "--json", ids["b"]).stdout)
    assert data["tags"] == ["keep", "best"] and data["note"] is None
    assert gitxp(path, "note", ids["a"]).stdout == "why it works: ü\n"

    # Taking the tag off; the run's own tag (run.json) cannot be taken off.
    gitxp(path, "tag", "--remove", ids["a"], "best")
    assert git(path, "notes", "--ref", "gitxp", "show", snapshot(path, ids["a"])) == (
        "why it works: ü\n"
    )
    notes_before = git(path, "rev-parse", "refs/notes/gitxp")
    bad = gitxp(path, "tag", "--remove", ids["b"], "keep", check=False)
    assert bad.returncode != 0 and "recorded with tag 'keep'" in bad.stderr
    assert bad.stderr.count("\n") == 1
    assert git(path, "rev-parse", "refs/notes/gitxp") == notes_before
    assert ids_listed(path, "--tag", "best") == [ids["b"]]
    git(path, "fsck", "--strict")


def test_notes_written_by_plain_git_are_seen(project: dict[str, Any]) -> None:
    path, ids = project["path"], project["ids"]
    gx.runs(path)
    git(
        path,
        "notes",
        "--ref",
        "gitxp",
        "add",
        "-f",
        "-m",
        "Tags: by-hand",
        snapshot(path, ids["d"]),
    )
    assert ids_listed(path, "--tag", "by-hand") == [ids["d"]]
    table = rowcache.load_cache(rowcache.cache_path(GitRepo(path)))
    assert table is not None and table.notes == git(path, "rev-parse", "refs/notes/gitxp").strip()


def test_bad_tags_are_refused_before_anything_is_written(project: dict[str, Any]) -> None:
    path, ids = project["path"], project["ids"]
    refs = git(path, "for-each-ref", "refs/notes/")
    for args in (["tag", ids["a"], "a,b"], ["tag", ids["a"], "nosuchrun", "x"], ["tag", "x"]):
        proc = gitxp(path, *args, check=False)
        assert proc.returncode != 0 and proc.stderr.startswith("gitxp: error: "), args
        assert "Traceback" not in proc.stderr
    assert git(path, "for-each-ref", "refs/notes/") == refs


def test_runs_frame_reads_left_to_right(project: dict[str, Any]) -> None:
    names = list(gx.runs(project["path"]).columns)
    assert names[:9] == [
        "id",
        "experiment",
        "name",
        "status",
        "start",
        "duration",
        "result",
        "tags",
        "note",
    ]
    config = [n for n in names if n.startswith("config.")]
    metrics = [n for n in names if n.startswith("metrics.")]
    assert names[9 : 9 + len(config) + len(metrics)] == config + metrics
    assert names[-2:] == ["ref", "commit"]
