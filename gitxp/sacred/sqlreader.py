"""``gitxp import sacred --sql URL``: the runs of Sacred's SqlObserver database.

The tables are read by reflection (SQLAlchemy, imported only here): ``run`` with its
``experiment`` (name, sources through ``experiments_sources``, dependencies through
``experiments_dependencies``), ``host`` and ``artifact`` rows. SqlObserver keeps no
metrics, so imported runs have none. Every value is checked like a FileStorage folder's
(JSON must parse, source paths must be plain relative paths, sizes are limited).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from gitxp.errors import UsageError
from gitxp.sacred.importer import MAX_FILE, BadRun, ImportReport, SacredRun, record_sacred_run

__all__ = ["import_sql"]

_TABLES = (
    "run",
    "experiment",
    "host",
    "source",
    "artifact",
    "dependency",
    "experiments_sources",
    "experiments_dependencies",
)


def _iso(value: Any) -> str | None:
    return (
        None
        if value is None
        else (value.isoformat() if hasattr(value, "isoformat") else str(value))
    )


def _loads(text: Any, what: str) -> Any:
    if text is None or text == "":
        return {}
    if len(text) > MAX_FILE:
        raise BadRun(f"{what} is too large")
    try:
        return json.loads(text)
    except (TypeError, ValueError) as err:
        raise BadRun(f"{what} is not valid JSON ({err})") from None


def _rows(connection: Any, tables: dict[str, Any], name: str, **where: Any) -> list[Any]:
    table = tables[name]
    query = table.select()
    for column, value in where.items():
        query = query.where(table.c[column] == value)
    return list(connection.execute(query).mappings())


def _read(connection: Any, tables: dict[str, Any], url: str) -> Iterator[SacredRun | BadRun]:
    for row in _rows(connection, tables, "run"):
        sacred_id = str(row["run_id"])
        try:
            yield _one(connection, tables, url, row)
        except BadRun as err:
            yield BadRun(f"{sacred_id}: {err}")


def _one(connection: Any, tables: dict[str, Any], url: str, row: Any) -> SacredRun:
    (exp,) = _rows(connection, tables, "experiment", experiment_id=row["experiment_id"]) or [{}]
    hosts = _rows(connection, tables, "host", host_id=row["host_id"])
    host = dict(hosts[0]) if hosts else {}
    sources: dict[str, bytes] = {}
    links = _rows(connection, tables, "experiments_sources", experiment_id=row["experiment_id"])
    for link in links:
        for source in _rows(connection, tables, "source", source_id=link["source_id"]):
            content = (source["content"] or "").encode()
            if len(content) > MAX_FILE:
                raise BadRun(f"source {source['filename']!r} is too large")
            sources[str(source["filename"])] = content
    deps = []
    links = _rows(
        connection, tables, "experiments_dependencies", experiment_id=row["experiment_id"]
    )
    for link in links:
        for dep in _rows(connection, tables, "dependency", dependency_id=link["dependency_id"]):
            deps.append(f"{dep['name']}=={dep['version']}")
    artifacts = []
    for art in _rows(connection, tables, "artifact", run_id=row["run_id"]):
        content = art["content"] or b""
        if isinstance(content, str):  # SQLite may hand back what Sacred wrote as text
            content = content.encode()
        if len(content) > MAX_FILE:
            raise BadRun(f"artifact {art['filename']!r} is too large")
        artifacts.append((str(art["filename"]), bytes(content)))
    run = {
        "experiment": {
            "name": exp.get("name"),
            "base_dir": exp.get("base_dir"),
            "dependencies": sorted(deps),
            "mainfile": None,
        },
        "command": row["command"],
        "host": {
            "hostname": host.get("hostname"),
            "os": [host.get("os"), host.get("os_info")],
            "python_version": host.get("python_version"),
            "cpu": host.get("cpu"),
        },
        "start_time": _iso(row["start_time"]),
        "heartbeat": _iso(row["heartbeat"]),
        "stop_time": _iso(row["stop_time"]),
        "meta": {"comment": row["comment"]} if row["comment"] else {},
        "status": row["status"],
        "result": row["result"],
        "fail_trace": row["fail_trace"],
        "artifacts": [name for name, _ in artifacts],
    }
    if row["queue_time"] is not None:
        run["meta"]["queue_time"] = _iso(row["queue_time"])
    config = _loads(row["config"], "config")
    info = _loads(row["info"], "info")
    if not isinstance(config, dict) or not isinstance(info, dict):
        raise BadRun("config or info is not a JSON object")
    return SacredRun(
        sacred_id=str(row["run_id"]),
        origin=url,
        run=run,
        config=config,
        info=info,
        sources=sources,
        artifacts=artifacts,
        output=(row["captured_out"] or "").encode(),
    )


def import_sql(repo: Any, url: str, progress: Callable[[str], None] | None = None) -> ImportReport:
    """Import every run of the SqlObserver database at ``url`` (an SQLAlchemy URL)."""
    try:
        import sqlalchemy as sa
    except ImportError:
        raise UsageError("--sql needs SQLAlchemy: pip install sqlalchemy") from None
    try:
        parsed = sa.engine.make_url(url)
    except (sa.exc.ArgumentError, ValueError):
        raise UsageError(f"--sql {url!r} is not a database URL (e.g. sqlite:///runs.db)") from None
    if parsed.get_backend_name() == "sqlite":
        from pathlib import Path

        if not parsed.database or not Path(parsed.database).is_file():
            raise UsageError(f"--sql {url}: no such SQLite file; check the path")
    try:
        engine = sa.create_engine(url)
        metadata = sa.MetaData()
        metadata.reflect(engine)
    except (sa.exc.SQLAlchemyError, ValueError) as err:
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise UsageError(f"cannot read the database {url}: {first}") from None
    missing = [t for t in _TABLES if t not in metadata.tables]
    if missing:
        raise UsageError(
            f"{url} is not a Sacred SqlObserver database (no table {', '.join(missing)})"
        )
    report = ImportReport()
    with engine.connect() as connection:
        for got in _read(connection, dict(metadata.tables), url):
            if isinstance(got, BadRun):
                sacred_id, _, reason = str(got).partition(": ")
                report.skipped.append((sacred_id, reason))
            else:
                try:
                    run_id, new = record_sacred_run(repo, got)
                except BadRun as err:
                    report.skipped.append((got.sacred_id, str(err)))
                else:
                    (report.imported if new else report.present).append((got.sacred_id, run_id))
                if progress is not None:
                    progress(got.sacred_id)
    engine.dispose()
    return report
