"""The ``gitxp`` command line: a thin shell over functions tests and users can call."""

from __future__ import annotations

import json
import os
import sys
import tempfile
import traceback
from collections.abc import Callable
from typing import Any, TypeVar

import click

from gitxp.errors import GitxpError
from gitxp.repo import GitRepo

F = TypeVar("F", bound=Callable[..., Any])


def open_repo(seal: bool = True) -> GitRepo:
    """The repository around the current directory, with dead runs sealed first."""
    repo = GitRepo(os.getcwd())
    if seal:
        from gitxp.recorder import seal_dead_runs

        for run_id in seal_dead_runs(repo):
            click.echo(f"gitxp: sealed run {run_id} whose process had died (status DIED)", err=True)
    return repo


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="gitxp")
def cli() -> None:
    """Git-native experiment tracking: every run is a commit on refs/gitxp/runs/<id>."""


@cli.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.option("-n", "--name", help="A name for this run.")
@click.option("-c", "--comment", help="A comment stored with the run.")
@click.option("-t", "--tag", "tags", multiple=True, help="A tag (repeatable).")
@click.option(
    "-C",
    "--capture",
    type=click.Choice(["no", "sys", "fd"]),
    default="fd",
    show_default=True,
    help="How to capture stdout/stderr.",
)
@click.option(
    "-b",
    "--beat-interval",
    type=float,
    default=10.0,
    show_default=True,
    help="Seconds between heartbeat commits (<= 0: none).",
)
@click.option("--python", help="Interpreter for a .py script (default: gitxp's own).")
@click.option("-i", "--id", "run_id", help="Use this run id instead of a new one.")
@click.option(
    "--resume",
    "resume_spec",
    metavar="RUN",
    help="Continue an INTERRUPTED/DIED/FAILED run from its own sources and artifacts "
    "(default command: the run's).",
)
@click.option("-y", "--yes", is_flag=True, help="With --resume: do not ask about others' runs.")
@click.option(
    "--push",
    "push_remote",
    is_flag=False,
    flag_value="",
    default=None,
    metavar="[REMOTE]",
    help="Push the run to REMOTE when it ends (default remote without a value; "
    "--push=REMOTE is unambiguous). Also: git config gitxp.autopush REMOTE.",
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def run(
    args: tuple[str, ...],
    name: str | None,
    comment: str | None,
    tags: tuple[str, ...],
    capture: str,
    beat_interval: float,
    python: str | None,
    run_id: str | None,
    resume_spec: str | None,
    yes: bool,
    push_remote: str | None,
) -> None:
    """Record a run: gitxp run SCRIPT.py [ARGS] [with K=V …]  or  gitxp run -- CMD …"""
    from gitxp.runner import RunOptions
    from gitxp.runner import run as run_

    if push_remote:  # `--push train.py`: the word after a bare --push is the program
        from gitxp.remote import looks_like_remote

        if not looks_like_remote(GitRepo(os.getcwd()), push_remote):
            args, push_remote = (push_remote, *args), ""

    options = RunOptions(
        name=name,
        comment=comment,
        tags=list(tags),
        capture=capture,
        beat_interval=beat_interval,
        python=python,
        run_id=run_id,
        push=push_remote,
    )
    if resume_spec is not None:
        from gitxp.reproduce import resume

        code = resume(
            open_repo(), resume_spec, list(args), options, yes=yes, echo=_err, confirm=_confirm
        )
    else:
        code = run_(open_repo(), list(args), options)
    sys.exit(code)


@cli.command("ls")
@click.option("--status", help="Only runs with this status (COMPLETED, FAILED, …).")
@click.option("--limit", type=int, help="At most this many runs.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON, one object per run.")
@click.option("-w", "--where", metavar="EXPR", help="A pandas query: 'config.lr > 0.01'.")
@click.option("-s", "--sort", metavar="COL[,…]", help="Sort by columns; -COL: descending.")
@click.option("--columns", metavar="COL[,…]", help="Columns to show after ID (config.* works).")
@click.option(
    "--remote",
    metavar="REMOTE",
    help="List the runs REMOTE holds instead, without fetching them (docs/sharing.md).",
)
def ls(
    status: str | None,
    limit: int | None,
    as_json: bool,
    where: str | None,
    sort: str | None,
    columns: str | None,
    remote: str | None,
) -> None:
    """List runs, newest first (columns: docs/querying.md)."""
    if remote is not None:
        if where or sort or columns:
            from gitxp.errors import UsageError

            raise UsageError("--where, --sort and --columns read local runs: 'gitxp fetch' first")
        _ls_remote(remote, as_json, status, limit)
        return
    from gitxp.listing import ls_output

    out, note = ls_output(open_repo(), status, limit, as_json, where, sort, columns)
    if note:
        click.echo(note, err=True)
    if out:
        click.echo(out)


_SELECT_OPTIONS = [
    click.option("-w", "--where", metavar="EXPR", help="A pandas query: 'config.lr > 0.01'."),
    click.option("--experiment", help="Only runs of this experiment."),
    click.option("--status", help="Only runs with this status."),
]


def _select_options(func: F) -> F:
    for option in reversed(_SELECT_OPTIONS):
        func = option(func)
    return func


@cli.command()
@click.option(
    "-o", "--output", required=True, metavar="FILE", help="FILE.csv/.parquet/.json/.jsonl"
)
@_select_options
@click.option("-s", "--sort", metavar="COL[,…]", help="Sort by columns; -COL: descending.")
@click.option("--columns", metavar="COL[,…]", help="Only these columns (config.* works).")
@click.option("--metrics", "with_metrics", is_flag=True, help="Every logged value (long frame).")
@click.option("-m", "--metric", "metric_names", multiple=True, help="With --metrics: only these.")
def export(
    output: str,
    where: str | None,
    experiment: str | None,
    status: str | None,
    sort: str | None,
    columns: str | None,
    with_metrics: bool,
    metric_names: tuple[str, ...],
) -> None:
    """Write runs (or with --metrics their logged values) to a file, format by extension."""
    from gitxp.export import export_runs

    count = export_runs(
        output,
        open_repo(),
        where=where,
        experiment=experiment,
        status=status,
        sort=sort,
        columns=columns,
        with_metrics=with_metrics,
        metric_names=list(metric_names) or None,
    )
    click.echo(f"wrote {count} row{'s' if count != 1 else ''} to {output}", err=True)


@cli.command()
@click.argument("args", nargs=-1, metavar="[METRIC] [RUN]…")
@click.option("-o", "--output", required=True, metavar="FILE", help="FILE.png, .svg or .pdf")
@_select_options
@click.option(
    "--x", "x_axis", type=click.Choice(["step", "time"]), default="step", show_default=True
)
@click.option("--smooth", type=int, default=1, metavar="N", help="Moving average over N values.")
@click.option("--logy", is_flag=True, help="Logarithmic y axis.")
@click.option("--scatter", nargs=2, metavar="X Y", help="One point per run: column X against Y.")
def plot(
    args: tuple[str, ...],
    output: str,
    where: str | None,
    experiment: str | None,
    status: str | None,
    x_axis: str,
    smooth: int,
    logy: bool,
    scatter: tuple[str, str] | None,
) -> None:
    """Plot METRIC of runs (all, or RUN…), one line each; or --scatter X Y, a point per run."""
    from gitxp.errors import UsageError
    from gitxp.plot import plot_metric, plot_scatter

    repo = open_repo()
    select = {"where": where, "experiment": experiment, "status": status}
    if scatter:
        count = plot_scatter(output, scatter[0], scatter[1], list(args), repo, logy=logy, **select)
    elif not args:
        raise UsageError("name the metric to plot: gitxp plot METRIC -o FILE.png")
    else:
        count = plot_metric(
            output, args[0], list(args[1:]), repo, x=x_axis, smooth=smooth, logy=logy, **select
        )
    click.echo(f"wrote {output} ({count} run{'s' if count != 1 else ''})", err=True)


@cli.command()
@click.argument("run_spec", metavar="RUN")
@click.option("--json", "as_json", is_flag=True, help="Print everything as JSON.")
@click.option("--env", "full_env", is_flag=True, help="List every package of the env lock.")
@click.option(
    "--output",
    "output_lines",
    type=int,
    default=20,
    show_default=True,
    help="Lines of captured output to show (-1: all).",
)
def show(run_spec: str, as_json: bool, full_env: bool, output_lines: int) -> None:
    """Show everything recorded about RUN (id prefix, ref, latest, latest~N)."""
    from gitxp.listing import run_json, show_text
    from gitxp.store import RunRecord, resolve

    repo = open_repo()
    rec = RunRecord.load(repo, resolve(repo, run_spec))
    if as_json:
        click.echo(json.dumps(run_json(rec, full=True), indent=2))
    else:
        click.echo(show_text(rec, output_lines=output_lines, full_env=full_env))


@cli.command()
def recover() -> None:
    """Seal runs whose recording process died (status DIED), keeping all they logged."""
    from gitxp.recorder import seal_dead_runs

    sealed = seal_dead_runs(open_repo(seal=False))
    for run_id in sealed:
        click.echo(f"sealed {run_id} (DIED)")
    if not sealed:
        click.echo("nothing to recover")


def _err(text: str) -> None:
    click.echo(text, err=True)


def _confirm(question: str) -> bool:
    try:
        return click.confirm(question, default=False, err=True)
    except click.exceptions.Abort:  # no answer (stdin closed): no
        click.echo("", err=True)
        return False


@cli.command()
@click.argument("run_spec", metavar="RUN")
@click.option(
    "--env",
    "env_mode",
    type=click.Choice(["current", "venv"]),
    default="current",
    show_default=True,
    help="current: this interpreter, drift reported; venv: a venv built from the run's lock.",
)
@click.option("--python", help="The interpreter for --env current (default: gitxp's own).")
@click.option("--strict", is_flag=True, help="Environment drift is a failure.")
@click.option("--rtol", type=float, default=0.0, show_default=True, help="Relative tolerance.")
@click.option("--atol", type=float, default=0.0, show_default=True, help="Absolute tolerance.")
@click.option("-y", "--yes", is_flag=True, help="Do not ask before running others' runs.")
@click.option("--keep-worktree", is_flag=True, help="Keep the temporary worktree afterwards.")
@click.option("--json", "as_json", is_flag=True, help="Print the verdict as JSON.")
def reproduce(
    run_spec: str,
    env_mode: str,
    python: str | None,
    strict: bool,
    rtol: float,
    atol: float,
    yes: bool,
    keep_worktree: bool,
    as_json: bool,
) -> None:
    """Run RUN's sources again in a temporary worktree and compare; exit 0 if all matched."""
    from contextlib import nullcontext

    from gitxp.reproduce import ReproduceOptions, stdout_to_stderr, verdict_json
    from gitxp.reproduce import reproduce as reproduce_

    options = ReproduceOptions(
        env=env_mode,
        python=python,
        strict=strict,
        rtol=rtol,
        atol=atol,
        yes=yes,
        keep_worktree=keep_worktree,
    )
    with stdout_to_stderr() if as_json else nullcontext():  # the run's output: not JSON
        verdict = reproduce_(open_repo(), run_spec, options, echo=_err, confirm=_confirm)
    click.echo(verdict_json(verdict) if as_json else "\n" + verdict.table())
    sys.exit(0 if verdict.reproduced else 1)


@cli.command("diff")
@click.argument("run_a", metavar="RUN_A")
@click.argument("run_b", metavar="RUN_B")
@click.option("--stat", is_flag=True, help="List changed files instead of the full patch.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def diff_(run_a: str, run_b: str, stat: bool, as_json: bool) -> None:
    """Compare two runs: config, code, environment, metrics and result."""
    from gitxp.diff import diff_json, format_diff, run_diff
    from gitxp.store import RunRecord, resolve

    repo = open_repo()
    a = RunRecord.load(repo, resolve(repo, run_a))
    b = RunRecord.load(repo, resolve(repo, run_b))
    data = run_diff(repo, a, b, patch=not stat)
    click.echo(diff_json(data) if as_json else format_diff(data, stat=stat))


@cli.command()
@click.argument("run_spec", metavar="RUN")
@click.option("-f", "--force", is_flag=True, help="Overwrite uncommitted work.")
def checkout(run_spec: str, force: bool) -> None:
    """Put RUN's sources into the working tree (HEAD, index and branches stay)."""
    from gitxp.restore import checkout as checkout_
    from gitxp.store import RunRecord, resolve

    repo = open_repo()
    rec = RunRecord.load(repo, resolve(repo, run_spec))
    done = checkout_(repo, rec, force=force)
    where = repo.head()
    at = where.branch if not where.detached else f"detached {str(where.commit)[:12]}"
    click.echo(
        f"working tree now holds the sources of run {rec.ref.id}: "
        f"{len(done.written)} written, {len(done.removed)} removed, {done.unchanged} unchanged"
    )
    for path in done.skipped:
        click.echo(f"  not restored (too large to record): {path}")
    for path in done.submodules:
        click.echo(f"  submodule not restored: {path}")
    click.echo(f"HEAD is still {at}: 'git status' shows how the run differs from it")


@cli.command("branch")
@click.argument("run_spec", metavar="RUN")
@click.argument("name")
@click.option("-f", "--force", is_flag=True, help="Move the branch if it exists.")
def branch_(run_spec: str, name: str, force: bool) -> None:
    """Create branch NAME holding RUN's sources (without .gitxp/), on its base commit."""
    from gitxp.restore import branch
    from gitxp.store import RunRecord, resolve

    repo = open_repo()
    rec = RunRecord.load(repo, resolve(repo, run_spec))
    commit = branch(repo, rec, name, force=force)
    base = rec.info.get("base_commit")
    how = "its base commit" if commit == base else "a commit of its sources"
    click.echo(f"branch {name} at {commit[:12]} ({how}; run {rec.ref.id})")


@cli.command("rm")
@click.argument("run_specs", nargs=-1, metavar="[RUN]...")
@click.option("--status", help="Only runs with this status (FAILED, DIED, …).")
@click.option("--older-than", help="Only runs started longer ago than this (30d, 12h, 2w).")
@click.option("-n", "--dry-run", is_flag=True, help="List the runs, delete nothing.")
@click.option("-f", "--force", is_flag=True, help="Also delete RUNNING runs.")
def rm(
    run_specs: tuple[str, ...],
    status: str | None,
    older_than: str | None,
    dry_run: bool,
    force: bool,
) -> None:
    """Delete runs (their refs); 'gitxp gc' then gives the space back."""
    from gitxp.prune import remove_runs, select_runs

    repo = open_repo()
    runs = select_runs(repo, list(run_specs), status=status, older_than=older_than)
    done = runs if dry_run else remove_runs(repo, runs, force=force)
    verb = "would delete" if dry_run else "deleted"
    for rec in done:
        label = rec.info.get("name") or rec.info.get("experiment") or ""
        click.echo(f"{verb} {rec.ref.id}  {rec.info.get('status')}  {label}".rstrip())
    if not done:
        click.echo("no runs matched", err=True)
    elif not dry_run:
        click.echo("run 'gitxp gc' to give their space back", err=True)


@cli.command()
@click.option(
    "--prune",
    help="Prune unreachable objects older than this git date (default: now, or before the "
    "oldest run in progress).",
)
def gc(prune: str | None) -> None:
    """Give back the space of deleted runs; refs, reflogs and worktrees stay."""
    from gitxp.prune import gc as gc_

    click.echo(gc_(open_repo(), prune=prune).summary())


@cli.command()
@click.option("--port", type=int, default=7070, show_default=True, help="Port; 0 picks a free one.")
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on; any but a loopback one needs the token printed in the URL.",
)
@click.option("--token", "require_token", is_flag=True, help="Require a token on 127.0.0.1 too.")
@click.option("--open", "open_browser", is_flag=True, help="Open the board in a web browser.")
def board(port: int, host: str, require_token: bool, open_browser: bool) -> None:
    """Browse, compare, tag and delete runs in a web browser (docs/board.md)."""
    from gitxp.board import serve

    serve(
        open_repo().workdir,
        host=host,
        port=port,
        open_browser=open_browser,
        echo=click.echo,
        require_token=require_token,
    )


# -- sharing runs: push, fetch, ls --remote, hooks (docs/sharing.md) ----------------------


def _progress(quiet: bool) -> Callable[[str], None] | None:
    """Progress text for an interactive stderr; None when quiet or not a terminal."""
    if quiet or not sys.stderr.isatty():
        return None
    return lambda text: click.echo(text, err=True, nl=False)


def _remote_and_runs(repo: GitRepo, args: tuple[str, ...]) -> tuple[str | None, list[str]]:
    """``[REMOTE] [RUN]…``: the first word is a remote if it names one, else a run."""
    from gitxp.remote import looks_like_remote

    if args and looks_like_remote(repo, args[0]):
        return args[0], list(args[1:])
    return None, list(args)


def _plural(count: int, word: str = "run") -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


@cli.command()
@click.argument("args", nargs=-1, metavar="[REMOTE] [RUN]...")
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
    from gitxp.sharing import push as push_

    repo = open_repo()
    remote, runs = _remote_and_runs(repo, args)
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
            f"deleted {_plural(len(report.deleted))} on {where_to}: " + ", ".join(report.deleted)
        )
    sent = len(report.created) + len(report.updated)
    if sent:
        verb = "would push" if dry_run else "pushed"
        objects = "" if dry_run else f"; {_plural(report.objects, 'object')}"
        click.echo(
            f"{verb} {_plural(sent)} to {where_to} ({len(report.created)} new, "
            f"{len(report.updated)} updated{objects})"
        )
    elif not delete and not quiet and not report.conflicts and not report.rejected:
        click.echo(f"nothing to push: {where_to} is up to date ({_plural(len(report.unchanged))})")
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
        click.echo(f"gitxp: error: {_plural(failed)} not pushed (see above)", err=True)
        sys.exit(1)


@cli.command()
@click.argument("args", nargs=-1, metavar="[REMOTE] [RUN]...")
@click.option("-q", "--quiet", is_flag=True, help="No progress; report only what arrived.")
def fetch(args: tuple[str, ...], quiet: bool) -> None:
    """Fetch runs from REMOTE (default: gitxp.remote, else origin): all, or the RUNs named."""
    from gitxp.sharing import fetch as fetch_

    repo = open_repo()
    remote, runs = _remote_and_runs(repo, args)
    report = fetch_(repo, remote, runs, progress=_progress(quiet))
    got = len(report.created) + len(report.updated)
    if got:
        click.echo(
            f"fetched {_plural(got)} from {report.remote} ({len(report.created)} new, "
            f"{len(report.updated)} updated; {_plural(report.objects, 'object')})"
        )
    elif not quiet and not report.conflicts:
        click.echo(f"nothing new on {report.remote} ({_plural(len(report.unchanged))} up to date)")
    for run_id, why in report.ahead:
        click.echo(f"gitxp: run {run_id} is newer here ({why}); 'gitxp push' sends it", err=True)
    for run_id, why in report.conflicts:
        click.echo(f"gitxp: conflict: run {run_id}: {why}; kept the local one", err=True)
    if not report.ok:
        click.echo(
            f"gitxp: error: {_plural(len(report.conflicts))} not fetched (see above)", err=True
        )
        sys.exit(1)


def _ls_remote(remote: str, as_json: bool, status: str | None, limit: int | None) -> None:
    from gitxp.listing import local_time, table
    from gitxp.record import iso
    from gitxp.sharing import remote_runs

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
            f"{_plural(len(missing))} here not on {remote}: 'gitxp push' sends them", err=True
        )


@cli.group()
def hooks() -> None:
    """The git hook that pushes runs with your branches; your pre-run/post-run hooks."""


@hooks.command("install")
def hooks_install() -> None:
    """Install the pre-push hook (chains a hook already there, respects core.hooksPath)."""
    from gitxp.hooks import install

    for line in install(open_repo(seal=False)):
        click.echo(line)


@hooks.command("uninstall")
def hooks_uninstall() -> None:
    """Remove gitxp's git hooks and restore the hooks they chained."""
    from gitxp.hooks import uninstall

    done = uninstall(open_repo(seal=False))
    click.echo("\n".join(done) if done else "no gitxp hooks installed")


@hooks.command("list")
def hooks_list() -> None:
    """Show gitxp's git hooks and the pre-run/post-run hooks that would run."""
    from gitxp.hooks import GIT_HOOKS, git_hooks_dir, user_hooks, user_hooks_dir

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


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI; errors become one line and an exit code."""
    try:
        cli.main(args=argv, prog_name="gitxp", standalone_mode=False)
    except GitxpError as err:
        click.echo(f"gitxp: error: {err}", err=True)
        sys.exit(err.exit_code)
    except click.exceptions.Abort:
        click.echo("gitxp: interrupted", err=True)
        sys.exit(130)
    except click.ClickException as err:
        err.show()
        sys.exit(err.exit_code)
    except KeyboardInterrupt:
        click.echo("gitxp: interrupted", err=True)
        sys.exit(130)
    except SystemExit:
        raise
    except Exception as err:  # a bug in gitxp: keep the details, show one line
        fd, path = tempfile.mkstemp(prefix="gitxp-crash-", suffix=".log")
        with os.fdopen(fd, "w") as handle:
            traceback.print_exc(file=handle)
        click.echo(
            f"gitxp: internal error: {type(err).__name__}: {err} "
            f"(details in {path}; please report it)",
            err=True,
        )
        sys.exit(3)
