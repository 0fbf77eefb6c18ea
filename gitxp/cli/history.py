"""Commands that bring runs back or remove them: reproduce, diff, checkout, branch, rm, gc."""

from __future__ import annotations

import sys

import click

from gitxp.cli.common import complete_runs, confirm, err, open_repo


@click.command()
@click.argument("run_spec", metavar="RUN", shell_complete=complete_runs)
@click.option(
    "--env",
    "env_mode",
    type=click.Choice(["current", "venv"]),
    default="current",
    show_default=True,
    help="current: this interpreter, drift reported; venv: a venv built from the run's lock.",
)
@click.option("--python", help="The interpreter for --env current (default: your shell's).")
@click.option("--strict", is_flag=True, help="Environment drift is a failure; refuse to run.")
@click.option("--rtol", type=float, default=0.0, show_default=True, help="Relative tolerance.")
@click.option("--atol", type=float, default=0.0, show_default=True, help="Absolute tolerance.")
@click.option(
    "--tolerances", type=click.Path(), help="YAML/JSON file: per metric {rtol: N, atol: N}."
)
@click.option(
    "--sign/--no-sign",
    default=None,
    help="Sign the reproduction and its attestation (default: git config gitxp.sign).",
)
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
    tolerances: str | None,
    sign: bool | None,
    yes: bool,
    keep_worktree: bool,
    as_json: bool,
) -> None:
    """Run RUN's sources again in a temporary worktree and compare; exit 0 if all matched."""
    from contextlib import nullcontext

    from gitxp.reproduce.rerun import ReproduceOptions, stdout_to_stderr, verdict_json
    from gitxp.reproduce.rerun import reproduce as reproduce_

    options = ReproduceOptions(
        env=env_mode,
        python=python,
        strict=strict,
        rtol=rtol,
        atol=atol,
        tolerances=tolerances,
        sign=sign,
        yes=yes,
        keep_worktree=keep_worktree,
    )
    with stdout_to_stderr() if as_json else nullcontext():  # the run's output: not JSON
        verdict = reproduce_(open_repo(), run_spec, options, echo=err, confirm=confirm)
    click.echo(verdict_json(verdict) if as_json else "\n" + verdict.table())
    sys.exit(0 if verdict.reproduced else 1)


@click.command()
@click.argument("run_spec", metavar="RUN")
def verify(run_spec: str) -> None:
    """Check the signatures of RUN's commits and attestations; exit 0 if all are good."""
    from gitxp.reproduce.verify import verify as verify_

    report = verify_(open_repo(), run_spec)
    click.echo(report.text())
    sys.exit(0 if report.ok else 1)


@click.command("diff")
@click.argument("run_specs", nargs=-1, metavar="RUN RUN [RUN]…", shell_complete=complete_runs)
@click.option("--stat", is_flag=True, help="List changed files instead of the full patch.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def diff_(run_specs: tuple[str, ...], stat: bool, as_json: bool) -> None:
    """Compare two runs (config, code, environment, metrics, result), or more as a table."""
    from gitxp.errors import UsageError
    from gitxp.store.runs import load_sound

    if len(run_specs) < 2:
        raise UsageError("name two runs or more: gitxp diff RUN RUN [RUN]…")
    repo = open_repo(read_only=True)
    records = [load_sound(repo, spec) for spec in run_specs]
    if len(records) > 2:
        from gitxp.query.difftable import diff_rows, diff_table_json, format_diff_table

        rows = diff_rows(repo, records)
        click.echo(diff_table_json(records, rows) if as_json else format_diff_table(records, rows))
        return
    from gitxp.query.diff import diff_json, format_diff, run_diff

    data = run_diff(repo, records[0], records[1], patch=not stat)
    click.echo(diff_json(data) if as_json else format_diff(data, stat=stat))


@click.command()
@click.argument("run_spec", metavar="RUN", shell_complete=complete_runs)
@click.option("-f", "--force", is_flag=True, help="Overwrite uncommitted work.")
def checkout(run_spec: str, force: bool) -> None:
    """Put RUN's sources into the working tree (HEAD, index and branches stay)."""
    from gitxp.store.restore import checkout as checkout_
    from gitxp.store.runs import load_sound

    repo = open_repo()
    rec = load_sound(repo, run_spec)
    done = checkout_(repo, rec, force=force)
    where = repo.head()
    at = where.branch if not where.detached else f"detached {str(where.commit)[:12]}"
    click.echo(
        f"working tree now holds the sources of run {rec.ref.id}: "
        f"{len(done.written)} written, {len(done.removed)} removed, {done.unchanged} unchanged"
    )
    for path in done.skipped:
        click.echo(f"  not restored (left out of the run's snapshot): {path}")
    for path in done.submodules:
        click.echo(f"  submodule not restored: {path}")
    click.echo(f"HEAD is still {at}: 'git status' shows how the run differs from it")


@click.command("branch")
@click.argument("run_spec", metavar="RUN", shell_complete=complete_runs)
@click.argument("name")
@click.option("-f", "--force", is_flag=True, help="Move the branch if it exists.")
def branch_(run_spec: str, name: str, force: bool) -> None:
    """Create branch NAME holding RUN's sources (without .gitxp/), on its base commit."""
    from gitxp.store.restore import branch
    from gitxp.store.runs import load_sound

    repo = open_repo()
    rec = load_sound(repo, run_spec)
    commit = branch(repo, rec, name, force=force)
    base = rec.info.get("base_commit")
    how = "its base commit" if commit == base else "a commit of its sources"
    click.echo(f"branch {name} at {commit[:12]} ({how}; run {rec.ref.id})")


@click.command("rm")
@click.argument("run_specs", nargs=-1, metavar="[RUN]...", shell_complete=complete_runs)
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
    from gitxp.store.prune import remove_runs, select_runs

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


@click.command()
@click.option(
    "--prune",
    help="Prune unreachable objects older than this git date (default: now, or before the "
    "oldest run in progress).",
)
@click.option("--keep-best", type=int, metavar="N", help="Keep the N best runs of each group.")
@click.option("--by", multiple=True, metavar="COLUMN", help="Group runs by this column (repeat).")
@click.option("--score", default="result", show_default=True, help="Column that ranks runs.")
@click.option("--minimize", is_flag=True, help="Lower scores are better.")
@click.option("--keep-tagged", is_flag=True, help="Keep runs with a tag or a note.")
@click.option("--keep-reproduced", is_flag=True, help="Keep runs that have been reproduced.")
@click.option("--older-than", help="Only runs older than this are deleted (30d, 12h, 2w).")
@click.option("--yes", is_flag=True, help="Delete what the plan lists (default: only list it).")
@click.option(
    "--venv-age",
    default="14d",
    show_default=True,
    help="Remove reproduction venvs unused for this long (0s: all).",
)
def gc(
    prune: str | None,
    keep_best: int | None,
    by: tuple[str, ...],
    score: str,
    minimize: bool,
    keep_tagged: bool,
    keep_reproduced: bool,
    older_than: str | None,
    yes: bool,
    venv_age: str,
) -> None:
    """Give back the space of deleted runs; refs, reflogs and worktrees stay.

    With --keep-best, --keep-tagged, --keep-reproduced or --older-than, first delete the
    runs no rule keeps: listed only, unless --yes.
    """
    from gitxp.query.retention import Retention, apply_plan, plan_retention
    from gitxp.store.prune import gc as gc_

    repo = open_repo()
    rule = Retention(keep_best, by, score, minimize, keep_tagged, keep_reproduced, older_than)
    if rule.given:
        plan = plan_retention(repo, rule)
        verb = "delete" if yes else "would delete"
        for d in plan.delete:
            click.echo(f"{verb} {d.ref.id}  {d.status:<10} {d.reason}")
        for d in plan.keep:
            click.echo(f"keep   {d.ref.id}  {d.status:<10} {d.reason}")
        if not yes:
            click.echo(
                f"{len(plan.delete)} of {len(plan.delete) + len(plan.keep)} runs would go; "
                "pass --yes to delete them and give their space back",
                err=True,
            )
            return
        click.echo(f"deleted {len(apply_plan(repo, plan))} runs")
    click.echo(gc_(repo, prune=prune, venv_age=venv_age).summary())


@click.command()
@click.argument("run_spec", metavar="RUN")
@click.option("--downstream", is_flag=True, help="The runs that used RUN, directly or not.")
def lineage(run_spec: str, downstream: bool) -> None:
    """The runs whose artifacts RUN used (a tree), or with --downstream the runs that used RUN."""
    from gitxp.query.lineage import downstream as downstream_
    from gitxp.query.lineage import format_tree, upstream

    repo = open_repo()
    if not downstream:
        click.echo(format_tree(upstream(repo, run_spec)))
        return
    found = downstream_(repo, run_spec)
    if not found:
        click.echo("no run used it", err=True)
    for node, how in found:
        click.echo("  ".join(x for x in (node.run_id, node.label, node.status, f"({how})") if x))


@click.command(context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED, metavar="SCRIPT [ARGS] [with K=V …]")
@click.option("--good", required=True, metavar="REV", help="A commit where the metric was fine.")
@click.option("--bad", required=True, metavar="REV", help="A later commit where it was not.")
@click.option("--metric", required=True, help="The metric to judge by (or 'result').")
@click.option("--min", "minimum", type=float, help="Good when the metric is at least this.")
@click.option("--max", "maximum", type=float, help="Good when the metric is at most this.")
@click.option("--python", help="Interpreter for the script (default: your shell's python).")
def bisect(
    args: tuple[str, ...],
    good: str,
    bad: str,
    metric: str,
    minimum: float | None,
    maximum: float | None,
    python: str | None,
) -> None:
    """Find the first commit where METRIC fell past the bar, reusing recorded runs."""
    from gitxp.reproduce.bisect import BisectOptions
    from gitxp.reproduce.bisect import bisect as bisect_

    repo = open_repo()
    opts = BisectOptions(list(args), good, bad, metric, minimum, maximum, python)
    result = bisect_(repo, opts, lambda line: click.echo(line, err=True))
    summary = f"{len(result.points)} commits judged: {result.ran} ran, {result.reused} reused"
    if result.first_bad is None:
        click.echo(f"no single first bad commit found ({summary})")
        sys.exit(1)
    subject = repo.commit_message(result.first_bad).splitlines()[0]
    click.echo(f"first bad commit: {result.first_bad} {subject}")
    click.echo(summary)
