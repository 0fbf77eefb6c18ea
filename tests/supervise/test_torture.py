"""The torture suite (issue 11): runs treated the way real machines treat them.

Every scenario counts what the run's code logged (a side file the script appends to after
each ``log_scalar`` returns) against what the run's record holds, and asserts the figure
docs/reliability.md promises: 0 lost. Kill moments are drawn at random (seeded, printed);
``GITXP_TORTURE_TRIALS`` raises the number of trials (default 2, enough for CI).
"""

from __future__ import annotations

import fcntl
import os
import random
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from runstore_helpers import (
    fsck,
    git,
    gitxp,
    kill_under,
    pid_alive,
    run_info,
    run_refs,
    show_json,
    wait_for,
)

SPOOL = Path(".git") / "gitxp" / "spool"
TRIALS = int(os.environ.get("GITXP_TORTURE_TRIALS", "2"))
SEED = int(os.environ.get("GITXP_TORTURE_SEED", str(random.SystemRandom().randrange(10**6))))

TICKER = textwrap.dedent(
    """\
    import os, sys, time
    import gitxp
    count, side, delay = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
    with open(side + '.pid', 'w') as handle:
        handle.write(str(os.getpid()))
    fd = os.open(side, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    for i in range(count):
        gitxp.log_scalar('tick', i)
        os.write(fd, b'%d\\n' % i)
        print(f'tick {i}', flush=True)
        time.sleep(delay)
    """
)


def logged(side: Path) -> list[int]:
    """The values the script says it logged (each line written after log_scalar returned)."""
    try:
        return [int(line) for line in side.read_text().splitlines() if line]
    except FileNotFoundError:
        return []


def recorded(repo: Path, ref: str, name: str = "tick") -> list[float]:
    metrics = show_json(repo, ref, ".gitxp/metrics.json")
    return list(metrics.get(name, {}).get("values", []))


def spool_free(spool: Path) -> bool:
    """Whether no process holds the spool's lock any more (or the spool is gone)."""
    try:
        fd = os.open(spool / "lock", os.O_RDWR)
    except FileNotFoundError:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)


@pytest.fixture(autouse=True)
def reaper(tmp_path: Path) -> Iterator[None]:
    """Whatever a test started is killed at its end: children have process groups of
    their own, so one that fails half-way would leave them running."""
    try:
        yield
    finally:
        kill_under(tmp_path)


def start(repo: Path, *args: str, log: Path, session: bool = True) -> subprocess.Popen[bytes]:
    """``gitxp run ARGS`` in the background, its output in ``log``."""
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gitxp", "run", *args],
            cwd=repo,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=session,
        )
    return proc


def wait_logged(side: Path, count: int) -> None:
    wait_for(lambda: len(logged(side)) >= count, f"{count} values logged")


def new_run(repo: Path, before: dict[str, str]) -> str:
    wait_for(lambda: len(run_refs(repo)) > len(before), "the run ref")
    (ref,) = set(run_refs(repo)) - set(before)
    return ref


def report(scenario: str, logged_count: int, recorded_count: int) -> None:
    lost = logged_count - recorded_count
    print(f"torture {scenario}: logged {logged_count}, recorded {recorded_count}, lost {lost}")
    assert lost <= 0, f"{scenario}: {lost} values lost (seed {SEED})"


@pytest.fixture
def rng() -> random.Random:
    print(f"torture seed {SEED}")
    return random.Random(SEED)


def test_supervisor_sigkill_while_the_child_logs_on(
    repo: Path, tmp_path: Path, rng: random.Random
) -> None:
    """The child outlives its killed supervisor, is never sealed while it logs, and its
    every value and line is recorded once it ends."""
    (repo / "ticker.py").write_text(TICKER)
    count = 300
    for trial in range(TRIALS):
        side = tmp_path / f"side{trial}"
        before = run_refs(repo)
        sup = start(
            repo,
            "-b",
            "0.05",
            "ticker.py",
            str(count),
            str(side),
            "0.004",
            log=tmp_path / f"sup{trial}",
        )
        ref = new_run(repo, before)
        spool = repo / SPOOL / ref.rsplit("/", 1)[1]
        kill_at = rng.randrange(10, count // 2)
        wait_logged(side, kill_at)
        sup.kill()
        sup.wait()
        child = int((tmp_path / f"side{trial}.pid").read_text())
        early = gitxp(repo, "ls")
        if pid_alive(child):  # alive after the command: it ran while the child still wrote
            assert "sealed" not in early.stderr
            assert run_info(repo, ref)["status"] == "RUNNING"
        wait_for(lambda: not pid_alive(child), "the child to finish", timeout=60)  # noqa: B023
        wait_for(lambda: spool_free(spool), "the output to drain")  # noqa: B023
        if "sealed run" not in early.stderr:  # (the child may have ended during that ls)
            proc = gitxp(repo, "ls")
            assert "sealed run" in proc.stderr, proc.stderr
        info = run_info(repo, ref)
        assert info["status"] == "DIED"
        values = logged(side)
        assert values == list(range(count))  # the orphan never died of a broken pipe
        assert recorded(repo, ref) == values
        output = git(repo, "show", f"{ref}:.gitxp/output.log")
        assert output.splitlines() == [f"tick {i}" for i in range(count)]
        report(f"supervisor SIGKILL at {kill_at}", len(values), len(recorded(repo, ref)))
    fsck(repo)


def test_child_sigkill_at_a_random_moment(repo: Path, tmp_path: Path, rng: random.Random) -> None:
    (repo / "ticker.py").write_text(TICKER)
    for trial in range(TRIALS):
        side = tmp_path / f"side{trial}"
        before = run_refs(repo)
        sup = start(
            repo,
            "-b",
            "0.05",
            "ticker.py",
            "100000",
            str(side),
            "0.001",
            log=tmp_path / f"sup{trial}",
        )
        ref = new_run(repo, before)
        kill_at = rng.randrange(1, 400)
        wait_logged(side, kill_at)
        os.kill(int((tmp_path / f"side{trial}.pid").read_text()), signal.SIGKILL)
        assert sup.wait(timeout=30) == 128 + signal.SIGKILL
        info = run_info(repo, ref)
        assert info["status"] == "FAILED"
        values, kept = logged(side), recorded(repo, ref)
        assert kept[: len(values)] == values  # at most the one value before its side line
        report(f"child SIGKILL at {kill_at}", len(values), len(kept))
    fsck(repo)


CHECKPOINT = textwrap.dedent(
    """\
    import os, sys, time
    import gitxp
    side = sys.argv[1]
    fd = os.open(side, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    i = 0
    try:
        while True:
            gitxp.log_scalar('tick', i)
            os.write(fd, b'%d\\n' % i)
            i += 1
            time.sleep(0.002)
    except KeyboardInterrupt:
        time.sleep(0.5)  # saving a checkpoint: a second Ctrl-C would interrupt it here
        gitxp.log_scalar('checkpoint', i)
        open(side + '.checkpoint', 'w').write(str(i))
        raise
    """
)


def test_sigint_to_the_process_group_without_a_terminal(
    repo: Path, tmp_path: Path, rng: random.Random
) -> None:
    """A process manager's SIGINT to the whole group: the checkpoint handler runs to its end."""
    (repo / "checkpoint.py").write_text(CHECKPOINT)
    for trial in range(TRIALS):
        side = tmp_path / f"side{trial}"
        before = run_refs(repo)
        sup = start(
            repo,
            "-b",
            "0.05",
            "checkpoint.py",
            str(side),
            log=tmp_path / f"sup{trial}",
        )
        ref = new_run(repo, before)
        wait_logged(side, rng.randrange(5, 100))
        os.killpg(sup.pid, signal.SIGINT)
        assert sup.wait(timeout=30) == 130
        out = (tmp_path / f"sup{trial}").read_text()
        assert Path(f"{side}.checkpoint").exists(), out
        info = run_info(repo, ref)
        assert info["status"] == "INTERRUPTED"
        assert recorded(repo, ref, "checkpoint") == [len(logged(side))]
        report("SIGINT to the group", len(logged(side)), len(recorded(repo, ref)))
        assert "During handling of the above exception" not in out  # no second Ctrl-C


EXPERIMENT = textwrap.dedent(
    """\
    import os, sys, time
    from gitxp import Experiment
    ex = Experiment('term')

    @ex.automain
    def main(_run):
        side = os.environ['SIDE']
        fd = os.open(side, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        for i in range(1000000):
            _run.log_scalar('tick', i)
            os.write(fd, b'%d\\n' % i)
            time.sleep(0.002)
    """
)


@pytest.mark.parametrize("how", ["gitxp run", "python script"])
def test_sigterm_ends_interrupted_at_once(repo: Path, tmp_path: Path, how: str) -> None:
    """scancel, docker stop: INTERRUPTED with the outcome, no later command needed."""
    side = tmp_path / "side"
    if how == "gitxp run":
        (repo / "ticker.py").write_text(TICKER)
        argv = [sys.executable, "-m", "gitxp", "run", "-b", "0.05", "ticker.py"]
        argv += ["1000000", str(side), "0.002"]
    else:
        (repo / "term.py").write_text(EXPERIMENT)
        argv = [sys.executable, "term.py"]
    before = run_refs(repo)
    env = {**os.environ, "SIDE": str(side)}
    with open(tmp_path / "out", "wb") as out:
        sup = subprocess.Popen(
            argv, cwd=repo, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    ref = new_run(repo, before)
    wait_for(lambda: len(logged(side)) >= 20, "values before SIGTERM")
    sup.send_signal(signal.SIGTERM)
    assert sup.wait(timeout=30) == 128 + signal.SIGTERM, (tmp_path / "out").read_text()
    info = run_info(repo, ref)  # read with git at once: no sealing needed
    assert info["status"] == "INTERRUPTED"
    assert info["exit_code"] == 128 + signal.SIGTERM
    assert info["stop_time"] is not None
    assert os.listdir(repo / SPOOL) == []
    values, kept = logged(side), recorded(repo, ref)
    assert kept[: len(values)] == values
    report(f"SIGTERM to {how}", len(values), len(kept))


HOUSEKEEPING = (
    ["gc", "--quiet"],
    ["reflog", "expire", "--all", "--expire=now"],
    ["pack-refs", "--all", "--prune"],
    ["prune", "--expire=1.hour.ago"],
)


class Housekeeping:
    """The user's own git housekeeping in a loop beside the test, and what git printed."""

    def __init__(self, repo: Path) -> None:
        self.repo = repo
        self.errors: list[str] = []
        self.rounds = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

        self.rewrites = 0
        self._writer = threading.Thread(target=self._rewrite, daemon=True)
        self._writer.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            for args in HOUSEKEEPING:
                proc = subprocess.run(["git", *args], cwd=self.repo, capture_output=True, text=True)
                self.errors.extend(line for line in proc.stderr.splitlines() if line)
            self.rounds += 1

    def _rewrite(self) -> None:
        """A file the user's editor keeps rewriting while the runs snapshot it."""
        sizes = random.Random(SEED)
        while not self._stop.is_set():
            (self.repo / "notes.txt").write_bytes(b"x" * sizes.randrange(0, 200_000))
            self.rewrites += 1

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self._writer.join()


@pytest.fixture
def housekeeping(repo: Path) -> Iterator[Housekeeping]:
    loop = Housekeeping(repo)
    try:
        yield loop
    finally:
        loop.stop()


def test_sixteen_runs_beside_git_housekeeping(
    repo: Path, tmp_path: Path, housekeeping: Housekeeping
) -> None:
    (repo / "ticker.py").write_text(TICKER)
    (repo / "README.md").write_text("dirty, so every run snapshots an edit\n")
    count = 60
    procs = [
        start(
            repo,
            "-b",
            "0.02",
            "ticker.py",
            str(count),
            str(tmp_path / f"side{k}"),
            "0.003",
            log=tmp_path / f"out{k}",
            session=False,
        )
        for k in range(16)
    ]
    same_id = "01JZZZZZZZZZZZZZZZZZZZZZZZ"
    racers = [
        start(
            repo,
            "-i",
            same_id,
            "ticker.py",
            "5",
            str(tmp_path / f"race{k}"),
            "0",
            log=tmp_path / f"race-out{k}",
            session=False,
        )
        for k in range(3)
    ]
    codes = [p.wait(timeout=120) for p in procs]
    outs = [(tmp_path / f"out{k}").read_text() for k in range(16)]
    assert codes == [0] * 16, outs
    race_codes = [p.wait(timeout=60) for p in racers]
    race_outs = [(tmp_path / f"race-out{k}").read_text() for k in range(3)]
    assert sorted(race_codes) == [0, 2, 2], race_outs
    for code, out in zip(race_codes, race_outs, strict=True):
        if code:
            assert f"gitxp: error: run {same_id} already exists" in out, out
            assert "internal error" not in out
    refs = run_refs(repo)
    assert len(refs) == 17
    total_logged = total_kept = 0
    for k in range(16):
        run_id = outs[k].split("gitxp: run ", 1)[1].split()[0]
        ref = f"refs/gitxp/runs/{run_id}"
        assert run_info(repo, ref)["status"] == "COMPLETED"
        assert "heartbeat" not in outs[k]  # no heartbeat failed, none warned
        values = logged(tmp_path / f"side{k}")
        assert recorded(repo, ref) == values == list(range(count))
        total_logged, total_kept = total_logged + len(values), total_kept + count
    report("16 runs beside git gc", total_logged, total_kept)
    housekeeping.stop()
    lock_errors = [line for line in housekeeping.errors if "cannot lock ref" in line]
    print(
        f"torture housekeeping: {housekeeping.rounds} rounds, {housekeeping.rewrites} rewrites, "
        f"{len(lock_errors)} 'cannot lock ref' lines from git pack-refs"
    )
    fsck(repo)


FILLER = textwrap.dedent(
    """\
    import os, sys
    import gitxp
    for i in range(300):
        gitxp.log_scalar('before', i)
    print('before the disk filled', flush=True)
    fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT)
    try:
        while True:
            os.write(fd, bytes(65536))
    except OSError:
        pass
    os.close(fd)
    for i in range(20000):  # far past the space allocated so far: no SIGBUS
        gitxp.log_scalar('after', i)
    gitxp.add_artifact(__file__, name='copy.py')
    gitxp.set_result(42)
    print('the program went on', flush=True)
    """
)


FILLER_EXPERIMENT = textwrap.dedent(
    """\
    import os, sys
    from gitxp import Experiment
    ex = Experiment('fill')

    @ex.automain
    def main(_run):
        for i in range(300):
            _run.log_scalar('before', i)
        print('before the disk filled', flush=True)
        fd = os.open(os.environ['FILLER'], os.O_WRONLY | os.O_CREAT)
        try:
            while True:
                os.write(fd, bytes(65536))
        except OSError:
            pass
        os.close(fd)
        for i in range(20000):
            _run.log_scalar('after', i)
        ex.add_artifact(__file__, name='copy.py')
        print('the program went on', flush=True)
        return 42
    """
)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 24 MiB tmpfs mounted for this test (CI runs as root)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small file system needs root (CI runs as root)")
    mount = tmp_path / "small"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.mark.parametrize("how", ["gitxp run", "python script"])
def test_a_full_disk_loses_nothing_recorded_and_keeps_the_outcome(
    repo: Path, small_disk: Path, how: str
) -> None:
    project = small_disk / "project"
    shutil.copytree(repo, project)
    (project / "fill.py").write_text(FILLER if how == "gitxp run" else FILLER_EXPERIMENT)
    git(project, "add", "fill.py")
    git(project, "commit", "-q", "-m", "filler")
    filler = small_disk / "filler"
    before = run_refs(project)
    if how == "gitxp run":
        argv = [sys.executable, "-m", "gitxp", "run", "-b", "0.05", "fill.py", str(filler)]
    else:
        argv = [sys.executable, "fill.py", "-b", "0.05"]
    proc = subprocess.run(
        argv,
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "FILLER": str(filler)},
    )
    assert proc.returncode == 0, proc.stderr  # the program was never killed (no SIGBUS)
    assert "the program went on" in proc.stdout
    assert "internal error" not in proc.stderr and "Traceback" not in proc.stderr
    assert proc.stderr.count("metrics logged from now on are not recorded") == 1
    assert "the disk is full" in proc.stderr
    (ref,) = set(run_refs(project)) - set(before)
    # Reading works while the disk is full; writing says so in one line.
    listing = gitxp(project, "ls", check=False)
    assert listing.returncode == 0, listing.stderr
    assert "internal error" not in listing.stderr
    assert gitxp(project, "show", "latest", check=False).returncode == 0
    refused = gitxp(project, "run", "train.py", check=False)
    assert refused.returncode == 4
    assert refused.stderr.strip().splitlines()[-1].startswith("gitxp: error: the disk is full")
    assert "internal error" not in refused.stderr
    # Space is back: the next command records the outcome.
    filler.unlink()
    sealing = gitxp(project, "ls")
    assert "status COMPLETED" in sealing.stderr, sealing.stderr
    info = run_info(project, ref)
    assert info["status"] == "COMPLETED"
    assert info["exit_code"] == 0
    assert info["result"] == 42
    before_values = recorded(project, ref, "before")
    after_values = recorded(project, ref, "after")
    assert after_values == list(range(len(after_values)))  # a prefix: what had space
    report(f"full disk, {how} (before it filled)", 300, len(before_values))
    print(f"torture full disk: {len(after_values)} of 20000 values logged on a full disk kept")
    fsck(project)
