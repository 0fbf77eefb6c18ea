"""``gitxp plot`` (issue 6, point 3): metric curves and scatters as PNG, SVG and PDF files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from query_helpers import gitxp, isolate, recorded_project

from gitxp.errors import UsageError
from gitxp.query.frames import open_repo, select_rows
from gitxp.query.plot import plot_metric, plot_scatter, run_labels

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with pytest.MonkeyPatch.context() as mp:
        isolate(mp, tmp_path_factory.mktemp("home"))
        path = tmp_path_factory.mktemp("plot") / "project"
        ids = recorded_project(path)
        yield {"path": path, "ids": ids}


def assert_png(path: Path, size: tuple[int, int] = (1080, 600)) -> None:
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    with Image.open(path) as image:
        image.verify()
    with Image.open(path) as image:
        assert image.format == "PNG" and image.size == size


def test_plot_metric_png_from_cli(project: dict[str, Any], tmp_path: Path) -> None:
    out = tmp_path / "loss.png"
    proc = gitxp(project["path"], "plot", "loss", "-o", str(out))
    assert f"wrote {out} (4 runs)" in proc.stderr
    assert_png(out)


def test_plot_metric_svg_has_labels_title_and_legend(
    project: dict[str, Any], tmp_path: Path
) -> None:
    out = tmp_path / "acc.svg"
    fig = plot_metric("acc", repo=project["path"], where="config.opt.name == 'sgd'", output=out)
    assert len(fig.axes[0].get_lines()) == 2
    text = out.read_text()
    assert text.lstrip().startswith("<?xml") and "<svg" in text
    for words in ("acc: 2 runs", "step", "lr=0.05", "lr=0.2", "config"):
        assert words in text, words
    assert "opt.name=" not in text  # the same in both runs: not in the legend


def test_plot_metric_pdf_time_smooth_logy_and_run_list(
    project: dict[str, Any], tmp_path: Path
) -> None:
    ids, repo = project["ids"], project["path"]
    out = tmp_path / "loss.pdf"
    proc = gitxp(
        repo,
        "plot",
        "loss",
        ids["a"][:12],
        "latest",
        "--x",
        "time",
        "--smooth",
        "3",
        "--logy",
        "-o",
        str(out),
    )
    assert "(2 runs)" in proc.stderr
    data = out.read_bytes()
    assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")


def test_plot_scatter_config_against_result(project: dict[str, Any], tmp_path: Path) -> None:
    out = tmp_path / "scatter.png"
    proc = gitxp(project["path"], "plot", "--scatter", "config.lr", "result", "-o", str(out))
    assert "(3 runs)" in proc.stderr  # the FAILED run has no result
    assert_png(out)
    svg = tmp_path / "scatter.svg"
    fig = plot_scatter("config.opt.name", "metrics.loss.min", repo=project["path"], output=svg)
    assert len(fig.axes[0].collections[0].get_offsets()) == 4
    text = svg.read_text()
    assert "metrics.loss.min against config.opt.name: 4 runs" in text
    assert "adam" in text and "sgd" in text  # text categories on the x axis


def test_legend_labels_tell_runs_apart(project: dict[str, Any]) -> None:
    repo = open_repo(project["path"])
    table, rows = select_rows(repo)
    labels, title = run_labels(table, rows)
    assert title == "config"
    assert labels[0] == "lr=0.05, opt.name=sgd" and "fail=true" in labels[1]
    same = [r for r in rows if table.columns["config.lr"][r] in (0.1,)]
    labels, title = run_labels(table, same)
    assert title == "run" and labels == [table.columns["id"][same[0]][:10]]


def test_plot_errors(project: dict[str, Any], tmp_path: Path) -> None:
    repo = project["path"]
    proc = gitxp(repo, "plot", "los", "-o", str(tmp_path / "x.png"), check=False)
    assert proc.returncode == 2
    (line,) = proc.stderr.strip().splitlines()
    assert "no metric 'los'" in line and "acc, loss" in line
    with pytest.raises(UsageError, match=r"\.png, \.svg, \.pdf"):
        plot_metric("loss", repo=repo, output=tmp_path / "x.gif")
    with pytest.raises(UsageError, match=r"close: config\.lr"):
        plot_scatter("config.lrr", "result", repo=repo, output=tmp_path / "x.png")
    proc = gitxp(repo, "plot", "-o", str(tmp_path / "x.png"), check=False)
    assert proc.returncode == 2 and "name the metric to plot" in proc.stderr
    assert not list(tmp_path.glob("x.*"))


def test_plot_metric_returns_a_figure_and_draws_on_given_axes(
    project: dict[str, Any], tmp_path: Path
) -> None:
    from matplotlib.figure import Figure

    repo = project["path"]
    fig = plot_metric("loss", repo=repo)
    assert isinstance(fig, Figure) and not list(tmp_path.iterdir())  # saving is optional
    (ax,) = fig.axes
    assert len(ax.get_lines()) == 4 and ax.get_yscale() == "linear"
    assert ax.get_xlabel() == "step"
    mine = Figure()
    left, right = mine.subplots(1, 2)
    assert plot_metric("acc", repo=repo, ax=right, where="config.lr > 0.1") is mine
    assert not left.get_lines() and len(right.get_lines()) == 2
    assert right.get_legend() is not None  # a legend of the axes, not of the whole figure
    assert plot_scatter("config.lr", "result", repo=repo, ax=left) is mine


def test_plot_options_change_the_plot(project: dict[str, Any]) -> None:
    """--smooth, --logy and --x time each change what is drawn."""
    repo = project["path"]
    ids = project["ids"]
    plain = plot_metric("loss", [ids["a"]], repo=repo).axes[0]
    smooth = plot_metric("loss", [ids["a"]], repo=repo, smooth=3).axes[0]
    assert len(smooth.get_lines()) == 2  # the raw curve, faint, and its moving average
    raw, mean = smooth.get_lines()
    assert raw.get_alpha() == 0.25 and list(raw.get_ydata()) == list(
        plain.get_lines()[0].get_ydata()
    )
    assert list(mean.get_ydata()) != list(raw.get_ydata())
    assert plot_metric("loss", [ids["a"]], repo=repo, logy=True).axes[0].get_yscale() == "log"
    timed = plot_metric("loss", [ids["a"]], repo=repo, x="time").axes[0]
    assert timed.get_xlabel() == "time since the run started (s)"
    steps = list(plain.get_lines()[0].get_xdata())
    assert steps == [0, 1, 2, 3, 4] and list(timed.get_lines()[0].get_xdata()) != steps
