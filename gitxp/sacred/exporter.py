"""``gitxp export --sacred DIR``: gitxp runs written in FileStorageObserver's layout.

``DIR/<n>/`` gets ``run.json``, ``config.json``, ``metrics.json``, ``cout.txt``,
``info.json`` (when there is info) and the artifact files; the run's Python sources go to
``DIR/_sources/<stem>_<md5><ext>`` as Sacred stores them. Numbers continue after the
highest one in ``DIR``; a run exported before (its gitxp id is in ``meta.gitxp_id``) is
not written again, so the command can be repeated as runs are added.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from gitxp.errors import UsageError

__all__ = ["export_file_storage"]

MAX_SOURCES = 500  # Python files of one snapshot written as sources
_RESERVED = {"run.json", "config.json", "cout.txt", "metrics.json", "info.json"}


def _naive(iso: Any) -> str | None:
    """gitxp's ISO time (with zone) as Sacred's naive-UTC ISO time."""
    if not iso:
        return None
    when = datetime.fromisoformat(str(iso))
    if when.tzinfo is not None:
        when = when.astimezone(UTC).replace(tzinfo=None)
    return when.isoformat()


def _epoch_naive(value: Any) -> str | None:
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, tz=UTC).replace(tzinfo=None).isoformat()
    return _naive(value)


def _existing(root: Path) -> tuple[set[str], int]:
    seen: set[str] = set()
    highest = 0
    for child in root.iterdir():
        if not (child.is_dir() and child.name.isdigit()):
            continue
        highest = max(highest, int(child.name))
        try:
            data = json.loads((child / "run.json").read_text())
            seen.add(str(data["meta"]["gitxp_id"]))
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return seen, highest


def export_file_storage(
    repo: Any, folder: str | os.PathLike[str], progress: Callable[[str], None] | None = None
) -> list[tuple[str, str]]:
    """Write every run of ``repo`` not yet in ``folder``; returns (gitxp id, folder name)."""
    from gitxp.store.runs import RunRecord, list_runs

    root = Path(folder)
    if root.exists() and not root.is_dir():
        raise UsageError(f"{folder} is not a folder")
    root.mkdir(parents=True, exist_ok=True)
    seen, highest = _existing(root)
    written: list[tuple[str, str]] = []
    for ref in reversed(list_runs(repo)):  # oldest first, so numbers follow time
        if ref.id in seen:
            if progress is not None:
                progress(ref.id)
            continue
        record = RunRecord.load(repo, ref)
        highest += 1
        target = root / str(highest)
        target.mkdir()
        _write_run(repo, record, ref, root, target)
        written.append((ref.id, target.name))
        if progress is not None:
            progress(ref.id)
    return written


def _sources(repo: Any, record: Any, root: Path) -> list[list[str]]:
    commit = record.snapshot_commit
    paths = [
        path
        for path, _, _ in repo.walk_files(commit)
        if path.endswith(".py") and not path.startswith(".gitxp/")
    ][:MAX_SOURCES]
    sources = []
    store = root / "_sources"
    for path in sorted(paths):
        data = repo.read_path(commit, path)
        if data is None:
            continue
        digest = hashlib.md5(data, usedforsecurity=False).hexdigest()
        pure = PurePosixPath(path)
        name = f"{pure.stem}_{digest}{pure.suffix}"
        store.mkdir(exist_ok=True)
        if not (store / name).exists():
            (store / name).write_bytes(data)
        sources.append([path, f"_sources/{name}"])
    return sources


def _host(host: dict[str, Any]) -> dict[str, Any]:
    if host.get("sacred"):
        return {k: v for k, v in host.items() if k != "sacred"}
    os_facts = host.get("os") or {}
    return {
        "hostname": host.get("hostname"),
        "os": [os_facts.get("system"), host.get("kernel")],
        "python_version": (host.get("python") or {}).get("version"),
        "cpu": (host.get("cpu") or {}).get("model"),
        "ENV": host.get("env") or {},
    }


def _write_run(repo: Any, record: Any, ref: Any, root: Path, target: Path) -> None:
    info = record.info
    sacred = info.get("sacred") or {}
    artifacts = []
    for path, _, _ in repo.walk_files(ref.commit, ".gitxp/artifacts"):
        name = path[len(".gitxp/artifacts/") :]
        if "/" in name or name in _RESERVED:
            name = name.replace("/", "_")
            if name in _RESERVED:
                name = f"artifact_{name}"
        data = repo.read_path(ref.commit, path)
        if data is not None:
            (target / name).write_bytes(data)
            artifacts.append(name)
    trace = info.get("fail_trace")
    meta = dict(sacred.get("meta") or {})
    meta.setdefault("command", info.get("command_name") or "main")
    meta.setdefault("options", {})
    meta.setdefault("named_configs", info.get("named_configs") or [])
    meta.setdefault("config_updates", info.get("config_updates") or {})
    meta["gitxp_id"] = ref.id
    if info.get("comment"):
        meta["comment"] = info["comment"]
    lock = record.env_lock or ""
    run = {
        "experiment": {
            "name": info.get("experiment") or "",
            "base_dir": str(repo.workdir),
            "sources": _sources(repo, record, root),
            "dependencies": [
                line.strip()
                for line in lock.splitlines()
                if "==" in line and not line.startswith("#")
            ],
            "repositories": [],
            "mainfile": (sacred.get("experiment") or {}).get("mainfile"),
        },
        "command": info.get("command_name") or meta["command"],
        "host": _host(record.host or {}),
        "start_time": _naive(info.get("start_time")),
        "meta": meta,
        "status": "RUNNING" if info.get("status") == "DIED" else info.get("status"),
        "resources": [],
        "artifacts": artifacts,
        "heartbeat": _naive(info.get("heartbeat")),
        "result": info.get("result"),
        "stop_time": _naive(info.get("stop_time")),
    }
    if trace:
        run["fail_trace"] = str(trace).splitlines(keepends=True)
    metrics = {
        name: {
            "steps": series.get("steps", []),
            "values": series.get("values", []),
            "timestamps": [_epoch_naive(t) for t in series.get("timestamps", [])],
        }
        for name, series in (record.metrics or {}).items()
    }
    (target / "run.json").write_text(json.dumps(run, indent=2, default=str))
    (target / "config.json").write_text(json.dumps(record.config or {}, indent=2, default=str))
    (target / "metrics.json").write_text(json.dumps(metrics, indent=2))
    (target / "cout.txt").write_text(record.output or "")
    if info.get("info"):
        (target / "info.json").write_text(json.dumps(info["info"], indent=2, default=str))
