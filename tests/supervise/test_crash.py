"""Crash safety (issue 2, point 6): the real kills.

- the child killed with SIGKILL → FAILED, with every metric and output line up to the kill;
- the supervisor (``gitxp run``) killed with SIGKILL → the ref says RUNNING; the next gitxp
  command (``gitxp ls``) or ``gitxp recover`` seals it: DIED, nothing lost, spool gone;
- SIGINT (to the supervisor, or to the whole process group as a terminal's Ctrl-C) →
  INTERRUPTED, exit code 130.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from runstore_helpers import (
    fsck,
    git,
    gitxp,
    gitxp_run,
    kill_under,
    pid_alive,
    run_info,
    run_refs,
    show_json,
    wait_for,
)

from gitxp.store.metricfile import MetricsReader

SPOOL = Path(".git") / "gitxp" / "spool"

LOOPING = textwrap.dedent(
    """\
    import os, sys, time
    import gitxp
    with open(sys.argv[1], 'w') as handle:
        handle.write(str(os.getpid()))
    i = 0
    while True:
        gitxp.log_scalar('tick', i * 1.5)
        print(f'tick {i}', flush=True)
        i += 1
        time.sleep(0.01)
    """
)


def spool_values(spool: Path) -> list[object]:
    """Every scalar value already in a spool's metric files, read as the recorder reads them."""
    metrics, _ = MetricsReader(spool / "metrics").read({})
    return [value for series in metrics.values() for value in series["values"]]


def start_supervisor(repo: Path, *args: str, log: Path) -> subprocess.Popen[bytes]:
    with open(log, "wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "gitxp", "run", *args],
            cwd=repo,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def test_child_killed_by_sigkill_is_failed_with_everything_logged(repo: Path) -> None:
    (repo / "die.py").write_text(
        textwrap.dedent(
            """\
            import os
            import gitxp
            for i in range(50):
                gitxp.log_scalar('loss', 100 - i)
                os.write(1, f'line {i}\\n'.encode())  # one write each: lines stay whole
                os.write(2, f'err {i}\\n'.encode())
            gitxp.add_artifact(__file__, name='copy.py')
            gitxp.set_result('partial')
            os.kill(os.getpid(), 9)
            print('never printed', flush=True)
            """
        )
    )
    proc, ref = gitxp_run(repo, "-b", "0.2", "die.py", check=False)
    assert proc.returncode == 128 + 9
    info = run_info(repo, ref)
    assert info["status"] == "FAILED"
    assert info["exit_code"] == 137
    assert "signal 9" in info["fail_trace"]
    assert info["result"] == "partial"
    metrics = show_json(repo, ref, ".gitxp/metrics.json")
    assert metrics["loss"]["steps"] == list(range(50))
    assert metrics["loss"]["values"] == [100 - i for i in range(50)]
    output = git(repo, "show", f"{ref}:.gitxp/output.log")
    for i in range(50):
        assert f"line {i}\n" in output and f"err {i}\n" in output
    assert "never printed" not in output
    assert [a["name"] for a in info["artifacts"]] == ["copy.py"]
    assert os.listdir(repo / SPOOL) == []
    fsck(repo)


@pytest.mark.parametrize("sealer", ["ls", "recover"])
def test_supervisor_killed_then_sealed_as_died(repo: Path, tmp_path: Path, sealer: str) -> None:
    (repo / "loop.py").write_text(LOOPING)
    pid_file = tmp_path / "child.pid"
    before = run_refs(repo)
    sup = start_supervisor(repo, "-b", "0.2", "loop.py", str(pid_file), log=tmp_path / "out")
    try:
        wait_for(lambda: len(run_refs(repo)) > len(before), "the run ref")
        (ref,) = set(run_refs(repo)) - set(before)
        run_id = ref.rsplit("/", 1)[1]
        spool = repo / SPOOL / run_id
        wait_for(lambda: len(spool_values(spool)) >= 20, "metrics in the spool")
        # Let at least one heartbeat commit land with data in it.
        wait_for(lambda: bool(git(repo, "ls-tree", ref, ".gitxp/live/metrics")), "a beat")
        child = int(pid_file.read_text())
        sup.send_signal(signal.SIGKILL)
        sup.wait(timeout=10)
        killed_at = time.time()
        time.sleep(0.1)  # the child logs on alone for a moment: that must be kept too
        if pid_alive(child):
            os.kill(child, signal.SIGKILL)
        wait_for(lambda: not pid_alive(child), "the child to be gone")
    finally:
        kill_under(repo)
        if sup.poll() is None:
            sup.kill()
        sup.wait()
    # The ref says RUNNING with a heartbeat from before the kill.
    info = run_info(repo, ref)
    assert info["status"] == "RUNNING"
    assert json.loads(git(repo, "show", f"{ref}:.gitxp/run.json"))["stop_time"] is None
    from datetime import datetime

    beat = datetime.fromisoformat(info["heartbeat"]).timestamp()
    assert beat <= killed_at
    logged = spool_values(spool)
    spooled_output = (spool / "output.log").read_bytes().decode()
    assert len(logged) >= 20
    # The next gitxp command seals it.
    if sealer == "ls":
        proc = gitxp(repo, "ls")
        assert f"sealed run {run_id}" in proc.stderr
        assert "DIED" in proc.stdout
    else:
        proc = gitxp(repo, "recover")
        assert f"sealed {run_id}" in proc.stdout
        assert gitxp(repo, "recover").stdout.strip() == "nothing to recover"
    info = run_info(repo, ref)
    assert info["status"] == "DIED"
    assert info["stop_time"] is not None
    assert info["fail_trace"]
    metrics = show_json(repo, ref, ".gitxp/metrics.json")
    count = len(logged)
    assert metrics["tick"]["steps"] == list(range(count))
    assert metrics["tick"]["values"] == [i * 1.5 for i in range(count)]
    output = git(repo, "show", f"{ref}:.gitxp/output.log")
    assert output == spooled_output
    lines = output.splitlines()
    assert lines == [f"tick {i}" for i in range(len(lines))]
    assert 10 <= len(lines) <= count
    assert not spool.exists()
    assert git(
        repo, "log", "-1", "--format=%(trailers:key=Gitxp-Status,valueonly)", ref
    ).strip() == ("DIED")
    # Sealing happens once: a later command finds nothing to do and changes nothing.
    sealed_commit = git(repo, "rev-parse", ref).strip()
    assert "sealed" not in gitxp(repo, "ls").stderr
    assert git(repo, "rev-parse", ref).strip() == sealed_commit
    fsck(repo)


def test_running_run_is_not_sealed_by_other_commands(repo: Path, tmp_path: Path) -> None:
    (repo / "loop.py").write_text(LOOPING)
    pid_file = tmp_path / "child.pid"
    before = run_refs(repo)
    sup = start_supervisor(repo, "-b", "0", "loop.py", str(pid_file), log=tmp_path / "out")
    try:
        wait_for(lambda: pid_file.exists() and pid_file.read_text() != "", "the child")
        (ref,) = set(run_refs(repo)) - set(before)
        proc = gitxp(repo, "recover")
        assert proc.stdout.strip() == "nothing to recover"
        assert "RUNNING" in gitxp(repo, "ls").stdout
        assert run_info(repo, ref)["status"] == "RUNNING"
        sup.send_signal(signal.SIGTERM)
        sup.wait(timeout=20)
    finally:
        kill_under(repo)
        if sup.poll() is None:
            sup.kill()
        sup.wait()
    info = run_info(repo, ref)
    assert info["status"] == "INTERRUPTED"  # scancel, docker stop: a stop, not a failure
    assert info["exit_code"] == sup.returncode == 128 + signal.SIGTERM


SLEEPER = textwrap.dedent(
    """\
    import sys, time
    import gitxp
    gitxp.log_scalar('before', 1)
    print('waiting', flush=True)
    open(sys.argv[1], 'w').close()
    time.sleep(30)
    print('not reached', flush=True)
    """
)


@pytest.mark.parametrize("target", ["supervisor", "group"])
def test_sigint_interrupts(repo: Path, tmp_path: Path, target: str) -> None:
    (repo / "sleeper.py").write_text(SLEEPER)
    ready = tmp_path / "ready"
    before = run_refs(repo)
    sup = start_supervisor(repo, "-b", "0", "sleeper.py", str(ready), log=tmp_path / "out")
    try:
        wait_for(ready.exists, "the script to start")
        if target == "supervisor":
            os.kill(sup.pid, signal.SIGINT)
        else:  # what a terminal does on Ctrl-C: the whole foreground process group
            os.killpg(sup.pid, signal.SIGINT)
        returncode = sup.wait(timeout=20)
    finally:
        kill_under(repo)
        if sup.poll() is None:
            sup.kill()
        sup.wait()
    out = (tmp_path / "out").read_text()
    assert returncode == 130, out
    (ref,) = set(run_refs(repo)) - set(before)
    info = run_info(repo, ref)
    assert info["status"] == "INTERRUPTED", out
    assert info["exit_code"] == 130
    assert show_json(repo, ref, ".gitxp/metrics.json")["before"]["values"] == [1]
    output = git(repo, "show", f"{ref}:.gitxp/output.log")
    assert "waiting" in output and "not reached" not in output
    assert "KeyboardInterrupt" in output
    assert os.listdir(repo / SPOOL) == []
    assert "internal error" not in out
    assert f"run {ref.rsplit('/', 1)[1]} INTERRUPTED" in out
