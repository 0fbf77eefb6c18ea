"""``gitxp import sacred FOLDER``: runs of Sacred's FileStorageObserver become gitxp runs."""

from __future__ import annotations

import sys
from typing import Any

import click

from gitxp.cli.common import open_repo


@click.group("import")
def import_() -> None:
    """Bring runs recorded by other tools into this repository."""


@import_.command("sacred")
@click.argument("folder", type=click.Path(file_okay=False), required=False)
@click.option("--sql", "url", metavar="URL", help="A SqlObserver database (SQLAlchemy URL).")
def sacred(folder: str | None, url: str | None) -> None:
    """Import the runs of a Sacred FileStorageObserver FOLDER or of --sql URL.

    Importing again skips the runs already imported.
    """
    from pathlib import Path

    repo = open_repo()
    if (folder is None) == (url is None):
        raise click.UsageError("give a FileStorageObserver FOLDER or --sql URL (one of them)")
    bar: Any
    if url is not None:
        from gitxp.sacred.sqlreader import import_sql

        report = import_sql(repo, url, progress=lambda sid: click.echo(f"run {sid}", err=True))
        where = url
    else:
        from gitxp.sacred.importer import import_file_storage

        assert folder is not None
        root = Path(folder)
        total = (
            sum(1 for p in root.iterdir() if p.is_dir() and not p.name.startswith(("_", ".")))
            if root.is_dir()
            else 0
        )
        with click.progressbar(length=total, label="importing", file=sys.stderr) as bar:
            report = import_file_storage(repo, folder, progress=lambda _: bar.update(1))
        where = folder
    for sacred_id, reason in report.skipped:
        click.echo(f"gitxp: warning: skipped {where}/{sacred_id}: {reason}", err=True)
    click.echo(
        f"imported {len(report.imported)} run{'s' if len(report.imported) != 1 else ''}"
        f", {len(report.present)} already here, {len(report.skipped)} skipped",
        err=True,
    )
    for sacred_id, run_id in report.imported:
        click.echo(f"{sacred_id}\t{run_id}")
    if report.skipped and not report.imported and not report.present:
        raise SystemExit(1)
