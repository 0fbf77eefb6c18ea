"""``gitxp lineage``: which runs a run's inputs came from, and which runs used a run.

A run that used another run's artifact lists the use in ``run.json`` (``uses``: run,
commit, path, blob; see :mod:`gitxp.store.uses`). Upstream follows those lists from a
run; downstream inverts them over every run here, so "this preprocessing run was
buggy: which results must be redone?" has an answer. Fetched runs count as any other;
a producer that is not here (not fetched) is shown as such. ``uses`` of a fetched run
is untrusted: entries that are not well-formed are skipped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gitxp.git.repo import GitRepo
from gitxp.store.ids import is_run_id
from gitxp.store.runs import RunRecord, list_runs, resolve

MAX_DEPTH = 64


@dataclass
class Node:
    """A run in a lineage tree; ``path`` is the artifact its parent used of it."""

    run_id: str
    label: str = ""
    status: str = ""
    path: str = ""
    here: bool = True
    children: list[Node] = field(default_factory=list)


def uses_of(info: dict[str, Any]) -> list[dict[str, str]]:
    """The well-formed entries of a run.json's ``uses``."""
    raw = info.get("uses")
    if not isinstance(raw, list):
        return []
    return [
        {k: str(u.get(k, "")) for k in ("run", "commit", "path", "blob")}
        for u in raw
        if isinstance(u, dict) and isinstance(u.get("run"), str) and is_run_id(u["run"])
    ]


def upstream(repo: GitRepo, spec: str) -> Node:
    """The tree of producers of run ``spec``, their producers, and so on."""
    runs = {r.id: r for r in list_runs(repo)}
    root = resolve(repo, spec, list(runs.values()))

    def grow(run_id: str, path: str, seen: frozenset[str]) -> Node:
        ref = runs.get(run_id)
        if ref is None:
            return Node(run_id, path=path, here=False)
        info = RunRecord.load(repo, ref).info
        node = Node(run_id, _label(info), str(info.get("status") or ""), path)
        if run_id in seen or len(seen) >= MAX_DEPTH:
            return node
        for use in uses_of(info):
            node.children.append(grow(use["run"], use["path"], seen | {run_id}))
        return node

    return grow(root.id, "", frozenset())


def downstream(repo: GitRepo, spec: str) -> list[tuple[Node, str]]:
    """Every run that used run ``spec``, directly or through others, with how: the
    artifact it used, or ``via RUN`` for the run it used that depends on ``spec``."""
    refs = list_runs(repo)
    target = resolve(repo, spec, refs)
    infos = {r.id: RunRecord.load(repo, r).info for r in refs}
    used_by: dict[str, list[tuple[str, str]]] = {}
    for run_id, info in infos.items():
        for use in uses_of(info):
            used_by.setdefault(use["run"], []).append((run_id, use["path"]))
    out: list[tuple[Node, str]] = []
    seen = {target.id}
    frontier = [target.id]
    while frontier:
        producer = frontier.pop(0)
        for consumer, path in used_by.get(producer, []):
            if consumer in seen:
                continue
            seen.add(consumer)
            info = infos[consumer]
            how = f"used {path}" if producer == target.id else f"via {producer[:10]}"
            out.append((Node(consumer, _label(info), str(info.get("status") or "")), how))
            frontier.append(consumer)
    return out


def _label(info: dict[str, Any]) -> str:
    name, experiment = info.get("name"), info.get("experiment")
    return "/".join(str(x) for x in (experiment, name) if x)


def format_tree(node: Node) -> str:
    """The tree as text, one run a line."""
    lines = [_line(node)]

    def walk(children: list[Node], prefix: str) -> None:
        for i, child in enumerate(children):
            last = i == len(children) - 1
            lines.append(f"{prefix}{'└── ' if last else '├── '}{child.path} from {_line(child)}")
            walk(child.children, prefix + ("    " if last else "│   "))

    walk(node.children, "")
    return "\n".join(lines)


def _line(node: Node) -> str:
    if not node.here:
        return f"{node.run_id}  (not here: 'gitxp fetch' brings it)"
    return "  ".join(x for x in (node.run_id, node.label, node.status) if x)
