"""Commands that record and show runs: run, ls, show, recover."""

from __future__ import annotations

import os
import sys

import click

from gitxp.cli.common import complete_runs, confirm, err, open_repo
from gitxp.git.repo import GitRepo


@click.command(context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
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
@click.option("--python", help="Interpreter for a .py script (default: your shell's python).")
@click.option("-i", "--id", "run_id", help="Use this run id instead of a new one.")
@click.option(
    "--input",
    "inputs",
    multiple=True,
    metavar="RUN:ARTIFACT[=DEST]",
    help="Put another run's artifact at DEST (default: its name here) and record the use.",
)
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
@click.option(
    "-q",
    "--queue",
    is_flag=True,
    help="Record the run QUEUED (snapshot, config) for 'gitxp worker'; run nothing.",
)
@click.option(
    "--sign/--no-sign",
    default=None,
    help="Sign the run's commits as git does (default: git config gitxp.sign).",
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
    inputs: tuple[str, ...],
    resume_spec: str | None,
    yes: bool,
    push_remote: str | None,
    queue: bool,
    sign: bool | None,
) -> None:
    """Record a run: gitxp run SCRIPT.py [ARGS] [with K=V …]  or  gitxp run -- CMD …"""
    from gitxp.supervise.runner import RunOptions
    from gitxp.supervise.runner import run as run_

    if push_remote:  # `--push train.py`: the word after a bare --push is the program
        from gitxp.share.remotes import looks_like_remote

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
        inputs=list(inputs),
        queue=queue,
        sign=sign,
    )
    if queue and resume_spec is not None:
        from gitxp.errors import UsageError

        raise UsageError("--queue and --resume do not go together: queue a new run")
    if resume_spec is not None:
        from gitxp.reproduce.rerun import resume

        code = resume(
            open_repo(), resume_spec, list(args), options, yes=yes, echo=err, confirm=confirm
        )
    else:
        code = run_(open_repo(), list(args), options)
    sys.exit(code)


@click.command("ls")
@click.option("--status", help="Only runs with this status (COMPLETED, FAILED, …).")
@click.option("--limit", type=int, help="At most this many runs.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON, one object per run.")
@click.option("-w", "--where", metavar="EXPR", help="A pandas query: 'config.lr > 0.01'.")
@click.option("-s", "--sort", metavar="COL[,…]", help="Sort by columns; -COL: descending.")
@click.option("--columns", metavar="COL[,…]", help="Columns to show after ID (config.* works).")
@click.option("--tag", metavar="TAG", help="Only runs with this tag (gitxp tag).")
@click.option("--on", metavar="REV", help="Only runs of REV's history, rebased or squashed too.")
@click.option(
    "--remote",
    metavar="REMOTE",
    help="List the runs REMOTE holds instead, without fetching them (docs/sharing.md).",
)
@click.option(
    "--same-as", metavar="RUN", help="Only runs with RUN's inputs (sources, config, env)."
)
def ls(
    status: str | None,
    limit: int | None,
    as_json: bool,
    where: str | None,
    sort: str | None,
    columns: str | None,
    tag: str | None,
    on: str | None,
    remote: str | None,
    same_as: str | None,
) -> None:
    """List runs, newest first (columns: docs/querying.md)."""
    if remote is not None:
        if where or sort or columns or tag or on or same_as:
            from gitxp.errors import UsageError

            raise UsageError(
                "--where, --sort, --columns, --tag, --on and --same-as read local runs: "
                "'gitxp fetch' first"
            )
        from gitxp.cli.share import ls_remote

        ls_remote(remote, as_json, status, limit)
        return
    from gitxp.query.listing import ls_output

    out, note = ls_output(
        open_repo(read_only=True),
        status,
        limit,
        as_json,
        where,
        sort,
        columns,
        tag,
        on,
        same_as=same_as,
    )
    if note:
        click.echo(note, err=True)
    if out:
        click.echo(out)


@click.command()
@click.argument("run_spec", metavar="RUN", shell_complete=complete_runs)
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
@click.option(
    "--best",
    type=click.Choice(["min", "max"]),
    default="min",
    show_default=True,
    help="For a sweep: the best run has the lowest (min) or highest (max) result.",
)
def show(run_spec: str, as_json: bool, full_env: bool, output_lines: int, best: str) -> None:
    """Show everything recorded about RUN (id prefix, ref, latest, latest~N) or SWEEP (sw-…)."""
    from gitxp.query.listing import run_json, strict_json
    from gitxp.query.showing import show_text
    from gitxp.store.runs import load_sound

    repo = open_repo(read_only=True)
    if run_spec.strip().lower().startswith("sw-"):
        from gitxp.sweep.status import sweep_summary, sweep_text

        spec = "sw-" + run_spec.strip()[3:].upper()
        if as_json:
            click.echo(strict_json(sweep_summary(repo, spec, best)))
        else:
            click.echo(sweep_text(repo, spec, best))
        return
    rec = load_sound(repo, run_spec)
    if as_json:
        click.echo(strict_json(run_json(rec, full=True)))
    else:
        click.echo(show_text(rec, output_lines=output_lines, full_env=full_env))


@click.command()
def recover() -> None:
    """Seal runs whose recording process died (status DIED unless they recorded their
    outcome), keeping all they logged."""
    from gitxp.store.sealing import seal_dead_runs

    sealed = seal_dead_runs(open_repo(seal=False))
    for run in sealed:
        if run.status is None:
            click.echo(f"not sealed {run.run_id}: the disk is full; free some space and retry")
        else:
            click.echo(f"sealed {run.run_id} ({run.status})")
    if not sealed:
        click.echo("nothing to recover")


@click.command()
@click.argument("args", nargs=-1, required=True, metavar="RUN… TAG", shell_complete=complete_runs)
@click.option("--remove", is_flag=True, help="Take the tag off instead.")
def tag(args: tuple[str, ...], remove: bool) -> None:
    """Tag runs (a git note under refs/notes/gitxp; push and fetch carry it)."""
    from gitxp.errors import UsageError
    from gitxp.store.notes import tag_runs

    if len(args) < 2:
        raise UsageError("name the runs and then the tag: gitxp tag RUN… TAG")
    for rec, tags in tag_runs(open_repo(), list(args[:-1]), [args[-1]], remove=remove):
        click.echo(f"{rec.ref.id}  {', '.join(tags) or '(no tags)'}")


@click.command()
@click.argument("run_spec", metavar="RUN", shell_complete=complete_runs)
@click.argument("text", required=False)
def note(run_spec: str, text: str | None) -> None:
    """Set RUN's note to TEXT ("" clears it); without TEXT, print the note."""
    from gitxp.store.notes import note_run, record_note
    from gitxp.store.runs import RunRecord, resolve

    repo = open_repo()
    if text is None:
        found = record_note(RunRecord.load(repo, resolve(repo, run_spec))).text
        if found:
            click.echo(found)
        return
    rec, stored = note_run(repo, run_spec, text)
    click.echo(f"{rec.ref.id}  {'note saved' if stored.text else 'note cleared'}")
