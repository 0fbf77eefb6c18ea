"""``gitxp import sacred FOLDER``: FileStorageObserver runs become gitxp runs.

Each numbered folder of a FileStorageObserver directory becomes one gitxp run: its source
files (``_sources/``) are the run's tree, ``config.json`` its config, ``metrics.json`` its
metrics, ``cout.txt`` its output, the artifact files its artifacts, the recorded
dependencies its env lock, Sacred's host info its ``host.json``; times, status, result
and traceback are Sacred's. Sacred's own files are kept under ``.gitxp/resources/sacred/``
and its id in ``run.json`` (``sacred.id``).

The gitxp id comes from the run's start time and a hash of its folder name, experiment
and start time, so importing the same folder again skips what is already there.

Everything read is untrusted: paths must stay inside the folder (no ``..``, no absolute
paths, no symlinks out), files are size-limited, JSON must parse; a run that breaks a
rule is skipped with a one-line reason and nothing of it is written.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from gitxp.errors import UsageError

__all__ = ["BadRun", "ImportReport", "SacredRun", "import_file_storage", "record_sacred_run"]

MAX_JSON = 64 * 1024 * 1024  # run.json, config.json, metrics.json, info.json
MAX_FILE = 512 * 1024 * 1024  # one source, artifact or output file
_STATUSES = {"COMPLETED", "FAILED", "INTERRUPTED", "TIMEOUT", "QUEUED", "RUNNING"}


class BadRun(Exception):
    """One run folder breaks a rule: it is skipped with this reason."""


@dataclass
class ImportReport:
    """What an import did: (sacred id, gitxp id) imported, (sacred id, reason) skipped."""

    imported: list[tuple[str, str]] = field(default_factory=list)
    present: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)


def _inside(root: Path, relative: str, what: str) -> Path:
    """``root/relative`` if it is a plain relative path that stays inside ``root``."""
    pure = PurePosixPath(relative)
    if not relative or pure.is_absolute() or ".." in pure.parts or "\\" in relative:
        raise BadRun(f"{what} {relative!r} is not a plain path inside the folder")
    path = root / pure
    try:
        real = path.resolve(strict=True)
    except (OSError, RuntimeError):
        raise BadRun(f"{what} {relative!r} is missing") from None
    if not real.is_relative_to(root.resolve()):
        raise BadRun(f"{what} {relative!r} leads outside the folder")
    if not real.is_file():
        raise BadRun(f"{what} {relative!r} is not a file")
    if real.stat().st_size > MAX_FILE:
        raise BadRun(f"{what} {relative!r} is larger than {MAX_FILE // 2**20} MiB")
    return real


def _json(path: Path, what: str, required: bool = True) -> Any:
    if not path.exists() and not required:
        return None
    if not path.is_file():
        raise BadRun(f"{what} is missing")
    if path.stat().st_size > MAX_JSON:
        raise BadRun(f"{what} is larger than {MAX_JSON // 2**20} MiB")
    try:
        return json.loads(path.read_bytes())
    except (ValueError, UnicodeDecodeError) as err:
        raise BadRun(f"{what} is not valid JSON ({err})") from None


def _timestamp(value: Any, what: str) -> float | None:
    """Sacred's naive-UTC ISO time as seconds since the epoch."""
    if value is None:
        return None
    try:
        when = datetime.fromisoformat(str(value))
    except ValueError:
        raise BadRun(f"{what} {value!r} is not an ISO time") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


def _dict(value: Any, what: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadRun(f"{what} is not a JSON object")
    return value


def import_file_storage(
    repo: Any, folder: str | os.PathLike[str], progress: Callable[[str], None] | None = None
) -> ImportReport:
    """Import every run of the FileStorageObserver directory ``folder`` into ``repo``."""
    root = Path(folder)
    if not root.is_dir():
        raise UsageError(f"{folder} is not a folder; give the FileStorageObserver directory")
    runs = sorted(
        (p for p in root.iterdir() if p.is_dir() and not p.name.startswith(("_", "."))),
        key=lambda p: (not p.name.isdigit(), int(p.name) if p.name.isdigit() else 0, p.name),
    )
    if not runs and not (root / "_sources").is_dir():
        raise UsageError(f"{folder} holds no FileStorageObserver runs (numbered folders)")
    report = ImportReport()
    for run_dir in runs:
        try:
            outcome = _import_one(repo, root, run_dir)
        except BadRun as err:
            report.skipped.append((run_dir.name, str(err)))
        else:
            (report.imported if outcome[1] else report.present).append((run_dir.name, outcome[0]))
        if progress is not None:
            progress(run_dir.name)
    return report


@dataclass
class SacredRun:
    """One Sacred run as read from its store, checked, ready to record.

    ``run`` has the fields of FileStorage's ``run.json``; ``sources`` maps relative paths
    to contents; ``origin`` says where it came from (a folder or a database URL).
    """

    sacred_id: str
    origin: str
    run: dict[str, Any]
    config: dict[str, Any]
    metrics: dict[str, Any] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, bytes] = field(default_factory=dict)
    artifacts: list[tuple[str, bytes]] = field(default_factory=list)
    output: bytes = b""
    originals: dict[str, bytes] = field(default_factory=dict)
    fallback_time: float = 0.0


def _import_one(repo: Any, root: Path, run_dir: Path) -> tuple[str, bool]:
    return record_sacred_run(repo, read_file_storage_run(root, run_dir))


def read_file_storage_run(root: Path, run_dir: Path) -> SacredRun:
    """One numbered folder of a FileStorageObserver directory, checked."""
    from gitxp.store import record

    run = _dict(_json(run_dir / "run.json", "run.json"), "run.json")
    experiment = _dict(run.get("experiment"), "run.json experiment")
    sources: dict[str, bytes] = {}
    for entry in experiment.get("sources") or []:
        if not (isinstance(entry, list) and len(entry) == 2):
            raise BadRun("run.json experiment.sources holds an entry that is not [path, file]")
        rel, stored = str(entry[0]), str(entry[1])
        if PurePosixPath(rel).parts[:1] == (record.RECORD_DIR,):
            raise BadRun(f"source {rel!r} is inside gitxp's reserved {record.RECORD_DIR}/")
        sources[rel] = _inside(root, stored, "source").read_bytes()
    artifacts = [
        (str(a), _inside(run_dir, str(a), "artifact").read_bytes())
        for a in run.get("artifacts") or []
    ]
    output = b""
    if (run_dir / "cout.txt").exists():
        output = _inside(run_dir, "cout.txt", "output").read_bytes()
    return SacredRun(
        sacred_id=run_dir.name,
        origin=str(root.resolve()),
        run=run,
        config=_dict(_json(run_dir / "config.json", "config.json", False), "config.json"),
        metrics=_dict(_json(run_dir / "metrics.json", "metrics.json", False), "metrics.json"),
        info=_dict(_json(run_dir / "info.json", "info.json", False), "info.json"),
        sources=sources,
        artifacts=artifacts,
        output=output,
        originals={
            f"sacred/{f}": (run_dir / f).read_bytes()
            for f in ("run.json", "config.json", "metrics.json", "info.json")
            if (run_dir / f).is_file()
        },
        fallback_time=os.stat(run_dir / "run.json").st_mtime,
    )


def record_sacred_run(repo: Any, got: SacredRun) -> tuple[str, bool]:
    """Record ``got`` as a gitxp run; ``(run id, False)`` if it was imported before."""
    from gitxp.git.snapshot import Snapshot
    from gitxp.store import record
    from gitxp.store.ids import new_run_id
    from gitxp.store.recorder import Recorder, RunSpec, run_ref

    run, config = got.run, got.config
    experiment = _dict(run.get("experiment"), "run.json experiment")
    host = _dict(run.get("host"), "run.json host")
    meta = _dict(run.get("meta"), "run.json meta")
    status = str(run.get("status") or "")
    if status not in _STATUSES:
        raise BadRun(f"run.json status {status!r} is not one of Sacred's")
    start = _timestamp(run.get("start_time"), "start_time")
    stop = _timestamp(run.get("stop_time"), "stop_time")
    beat = _timestamp(run.get("heartbeat"), "heartbeat")
    queued = _timestamp(meta.get("queue_time"), "queue_time")
    when = start or queued or got.fallback_time
    name = str(experiment.get("name") or "")
    key = f"sacred-file-storage\0{got.sacred_id}\0{name}\0{run.get('start_time')}".encode()
    run_id = new_run_id(when, key=key)
    if repo.ref_target(run_ref(run_id)) is not None:
        return run_id, False
    tree: dict[str, Any] = {}
    for rel, data in got.sources.items():
        _inside_tree(tree, rel, data)
    dependencies = [str(d) for d in experiment.get("dependencies") or []]
    spec = RunSpec(
        command=["sacred", str(experiment.get("mainfile") or name), str(run.get("command"))],
        experiment=name or None,
        name=(meta.get("options") or {}).get("--name"),
        comment=meta.get("comment"),
        config=config,
        seed=config.get("seed") if isinstance(config.get("seed"), int) else None,
        capture="sacred-import",
        run_id=run_id,
        queued=status == "QUEUED",
        env_lock="".join(f"{d}\n" for d in dependencies),
        snapshot=Snapshot(repo.write_tree(tree), None, None, False, False),
        cwd=".",
        extra={
            "supervisor": "sacred-import",
            "command_name": run.get("command"),
            "sacred": {
                "id": got.sacred_id,
                "folder": got.origin,
                "experiment": experiment,
                "meta": meta,
            },
        },
        extra_files={"host.json": record.dump_json({"sacred": True, **host})},
    )
    recorder = Recorder.start(repo, spec)
    if status == "QUEUED":
        recorder.close_queued()
        return run_id, True
    spool = recorder.spool
    try:
        spool.output_path.write_bytes(got.output)
        for metric, entry in got.metrics.items():
            entry = _dict(entry, f"metrics.json {metric}")
            steps, values = entry.get("steps") or [], entry.get("values") or []
            for step, value in zip(steps, values, strict=False):
                spool.log_scalar(str(metric), value, int(step) if isinstance(step, int) else None)
        for artifact, data in got.artifacts:
            clean = PurePosixPath(artifact)
            if clean.is_absolute() or ".." in clean.parts or not clean.parts:
                raise BadRun(f"artifact {artifact!r} is not a plain path")
            target = spool.path / "staged" / clean
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            spool.add_artifact(target, artifact)
        for original, data in got.originals.items():
            target = spool.path / "resources" / original
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            spool.event("resource", name=original, metadata={"kind": "sacred"})
        if got.info:
            spool.event("info", value=got.info)
        times = {
            "start_time": record.iso(start),
            "stop_time": record.iso(stop),
            "heartbeat": record.iso(beat or stop or start),
        }
        spool.event("meta", value={k: v for k, v in times.items() if v is not None})
    except BaseException:
        recorder.discard()
        raise
    trace = run.get("fail_trace")
    if isinstance(trace, list):
        trace = "".join(str(t) for t in trace)
    recorder.finish(
        "DIED" if status == "RUNNING" else status,
        fail_trace=str(trace) if trace else None,
        result=run.get("result"),
        has_result="result" in run,
    )
    return run_id, True


def _inside_tree(tree: dict[str, Any], rel: str, data: bytes) -> None:
    """Place ``data`` at the relative path ``rel`` of a nested tree mapping."""
    parts = PurePosixPath(rel).parts
    if not parts or PurePosixPath(rel).is_absolute() or ".." in parts or "\\" in rel:
        raise BadRun(f"source path {rel!r} is not a plain relative path")
    if parts[0] == ".gitxp":
        raise BadRun(f"source {rel!r} is inside gitxp's reserved .gitxp/")
    node = tree
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise BadRun(f"source path {rel!r} clashes with another source")
        node = child
    node[parts[-1]] = data
