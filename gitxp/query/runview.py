"""One recorded run for Python users: ``gitxp.load_run(RUN)``.

A :class:`RecordedRun` reads its parts from the run's commit on first use: ``info``
(run.json), ``config``, ``metrics`` (a long pandas frame), ``artifacts`` (readable as
bytes or extracted to a path) and the source snapshot the run used.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from gitxp.errors import UnsafePathError, UsageError
from gitxp.git.fsck import unsafe_path
from gitxp.git.repo import GitRepo
from gitxp.query.frames import RepoLike, open_repo, read_metrics
from gitxp.store.restore import safe_tree_files
from gitxp.store.runs import RunRecord, load_sound, record

if TYPE_CHECKING:
    import pandas as pd

_TREE, _LINK, _SUBMODULE, _EXECUTABLE = 0o040000, 0o120000, 0o160000, 0o100755


@dataclass(frozen=True)
class Artifact:
    """A file the run stored (``add_artifact``): its name, size and content in git."""

    name: str
    size: int
    oid: str
    repo: GitRepo
    content_type: str | None = None
    metadata: dict[str, Any] | None = None

    def read(self) -> bytes:
        """The file's content."""
        return self.repo.blob_data(self.oid)

    def extract(self, dest: str | os.PathLike[str]) -> Path:
        """Write the file to ``dest`` (into it if ``dest`` is a folder, or ends with ``/``:
        a folder that does not exist yet is made); returns the path."""
        why = unsafe_path(self.name)
        if why is not None:
            raise UnsafePathError(f"artifact {self.name[:80]!r} has {why.removeprefix('a ')}")
        target = Path(dest)
        if target.is_dir() or str(dest).endswith(("/", os.sep)):
            target = target / PurePosixPath(self.name).name
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "wb") as handle:
            self.repo.copy_blob(self.oid, handle)
        return target


class RecordedRun:
    """A run read back from its commit (see the module docstring)."""

    def __init__(self, repo: GitRepo, rec: RunRecord) -> None:
        self.repo = repo
        self.record = rec

    def __repr__(self) -> str:
        return f"<RecordedRun {self.id} {self.info.get('status', '?')}>"

    @property
    def id(self) -> str:
        """The run id."""
        return self.record.ref.id

    @property
    def ref(self) -> str:
        """The run's ref, ``refs/gitxp/runs/<id>``."""
        return self.record.ref.ref

    @property
    def commit(self) -> str:
        """The commit the run's ref points at (its last record commit)."""
        return self.record.ref.commit

    @property
    def info(self) -> dict[str, Any]:
        """run.json: status, times, command, result, base commit, tags, …"""
        return self.record.info

    @property
    def config(self) -> dict[str, Any]:
        """The resolved config."""
        return self.record.config

    @property
    def host(self) -> dict[str, Any]:
        """Host facts."""
        return self.record.host

    @property
    def output(self) -> str:
        """The captured stdout/stderr."""
        return self.record.output

    @property
    def env_lock(self) -> str:
        """The dependency lock (``pip install -r`` format)."""
        return self.record.env_lock

    @property
    def result(self) -> Any:
        """The run's result (None if it set none)."""
        return self.info.get("result")

    @cached_property
    def metrics(self) -> pd.DataFrame:
        """Every logged value: columns ``name, step, value, timestamp``."""
        from gitxp.query.frames import metrics

        return metrics(self.id, repo=self.repo).drop(columns="run")

    def metric(self, name: str) -> pd.Series:
        """The values of metric ``name`` indexed by step."""
        from gitxp.query.frames import unknown_metric

        data = read_metrics(self.repo, self.commit)
        if name not in data:
            raise unknown_metric(name, sorted(data))
        frame = self.metrics[self.metrics["name"] == name]
        return frame.set_index("step")["value"].rename(name)

    @cached_property
    def artifacts(self) -> dict[str, Artifact]:
        """The run's artifacts by name."""
        return self._files("artifacts")

    @cached_property
    def resources(self) -> dict[str, Artifact]:
        """The resources the run opened, by name."""
        return self._files("resources")

    def _files(self, folder: str) -> dict[str, Artifact]:
        listed = {a.get("name"): a for a in self.info.get(folder) or () if isinstance(a, dict)}
        base = f"{record.RECORD_DIR}/{folder}"
        out = {}
        for path, oid, _mode in self.repo.walk_files(self.commit, base):
            name = path[len(base) + 1 :]
            meta = listed.get(name) or {}
            out[name] = Artifact(
                name=name,
                size=int(meta.get("size") or len(self.repo.blob_data(oid))),
                oid=oid,
                repo=self.repo,
                content_type=meta.get("content_type"),
                metadata=meta.get("metadata") or {},
            )
        return out

    # -- the source snapshot --------------------------------------------------------------

    @property
    def snapshot_commit(self) -> str:
        """The run's first commit: the source snapshot with the config and host facts."""
        return self.record.snapshot_commit

    @property
    def source_tree(self) -> str:
        """The tree id of the snapshot (``git ls-tree`` it, ``git diff`` against it)."""
        return self.repo.commit_tree(self.snapshot_commit)

    def source_files(self) -> list[str]:
        """Paths of the files in the source snapshot (``.gitxp/`` left out)."""
        return sorted(path for path, _, _ in self._source_entries())

    def read_source(self, path: str) -> bytes:
        """The content of ``path`` in the source snapshot."""
        if path.split("/", 1)[0] == record.RECORD_DIR:
            raise UsageError(f"{path} is part of the run record, not of the sources")
        data = self.repo.read_path(self.snapshot_commit, path)
        if data is None:
            raise UsageError(f"{path} is not in the sources of run {self.id}")
        return data

    def extract_source(self, dest: str | os.PathLike[str]) -> Path:
        """Write the source snapshot into the folder ``dest`` (new or empty); returns it."""
        target = Path(dest)
        if target.exists() and (not target.is_dir() or any(target.iterdir())):
            raise UsageError(f"{target} is not an empty folder; choose a new one")
        safe_tree_files(self.repo, self.record, self.repo.commit_tree(self.snapshot_commit))
        entries = self._source_entries()
        target.mkdir(parents=True, exist_ok=True)
        for path, oid, mode in entries:
            out = target.joinpath(*PurePosixPath(path).parts)
            out.parent.mkdir(parents=True, exist_ok=True)
            if mode == _LINK:
                os.symlink(os.fsdecode(self.repo.blob_data(oid)), out)
                continue
            with open(out, "xb") as handle:
                self.repo.copy_blob(oid, handle)
            if mode == _EXECUTABLE:
                out.chmod(out.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        return target

    def _source_entries(self) -> list[tuple[str, str, int]]:
        return [
            (path, oid, mode)
            for path, oid, mode in self.repo.walk_files(self.snapshot_commit)
            if mode not in (_TREE, _SUBMODULE) and path.split("/", 1)[0] != record.RECORD_DIR
        ]


def load_run(run: str = "latest", repo: RepoLike = ".") -> RecordedRun:
    """The run named by ``run``: an id prefix, ``latest``, ``latest~N`` or its ref."""
    git = open_repo(repo)
    return RecordedRun(git, load_sound(git, run))
