"""Every run as one flat row, kept in a derived cache so a query reads git only for news.

Rows are read by :mod:`gitxp.query.rows`; pandas frames are built from the table's columns
by :mod:`gitxp.query.frames`. This module uses the standard library only.

The cache is one file, ``<git-dir>/gitxp/cache/runs.pickle``: a format number, the run
refs with the commit each pointed at when its row was read, and the rows stored by column.
The refs stay the truth: every query lists ``refs/gitxp/runs/*``, keeps the rows whose
(ref, commit) still match, reads only the runs that are new or moved, and drops the rows
whose ref is gone, so a run added, changed or deleted by plain git or by a fetch shows up
at the next query. A missing, unreadable or older-format cache is rebuilt from the refs.

Tags and notes (git notes under ``refs/notes/gitxp``, see :mod:`gitxp.store.notes`) move
apart from the runs: the table remembers the notes commit it read, and when the notes ref
moved its ``tags`` (the run's own tags, then its note's) and ``note`` columns are made
again from the rows' ``run_tags`` and ``snapshot``.
The file is replaced atomically (temporary file, then rename), so a query running at the
same time reads the old table or the new one, never half of one.
"""

from __future__ import annotations

import os
import pickle
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitxp.git.repo import NOTES_REF, RUNS_PREFIX, GitRepo
from gitxp.query.rows import read_columns
from gitxp.store.attestations import verdicts
from gitxp.store.notes import RunNote, merged_tags, parse_note

CACHE_FORMAT = 4  # 4: rows of damaged runs (status DAMAGED, damage)
CACHE_FILE = "runs.pickle"


@dataclass
class RunTable:
    """Rows of runs by column, newest run first; ``refs[i]``/``commits[i]`` key row ``i``.

    ``notes`` is the commit of the notes ref that the ``tags`` and ``note`` columns show.
    """

    refs: list[str] = field(default_factory=list)
    commits: list[str] = field(default_factory=list)
    columns: dict[str, list[Any]] = field(default_factory=dict)
    notes: str | None = None

    def __len__(self) -> int:
        return len(self.refs)


def cache_path(repo: GitRepo) -> Path:
    """Where the query cache of ``repo`` lives (machine-local, never pushed)."""
    return repo.state_dir / "cache" / CACHE_FILE


def run_table(repo: GitRepo, use_cache: bool = True) -> RunTable:
    """Every run's row, brought up to date with the refs (and the cache rewritten if needed)."""
    table = _run_table(repo, use_cache)
    apply_attestations(repo, table)
    return table


def apply_attestations(repo: GitRepo, table: RunTable) -> None:
    """The ``reproduced`` (True: a reproduction matched, False: none did, None: never
    reproduced), ``reproductions`` and ``reproductions_ok`` columns, from the
    attestation refs (read anew each time: there are few, and they move apart from runs)."""
    found = verdicts(repo)
    ids = table.columns.get("id") or [None] * len(table)
    seen = [found.get(str(i), ()) for i in ids]
    table.columns["reproduced"] = [any(v) if v else None for v in seen]
    table.columns["reproductions"] = [len(v) for v in seen]
    table.columns["reproductions_ok"] = [sum(v) for v in seen]


def _run_table(repo: GitRepo, use_cache: bool) -> RunTable:
    path = cache_path(repo)
    cached = load_cache(path) if use_cache else None
    listed = repo.refs(RUNS_PREFIX)
    notes = repo.ref_target(NOTES_REF)
    same = cached is not None and dict(zip(cached.refs, cached.commits, strict=True)) == listed
    if cached is not None and same and "tags" in cached.columns and cached.notes == notes:
        return cached
    if cached is None or not same:
        cached = update_table(repo, cached or RunTable(), listed)
    table = cached
    apply_notes(repo, table, notes)
    if use_cache:
        save_cache(path, table)
    return table


def apply_notes(repo: GitRepo, table: RunTable, notes: str | None) -> None:
    """Make the ``tags`` and ``note`` columns of ``table`` from the notes commit ``notes``."""
    found = {oid: parse_note(text) for oid, text in repo.notes().items()} if notes else {}
    size = len(table)
    run_tags = table.columns.get("run_tags") or [None] * size
    snapshots = table.columns.get("snapshot") or [None] * size
    empty = RunNote()
    chosen = [found.get(s, empty) if s else empty for s in snapshots]
    table.columns["tags"] = [merged_tags(t, n) for t, n in zip(run_tags, chosen, strict=True)]
    table.columns["note"] = [n.text or None for n in chosen]
    table.notes = notes


def update_table(repo: GitRepo, old: RunTable, listed: Mapping[str, str]) -> RunTable:
    """``old`` with rows of refs no longer ``listed`` dropped and new or moved runs read."""
    known = dict(zip(old.refs, range(len(old.refs)), strict=True))
    kept: dict[str, int] = {}
    fresh: list[tuple[str, str]] = []
    order = sorted(listed, reverse=True)  # run ids sort by start time: newest first
    for ref in order:
        commit = listed[ref]
        index = known.get(ref)
        if index is not None and old.commits[index] == commit:
            kept[ref] = index
        else:
            fresh.append((ref, commit))
    read = read_columns(repo, fresh)
    if not kept:  # every run read (a first query): the columns are in order already
        columns = {k: v for k, v in read.items() if v.count(None) < len(v)}
        return RunTable(order, [listed[ref] for ref in order], columns)
    at = {ref: i for i, (ref, _) in enumerate(fresh)}
    # Rows of the old table keep their place's values; fresh rows are written over them.
    places = [kept.get(ref, 0) for ref in order]
    fresh_places = [(i, at[ref]) for i, ref in enumerate(order) if ref in at]
    columns = {}
    for name in dict.fromkeys([*old.columns, *read]):
        values = old.columns.get(name)
        column = [values[i] for i in places] if values else [None] * len(order)
        new = read.get(name)
        for i, j in fresh_places:
            column[i] = None if new is None else new[j]
        if column.count(None) < len(column):
            columns[name] = column
    return RunTable(order, [listed[ref] for ref in order], columns)


# -- the cache file ----------------------------------------------------------------------


def load_cache(path: Path) -> RunTable | None:
    """The table stored at ``path``, or None if it is missing, damaged or of another format."""
    try:
        with open(path, "rb") as handle:
            data = pickle.load(handle)  # a machine-local file gitxp wrote
    except FileNotFoundError:
        return None
    except Exception:  # a damaged cache is rebuilt from the refs, whatever the damage
        return None
    if not isinstance(data, dict) or data.get("format") != CACHE_FORMAT:
        return None
    try:
        table = RunTable(
            list(data["refs"]), list(data["commits"]), dict(data["columns"]), data["notes"]
        )
    except (KeyError, TypeError):
        return None
    size = len(table.refs)
    if len(table.commits) != size or any(len(c) != size for c in table.columns.values()):
        return None
    return table


def save_cache(path: Path, table: RunTable) -> None:
    """Write ``table`` to ``path`` atomically; a cache that cannot be written is skipped."""
    data = {
        "format": CACHE_FORMAT,
        "refs": table.refs,
        "commits": table.commits,
        "columns": table.columns,
        "notes": table.notes,
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    except OSError:
        return  # a read-only repository: queries still work, only slower
    try:
        with os.fdopen(fd, "wb") as handle:
            pickle.dump(data, handle, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(temp, path)
    except BaseException as err:
        try:
            os.unlink(temp)
        except OSError:
            pass
        if not isinstance(err, OSError):  # a full disk only costs speed next time
            raise
