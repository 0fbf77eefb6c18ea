"""``gitxp run`` records a run as real git commits (issue 2, points 3 and 4).

Real git checks the result: ``for-each-ref``, ``rev-list --parents``, trailers in
``git log``, ``git show REF:.gitxp/…``, ``git grep`` for secrets, and a ``git worktree add``
and a ``git checkout REF -- .`` of the run that must give back, byte for byte, the files
the run saw.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from runstore_helpers import (
    files_state,
    fsck,
    git,
    gitxp_raw,
    gitxp_run,
    isolate,
    ls_tree,
    new_ref,
    parents,
    run_info,
    run_refs,
    show_json,
    without_mtime,
)

SECRET = "s3cr3t-value-that-must-never-be-recorded"

TRAIN = textwrap.dedent(
    """\
    import os
    import gitxp
    cfg = gitxp.config()
    print('training with', cfg, flush=True)
    print('secret visible to the script:', os.environ.get('MY_SECRET_TOKEN') is not None)
    print('cwd', os.getcwd())
    for step in range(3):
        gitxp.log_scalar('loss', 1.0 / (step + 1))
    gitxp.set_result(cfg['lr'] * 2)
    """
)


def trailer(cwd: Path, rev: str, key: str) -> str:
    fmt = f"%(trailers:key={key},valueonly,separator=%x2C)"
    return git(cwd, "log", "-1", f"--format={fmt}", rev).strip()


def utc(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    assert moment.tzinfo is not None, f"{text} has no zone"
    assert moment.utcoffset() == timedelta(0), f"{text} is not UTC"
    return moment


def source_files(state: dict[str, tuple[Any, ...]], ignored: set[str]) -> dict[str, Any]:
    return {
        path: entry
        for path, entry in without_mtime(state).items()
        if path not in ignored and path.split("/", 1)[0] != ".gitxp"
    }


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One run of ``train.py with lr=0.01 b.c=2`` on a dirty working tree of every kind."""
    with pytest.MonkeyPatch.context() as mp:
        isolate(mp, tmp_path_factory.mktemp("home"))
        repo = tmp_path_factory.mktemp("recorded") / "project"
        repo.mkdir()
        git(repo, "init", "-q")
        (repo / ".gitignore").write_text("*.log\n")
        (repo / "README.md").write_text("# project\n")
        (repo / "train.py").write_text("print('committed version')\n")
        (repo / "old.txt").write_text("deleted before the run\n")
        (repo / "run.sh").write_text("#!/bin/sh\n")
        (repo / "run.sh").chmod(0o755)
        os.symlink("README.md", repo / "link.md")
        (repo / "dir with space").mkdir()
        (repo / "dir with space" / "ünï cødé.txt").write_text("ü\n")
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", "initial")
        head = git(repo, "rev-parse", "HEAD").strip()
        # Uncommitted work: the edited script is what runs and what is recorded.
        (repo / "train.py").write_text(TRAIN)
        (repo / "README.md").write_text("# project, edited\n")
        (repo / "old.txt").unlink()
        (repo / "notes ü.txt").write_text("new, untracked\n")
        (repo / "tool.py").write_text("#!/usr/bin/env python\n")
        (repo / "tool.py").chmod(0o755)
        (repo / "debug.log").write_text("ignored\n")
        at_run = files_state(repo)
        env = {"MY_SECRET_TOKEN": SECRET}
        proc, ref = gitxp_run(repo, "-b", "0.2", "train.py", "with", "lr=0.01", "b.c=2", env=env)
        yield {"repo": repo, "ref": ref, "head": head, "proc": proc, "at_run": at_run}


def test_run_ref_and_commit_chain(recorded: dict[str, Any]) -> None:
    repo, ref, head = recorded["repo"], recorded["ref"], recorded["head"]
    run_id = ref.rsplit("/", 1)[1]
    assert recorded["proc"].returncode == 0
    assert run_id in recorded["proc"].stderr
    listed = git(repo, "for-each-ref", "--format=%(refname) %(objecttype)", "refs/gitxp/runs/")
    assert listed == f"{ref} commit\n"
    record_commit = git(repo, "rev-parse", ref).strip()
    snapshot_commit = parents(repo, record_commit)
    assert len(snapshot_commit) == 1
    assert parents(repo, snapshot_commit[0]) == [head]
    # The user's branch did not move.
    assert git(repo, "rev-parse", "main").strip() == head
    # git log on the run: record commit, snapshot commit, then the user's history.
    log = git(repo, "log", "--format=%H %s", ref).splitlines()
    assert [line.split()[0] for line in log] == [record_commit, snapshot_commit[0], head]
    assert log[0].split(" ", 1)[1].startswith(f"gitxp run {run_id[:10]}")
    assert "COMPLETED" in log[0]
    # Trailers, parsed by git itself.
    assert trailer(repo, ref, "Gitxp-Run") == run_id
    assert trailer(repo, ref, "Gitxp-Status") == "COMPLETED"
    assert trailer(repo, snapshot_commit[0], "Gitxp-Run") == run_id
    assert trailer(repo, snapshot_commit[0], "Gitxp-Status") == "RUNNING"
    assert trailer(repo, ref, "Gitxp-Base") == head
    assert "Gitxp-Status: COMPLETED" in git(repo, "log", "-1", ref)
    # Same source tree in both commits: only .gitxp/ differs.
    record_tree = ls_tree(repo, record_commit)
    snap_tree = ls_tree(repo, snapshot_commit[0])
    assert {p: v for p, v in record_tree.items() if not p.startswith(".gitxp/")} == {
        p: v for p, v in snap_tree.items() if not p.startswith(".gitxp/")
    }
    assert json.loads(git(repo, "show", f"{snapshot_commit[0]}:.gitxp/run.json"))["status"] == (
        "RUNNING"
    )
    fsck(repo)
    assert os.listdir(repo / ".git" / "gitxp" / "spool") == []


def test_record_files_present(recorded: dict[str, Any]) -> None:
    repo, ref = recorded["repo"], recorded["ref"]
    names = git(repo, "ls-tree", "-r", "--name-only", ref, ".gitxp/").split("\n")
    for name in ("format", "run.json", "config.yaml", "env.lock", "host.json"):
        assert f".gitxp/{name}" in names
    for name in ("metrics.json", "output.log"):
        assert f".gitxp/{name}" in names
    assert git(repo, "show", f"{ref}:.gitxp/format").startswith("gitxp-run ")
    snapshot_names = git(repo, "ls-tree", "-r", "--name-only", f"{ref}^", ".gitxp/").split()
    for name in ("format", "run.json", "config.yaml", "env.lock", "host.json"):
        assert f".gitxp/{name}" in snapshot_names


def test_run_json_fields(recorded: dict[str, Any]) -> None:
    repo, ref, head = recorded["repo"], recorded["ref"], recorded["head"]
    info = run_info(repo, ref)
    assert info["id"] == ref.rsplit("/", 1)[1]
    assert info["experiment"] == "train"
    assert info["status"] == "COMPLETED"
    assert info["command"][1:] == ["train.py", "with", "lr=0.01", "b.c=2"]
    assert os.path.basename(info["command"][0]).startswith("python")
    assert info["cwd"] == "."
    start, stop, beat = (utc(info[k]) for k in ("start_time", "stop_time", "heartbeat"))
    assert start <= stop <= beat + timedelta(seconds=1)
    assert abs((datetime.now(start.tzinfo) - start).total_seconds()) < 600
    assert info["exit_code"] == 0
    assert info["result"] == pytest.approx(0.02)
    assert info.get("fail_trace") is None
    assert info["base_commit"] == head
    assert info["branch"] == "main"
    assert info["detached"] is False
    assert info["dirty"] is True
    assert info["skipped_files"] == []
    assert info["tags"] == []
    config = yaml.safe_load(git(repo, "show", f"{ref}:.gitxp/config.yaml"))
    assert config == {"lr": 0.01, "b": {"c": 2}}
    metrics = show_json(repo, ref, ".gitxp/metrics.json")
    assert metrics["loss"]["steps"] == [0, 1, 2]
    assert metrics["loss"]["values"] == pytest.approx([1.0, 0.5, 1 / 3])
    assert len(metrics["loss"]["timestamps"]) == 3
    output = git(repo, "show", f"{ref}:.gitxp/output.log")
    assert "training with {'lr': 0.01, 'b': {'c': 2}}" in output
    assert "secret visible to the script: True" in output


def test_env_lock_and_host(recorded: dict[str, Any]) -> None:
    repo, ref = recorded["repo"], recorded["ref"]
    lock = git(repo, "show", f"{ref}:.gitxp/env.lock")
    assert f"pytest=={pytest.__version__}" in lock.splitlines()
    assert f"{sys.version_info.major}.{sys.version_info.minor}" in lock
    host = show_json(repo, ref, ".gitxp/host.json")
    assert host["hostname"]
    assert "PATH" not in json.dumps(host.get("env", {}))
    assert "MY_SECRET_TOKEN" not in json.dumps(host)


def test_secret_env_var_nowhere_in_the_run(recorded: dict[str, Any]) -> None:
    repo, ref = recorded["repo"], recorded["ref"]
    for rev in (ref, f"{ref}^"):
        for needle in (SECRET, "MY_SECRET_TOKEN="):
            found = subprocess.run(
                ["git", "grep", "-F", "-I", "-l", needle, rev], cwd=repo, capture_output=True
            )
            assert found.returncode == 1, found.stdout
        message = git(repo, "log", "-1", "--format=%B", rev)
        assert SECRET not in message
    # Not in any object gitxp wrote either.
    objects = git(repo, "rev-list", "--objects", ref).split()
    blobs = [o for o in objects if len(o) == 40]
    batch = subprocess.run(
        ["git", "cat-file", "--batch"],
        cwd=repo,
        input="\n".join(blobs).encode(),
        capture_output=True,
        check=True,
    ).stdout
    assert SECRET.encode() not in batch


def test_worktree_of_run_reproduces_the_files(recorded: dict[str, Any], tmp_path: Path) -> None:
    repo, ref = recorded["repo"], recorded["ref"]
    wt = tmp_path / "wt"
    git(repo, "worktree", "add", "-q", "--detach", str(wt), ref)
    try:
        got = source_files(files_state(wt), ignored=set())
        want = source_files(recorded["at_run"], ignored={"debug.log"})
        assert got == want
        assert got["tool.py"][2] is True and got["link.md"][0] == "link"
        assert "old.txt" not in got
    finally:
        git(repo, "worktree", "remove", "--force", str(wt))


def test_checkout_of_run_restores_the_files(recorded: dict[str, Any], tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(recorded["repo"], copy, symlinks=True)
    for entry in copy.iterdir():
        if entry.name == ".git":
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()
    git(copy, "checkout", recorded["ref"], "--", ".")
    got = source_files(files_state(copy), ignored=set())
    want = source_files(recorded["at_run"], ignored={"debug.log"})
    assert got == want


def test_exit_code_and_failed_status(repo: Path) -> None:
    proc, ref = gitxp_run(repo, "-b", "0", "--", "sh", "-c", "echo hi; exit 3", check=False)
    assert proc.returncode == 3
    assert "hi" in proc.stdout
    info = run_info(repo, ref)
    assert info["status"] == "FAILED"
    assert info["exit_code"] == 3
    assert "exit code 3" in info["fail_trace"]
    assert info["experiment"] == "sh"
    assert info["command"] == ["sh", "-c", "echo hi; exit 3"]
    assert git(repo, "show", f"{ref}:.gitxp/output.log") == "hi\n"
    assert trailer(repo, ref, "Gitxp-Status") == "FAILED"
    # A Python script that raises fails too, with its own exit code.
    (repo / "boom.py").write_text("raise SystemExit(7)\n")
    proc, ref = gitxp_run(repo, "-b", "0", "boom.py", check=False)
    assert proc.returncode == 7
    assert run_info(repo, ref)["status"] == "FAILED"


def test_cwd_recorded_relative_from_a_subdirectory(repo: Path) -> None:
    sub = repo / "src" / "deep dir"
    sub.mkdir(parents=True)
    (sub / "job.py").write_text("import os\nprint('ran in', os.getcwd())\n")
    proc, ref = gitxp_run(sub, "-b", "0", "job.py")
    info = run_info(repo, ref)
    assert info["cwd"] == "src/deep dir"
    assert f"ran in {sub}" in proc.stdout
    assert "src/deep dir/job.py" in ls_tree(repo, ref)
    # A command started from there records the same.
    _, ref = gitxp_run(sub, "-b", "0", "--", "sh", "-c", "pwd")
    assert run_info(repo, ref)["cwd"] == "src/deep dir"
    assert git(repo, "show", f"{ref}:.gitxp/output.log").strip() == str(sub)


def test_config_reaches_a_non_python_command(repo: Path) -> None:
    proc, ref = gitxp_run(
        repo,
        "-b",
        "0",
        "--",
        "sh",
        "-c",
        'printf "%s\\n" "$GITXP_CONFIG"',
        "with",
        "lr=0.5",
        "name=Bob",
        "opt.sizes=[1,2]",
    )
    want = {"lr": 0.5, "name": "Bob", "opt": {"sizes": [1, 2]}}
    assert json.loads(proc.stdout.strip()) == want
    assert json.loads(git(repo, "show", f"{ref}:.gitxp/output.log")) == want
    assert yaml.safe_load(git(repo, "show", f"{ref}:.gitxp/config.yaml")) == want


def test_name_comment_tags_stored(repo: Path) -> None:
    _, ref = gitxp_run(
        repo,
        "-b",
        "0",
        "--name",
        "baseline",
        "-c",
        "first try, ü",
        "-t",
        "a",
        "--tag",
        "b c",
        "train.py",
        "with",
        "lr=1",
    )
    info = run_info(repo, ref)
    assert info["name"] == "baseline"
    assert info["comment"] == "first try, ü"
    assert info["tags"] == ["a", "b c"]
    assert trailer(repo, ref, "Gitxp-Name") == "baseline"
    assert "baseline" in git(repo, "log", "-1", "--format=%s", ref)


def test_script_arguments_and_unusual_output(repo: Path) -> None:
    (repo / "my script.py").write_text(
        textwrap.dedent(
            """\
            import sys
            print('argv', sys.argv[1:])
            sys.stdout.flush()
            sys.stdout.buffer.write('ünïcødé ✓\\n'.encode() + b'bad \\xff byte\\n')
            """
        )
    )
    before = run_refs(repo)
    proc = gitxp_raw(repo, "run", "-b", "0", "my script.py", "--epochs", "3", "x y", "with", "lr=1")
    assert proc.returncode == 0, proc.stderr
    ref = new_ref(before, run_refs(repo))
    assert b"bad \xff byte\n" in proc.stdout
    output = git(repo, "show", f"{ref}:.gitxp/output.log")
    assert "argv ['--epochs', '3', 'x y']" in output
    assert "ünïcødé ✓" in output
    assert "bad" in output and "byte" in output
    info = run_info(repo, ref)
    assert info["command"][1:] == ["my script.py", "--epochs", "3", "x y", "with", "lr=1"]
    assert info["experiment"] == "my script"


def test_capture_no_stores_no_output(repo: Path) -> None:
    (repo / "loud.py").write_text("print('visible on the terminal only')\n")
    proc, ref = gitxp_run(repo, "-b", "0", "-C", "no", "loud.py")
    assert "visible on the terminal only" in proc.stdout
    assert git(repo, "show", f"{ref}:.gitxp/output.log") == ""
    assert run_info(repo, ref)["capture"] == "no"


def test_progress_bars_and_colours(repo: Path) -> None:
    (repo / "bar.py").write_text(
        textwrap.dedent(
            """\
            import sys
            for pct in (10, 50, 100):
                sys.stdout.write(f"\\rprogress {pct:3d}%")
                sys.stdout.flush()
            sys.stdout.write("\\n")
            print("\\x1b[31mred\\x1b[0m")
            print("abc\\bX")
            sys.stderr.write("to stderr\\n")
            """
        )
    )
    before = set(git(repo, "for-each-ref", "--format=%(refname)", "refs/gitxp/runs/").split())
    proc = gitxp_raw(repo, "run", "-b", "0", "bar.py")
    assert proc.returncode == 0, proc.stderr
    after = set(git(repo, "for-each-ref", "--format=%(refname)", "refs/gitxp/runs/").split())
    (ref,) = after - before
    # The terminal got every byte live.
    assert b"\rprogress  10%\rprogress  50%\rprogress 100%\n" in proc.stdout
    assert b"\x1b[31mred\x1b[0m\n" in proc.stdout
    assert b"to stderr" in proc.stderr
    # The stored log is what the terminal ended up showing.
    stored = subprocess.run(
        ["git", "show", f"{ref}:.gitxp/output.log"], cwd=repo, capture_output=True, check=True
    ).stdout.decode()
    assert "\r" not in stored and "\b" not in stored
    assert "progress 100%\n" in stored
    assert "progress  10%" not in stored and "progress  50%" not in stored
    assert "red" in stored
    assert "abX\n" in stored
    assert "to stderr\n" in stored


def test_artifacts_stored(repo: Path) -> None:
    payload = bytes(range(256)) * 4
    (repo / "art.py").write_text(
        textwrap.dedent(
            f"""\
            import gitxp
            with open('model.bin', 'wb') as handle:
                handle.write({payload!r})
            gitxp.add_artifact('model.bin')
            gitxp.add_artifact('model.bin', name='ckpt/best.bin')
            with open('model.bin', 'wb') as handle:
                handle.write(b'changed after add_artifact')
            """
        )
    )
    _, ref = gitxp_run(repo, "-b", "0", "art.py")
    tree = ls_tree(repo, ref)
    assert ".gitxp/artifacts/model.bin" in tree
    assert ".gitxp/artifacts/ckpt/best.bin" in tree
    for name in ("model.bin", "ckpt/best.bin"):
        data = subprocess.run(
            ["git", "cat-file", "blob", f"{ref}:.gitxp/artifacts/{name}"],
            cwd=repo,
            capture_output=True,
            check=True,
        ).stdout
        assert data == payload
    listed = {a["name"]: a["size"] for a in run_info(repo, ref)["artifacts"]}
    assert listed == {"model.bin": len(payload), "ckpt/best.bin": len(payload)}
    # The file appeared after the snapshot: not part of the source tree.
    assert "model.bin" not in tree


def test_subprocesses_log_too(repo: Path) -> None:
    (repo / "parent.py").write_text(
        textwrap.dedent(
            """\
            import multiprocessing, subprocess, sys
            import gitxp

            def forked():
                gitxp.log_scalar('forked', 7)

            if __name__ == '__main__':
                gitxp.log_scalar('parent', 1)
                code = "import gitxp\\nfor i in range(5): gitxp.log_scalar('child', i * 10)"
                subprocess.run([sys.executable, '-c', code], check=True)
                proc = multiprocessing.get_context('fork').Process(target=forked)
                proc.start()
                proc.join()
                gitxp.log_scalar('parent', 2)
                subprocess.run([sys.executable, '-c', 'import gitxp; gitxp.set_result(42)'])
            """
        )
    )
    _, ref = gitxp_run(repo, "-b", "0", "parent.py")
    metrics = show_json(repo, ref, ".gitxp/metrics.json")
    assert metrics["parent"]["steps"] == [0, 1]
    assert metrics["parent"]["values"] == [1, 2]
    assert metrics["child"]["steps"] == [0, 1, 2, 3, 4]
    assert metrics["child"]["values"] == [0, 10, 20, 30, 40]
    assert metrics["forked"]["values"] == [7]
    assert run_info(repo, ref)["result"] == 42


def test_heartbeat_records_progress_while_running(repo: Path) -> None:
    (repo / "slow.py").write_text(
        textwrap.dedent(
            """\
            import json, os, subprocess, time
            import gitxp
            gitxp.log_scalar('early', 3.5)
            print('before the heartbeat', flush=True)
            ref = 'refs/gitxp/runs/' + os.environ['GITXP_RUN_ID']
            deadline = time.time() + 20
            while time.time() < deadline:
                chunk = ref + ':.gitxp/live/metrics/00/00/00.json'  # format 2: the first beat's
                out = subprocess.run(['git', 'show', chunk],
                                     capture_output=True, text=True).stdout
                if 'early' in out:
                    run = json.loads(subprocess.run(['git', 'show', ref + ':.gitxp/run.json'],
                                                    capture_output=True, text=True).stdout)
                    print('heartbeat status', run['status'], flush=True)
                    break
                time.sleep(0.05)
            """
        )
    )
    proc, ref = gitxp_run(repo, "-b", "0.2", "slow.py")
    assert "heartbeat status RUNNING" in proc.stdout
    info = run_info(repo, ref)
    assert info["status"] == "COMPLETED"
    # Heartbeats never pile up: the ref's commit sits right on the snapshot commit.
    assert len(git(repo, "rev-list", ref).split()) == 3


def test_run_in_a_linked_worktree(repo: Path, tmp_path: Path) -> None:
    wt = tmp_path / "side"
    git(repo, "worktree", "add", "-q", "-b", "side", str(wt))
    (wt / "README.md").write_text("edited in the linked worktree\n")
    (wt / "sub").mkdir()
    (wt / "sub" / "job.py").write_text("print('in the worktree')\n")
    (repo / "README.md").write_text("edited in the main worktree\n")
    wt_index = Path(git(wt, "rev-parse", "--git-path", "index").strip())
    wt_index = wt_index if wt_index.is_absolute() else wt / wt_index
    index_before = wt_index.read_bytes()
    main_index = (repo / ".git" / "index").read_bytes()
    _, ref = gitxp_run(wt / "sub", "-b", "0", "job.py")
    info = run_info(repo, ref)  # the ref is shared with the main worktree
    assert info["branch"] == "side"
    assert info["base_commit"] == git(repo, "rev-parse", "side").strip()
    assert info["cwd"] == "sub"
    assert git(repo, "show", f"{ref}:README.md") == "edited in the linked worktree\n"
    assert git(repo, "show", f"{ref}:.gitxp/output.log") == "in the worktree\n"
    assert wt_index.read_bytes() == index_before
    assert (repo / ".git" / "index").read_bytes() == main_index
    assert os.listdir(repo / ".git" / "gitxp" / "spool") == []
    fsck(repo)
