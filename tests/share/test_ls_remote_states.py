"""``gitxp ls --remote``: how each run on the remote relates to the copy here."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from sharing_helpers import git, gitxp, make_runs, run_refs, start_run

from gitxp.store.ids import new_run_id

RUNS = "refs/gitxp/runs/"


def commit_on_top(where: Path, parent: str, tree_of: str | None = None) -> str:
    """A new commit in the repository ``where`` on top of ``parent``, with the tree of
    ``tree_of`` (default: ``parent``'s)."""
    tree = f"{tree_of or parent}^{{tree}}"
    return subprocess.run(
        ["git", "commit-tree", tree, "-p", parent, "-m", "another record"],
        cwd=where,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def test_every_state_is_named(repo: Path, tmp_path: Path) -> None:
    bare = tmp_path / "shared.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    git(repo, "remote", "add", "origin", str(bare))
    same, behind, diverged = make_runs(repo, 3)
    running = start_run(repo, lr=1.0)
    running.heartbeat()
    gitxp(repo, "push", "-q")
    running.finish("COMPLETED", exit_code=0)  # here: a later state than the remote's
    local = run_refs(repo)
    git(bare, "update-ref", RUNS + behind, commit_on_top(bare, local[RUNS + behind]))
    snapshot = git(repo, "rev-parse", f"{local[RUNS + diverged]}^").strip()
    # Finished on both sides with different records (known here too): a conflict.
    sibling = commit_on_top(repo, snapshot, tree_of=local[RUNS + diverged])
    git(repo, "push", "-q", "--force", str(bare), f"{sibling}:{RUNS + diverged}")
    only_there = new_run_id()
    git(bare, "update-ref", RUNS + only_there, local[RUNS + same])
    listed = {
        row["id"]: row["here"]
        for row in json.loads(gitxp(repo, "ls", "--remote", "origin", "--json").stdout)
    }
    assert listed == {
        same: "same",
        behind: "newer-there",
        diverged: "conflict",
        running.run_id: "newer-here",
        only_there: "not-here",
    }
    table = gitxp(repo, "ls", "--remote", "origin").stdout
    for run_id, state in listed.items():
        (line,) = [line for line in table.splitlines() if line.startswith(run_id)]
        assert line.split()[-1] == state
