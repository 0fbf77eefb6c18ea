"""The query layer (issue 6): frames, where expressions, load_run and the run cache."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from query_helpers import bench, git, gitxp, isolate, recorded_project

import gitxp as gx
from gitxp.errors import RunNotFoundError, UsageError
from gitxp.git.repo import GitRepo
from gitxp.query import cache as rowcache
from gitxp.query import frames as query
from gitxp.query import rows as rowread
from gitxp.query import where


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with pytest.MonkeyPatch.context() as mp:
        isolate(mp, tmp_path_factory.mktemp("home"))
        path = tmp_path_factory.mktemp("query") / "project"
        ids = recorded_project(path)
        yield {"path": path, "ids": ids}


@pytest.fixture
def many(tmp_path: Path) -> tuple[Path, GitRepo, list[str]]:
    """A repository with 120 runs written straight into git (the Recorder's format)."""
    path = tmp_path / "many"
    path.mkdir()
    git(path, "init", "-q")
    repo = GitRepo(path)
    return path, repo, bench.write_runs(repo, 120, seed=1)


# -- gitxp.runs() ------------------------------------------------------------------------


def test_runs_rows_columns_and_dtypes(project: dict[str, Any]) -> None:
    ids = project["ids"]
    frame = gx.runs(project["path"])
    assert list(frame["id"]) == [ids["d"], ids["c"], ids["b"], ids["a"]]  # newest first
    for name in (*query.BASE_COLUMNS, "config.lr", "config.opt.name"):
        assert name in frame.columns, name
    for stat in ("last", "min", "max"):
        assert f"metrics.loss.{stat}" in frame.columns
        assert f"metrics.acc.{stat}" in frame.columns
    for name in ("start", "stop", "heartbeat"):
        assert isinstance(frame[name].dtype, pd.DatetimeTZDtype), name
        assert str(frame[name].dt.tz) == "UTC"
    for name in ("duration", "result", "config.lr", "metrics.loss.min", "metrics.acc.last"):
        assert pd.api.types.is_float_dtype(frame[name].dtype), name
    assert pd.api.types.is_bool_dtype(frame["dirty"].dtype)
    assert pd.api.types.is_integer_dtype(frame["exit_code"].dtype)
    assert pd.api.types.is_string_dtype(frame["status"].dtype)
    row = frame.set_index("id").loc[ids["b"]]
    assert row["name"] == "best" and list(row["tags"]) == ["keep"]
    assert row["status"] == "COMPLETED" and row["experiment"] == "train"
    assert row["config.lr"] == 0.2 and row["config.opt.name"] == "sgd"
    assert row["result"] == pytest.approx(0.4)
    assert row["metrics.loss.last"] == pytest.approx(0.2)  # lr * 1
    assert row["metrics.loss.min"] == pytest.approx(0.2)
    assert row["metrics.loss.max"] == pytest.approx(1.0)  # lr * 5
    assert row["metrics.acc.max"] == pytest.approx(0.6)
    assert row["base_commit"] == git(project["path"], "rev-parse", "HEAD").strip()
    assert row["commit"] == git(project["path"], "rev-parse", row["ref"]).strip()
    assert 0 < row["duration"] < 60 and row["stop"] > row["start"]
    failed = frame.set_index("id").loc[ids["c"]]
    assert failed["status"] == "FAILED" and pd.isna(failed["result"])
    assert failed["exit_code"] == 3


def test_runs_where_experiment_status_sort_columns(project: dict[str, Any]) -> None:
    ids, path = project["ids"], project["path"]
    got = gx.runs(path, where="config.lr >= 0.1 and config.opt.name == 'adam'")
    assert set(got["id"]) == {ids["a"], ids["c"]}
    got = gx.runs(path, where="metrics.loss.min < 0.15 or status == 'FAILED'")
    assert set(got["id"]) == {ids["a"], ids["d"], ids["c"]}
    got = gx.runs(path, where="config.opt.name.str.startswith('sg') & (result > 0.2)")
    assert list(got["id"]) == [ids["b"]]
    got = gx.runs(path, where="`config.lr` < 0.1")  # backquotes still work
    assert list(got["id"]) == [ids["d"]]
    assert list(gx.runs(path, status="failed")["id"]) == [ids["c"]]
    assert len(gx.runs(path, experiment="train")) == 4
    assert gx.runs(path, experiment="other").empty
    got = gx.runs(path, sort="config.lr")
    assert list(got["id"]) == [ids["d"], ids["a"], ids["b"], ids["c"]]
    got = gx.runs(path, sort=["-result"])
    assert list(got["id"])[:3] == [ids["b"], ids["a"], ids["d"]]  # the FAILED run, no result, last
    got = gx.runs(path, columns="id,config.*,metrics.loss.*")
    assert list(got.columns) == [
        "id",
        "config.fail",
        "config.lr",
        "config.opt.name",
        "metrics.loss.last",
        "metrics.loss.min",
        "metrics.loss.max",
    ]


@pytest.mark.parametrize(
    ("expr", "words"),
    [
        ("config.lrr > 0.1", ["'config.lrr'", "config.lr"]),
        ("lr > 0.1", ["'lr'", "config.lr"]),
        ("statuss == 'FAILED'", ["'statuss'", "status"]),
        ("metrics.loss < 1", ["'metrics.loss'", "metrics.loss.last", "metrics.loss.min"]),
        ("config.lr > 0.1 and and status", ["invalid", "near 'and'"]),
        ("(config.lr > 0.1", ["never closed", "near '(config.lr'"]),
        ("config.lr + 1", ["not a condition"]),
    ],
)
def test_bad_where_names_the_problem(project: dict[str, Any], expr: str, words: list[str]) -> None:
    with pytest.raises(UsageError) as err:
        gx.runs(project["path"], where=expr)
    for word in words:
        assert word in str(err.value), str(err.value)


def test_bad_sort_and_columns_suggest_names(project: dict[str, Any]) -> None:
    with pytest.raises(UsageError, match=r"close: config\.lr"):
        gx.runs(project["path"], sort="config.lrr")
    with pytest.raises(UsageError, match=r"'config\.nope\.\*'"):
        gx.runs(project["path"], columns="config.nope.*")


def test_rewrite_where_quotes_only_known_dotted_names() -> None:
    columns = ["status", "config.lr", "config.opt", "config.opt.name", "metrics.val/loss.min"]
    rewrite = where.rewrite_where
    assert rewrite("config.lr > 0.1", columns) == "`config.lr` > 0.1"
    assert rewrite("config.opt.name == 'config.lr'", columns) == "`config.opt.name` == 'config.lr'"
    assert rewrite("config.opt.name.str.len() > 2", columns) == "`config.opt.name`.str.len() > 2"
    assert rewrite("metrics.val/loss.min<1", columns) == "`metrics.val/loss.min`<1"
    assert rewrite('`config.lr` > 1 and "a\\"config.lr" == status', columns) == (
        '`config.lr` > 1 and "a\\"config.lr" == status'
    )
    assert rewrite("xconfig.lr > 1", columns) == "xconfig.lr > 1"
    plain = rewrite("config.opt.name == `config.lr`", columns, plain=True)
    assert plain == "config_opt_name == ___________"


# -- gitxp.metrics() and gitxp.load_run() -------------------------------------------------


def test_metrics_long_frame(project: dict[str, Any]) -> None:
    ids, path = project["ids"], project["path"]
    frame = gx.metrics(repo=path)
    assert list(frame.columns) == list(query.METRIC_COLUMNS)
    assert len(frame) == 4 * 2 * 5
    assert pd.api.types.is_integer_dtype(frame["step"].dtype)
    assert pd.api.types.is_float_dtype(frame["value"].dtype)
    assert isinstance(frame["timestamp"].dtype, pd.DatetimeTZDtype)
    loss_b = frame[(frame["run"] == ids["b"]) & (frame["name"] == "loss")]
    assert list(loss_b["step"]) == [0, 1, 2, 3, 4]
    assert list(loss_b["value"]) == pytest.approx([1.0, 0.8, 0.6, 0.4, 0.2])
    only = gx.metrics(gx.runs(path, where="config.lr < 0.15"), names="acc", repo=path)
    assert set(only["run"]) == {ids["a"], ids["d"]} and set(only["name"]) == {"acc"}
    by_prefix = gx.metrics([ids["a"][:14], "latest"], names=["loss"], repo=path)
    assert list(dict.fromkeys(by_prefix["run"])) == [ids["a"], ids["d"]]
    with pytest.raises(UsageError, match=r"no metric 'los'.*loss.*the runs logged: acc, loss"):
        gx.metrics(names="los", repo=path)
    with pytest.raises(RunNotFoundError):
        gx.metrics("ZZZZZZ", repo=path)


def test_load_run_parts_artifacts_and_sources(project: dict[str, Any], tmp_path: Path) -> None:
    ids, path = project["ids"], project["path"]
    run = gx.load_run(ids["b"][:12], repo=path)
    assert run.id == ids["b"] and run.ref == f"refs/gitxp/runs/{ids['b']}"
    assert run.commit == git(path, "rev-parse", run.ref).strip()
    assert run.config == {"lr": 0.2, "opt": {"name": "sgd"}}
    assert run.info["status"] == "COMPLETED" and run.result == pytest.approx(0.4)
    assert set(run.metrics["name"]) == {"loss", "acc"}
    assert list(run.metric("loss").index) == [0, 1, 2, 3, 4]
    with pytest.raises(UsageError, match="acc, loss"):
        run.metric("nope")
    weights = run.artifacts["weights.bin"]
    assert weights.size == 64 and weights.read() == b"W" * 64
    assert weights.extract(tmp_path).read_bytes() == b"W" * 64
    assert weights.extract(tmp_path / "sub" / "w.bin").read_bytes() == b"W" * 64
    made = weights.extract(f"{tmp_path}/new-folder/")  # a folder that does not exist yet
    assert made == tmp_path / "new-folder" / "weights.bin" and made.read_bytes() == b"W" * 64
    assert run.source_files() == [".gitignore", "train.py"]
    assert run.read_source("train.py") == (path / "train.py").read_bytes()
    out = run.extract_source(tmp_path / "src")
    assert sorted(p.name for p in out.iterdir()) == [".gitignore", "train.py"]
    assert git(path, "rev-parse", f"{run.snapshot_commit}^{{tree}}").strip() == run.source_tree
    assert git(path, "rev-parse", f"{run.commit}^").strip() == run.snapshot_commit
    with pytest.raises(UsageError, match="not an empty folder"):
        run.extract_source(tmp_path / "src")
    assert gx.load_run("latest", repo=path).id == ids["d"]


def test_import_gitxp_and_plain_ls_do_not_import_pandas(project: dict[str, Any]) -> None:
    code = (
        "import sys, gitxp\n"
        "gitxp.runs, gitxp.metrics, gitxp.load_run\n"
        "assert 'pandas' not in sys.modules and 'matplotlib' not in sys.modules\n"
        "from gitxp.cli.main import main\n"
        "main(['ls'])\n"
        "assert 'pandas' not in sys.modules, 'plain ls imported pandas'\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=project["path"], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    assert "COMPLETED" in proc.stdout


# -- gitxp ls -----------------------------------------------------------------------------


def test_ls_table_where_sort_columns(project: dict[str, Any]) -> None:
    ids, path = project["ids"], project["path"]
    lines = gitxp(path, "ls").stdout.splitlines()
    assert lines[0].split() == [
        "ID",
        "EXPERIMENT",
        "STATUS",
        "START",
        "DURATION",
        "RESULT",
        "TAGS",  # run b is tagged
        "fail",
        "lr",
        "opt.name",
    ]
    assert [
        ids[k].startswith(line.split()[0]) for k, line in zip("dcba", lines[1:], strict=True)
    ] == [True] * 4
    assert "train/best" in lines[3] and "FAILED" in lines[2]
    lines = gitxp(path, "ls", "--where", "config.opt.name == 'sgd'", "--sort", "-config.lr").stdout
    rows = lines.splitlines()[1:]
    assert [ids[k].startswith(r.split()[0]) for k, r in zip("bd", rows, strict=True)] == [
        True,
        True,
    ]
    assert len(rows) == 2
    cols = gitxp(path, "ls", "--columns", "config.lr,metrics.loss.min,tags", "-s", "config.lr")
    header, *rows = cols.stdout.splitlines()
    assert header.split() == ["ID", "config.lr", "metrics.loss.min", "TAGS"]
    assert rows[0].split()[1:] == ["0.05", "0.05", "-"]
    assert rows[2].split()[1:] == ["0.2", "0.2", "keep"]
    data = json.loads(gitxp(path, "ls", "--json", "--where", "result > 0.3").stdout)
    assert [d["id"] for d in data] == [ids["b"]]
    assert data[0]["config"] == {"lr": 0.2, "opt": {"name": "sgd"}}  # the old --json objects
    data = json.loads(gitxp(path, "ls", "--json", "--columns", "id,start,config.lr").stdout)
    assert list(data[0]) == ["id", "start", "config.lr"]
    assert data[0]["start"].endswith("+00:00")
    none = gitxp(path, "ls", "--where", "config.lr > 5")
    assert none.stdout == "" and "no run matches" in none.stderr


def test_ls_bad_where_is_one_error_line(project: dict[str, Any]) -> None:
    proc = gitxp(project["path"], "ls", "--where", "config.lrr > 1", check=False)
    assert proc.returncode == 2
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith(
        "gitxp: error: unknown column 'config.lrr' in 'config.lrr > 1'; close: config.lr"
    )


# -- the cache ----------------------------------------------------------------------------


def count_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record the commits the query reads from git from now on."""
    reads: list[str] = []
    original = rowread.read_row

    def spy(repo: GitRepo, ref: str, commit: str, memo: Any = None) -> dict[str, Any]:
        reads.append(commit)
        return original(repo, ref, commit, memo)

    monkeypatch.setattr(rowread, "read_row", spy)
    return reads


def test_cache_cold_warm_and_incremental(
    many: tuple[Path, GitRepo, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    path, repo, ids = many
    reads = count_reads(monkeypatch)
    cold = gx.runs(path)
    assert len(cold) == 120 and len(reads) == 120
    assert list(cold["id"]) == sorted(ids, reverse=True)
    cache = rowcache.cache_path(repo)
    assert cache.is_file() and cache.parent == repo.state_dir / "cache"
    reads.clear()
    warm = gx.runs(path)
    assert reads == []
    pd.testing.assert_frame_equal(cold, warm)
    added = bench.write_runs(repo, 2, seed=2)  # new runs: only they are read
    assert len(gx.runs(path)) == 122 and len(reads) == 2
    reads.clear()
    gone = ids[5]
    git(path, "update-ref", "-d", f"refs/gitxp/runs/{gone}")  # plain git removes one
    frame = gx.runs(path)
    assert len(frame) == 121 and gone not in set(frame["id"]) and reads == []
    moved = ids[7]  # move a ref back to its snapshot commit: that run alone is re-read
    ref = f"refs/gitxp/runs/{moved}"
    git(path, "update-ref", ref, git(path, "rev-parse", f"{ref}^").strip())
    frame = gx.runs(path).set_index("id")
    assert len(reads) == 1 and frame.loc[moved, "status"] == "RUNNING"
    assert pd.isna(frame.loc[moved, "metrics.loss.last"])
    assert set(added) <= set(frame.index)
    assert [p.name for p in cache.parent.iterdir()] == [cache.name]  # no temp files left


def test_cache_rebuilt_when_damaged_or_old(
    many: tuple[Path, GitRepo, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    path, repo, _ = many
    expected = gx.runs(path)
    cache = rowcache.cache_path(repo)
    reads = count_reads(monkeypatch)
    older = {"format": rowcache.CACHE_FORMAT - 1, "refs": [], "commits": [], "columns": {}}
    damaged = [
        b"",
        b"not a pickle",
        cache.read_bytes()[:200],
        pickle.dumps(older),
        pickle.dumps({"format": rowcache.CACHE_FORMAT, "refs": ["x"], "commits": []}),
        pickle.dumps(["a", "list"]),
    ]
    for content in damaged:
        cache.write_bytes(content)
        reads.clear()
        pd.testing.assert_frame_equal(gx.runs(path), expected)
        assert len(reads) == 120
        assert rowcache.load_cache(cache) is not None  # rewritten whole
    cache.unlink()
    pd.testing.assert_frame_equal(gx.runs(path), expected)


def test_fetch_adds_runs_and_update_ref_deletes_seen_by_next_query(tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    git(other, "init", "-q")
    first = bench.write_runs(GitRepo(other), 5, seed=3)
    mine = tmp_path / "mine"
    git(tmp_path, "clone", "-q", str(other), str(mine))
    git(mine, "fetch", "-q", str(other), "refs/gitxp/*:refs/gitxp/*")
    assert set(gx.runs(mine)["id"]) == set(first)  # cache built
    later = bench.write_runs(GitRepo(other), 3, seed=4, start=4e9)
    git(mine, "fetch", "-q", str(other), "refs/gitxp/*:refs/gitxp/*")
    frame = gx.runs(mine)
    assert list(frame["id"][:3]) == sorted(later, reverse=True)
    assert set(frame["id"]) == set(first) | set(later)
    git(mine, "update-ref", "-d", f"refs/gitxp/runs/{first[0]}")
    assert set(gx.runs(mine)["id"]) == (set(first) | set(later)) - {first[0]}
    assert "RUNNING" not in gitxp(mine, "ls").stdout


def test_concurrent_queries_never_see_half_a_cache(
    many: tuple[Path, GitRepo, list[str]],
) -> None:
    path, repo, _ = many
    code = (
        "import sys, gitxp\n"
        "for _ in range(3):\n"
        "    assert len(gitxp.runs(sys.argv[1])) >= 120\n"
        "print('ok')\n"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for _ in range(3)
    ]
    bench.write_runs(repo, 10, seed=5)  # while they query
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0 and out.strip() == b"ok", err.decode()
    table = rowcache.load_cache(rowcache.cache_path(repo))
    assert table is not None and len(gx.runs(path)) == 130


def test_metric_summary_fast_path_matches_full_parse() -> None:
    docs: list[dict[str, Any]] = [
        {"loss": {"steps": [0, 1, 2], "values": [3, 1.5, 2], "timestamps": [1.0, 2.0, 3.0]}},
        {'we"ird]': {"steps": [0], "values": [-1e-9], "timestamps": [0.5]}, "x": {"values": []}},
        {"nan": {"steps": [0, 1, 2], "values": [1.0, float("nan"), 0.5], "timestamps": []}},
        {"values": {"steps": [1], "values": [7], "timestamps": [1]}},
    ]
    for doc in docs:
        for raw in (json.dumps(doc).encode(), json.dumps(doc, indent=2).encode()):
            assert rowread.metric_summary(raw) == rowread._slow_metric_summary(raw), raw
    assert rowread.metric_summary(b'{"a": {"values": [1, "x"]}}') == {"a": (1.0, 1.0, 1.0)}
    assert rowread.metric_summary(b"not json") == {}


def test_columns_hold_each_run_in_order(many: tuple[Path, GitRepo, list[str]]) -> None:
    _, repo, _ = many
    runs = sorted(repo.refs().items())
    columns = rowread.read_columns(repo, runs)
    for index in (0, 57, len(runs) - 1):
        row = {k: v for k, v in rowread.read_row(repo, *runs[index]).items() if v is not None}
        assert {k: v[index] for k, v in columns.items() if v[index] is not None} == row
    assert rowread.read_columns(repo, []) == {}


def test_config_fast_path_parses_like_pyyaml() -> None:
    import random

    import yaml

    from gitxp.store import record

    rng = random.Random(6)
    leaves: list[Any] = [
        *("yes", "No", "on", "null", "~", "1e5", "1.0e-05", "0x1F", "012", "1_000", "1:30"),
        *("a: b", "#c", "x #y", "", " ", "é", "two\nlines", "x" * 90, "2024-01-01", "- a"),
        *("[1]", "{}", "[]", "@x", "&a", "*a", "!!str", "a:", "+1", ".5", "5.", "-0", "3.0"),
        *(0, -7, 10**12, 0.1, -2.5e-8, 1e300, True, False, None, [], {}, [1, "a"], {"k": []}),
        *(["adam", "sgd_2", 3, 64, 0.001, -1.5] * 6),  # what most configs hold
    ]
    keys = ["lr", "batch_size", "yes", "on", "1", "key-x", "x y", "_p", "True", "Null", "é"]

    def value(depth: int) -> Any:
        if depth < 3 and rng.random() < 0.25:
            return {rng.choice(keys): value(depth + 1) for _ in range(rng.randint(0, 4))}
        return rng.choice(leaves)

    fast = 0
    for _ in range(400):
        config = {rng.choice(keys): value(0) for _ in range(rng.randint(0, 6))}
        data = record.dump_yaml(config)
        assert rowread.load_config(data, {}) == yaml.safe_load(data), data
        try:
            rowread._simple_yaml(data.decode(), {})
            fast += 1
        except rowread._NotSimpleError:
            pass
    assert fast > 10  # the fast path was taken, and agreed
    for text in (
        "a:\n  b:\n",
        "a:\n  b: 1\nc: 2\n",
        "a: 1 # note\n",
        "a:\n- 1\n",
        "",
        "a: |\n  x\n",
    ):
        assert rowread.load_config(text.encode()) == yaml.safe_load(text), text
