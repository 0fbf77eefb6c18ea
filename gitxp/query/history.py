"""Which runs belong to a line of code history, even after rebase and squash.

``gitxp ls --on HEAD`` lists the runs whose code is in HEAD's first-parent history.
A run records its base commit, but a rebase or a squash-merge replaces that commit by
another one with the same change; a run made with uncommitted edits matches the commit
that later holds those edits. So a run is *on* the history when, in order:

1. ``base``: its base commit is in the history;
2. ``tree``: its source tree (the snapshot without ``.gitxp/``) is the tree of a commit
   in the history (edits committed later, a clean run whose commit was rebased
   unchanged onto the same tree, a squash-merge of a branch main had not moved past);
3. ``patch``: the change it ran has the patch id of a commit in the history: either the
   change from where its base left the history (a squash-merge of its branch) or the
   change of its base commit plus its edits (the last commit of a rebased branch).

The history walked is ``limit`` commits deep along first parents.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from gitxp.errors import GitxpError, UsageError
from gitxp.git.repo import GitRepo
from gitxp.store.restore import source_tree
from gitxp.store.runs import RunRecord, list_runs

DEFAULT_DEPTH = 5000


@dataclass(frozen=True)
class OnHistory:
    """How a run is on the history: the commit it matched, and by what."""

    commit: str
    how: str  # "base", "tree" or "patch"


def runs_on(repo: GitRepo, rev: str = "HEAD", limit: int = DEFAULT_DEPTH) -> dict[str, OnHistory]:
    """Run id → how it is on the history of ``rev`` (runs not on it are left out)."""
    tip = repo.find_commit(rev)
    if tip is None:
        raise UsageError(f"--on {rev!r}: no such commit here; name a branch, tag or sha")
    commits = repo.first_parent_history(tip, limit)
    in_history = {c for c, _, _ in commits}
    by_tree: dict[str, str] = {}
    for commit, tree, _ in reversed(commits):  # the newest commit of a tree wins
        by_tree[tree] = commit
    by_patch = _PatchIndex(repo, commits)
    found: dict[str, OnHistory] = {}
    for ref in list_runs(repo):
        rec = RunRecord.load(repo, ref)
        match = _match(repo, rec, tip, in_history, by_tree, by_patch.get)
        if match is not None:
            found[ref.id] = match
    return found


def _match(
    repo: GitRepo,
    rec: RunRecord,
    tip: str,
    in_history: set[str],
    by_tree: dict[str, str],
    by_patch: Callable[[str], str | None],
) -> OnHistory | None:
    base = rec.info.get("base_commit")
    base = base if isinstance(base, str) and repo.has_commit(base) else None
    if base in in_history:
        return OnHistory(str(base), "base")
    try:
        tree = source_tree(repo, rec)
    except (GitxpError, KeyError, ValueError):  # a damaged run is on no history
        return None
    if tree in by_tree:
        return OnHistory(by_tree[tree], "tree")
    if base is None:
        return None
    fork = repo.merge_base(base, tip)
    parents = repo.commit_parents(base)
    starts = [repo.commit_tree(fork)] if fork else []
    starts += [repo.commit_tree(parents[0])] if parents else []
    for start in starts:
        pid = repo.patch_id(start, tree)
        commit = by_patch(pid) if pid else None
        if commit is not None:
            return OnHistory(commit, "patch")
    return None


class _PatchIndex:
    """Patch ids of the history's commits, computed on first need (diffs cost time)."""

    def __init__(self, repo: GitRepo, commits: list[tuple[str, str, str | None]]) -> None:
        self.repo = repo
        self.commits = commits
        self.index: dict[str, str] | None = None

    def get(self, pid: str) -> str | None:
        if self.index is None:
            self.index = {}
            for commit, tree, parent_tree in reversed(self.commits):
                own = self.repo.patch_id(parent_tree, tree)
                if own:
                    self.index[own] = commit
        return self.index.get(pid)
