"""A run's artifact used as another run's input: the file, and the use to record.

``gitxp.use_artifact(RUN, path)``, ``_run.open_resource("gitxp://RUN/path")`` and
``gitxp run --input RUN:path`` all come here. The artifact is read from the producer's
commit (any name :func:`gitxp.store.runs.resolve` accepts), written once into
``<git-dir>/gitxp/inputs/<blob id>/<name>`` (read-only: never the user's files), and
described by a *use*: ``{"run", "commit", "path", "blob"}``. The recorder lists the
uses in ``run.json`` and makes each producer commit an extra parent of the record
commit, so ``git log --ancestry-path`` and ``git merge-base`` see the lineage and a
push of the consumer carries what it used.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path, PurePosixPath
from typing import Any

from gitxp.errors import UsageError
from gitxp.git.repo import GitRepo
from gitxp.store import record
from gitxp.store.runs import resolve

URL_PREFIX = "gitxp://"


def split_url(url: str) -> tuple[str, str]:
    """``gitxp://RUN/path`` → (RUN, path)."""
    run, _, path = url.removeprefix(URL_PREFIX).partition("/")
    if not run or not path:
        raise UsageError(f"{url!r}: write gitxp://RUN/ARTIFACT, e.g. gitxp://latest/model.pt")
    return run, path


def take_artifact(repo: GitRepo, spec: str, path: str) -> tuple[dict[str, Any], Path]:
    """The use of artifact ``path`` of run ``spec``, and a read-only file holding it."""
    name = _clean(path)
    run = resolve(repo, spec)
    entries = {
        p.removeprefix(f"{record.RECORD_DIR}/artifacts/"): oid
        for p, oid, _ in repo.walk_files(run.commit, f"{record.RECORD_DIR}/artifacts")
    }
    if name not in entries:
        have = ", ".join(sorted(entries)[:8]) or "none"
        raise UsageError(f"run {run.id[:10]} has no artifact {name!r} (it has: {have})")
    blob = entries[name]
    target = repo.state_dir / "inputs" / blob / PurePosixPath(name).name
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as out:
                repo.copy_blob(blob, out)  # streamed: a model file need not fit in memory
            os.chmod(tmp, 0o444)
            os.replace(tmp, target)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    return {"run": run.id, "commit": run.commit, "path": name, "blob": blob}, target


def _clean(path: str) -> str:
    parts = PurePosixPath(path.replace("\\", "/")).parts
    if not parts or path.startswith("/") or any(p in ("..", ".") for p in parts):
        raise UsageError(f"artifact {path!r}: name it as the run stored it, e.g. model.pt")
    return "/".join(parts)
