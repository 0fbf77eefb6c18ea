"""Commands that turn runs into files and pages: export, plot, board."""

from __future__ import annotations

import click

from gitxp.cli.common import open_repo, select_options


@click.command()
@click.option("-o", "--output", metavar="FILE", help="FILE.csv/.parquet/.json/.jsonl")
@click.option(
    "--sacred", "sacred_dir", metavar="DIR", help="Write runs in Sacred's FileStorage layout."
)
@select_options
@click.option("-s", "--sort", metavar="COL[,…]", help="Sort by columns; -COL: descending.")
@click.option("--columns", metavar="COL[,…]", help="Only these columns (config.* works).")
@click.option("--metrics", "with_metrics", is_flag=True, help="Every logged value (long frame).")
@click.option("-m", "--metric", "metric_names", multiple=True, help="With --metrics: only these.")
def export(
    output: str | None,
    sacred_dir: str | None,
    where: str | None,
    experiment: str | None,
    status: str | None,
    sort: str | None,
    columns: str | None,
    with_metrics: bool,
    metric_names: tuple[str, ...],
) -> None:
    """Write runs (or with --metrics their logged values) to a file, format by extension."""
    if sacred_dir is not None:
        from gitxp.sacred.exporter import export_file_storage

        written = export_file_storage(open_repo(), sacred_dir)
        click.echo(
            f"wrote {len(written)} run{'s' if len(written) != 1 else ''} to {sacred_dir}", err=True
        )
        return
    if output is None:
        raise click.UsageError("give -o FILE (or --sacred DIR)")
    from gitxp.query.export import export_runs

    count = export_runs(
        output,
        open_repo(read_only=True),
        where=where,
        experiment=experiment,
        status=status,
        sort=sort,
        columns=columns,
        with_metrics=with_metrics,
        metric_names=list(metric_names) or None,
    )
    click.echo(f"wrote {count} row{'s' if count != 1 else ''} to {output}", err=True)


@click.command()
@click.argument("args", nargs=-1, metavar="[METRIC] [RUN]…")
@click.option("-o", "--output", required=True, metavar="FILE", help="FILE.png, .svg or .pdf")
@select_options
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
    from gitxp.query.plot import draw_metric, draw_scatter

    repo = open_repo(read_only=True)
    if scatter:
        _, count = draw_scatter(
            scatter[0],
            scatter[1],
            list(args),
            repo,
            where,
            experiment,
            status,
            logy,
            output=output,
        )
    elif not args:
        raise UsageError("name the metric to plot: gitxp plot METRIC -o FILE.png")
    else:
        _, count = draw_metric(
            args[0],
            list(args[1:]),
            repo,
            where,
            experiment,
            status,
            x_axis,
            smooth,
            logy,
            output=output,
        )
    click.echo(f"wrote {output} ({count} run{'s' if count != 1 else ''})", err=True)


@click.command()
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
