"""Which pre-run hooks run, and that the first veto stops the rest (issue 18, point 9)."""

from __future__ import annotations

import os
from pathlib import Path

from runstore_helpers import gitxp, run_refs


def hook(path: Path, body: str) -> None:
    path.write_text(f"#!/bin/sh\n{body}\n")
    os.chmod(path, 0o755)


def test_hidden_and_backup_hooks_never_run_and_a_veto_stops_the_rest(repo: Path) -> None:
    folder = repo / ".gitxp-hooks" / "pre-run.d"
    folder.mkdir(parents=True)
    marks = repo.parent / "marks"
    marks.mkdir()
    hook(folder / "10-veto", "echo 'not today'; exit 1")
    hook(folder / "20-after", f"touch {marks}/after")
    hook(folder / ".30-hidden", f"touch {marks}/hidden")
    hook(folder / "40-backup~", f"touch {marks}/backup")
    vetoed = gitxp(repo, "run", "-b", "0", "train.py", check=False)
    assert vetoed.returncode != 0 and "vetoed by pre-run hook" in vetoed.stderr
    assert "not today" in vetoed.stderr
    assert run_refs(repo) == {} and not list(marks.iterdir())
    (folder / "10-veto").unlink()
    gitxp(repo, "run", "-b", "0", "train.py")
    assert sorted(p.name for p in marks.iterdir()) == ["after"]
    assert len(run_refs(repo)) == 1
