"""``gitxp export`` (issue 6, point 2): runs and metrics to CSV, Parquet, JSON, JSON Lines."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from query_helpers import gitxp, isolate, recorded_project

import gitxp as gx
from gitxp.errors import UsageError
from gitxp.query.export import export_runs, write_frame


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with pytest.MonkeyPatch.context() as mp:
        isolate(mp, tmp_path_factory.mktemp("home"))
        path = tmp_path_factory.mktemp("export") / "project"
        ids = recorded_project(path)
        yield {"path": path, "ids": ids}


def read_back(path: Path) -> pd.DataFrame:
    if path.suffix == ".csv":
        return pd.read_csv(path)
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    text = path.read_text()
    if path.suffix == ".jsonl":
        return pd.DataFrame([json.loads(line) for line in text.splitlines()])
    return pd.DataFrame(json.loads(text))


@pytest.mark.parametrize("ext", [".csv", ".parquet", ".json", ".jsonl"])
def test_export_runs_every_format(project: dict[str, Any], tmp_path: Path, ext: str) -> None:
    ids, repo = project["ids"], project["path"]
    out = tmp_path / f"runs{ext}"
    proc = gitxp(repo, "export", "-o", str(out))
    assert f"wrote 4 rows to {out}" in proc.stderr
    frame = read_back(out)
    expected = gx.runs(repo)
    assert list(frame.columns) == list(expected.columns)
    assert list(frame["id"]) == [ids["d"], ids["c"], ids["b"], ids["a"]]
    assert list(frame["config.lr"]) == [0.05, 0.3, 0.2, 0.1]
    assert list(frame["metrics.loss.max"]) == pytest.approx([0.25, 1.5, 1.0, 0.5])
    assert frame["result"].isna().tolist() == [False, True, False, False]
    start = pd.to_datetime(frame["start"], utc=True)
    assert (start == expected["start"]).all()  # microseconds and zone survive
    tags = frame.set_index("id").loc[ids["b"], "tags"]
    if ext in (".csv",):
        assert json.loads(tags) == ["keep"]
    else:
        assert list(tags) == ["keep"]


def test_parquet_keeps_dtypes(project: dict[str, Any], tmp_path: Path) -> None:
    out = tmp_path / "runs.parquet"
    export_runs(out, project["path"])
    frame = pd.read_parquet(out)
    assert isinstance(frame["start"].dtype, pd.DatetimeTZDtype)
    assert pd.api.types.is_float_dtype(frame["config.lr"].dtype)
    assert pd.api.types.is_bool_dtype(frame["dirty"].dtype)


def test_export_json_is_plain_json(project: dict[str, Any], tmp_path: Path) -> None:
    out = tmp_path / "runs.json"
    export_runs(out, project["path"], where="status == 'FAILED'", columns="id,start,result,tags")
    data = json.loads(out.read_text())
    assert len(data) == 1
    assert list(data[0]) == ["id", "start", "result", "tags"]
    assert data[0]["result"] is None and data[0]["start"].endswith("+00:00")
    assert data[0]["id"] == project["ids"]["c"]


def test_export_metrics_long_frame(project: dict[str, Any], tmp_path: Path) -> None:
    ids, repo = project["ids"], project["path"]
    out = tmp_path / "metrics.csv"
    proc = gitxp(repo, "export", "--metrics", "-o", str(out), "--where", "config.lr > 0.15")
    assert "wrote 20 rows" in proc.stderr  # runs b and c, 2 metrics × 5 steps
    frame = pd.read_csv(out)
    assert list(frame.columns) == ["run", "name", "step", "value", "timestamp"]
    assert set(frame["run"]) == {ids["b"], ids["c"]}
    assert pd.to_datetime(frame["timestamp"], utc=True).notna().all()
    jsonl = tmp_path / "m.jsonl"
    gitxp(repo, "export", "--metrics", "-m", "acc", "-o", str(jsonl))
    lines = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert len(lines) == 20 and {x["name"] for x in lines} == {"acc"}
    assert set(lines[0]) == {"run", "name", "step", "value", "timestamp"}


def test_unknown_extension_lists_supported(project: dict[str, Any], tmp_path: Path) -> None:
    proc = gitxp(project["path"], "export", "-o", str(tmp_path / "runs.xlsx"), check=False)
    assert proc.returncode == 2
    (line,) = proc.stderr.strip().splitlines()
    for ext in ("'.xlsx'", ".csv", ".parquet", ".json", ".jsonl"):
        assert ext in line
    assert not (tmp_path / "runs.xlsx").exists()
    with pytest.raises(UsageError, match="no extension"):
        write_frame(pd.DataFrame(), tmp_path / "runs")
    with pytest.raises(UsageError, match="does not exist"):
        write_frame(pd.DataFrame(), tmp_path / "nope" / "runs.csv")


def test_export_with_no_runs(tmp_path: Path) -> None:
    from query_helpers import git

    repo = tmp_path / "empty"
    repo.mkdir()
    git(repo, "init", "-q")
    out = tmp_path / "none.csv"
    assert export_runs(out, repo) == 0
    assert pd.read_csv(out).columns[0] == "id"
