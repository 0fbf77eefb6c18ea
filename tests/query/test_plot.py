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
    count = plot_metric(out, "acc", repo=project["path"], where="config.opt.name == 'sgd'")
    assert count == 2
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
    assert plot_scatter(svg, "config.opt.name", "metrics.loss.min", repo=project["path"]) == 4
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
        plot_metric(tmp_path / "x.gif", "loss", repo=repo)
    with pytest.raises(UsageError, match=r"close: config\.lr"):
        plot_scatter(tmp_path / "x.png", "config.lrr", "result", repo=repo)
    proc = gitxp(repo, "plot", "-o", str(tmp_path / "x.png"), check=False)
    assert proc.returncode == 2 and "name the metric to plot" in proc.stderr
    assert not list(tmp_path.glob("x.*"))
