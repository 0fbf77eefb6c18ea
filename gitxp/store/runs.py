"""Finding and reading runs: refs under ``refs/gitxp/runs/`` and their record commits."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from gitxp.errors import RunNotFoundError
from gitxp.git.repo import RUNS_PREFIX, GitRepo
from gitxp.store import record
from gitxp.store.ids import normalize_prefix

_LATEST = re.compile(r"^latest(?:~(\d+))?$")


@dataclass(frozen=True)
class RunRef:
    """A run's id, its ref name and the commit the ref points at."""

    id: str
    ref: str
    commit: str


def list_runs(repo: GitRepo) -> list[RunRef]:
    """Every run in ``repo``, newest first (run ids sort by start time)."""
    runs = [
        RunRef(name[len(RUNS_PREFIX) :], name, target)
        for name, target in repo.refs(RUNS_PREFIX).items()
    ]
    runs.sort(key=lambda r: r.id, reverse=True)
    return runs


def resolve(repo: GitRepo, spec: str, runs: list[RunRef] | None = None) -> RunRef:
    """The run named by ``spec``: a unique id prefix, a full ref, or ``latest[~N]``."""
    runs = list_runs(repo) if runs is None else runs
    text = spec.strip()
    latest = _LATEST.match(text)
    if latest:
        back = int(latest.group(1) or 0)
        if back >= len(runs):
            have = f"only {len(runs)} run{'s' if len(runs) != 1 else ''}"
            raise RunNotFoundError(f"{text}: this repository has {have}")
        return runs[back]
    if text.startswith("refs/"):
        for run in runs:
            if run.ref == text:
                return run
        raise RunNotFoundError(f"no run at {text}; 'gitxp ls' lists the runs")
    prefix = normalize_prefix(text)
    if prefix is None:
        raise RunNotFoundError(
            f"{text!r} is not a run id; use an id prefix from 'gitxp ls', or latest, latest~1"
        )
    matches = [run for run in runs if run.id.startswith(prefix)]
    if not matches:
        raise RunNotFoundError(f"no run matches {text!r}; 'gitxp ls' lists the runs")
    if len(matches) > 1:
        shown = ", ".join(m.id[:12] for m in matches[:5])
        more = f" and {len(matches) - 5} more" if len(matches) > 5 else ""
        raise RunNotFoundError(
            f"{text!r} is ambiguous: it matches {shown}{more}; type more characters"
        )
    return matches[0]


@dataclass
class RunRecord:
    """One run as recorded in its commit; heavier parts are read on first use."""

    repo: GitRepo
    ref: RunRef
    info: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, repo: GitRepo, ref: RunRef) -> RunRecord:
        """Read the run.json of ``ref``'s commit."""
        raw = repo.read_path(ref.commit, f"{record.RECORD_DIR}/run.json")
        info = json.loads(raw) if raw else {"id": ref.id, "status": "UNKNOWN"}
        return cls(repo, ref, info)

    def _file(self, name: str) -> bytes | None:
        return self.repo.read_path(self.ref.commit, f"{record.RECORD_DIR}/{name}")

    @cached_property
    def config(self) -> dict[str, Any]:
        """The resolved config."""
        return dict(record.load_yaml(self._file("config.yaml")) or {})

    @cached_property
    def metrics(self) -> dict[str, dict[str, list[Any]]]:
        """``{name: {"steps", "values", "timestamps"}}``."""
        raw = self._file("metrics.json")
        return dict(json.loads(raw)) if raw else {}

    @cached_property
    def host(self) -> dict[str, Any]:
        """Host facts."""
        raw = self._file("host.json")
        return dict(json.loads(raw)) if raw else {}

    @cached_property
    def env_lock(self) -> str:
        """The env lock text."""
        return (self._file("env.lock") or b"").decode()

    @cached_property
    def output(self) -> str:
        """The captured output."""
        return (self._file("output.log") or b"").decode("utf-8", "replace")

    @property
    def snapshot_commit(self) -> str:
        """The run's snapshot commit (the first commit of the run)."""
        commit = self.ref.commit
        if self._is_snapshot(commit):
            return commit
        return self.repo.commit_parents(commit)[0]

    def _is_snapshot(self, commit: str) -> bool:
        base = self.info.get("base_commit")
        parents = self.repo.commit_parents(commit)
        return parents == ([base] if base else [])
