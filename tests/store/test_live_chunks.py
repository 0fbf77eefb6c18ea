"""Heartbeats cost what is new (issue 11, point 11): format 2 chunks under ``.gitxp/live/``."""

from __future__ import annotations

import os
import textwrap
import time
from pathlib import Path

import pytest
from runstore_helpers import fsck, git, gitxp, gitxp_run, run_info, show_json

from gitxp.git.repo import GitRepo
from gitxp.query.frames import read_metrics
from gitxp.store.recorder import Recorder, RunSpec
from gitxp.store.runs import RunRecord, RunRef


def loose_bytes(repo: Path) -> int:
    """Bytes of every loose object (what gitxp writes; git gc packs them later)."""
    total = 0
    for folder in (repo / ".git" / "objects").iterdir():
        if len(folder.name) == 2:
            total += sum(f.stat().st_size for f in folder.iterdir())
    return total


def object_bytes(repo: Path, oid: str) -> int:
    return (repo / ".git" / "objects" / oid[:2] / oid[2:]).stat().st_size


def test_heartbeats_add_chunks_that_readers_join(repo: Path) -> None:
    git_repo = GitRepo(repo)
    rec = Recorder.start(git_repo, RunSpec(command=["x"]))
    with open(rec.spool.output_path, "ab") as out:
        for beat in range(3):
            for i in range(5):
                rec.spool.log_scalar("loss", beat * 10 + i)
                out.write(f"beat {beat} line {i}\n".encode())
            out.flush()
            rec.heartbeat()
        out.write(b"unfinished")
    rec.spool.log_scalar("loss", 99)
    rec.heartbeat()  # metrics only: no completed line since the last beat
    ref = rec.ref
    tree = git(repo, "ls-tree", "-r", "--name-only", ref, ".gitxp/live").split()
    assert tree == [
        ".gitxp/live/metrics/00/00/00.json",
        ".gitxp/live/metrics/00/00/01.json",
        ".gitxp/live/metrics/00/00/02.json",
        ".gitxp/live/metrics/00/00/03.json",
        ".gitxp/live/output/00/00/00.log",
        ".gitxp/live/output/00/00/01.log",
        ".gitxp/live/output/00/00/02.log",
    ]
    assert show_json(repo, ref, ".gitxp/live/metrics/00/00/01.json")["loss"]["values"] == [
        10,
        11,
        12,
        13,
        14,
    ]
    expected = [b * 10 + i for b in range(3) for i in range(5)] + [99]
    commit = git(repo, "rev-parse", ref).strip()
    record = RunRecord.load(git_repo, RunRef(rec.run_id, ref, commit))
    assert record.info["status"] == "RUNNING"
    assert record.metrics["loss"]["values"] == expected
    assert record.output == "".join(f"beat {b} line {i}\n" for b in range(3) for i in range(5))
    assert read_metrics(git_repo, commit)["loss"]["values"] == expected
    listing = gitxp(repo, "ls", "--columns", "status,metrics.loss.last,metrics.loss.max")
    assert "RUNNING" in listing.stdout and "99" in listing.stdout
    rec.finish("COMPLETED", exit_code=0)
    assert git(repo, "ls-tree", ref, ".gitxp/live") == ""
    assert show_json(repo, ref, ".gitxp/metrics.json")["loss"]["values"] == expected
    assert git(repo, "show", f"{ref}:.gitxp/output.log").endswith("line 4\nunfinished")
    assert git(repo, "show", f"{ref}:.gitxp/format") == "gitxp-run 2\n"
    fsck(repo)


CHATTY = textwrap.dedent(
    """\
    import time
    import gitxp
    for beat in range(30):
        for i in range(2000):
            gitxp.log_scalar('loss', 1.0 / (beat * 2000 + i + 1))
        print(''.join(f'step {beat} {i} loss is going down nicely\\n' for i in range(1500)),
              end='', flush=True)
        time.sleep(0.06)
    """
)


def test_a_long_chatty_run_grows_the_repository_by_about_its_final_record(repo: Path) -> None:
    """60,000 scalars and 45,000 lines under 0.05 s heartbeats (tens of beats)."""
    (repo / "chatty.py").write_text(CHATTY)
    before = loose_bytes(repo)
    _, ref = gitxp_run(repo, "-b", "0.05", "chatty.py")
    grown = loose_bytes(repo) - before
    assert run_info(repo, ref)["status"] == "COMPLETED"
    final = sum(
        object_bytes(repo, git(repo, "rev-parse", f"{ref}:.gitxp/{name}").strip())
        for name in ("metrics.json", "output.log")
    )
    beats = len(git(repo, "log", "-g", "--format=%H", ref, check=False).split()) or None
    ratio = grown / final
    print(f"growth: .git grew {grown} bytes for a final record of {final} ({ratio:.2f}x)", beats)
    assert len(show_json(repo, ref, ".gitxp/metrics.json")["loss"]["values"]) == 60000
    # Whole files at every beat grew it by about (beats x final); chunks cost the data
    # once, plus the final whole copy, plus a few small trees a beat.
    assert ratio < 3.0, ratio
    assert os.listdir(repo / ".git" / "gitxp" / "spool") == []


def test_the_heartbeat_thread_outlives_a_ref_lock_held_by_someone_else(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """git holds the run's ref lock longer than the retries wait: one warning, beats go on."""
    git_repo = GitRepo(repo)
    rec = Recorder.start(git_repo, RunSpec(command=["x"]))
    lock = repo / ".git" / f"{rec.ref}.lock"
    lock.write_text("held by another git\n")
    snapshot = git(repo, "rev-parse", rec.ref).strip()
    rec.spool.log_scalar("loss", 1.0)
    rec.start_heartbeat(0.05)
    deadline = time.monotonic() + 30
    while "heartbeat of run" not in capsys.readouterr().err:
        assert time.monotonic() < deadline, "no warning from the failing heartbeat"
        time.sleep(0.05)
    assert git(repo, "rev-parse", rec.ref).strip() == snapshot
    lock.unlink()
    while git(repo, "rev-parse", rec.ref).strip() == snapshot:
        assert time.monotonic() < deadline, "the heartbeat thread stopped"
        time.sleep(0.05)
    assert run_info(repo, rec.ref)["status"] == "RUNNING"
    rec.finish("COMPLETED", exit_code=0)
    assert show_json(repo, rec.ref, ".gitxp/metrics.json")["loss"]["values"] == [1.0]
    fsck(repo)
