"""Which sweep each run belongs to: the ``sweep`` field of its run.json.

The query layer's ``sweep`` column is used when it has one; otherwise each run's run.json
is read once and the answer remembered by commit (a commit never changes), so a board of
2,000 runs reads them once, not on every visit of the sweep page.
"""

from __future__ import annotations

import threading
from typing import Any

from gitxp.errors import GitxpError
from gitxp.git.repo import GitRepo
from gitxp.query.cache import RunTable
from gitxp.store import checked
from gitxp.store.checked import RecordProblem
from gitxp.store.runs import read_record_file


def sweep_id(value: Any) -> str | None:
    """The sweep id of a run.json ``sweep`` value (text, or an object with an ``id``)."""
    if isinstance(value, dict):
        value = value.get("id")
    if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value):
        return str(value)
    return None


class SweepIndex:
    """Run commit → sweep id, read from run.json when the table has no ``sweep`` column."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._known: dict[str, str | None] = {}

    def of_rows(self, repo: GitRepo, table: RunTable) -> list[str | None]:
        """The sweep id of every row of ``table`` (None: not part of a sweep)."""
        column = table.columns.get("sweep")
        if column is not None:
            return [sweep_id(v) for v in column]
        out = []
        for commit in table.commits:
            found = self._known.get(commit, "")
            if found == "":
                found = self._read(repo, commit)
                with self._lock:
                    self._known[commit] = found
            out.append(found)
        return out

    @staticmethod
    def _read(repo: GitRepo, commit: str) -> str | None:
        try:  # a damaged run (not a commit, run.json malformed or huge) is in no sweep
            data = read_record_file(repo, commit, "run.json")
            info = None if data is None else checked.parse_json(data, "run.json")
        except (GitxpError, RecordProblem):
            return None
        return sweep_id(info.get("sweep")) if isinstance(info, dict) else None

    def rows(self, repo: GitRepo, table: RunTable, wanted: str) -> list[int]:
        """The rows of ``table`` whose run is part of sweep ``wanted``, newest first."""
        return [i for i, s in enumerate(self.of_rows(repo, table)) if s == wanted]

    def counts(self, repo: GitRepo, table: RunTable) -> dict[str, int]:
        """Every sweep id with its number of runs."""
        out: dict[str, int] = {}
        for found in self.of_rows(repo, table):
            if found is not None:
                out[found] = out.get(found, 0) + 1
        return out
