"""The logging API of any script under ``gitxp run`` (issue 2, point 5).

Step rules (Sacred's: per metric, from 0, one more than the last step), numpy scalars,
clear errors for what is not a number, and the cost of 100,000 scalars end to end.
"""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from runstore_helpers import git, gitxp_run, run_info, show_json

from gitxp.errors import GitxpError, UsageError
from gitxp.store.metricfile import MetricsReader
from gitxp.store.spool import Spool


def spool_metrics(spool: Spool) -> dict[str, dict[str, list[float]]]:
    return MetricsReader(spool.path / "metrics").read({})[0]


def test_step_rules_under_gitxp_run(repo: Path) -> None:
    (repo / "steps.py").write_text(
        textwrap.dedent(
            """\
            import gitxp
            got = [
                gitxp.log_scalar('a', 1),
                gitxp.log_scalar('a', 2),
                gitxp.log_scalar('b', 5),
                gitxp.log_scalar('a', 3, step=10),
                gitxp.log_scalar('a', 4),
                gitxp.log_scalar('b', 6, step=3),
                gitxp.log_scalar('b', 7),
                gitxp.log_scalar('c', 8, step=0),
                gitxp.log_scalar('c', 9),
            ]
            print('returned', got)
            """
        )
    )
    proc, ref = gitxp_run(repo, "-b", "0", "steps.py")
    assert "returned [0, 1, 0, 10, 11, 3, 4, 0, 1]" in proc.stdout
    metrics = show_json(repo, ref, ".gitxp/metrics.json")
    assert metrics["a"]["steps"] == [0, 1, 10, 11]
    assert metrics["a"]["values"] == [1, 2, 3, 4]
    assert metrics["b"]["steps"] == [0, 3, 4]
    assert metrics["b"]["values"] == [5, 6, 7]
    assert metrics["c"]["steps"] == [0, 1]
    for series in metrics.values():
        stamps = series["timestamps"]
        assert stamps == sorted(stamps)
        assert all(abs(s - time.time()) < 600 for s in stamps)


def test_numpy_scalars_stored_as_numbers(repo: Path) -> None:
    (repo / "np_log.py").write_text(
        textwrap.dedent(
            """\
            import numpy as np
            import gitxp
            gitxp.log_scalar('f32', np.float32(0.5))
            gitxp.log_scalar('f64', np.float64(1.25))
            gitxp.log_scalar('i64', np.int64(7))
            gitxp.log_scalar('u8', np.uint8(200))
            gitxp.log_scalar('bool', np.bool_(True))
            gitxp.log_scalar('zero_d', np.array(3.5))
            gitxp.log_scalar('i64', np.int64(8), step=np.int64(5))
            gitxp.log_scalar('py', True)
            gitxp.log_scalar('nan', float('nan'))
            gitxp.log_scalar('inf', float('-inf'))
            gitxp.log_scalar('big', 10**20)
            gitxp.log_scalar('neg', -3)
            gitxp.log_scalar('tiny', 1e-300)
            """
        )
    )
    _, ref = gitxp_run(repo, "-b", "0", "np_log.py")
    raw = git(repo, "show", f"{ref}:.gitxp/metrics.json")
    assert "np." not in raw and "array" not in raw and '"0.5"' not in raw
    metrics = show_json(repo, ref, ".gitxp/metrics.json")
    values = {name: series["values"] for name, series in metrics.items()}
    assert values["f32"] == [0.5] and type(values["f32"][0]) is float
    assert values["f64"] == [1.25]
    assert values["i64"] == [7, 8] and all(type(v) is int for v in values["i64"])
    assert metrics["i64"]["steps"] == [0, 5]
    assert values["u8"] == [200]
    assert values["bool"] == [1] and values["py"] == [1]
    assert values["zero_d"] == [3.5]
    assert math.isnan(values["nan"][0])
    assert values["inf"] == [float("-inf")]
    assert values["big"] == [10**20]
    assert values["neg"] == [-3]
    assert values["tiny"] == [1e-300]


def test_non_numbers_rejected_with_a_clear_message(repo: Path) -> None:
    (repo / "bad.py").write_text(
        textwrap.dedent(
            """\
            import numpy as np
            import gitxp
            for value in ['0.5', None, [1, 2], {'a': 1}, complex(1, 2), np.array([1.0, 2.0])]:
                try:
                    gitxp.log_scalar('loss', value)
                except gitxp.GitxpError as err:
                    print('REJECTED', type(value).__name__, '|', err)
            for step in [1.5, 'x', None]:
                try:
                    print('STEP', gitxp.log_scalar('loss', 1.0, step=step))
                except gitxp.GitxpError as err:
                    print('REJECTED step', repr(step), '|', err)
            for name in ['', 3]:
                try:
                    gitxp.log_scalar(name, 1.0)
                except gitxp.GitxpError as err:
                    print('REJECTED name', repr(name), '|', err)
            gitxp.log_scalar('loss', 2.0)
            """
        )
    )
    proc, ref = gitxp_run(repo, "-b", "0", "bad.py")
    lines = [line for line in proc.stdout.splitlines() if line.startswith("REJECTED")]
    assert len(lines) == 10, proc.stdout
    for line in lines[:6]:
        message = line.split("|", 1)[1]
        assert "loss" in message and "number" in message, line
    assert "array" in lines[5]
    assert "step" in lines[6] and "integer" in lines[6]
    assert "step" in lines[7] and "integer" in lines[7]
    assert "name" in lines[8] and "name" in lines[9]
    assert "STEP 0" in proc.stdout
    # Rejected calls left no trace and did not break the run.
    info = run_info(repo, ref)
    assert info["status"] == "COMPLETED"
    metrics = show_json(repo, ref, ".gitxp/metrics.json")
    assert metrics == {
        "loss": {
            "steps": [0, 1],
            "values": [1.0, 2.0],
            "timestamps": metrics["loss"]["timestamps"],
        }
    }


def test_uncaught_bad_value_fails_the_script_not_gitxp(repo: Path) -> None:
    (repo / "crash.py").write_text("import gitxp\ngitxp.log_scalar('loss', 'high')\n")
    proc, ref = gitxp_run(repo, "-b", "0", "crash.py", check=False)
    assert proc.returncode == 1
    assert "internal error" not in proc.stderr
    info = run_info(repo, ref)
    assert info["status"] == "FAILED"
    output = git(repo, "show", f"{ref}:.gitxp/output.log")
    assert "is not a number" in output


def test_spool_writer_in_process(tmp_path: Path) -> None:
    spool = Spool.create(tmp_path / "spool")
    assert spool.log_scalar("a", 1) == 0
    assert spool.log_scalar("a", 2) == 1
    assert spool.log_scalar("a", 3, step=10) == 10
    assert spool.log_scalar("a", 4) == 11
    weird = 'loss/ü\tnew\nline "quoted"'
    assert spool.log_scalar(weird, 0.25) == 0
    # Readable while the writer is still open, as after a SIGKILL: nothing is lost.
    before_close = spool_metrics(spool)
    assert before_close["a"]["steps"] == [0, 1, 10, 11]
    assert before_close[weird]["values"] == [0.25]
    with pytest.raises(UsageError, match="not a number"):
        spool.log_scalar("a", "x")
    with pytest.raises(GitxpError, match="integer"):
        spool.log_scalar("a", 1, step=2.5)
    with pytest.raises(GitxpError, match="non-empty"):
        spool.log_scalar("", 1)
    assert spool.log_scalar("a", 5) == 12
    spool.close()
    assert spool_metrics(spool)["a"]["values"] == [1, 2, 3, 4, 5]


def test_spool_reader_is_incremental_and_grows(tmp_path: Path) -> None:
    spool = Spool.create(tmp_path / "spool")
    reader = MetricsReader(spool.path / "metrics")
    for i in range(10):
        spool.log_scalar("x", i)
    first, reached = reader.read({})
    assert first["x"]["values"] == list(range(10))
    # Past the first memory map size (160 KiB): the file grows, nothing is lost.
    for i in range(10, 20_000):
        spool.log_scalar("x", i)
    more, reached = reader.read(reached)
    assert more["x"]["values"] == list(range(10, 20_000))
    spool.close()
    assert reader.read(reached) == ({}, reached)  # closed: nothing new
    assert reader.read({})[0]["x"]["steps"] == list(range(20_000))


def test_outside_a_run_logging_warns_once_and_records_nothing(tmp_path: Path) -> None:
    code = (
        "import gitxp\nprint(gitxp.log_scalar('a', 1), gitxp.log_scalar('a', 2), gitxp.config())\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert proc.stdout.strip() == "None None {}"
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "no run is active" in proc.stderr


def test_cost_of_100000_scalars(repo: Path) -> None:
    (repo / "many.py").write_text(
        textwrap.dedent(
            """\
            import time
            import gitxp
            start = time.perf_counter()
            for i in range(100_000):
                gitxp.log_scalar('x', i * 0.5)
            print(f'LOOP {time.perf_counter() - start:.4f}')
            """
        )
    )
    (repo / "none.py").write_text("import gitxp\n")
    start = time.perf_counter()
    proc, ref = gitxp_run(repo, "-b", "0", "many.py")
    with_metrics = time.perf_counter() - start
    start = time.perf_counter()
    gitxp_run(repo, "-b", "0", "none.py")
    baseline = time.perf_counter() - start
    loop = float(proc.stdout.split("LOOP ")[1].split()[0])
    metrics = show_json(repo, ref, ".gitxp/metrics.json")
    assert metrics["x"]["steps"] == list(range(100_000))
    assert metrics["x"]["values"] == [i * 0.5 for i in range(100_000)]
    assert len(metrics["x"]["timestamps"]) == 100_000
    print(
        f"\n100,000 log_scalar calls: loop {loop:.3f} s in the script; whole run "
        f"{with_metrics:.3f} s vs {baseline:.3f} s for an empty script "
        f"(difference {with_metrics - baseline:.3f} s, including the final record commit)"
    )


@pytest.mark.parametrize("value", [np.float16(1.5), np.int32(-4)])
def test_numpy_scalars_in_process(tmp_path: Path, value: object) -> None:
    spool = Spool.create(tmp_path / "spool")
    spool.log_scalar("v", value)
    spool.close()
    stored = spool_metrics(spool)["v"]["values"][0]
    assert stored == value and type(stored) in (int, float)
