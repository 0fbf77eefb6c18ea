"""Commands that share runs: push, fetch, hooks."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

import click

from gitxp.cli.common import complete_remotes_and_runs, complete_runs, open_repo
from gitxp.errors import UsageError
from gitxp.share.remotes import split_remote_and_runs

if TYPE_CHECKING:
    from gitxp.share.sync import FetchReport


def _progress(quiet: bool) -> Callable[[str], None] | None:
    """Progress text for an interactive stderr; None when quiet or not a terminal."""
    if quiet or not sys.stderr.isatty():
        return None
    return lambda text: click.echo(text, err=True, nl=False)


def plural(count: int, word: str = "run") -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


@click.command()
@click.argument(
    "args", nargs=-1, metavar="[REMOTE] [RUN]...", shell_complete=complete_remotes_and_runs
)
@click.option("--status", help="Only runs with this status (COMPLETED, FAILED, …).")
@click.option("-w", "--where", metavar="EXPR", help="Only runs matching this query (as in ls).")
@click.option("--delete", is_flag=True, help="Delete the named runs on the remote.")
@click.option("-n", "--dry-run", is_flag=True, help="Say what would be pushed; send nothing.")
@click.option("-q", "--quiet", is_flag=True, help="No progress; report only what was sent.")
def push(
    args: tuple[str, ...],
    status: str | None,
    where: str | None,
    delete: bool,
    dry_run: bool,
    quiet: bool,
) -> None:
    """Push runs to REMOTE (default: gitxp.remote, else origin): every run it lacks or
    holds an older state of, or the RUNs named."""
    from gitxp.share.sync import push as push_

    repo = open_repo()
    remote, runs = split_remote_and_runs(repo, args, remote_runs=delete)
    report = push_(
        repo,
        remote,
        runs,
        status=status,
        where=where,
        delete=delete,
        dry_run=dry_run,
        progress=_progress(quiet),
    )
    where_to = report.remote
    if report.deleted:
        click.echo(
            f"deleted {plural(len(report.deleted))} on {where_to}: " + ", ".join(report.deleted)
        )
    sent = len(report.created) + len(report.updated)
    if sent:
        verb = "would push" if dry_run else "pushed"
        objects = "" if dry_run else f"; {plural(report.objects, 'object')}"
        click.echo(
            f"{verb} {plural(sent)} to {where_to} ({len(report.created)} new, "
            f"{len(report.updated)} updated{objects})"
        )
    elif not delete and not quiet and not report.conflicts and not report.rejected:
        click.echo(f"nothing to push: {where_to} is up to date ({plural(len(report.unchanged))})")
    if report.notes:
        if report.notes_problem:
            click.echo(f"gitxp: {report.notes}", err=True)
        else:
            click.echo(report.notes)
    if report.attestations:
        verb = "would push" if dry_run else "pushed"
        click.echo(f"attestations: {verb} {len(report.attestations)}")
    for line in report.attestation_problems:
        click.echo(f"gitxp: attestation {line}", err=True)
    for run_id, why in report.behind:
        click.echo(
            f"gitxp: {where_to} has a later state of run {run_id} ({why}); 'gitxp fetch' brings it",
            err=True,
        )
    for run_id, why in report.conflicts:
        click.echo(f"gitxp: conflict: run {run_id}: {why}; not overwritten", err=True)
    for run_id, why in report.rejected:
        click.echo(f"gitxp: rejected: run {run_id}: {why}", err=True)
    for line in report.messages:
        click.echo(f"remote: {line}", err=True)
    if not report.ok:
        failed = len(report.conflicts) + len(report.rejected)
        click.echo(f"gitxp: error: {plural(failed)} not pushed (see above)", err=True)
        sys.exit(1)


@click.command()
@click.argument(
    "args", nargs=-1, metavar="[REMOTE] [RUN]...", shell_complete=complete_remotes_and_runs
)
@click.option("-q", "--quiet", is_flag=True, help="No progress; report only what arrived.")
@click.option("--no-artifacts", is_flag=True, help="Leave files over --blob-limit on the remote.")
@click.option("--blob-limit", default="1m", show_default=True, help="With --no-artifacts.")
def fetch(args: tuple[str, ...], quiet: bool, no_artifacts: bool, blob_limit: str) -> None:
    """Fetch runs from REMOTE (default: gitxp.remote, else origin): all, or the RUNs named."""
    from gitxp.share.sync import fetch as fetch_

    repo = open_repo()
    remote, runs = split_remote_and_runs(repo, args, remote_runs=True)
    limit = blob_limit if no_artifacts else None
    report = fetch_(repo, remote, runs, progress=_progress(quiet), blob_limit=limit)
    _report_fetch(report, quiet)


def _report_fetch(report: FetchReport, quiet: bool) -> None:
    """What a fetch (or a bundle import) brought, its conflicts; exit 1 on any conflict."""
    got = len(report.created) + len(report.updated)
    if got:
        click.echo(
            f"fetched {plural(got)} from {report.remote} ({len(report.created)} new, "
            f"{len(report.updated)} updated; {plural(report.objects, 'object')})"
        )
    elif not quiet and not report.conflicts:
        click.echo(f"nothing new on {report.remote} ({plural(len(report.unchanged))} up to date)")
    if report.notes:
        if report.notes_problem:
            click.echo(f"gitxp: {report.notes}", err=True)
        else:
            click.echo(report.notes)
    if report.attestations:
        click.echo(f"attestations: fetched {len(report.attestations)}")
    for line in report.attestation_problems:
        click.echo(f"gitxp: attestation {line}", err=True)
    for run_id, why in report.ahead:
        click.echo(f"gitxp: run {run_id} is newer here ({why}); 'gitxp push' sends it", err=True)
    for run_id, why in report.conflicts:
        click.echo(f"gitxp: conflict: run {run_id}: {why}; kept the local one", err=True)
    for run_id, why in report.refused:
        click.echo(f"gitxp: refused run {run_id} from {report.remote}: {why}", err=True)
    if not report.ok:
        missed = len(report.conflicts) + len(report.refused)
        click.echo(f"gitxp: error: {plural(missed)} not fetched (see above)", err=True)
        sys.exit(1)


def ls_remote(remote: str, as_json: bool, status: str | None, limit: int | None) -> None:
    from gitxp.query.listing import local_time, table
    from gitxp.share.remote_listing import remote_runs
    from gitxp.store.record import iso

    repo = open_repo()
    runs, missing = remote_runs(repo, remote)
    if status:
        runs = [r for r in runs if str(r.info.get("status", "")).upper() == status.upper()]
    runs = runs[:limit] if limit is not None else runs
    if as_json:
        rows = [
            {
                "id": r.id,
                "commit": r.commit,
                "here": r.here,
                "start_time": r.info.get("start_time") or iso(r.start),
                **{k: r.info.get(k) for k in ("status", "experiment", "name") if r.info},
            }
            for r in runs
        ]
        click.echo(json.dumps(rows, indent=2))
        return
    if runs:
        header = ["ID", "EXPERIMENT", "STATUS", "START", "COMMIT", "HERE"]
        rows_ = [
            [
                r.id,
                "/".join(str(x) for x in (r.info.get("experiment"), r.info.get("name")) if x),
                str(r.info.get("status") or "?"),
                local_time(r.info.get("start_time") or iso(r.start)),
                r.commit[:10],
                r.here,
            ]
            for r in runs
        ]
        click.echo(table(header, rows_))
    else:
        click.echo(f"no runs on {remote}", err=True)
    if missing:
        click.echo(
            f"{plural(len(missing))} here not on {remote}: 'gitxp push' sends them", err=True
        )


@click.group()
def hooks() -> None:
    """The git hook that pushes runs with your branches; your pre-run/post-run hooks."""


@hooks.command("install")
def hooks_install() -> None:
    """Install the pre-push hook (chains a hook already there, respects core.hooksPath)."""
    from gitxp.share.hooks import install

    for line in install(open_repo(seal=False)):
        click.echo(line)


@hooks.command("uninstall")
def hooks_uninstall() -> None:
    """Remove gitxp's git hooks and restore the hooks they chained."""
    from gitxp.share.hooks import uninstall

    done = uninstall(open_repo(seal=False))
    click.echo("\n".join(done) if done else "no gitxp hooks installed")


@hooks.command("list")
def hooks_list() -> None:
    """Show gitxp's git hooks and the pre-run/post-run hooks that would run."""
    from gitxp.share.hooks import GIT_HOOKS, git_hooks_dir, user_hooks, user_hooks_dir

    repo = open_repo(seal=False)
    folder = git_hooks_dir(repo)
    for name in GIT_HOOKS:
        path = folder / name
        state = (
            "installed"
            if path.exists() and "gitxp-hook" in path.read_text(errors="replace")
            else "not installed"
        )
        click.echo(f"git {name}: {state} ({path})")
    click.echo(f"run hooks folder: {user_hooks_dir(repo)}")
    for stage in ("pre-run", "post-run"):
        found = [
            str(p.relative_to(repo.workdir)) if p.is_relative_to(repo.workdir) else str(p)
            for p in user_hooks(repo, stage)
        ]
        click.echo(f"  {stage}: {', '.join(found) if found else '(none)'}")


@click.group()
def bundle() -> None:
    """Carry runs in a file, for machines without a path to the shared remote."""


@bundle.command("create")
@click.argument("file", type=click.Path(dir_okay=False))
@click.argument("runs", nargs=-1, metavar="[RUN]...", shell_complete=complete_runs)
@click.option("--since", metavar="DATE", help="Only runs started since DATE (2026-11-01, 30d).")
def bundle_create(file: str, runs: tuple[str, ...], since: str | None) -> None:
    """Write RUNs (default: all) with their tags and notes into the git bundle FILE."""
    from gitxp.share.bundle import create_bundle

    report = create_bundle(open_repo(), file, list(runs) or None, since)
    also = " with tags and notes" if report.notes else ""
    click.echo(f"wrote {plural(report.runs)}{also} to {report.path}")


@bundle.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("-q", "--quiet", is_flag=True, help="Report only what arrived.")
def bundle_import(file: str, quiet: bool) -> None:
    """Bring the runs of a bundle FILE in, as 'gitxp fetch' would from a remote."""
    from gitxp.share.bundle import is_bundle
    from gitxp.share.sync import fetch as fetch_

    if not is_bundle(file):
        raise UsageError(f"{file} is not a git bundle (made by 'gitxp bundle create')")
    repo = open_repo()
    _report_fetch(fetch_(repo, os.path.abspath(file), progress=_progress(quiet)), quiet)
