"""Sharing runs through real git servers on 127.0.0.1: push, fetch, ls --remote, autopush.

Servers: a bare repository by path, ``git daemon`` with receive-pack, smart HTTP through
``git http-backend`` (with and without basic auth), and sshd where the machine has one.
Results are checked with real git (for-each-ref, fsck, clone).
"""

from __future__ import annotations

import io
import mmap
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from servers import (
    GitDaemon,
    ServerUnavailable,
    SmartHttp,
    Sshd,
    bare_repo,
    free_port,
    sshd_path,
)
from sharing_helpers import RUNS, git, gitxp, make_runs, object_count, run_refs, start_run

from gitxp.errors import RemoteError, UsageError
from gitxp.git.packindex import PackError, index_pack, write_index
from gitxp.git.repo import NOTES_REF, GitRepo
from gitxp.share import sync as sharing
from gitxp.share.transport import mask_url, resolve_remote

USER, PASSWORD = "alice", "s3cret-pw"


# -- servers and repositories --------------------------------------------------------------


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder every test server serves repositories from."""
    return tmp_path_factory.mktemp("served") / "repos"


@pytest.fixture(scope="module")
def daemon(served: Path) -> Iterator[GitDaemon]:
    served.mkdir(exist_ok=True)
    server = GitDaemon(served)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def http(served: Path) -> Iterator[SmartHttp]:
    served.mkdir(exist_ok=True)
    server = SmartHttp(served)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def http_auth(served: Path) -> Iterator[SmartHttp]:
    served.mkdir(exist_ok=True)
    server = SmartHttp(served, credentials=(USER, PASSWORD))
    yield server
    server.stop()


@pytest.fixture
def bare(served: Path) -> Path:
    """A fresh empty bare repository below the served folder."""
    served.mkdir(exist_ok=True)
    return bare_repo(served, f"{uuid.uuid4().hex[:12]}.git")


@pytest.fixture
def project(repo: Path, bare: Path) -> Path:
    """The test project, with ``origin`` pointing at the bare repository by path."""
    git(repo, "remote", "add", "origin", str(bare))
    return repo


def clone_of(bare: Path, where: Path) -> Path:
    """A plain ``git clone`` of ``bare`` (gitxp runs are not cloned by git)."""
    git(where.parent, "clone", "-q", str(bare), str(where))
    return where


def push_branch(path: Path) -> None:
    git(path, "push", "-q", "origin", "HEAD:refs/heads/main")


# -- push and fetch by path ----------------------------------------------------------------


def test_push_then_fetch_by_path(project: Path, bare: Path, tmp_path: Path) -> None:
    ids = make_runs(project, 3)
    out = gitxp(project, "push").stdout
    assert "pushed 3 runs to origin (3 new, 0 updated" in out
    assert run_refs(bare) == run_refs(project)
    git(bare, "fsck", "--strict", "--no-dangling")
    assert "nothing to push: origin is up to date (3 runs)" in gitxp(project, "push").stdout

    other = clone_of(bare, tmp_path / "other")
    assert run_refs(other) == {}
    assert "fetched 3 runs from origin (3 new, 0 updated" in gitxp(other, "fetch").stdout
    assert run_refs(other) == run_refs(project)
    git(other, "fsck", "--strict", "--no-dangling")
    assert not list((other / ".git/objects/pack").glob("tmp_*"))
    listed = gitxp(other, "ls", "--json").stdout
    assert all(i in listed for i in ids)
    assert "lr: 0.2" in gitxp(other, "show", ids[1][:10]).stdout
    assert "0.2" in gitxp(other, "diff", ids[0][:10], ids[1][:10]).stdout
    assert "nothing new on origin (3 runs up to date)" in gitxp(other, "fetch").stdout


def test_push_is_incremental_and_updates_running_runs(project: Path, bare: Path) -> None:
    repo = GitRepo(project)
    make_runs(project, 4)
    first = sharing.push(repo)
    assert len(first.created) == 4 and first.ok
    running = start_run(project, lr=1.0)
    running.heartbeat()
    second = sharing.push(repo)
    assert second.created == [running.run_id]
    assert 0 < second.objects < first.objects / 2  # only the new run's commits and files
    final = running.finish("COMPLETED", exit_code=0)
    third = sharing.push(repo)
    assert third.updated == [running.run_id] and third.created == []
    assert third.objects <= 6  # the record commit, its trees and changed files
    assert run_refs(bare)[running.ref] == final
    again = sharing.push(repo)
    assert again.objects == 0 and not again.created and not again.updated


def test_fetch_brings_a_later_state_of_a_run(project: Path, bare: Path, tmp_path: Path) -> None:
    push_branch(project)
    running = start_run(project)
    running.heartbeat()
    sharing.push(GitRepo(project))
    other = clone_of(bare, tmp_path / "other")
    fetched = sharing.fetch(GitRepo(other))
    assert fetched.created == [running.run_id]
    final = running.finish("FAILED", exit_code=3)
    sharing.push(GitRepo(project))
    fetched = sharing.fetch(GitRepo(other))
    assert fetched.updated == [running.run_id] and fetched.objects > 0
    assert run_refs(other)[running.ref] == final


def test_fetch_named_runs_only(project: Path, bare: Path, tmp_path: Path) -> None:
    ids = make_runs(project, 3)
    gitxp(project, "push", "-q")
    other = clone_of(bare, tmp_path / "other")
    gitxp(other, "fetch", "origin", ids[0][:12])
    assert list(run_refs(other)) == [RUNS + ids[0]]
    missing = gitxp(other, "fetch", "origin", "ZZZZ", check=False)
    assert missing.returncode == 2 and "no run matches 'ZZZZ' on the remote" in missing.stderr


def test_push_of_runs_named_in_full_lists_no_runs(
    project: Path, bare: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``gitxp run --push`` sends its run by id: no listing of every local run."""
    ids = make_runs(project, 3)

    def no_listing(_repo: GitRepo) -> list[object]:
        raise AssertionError("the runs were listed")

    monkeypatch.setattr(sharing, "list_runs", no_listing)
    report = sharing.push(GitRepo(project), "origin", [ids[1], f"gitxp/runs/{ids[2]}", ids[1]])
    assert report.ok and sorted(report.created) == sorted([ids[1], ids[2]])
    assert sorted(run_refs(bare)) == sorted([RUNS + ids[1], RUNS + ids[2]])
    with pytest.raises(AssertionError, match="listed"):
        sharing.push(GitRepo(project), "origin", [ids[0][:12]])


def test_ls_remote_lists_without_fetching(project: Path, bare: Path, tmp_path: Path) -> None:
    ids = make_runs(project, 2)
    gitxp(project, "push", "origin", ids[0])
    other = tmp_path / "empty"
    other.mkdir()
    git(other, "init", "-q")
    before = object_count(other)
    proc = gitxp(other, "ls", "--remote", str(bare))
    assert ids[0] in proc.stdout and "not-here" in proc.stdout and ids[1] not in proc.stdout
    assert object_count(other) == before and run_refs(other) == {}
    mine = gitxp(project, "ls", "--remote", "origin")
    assert "COMPLETED" in mine.stdout and "same" in mine.stdout
    assert "1 run here not on origin" in mine.stderr


# -- updates and conflicts -----------------------------------------------------------------


def test_conflicting_run_is_never_overwritten(project: Path, bare: Path) -> None:
    a, b = make_runs(project, 2)
    gitxp(project, "push", "-q")
    refs = run_refs(bare)
    # The remote's ref for run a now holds run b's commit: another run under a's id.
    git(bare, "update-ref", RUNS + a, refs[RUNS + b])
    proc = gitxp(project, "push", check=False)
    assert proc.returncode == 1
    assert f"conflict: run {a}: the two sides hold different runs under one id" in proc.stderr
    assert run_refs(bare)[RUNS + a] == refs[RUNS + b]  # untouched
    fetched = gitxp(project, "fetch", check=False)
    assert fetched.returncode == 1 and f"conflict: run {a}" in fetched.stderr
    assert run_refs(project)[RUNS + a] == refs[RUNS + a]  # ours untouched too


def test_remote_with_a_later_state_is_not_rolled_back(
    project: Path, bare: Path, tmp_path: Path
) -> None:
    push_branch(project)
    running = start_run(project)
    running.heartbeat()
    sharing.push(GitRepo(project))
    other = clone_of(bare, tmp_path / "other")
    sharing.fetch(GitRepo(other))  # other holds the RUNNING state
    final = running.finish("COMPLETED", exit_code=0)
    sharing.push(GitRepo(project))
    proc = gitxp(other, "push")
    assert f"has a later state of run {running.run_id} (finished there" in proc.stderr
    assert run_refs(bare)[running.ref] == final


def test_remote_runs_are_deleted_only_on_request(project: Path, bare: Path) -> None:
    a, b = make_runs(project, 2)
    gitxp(project, "push", "-q")
    git(project, "update-ref", "-d", RUNS + a)
    gitxp(project, "push")
    assert RUNS + a in run_refs(bare)  # a local deletion is not pushed
    with pytest.raises(UsageError):
        sharing.push(GitRepo(project), delete=True)
    out = gitxp(project, "push", "--delete", a[:12]).stdout
    assert f"deleted 1 run on origin: {a}" in out
    assert list(run_refs(bare)) == [RUNS + b]


def test_status_selects_what_is_pushed(project: Path, bare: Path) -> None:
    done = make_runs(project, 2)
    failed = make_runs(project, 1, status="FAILED")
    out = gitxp(project, "push", "--status", "FAILED").stdout
    assert "pushed 1 run" in out and list(run_refs(bare)) == [RUNS + failed[0]]
    dry = gitxp(project, "push", "--dry-run").stdout
    assert "would push 2 runs" in dry and len(run_refs(bare)) == 1
    assert all(RUNS + i not in run_refs(bare) for i in done)
    out = gitxp(project, "push", "--where", "config.lr > 0.15").stdout  # the query layer
    assert "pushed 1 run" in out and set(run_refs(bare)) == {RUNS + failed[0], RUNS + done[1]}


# -- tags and notes (refs/notes/gitxp) travel with the runs --------------------------------


def notes_of(path: Path, commit: str) -> str:
    """The gitxp note on ``commit`` as plain git shows it ("" when none)."""
    proc = subprocess.run(
        ["git", "notes", "--ref", "gitxp", "show", commit],
        cwd=path,
        capture_output=True,
        text=True,
    )
    return proc.stdout.strip() if proc.returncode == 0 else ""


def fsck(*paths: Path) -> None:
    for path in paths:
        git(path, "fsck", "--strict")


def test_notes_travel_with_push_and_fetch(project: Path, bare: Path, tmp_path: Path) -> None:
    push_branch(project)
    snaps = []
    for lr in (0.1, 0.2, 0.3):
        recorder = start_run(project, lr=lr)
        recorder.finish("COMPLETED", exit_code=0)
        snaps.append(recorder.snapshot_commit)
    one, two, three = snaps
    a = project
    GitRepo(a).set_note(one, "Tags: baseline")
    out = gitxp(a, "push").stdout
    assert "pushed 3 runs" in out and "notes: pushed tags and notes" in out
    assert git(bare, "rev-parse", NOTES_REF).strip() == git(a, "rev-parse", NOTES_REF).strip()
    assert "notes:" not in gitxp(a, "push").stdout + gitxp(a, "push").stderr  # up to date

    b = clone_of(bare, tmp_path / "b")
    out = gitxp(b, "fetch").stdout
    assert "fetched 3 runs" in out and "notes: updated tags and notes (fast-forward)" in out
    assert notes_of(b, one) == "Tags: baseline"
    fsck(bare, a, b)

    # B tags another run; pushing one named run still sends the whole notes ref.
    GitRepo(b).set_note(two, "Tags: keep\n\nfrom b")
    run_two = git(b, "for-each-ref", "--format=%(refname)", RUNS).split()[1]
    out = gitxp(b, "push", "origin", run_two).stdout
    assert "notes: pushed tags and notes" in out
    assert "notes: updated tags and notes (fast-forward)" in gitxp(a, "fetch").stdout
    assert notes_of(a, one) == "Tags: baseline" and notes_of(a, two) == "Tags: keep\n\nfrom b"
    fsck(bare, a, b)

    # Both edit without fetching: the second push must not overwrite the first one's.
    GitRepo(a).set_note(one, "Tags: baseline, best")
    GitRepo(b).set_note(three, "Tags: odd")
    assert "notes: pushed" in gitxp(a, "push").stdout
    remote_notes = git(bare, "rev-parse", NOTES_REF).strip()
    report = sharing.push(GitRepo(b))
    assert report.ok and report.notes_problem
    assert report.notes == "notes: " + sharing.NOTES_LACKING
    proc = gitxp(b, "push")
    assert proc.returncode == 0
    assert "gitxp: notes: the remote has notes this repository lacks; run 'gitxp fetch'" in (
        proc.stderr
    )
    assert git(bare, "rev-parse", NOTES_REF).strip() == remote_notes
    # Once the remote's commit is known here but not merged: diverged, still not overwritten.
    git(b, "fetch", "-q", "origin", f"{NOTES_REF}:refs/notes/theirs")
    report = sharing.push(GitRepo(b))
    assert report.notes_problem and "diverged" in report.notes
    assert git(bare, "rev-parse", NOTES_REF).strip() == remote_notes
    git(b, "update-ref", "-d", "refs/notes/theirs")

    # Fetch merges (both sides' notes kept), then the push is a fast-forward.
    out = gitxp(b, "fetch").stdout
    assert "notes: merged tags and notes" in out
    assert notes_of(b, one) == "Tags: baseline, best"
    assert notes_of(b, two) == "Tags: keep\n\nfrom b"
    assert notes_of(b, three) == "Tags: odd"
    assert git(b, "for-each-ref", "refs/gitxp/notes-fetched", "refs/notes/gitxp-merging") == ""
    merged = git(b, "rev-parse", NOTES_REF).strip()
    assert git(b, "rev-parse", f"{merged}^2").strip() == remote_notes
    assert "notes: pushed tags and notes" in gitxp(b, "push").stdout
    assert git(bare, "rev-parse", NOTES_REF).strip() == merged
    assert "notes: updated tags and notes (fast-forward)" in gitxp(a, "fetch").stdout
    assert notes_of(a, three) == "Tags: odd" and notes_of(a, one) == "Tags: baseline, best"
    fsck(bare, a, b)

    # A note edited on both sides keeps both texts (union), in the order ours, theirs.
    GitRepo(a).set_note(three, "Tags: odd, a")
    GitRepo(b).set_note(three, "Tags: odd, b")
    gitxp(a, "push")
    report = sharing.fetch(GitRepo(b))
    assert report.notes == "notes: merged tags and notes" and not report.notes_problem
    assert notes_of(b, three) == "Tags: odd, b\n\nTags: odd, a"
    assert "notes: newer here; 'gitxp push' sends them" in gitxp(b, "fetch").stdout
    fsck(bare, a, b)


# -- transports ----------------------------------------------------------------------------


def test_git_daemon_push_and_fetch(
    repo: Path, daemon: GitDaemon, bare: Path, tmp_path: Path
) -> None:
    url = daemon.url(bare.name)
    ids = make_runs(repo, 2)
    out = gitxp(repo, "push", url).stdout
    assert "pushed 2 runs" in out and run_refs(bare) == run_refs(repo)
    other = tmp_path / "other"
    other.mkdir()
    git(other, "init", "-q")
    assert "fetched 2 runs" in gitxp(other, "fetch", url).stdout
    assert set(run_refs(other)) == {RUNS + i for i in ids}
    git(other, "fsck", "--strict", "--no-dangling")


def test_smart_http_push_and_fetch(repo: Path, http: SmartHttp, bare: Path, tmp_path: Path) -> None:
    url = http.url(bare.name)
    make_runs(repo, 2)
    git(repo, "remote", "add", "web", url)
    assert "pushed 2 runs to web" in gitxp(repo, "push", "web").stdout
    other = tmp_path / "other"
    other.mkdir()
    git(other, "init", "-q")
    assert "fetched 2 runs" in gitxp(other, "fetch", url).stdout
    assert run_refs(other) == run_refs(repo) == run_refs(bare)


def test_http_basic_auth(repo: Path, http_auth: SmartHttp, bare: Path, tmp_path: Path) -> None:
    make_runs(repo, 1)
    wrong = gitxp(repo, "push", http_auth.url(bare.name, USER, "not-the-password"), check=False)
    assert wrong.returncode == 2
    assert wrong.stderr.count("\n") == 1 and "Traceback" not in wrong.stderr
    assert "authentication failed" in wrong.stderr and "not-the-password" not in wrong.stderr
    assert run_refs(bare) == {} and http_auth.refused >= 1

    nobody = gitxp(repo, "push", http_auth.url(bare.name), check=False)
    assert nobody.returncode == 2 and "needs a username and password" in nobody.stderr

    assert "pushed 1 run" in gitxp(repo, "push", http_auth.url(bare.name, USER, PASSWORD)).stdout
    assert len(run_refs(bare)) == 1

    # git's credential helpers: the store helper, as a user would configure it.
    home = Path(os.environ["HOME"])
    (home / ".git-credentials").write_text(f"http://{USER}:{PASSWORD}@127.0.0.1:{http_auth.port}\n")
    git(repo, "config", "credential.helper", "store")
    other = tmp_path / "other"
    other.mkdir()
    git(other, "init", "-q")
    git(other, "config", "credential.helper", "store")
    assert "fetched 1 run" in gitxp(other, "fetch", http_auth.url(bare.name)).stdout

    # Credentials from the environment, and a failed fetch leaves nothing behind.
    third = tmp_path / "third"
    third.mkdir()
    git(third, "init", "-q")
    env = {"GITXP_USERNAME": USER, "GITXP_PASSWORD": "wrong"}
    failed = gitxp(third, "fetch", http_auth.url(bare.name), env=env, check=False)
    assert failed.returncode == 2 and "authentication failed" in failed.stderr
    assert "wrong" not in failed.stderr.replace("wrong username", "")
    assert run_refs(third) == {} and object_count(third) == 0
    assert list((third / ".git/objects/pack").glob("*")) == []
    env["GITXP_PASSWORD"] = PASSWORD
    assert "fetched 1 run" in gitxp(third, "fetch", http_auth.url(bare.name), env=env).stdout


@pytest.mark.skipif(sshd_path() is None, reason="sshd (OpenSSH server) is not installed here")
def test_ssh_push_and_fetch(repo: Path, bare: Path, tmp_path: Path) -> None:
    try:
        server = Sshd(tmp_path / "sshd")
    except ServerUnavailable as err:
        pytest.skip(str(err))
    try:
        env = {"GIT_SSH_COMMAND": server.ssh_command}
        make_runs(repo, 2)
        assert "pushed 2 runs" in gitxp(repo, "push", server.url(bare), env=env).stdout
        other = tmp_path / "other"
        other.mkdir()
        git(other, "init", "-q")
        assert "fetched 2 runs" in gitxp(other, "fetch", server.url(bare), env=env).stdout
        assert run_refs(other) == run_refs(repo)
    finally:
        server.stop()


# -- refusals and failures: one line, nothing half-written ---------------------------------


def test_unreachable_and_missing_remotes(repo: Path, tmp_path: Path) -> None:
    make_runs(repo, 1)
    closed = gitxp(repo, "push", f"git://127.0.0.1:{free_port()}/x.git", check=False)
    assert closed.returncode == 2 and closed.stderr.count("\n") == 1
    assert "connection refused" in closed.stderr
    missing = gitxp(repo, "fetch", str(tmp_path / "nowhere.git"), check=False)
    assert missing.returncode == 2 and "no repository at" in missing.stderr
    unnamed = gitxp(repo, "push", check=False)
    assert unnamed.returncode == 2 and "no remote named 'origin'" in unnamed.stderr
    assert run_refs(repo) and not list((repo / ".git/objects/pack").glob("tmp_*"))


def test_server_hook_refusal_is_reported(project: Path, bare: Path) -> None:
    hook = bare / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'policy: runs go to the other server' >&2\nexit 1\n")
    hook.chmod(0o755)
    make_runs(project, 1)
    proc = gitxp(project, "push", check=False)
    assert proc.returncode == 1
    assert "rejected: run" in proc.stderr and "pre-receive hook declined" in proc.stderr
    assert "remote: policy: runs go to the other server" in proc.stderr
    assert "Traceback" not in proc.stderr and run_refs(bare) == {}


def test_refused_update_is_retried(project: Path, bare: Path) -> None:
    marker = bare / "refused-once"
    hook = bare / "hooks" / "pre-receive"
    hook.write_text(f"#!/bin/sh\n[ -e {marker} ] && exit 0\ntouch {marker}\nexit 1\n")
    hook.chmod(0o755)
    make_runs(project, 2)
    report = sharing.push(GitRepo(project))
    assert report.ok and len(report.created) == 2 and marker.exists()
    assert run_refs(bare) == run_refs(project)


def test_damaged_pack_is_refused(repo: Path, tmp_path: Path) -> None:
    make_runs(repo, 2)
    pack = subprocess.run(
        ["git", "pack-objects", "--all", "--stdout", "--revs"],
        cwd=repo,
        input=b"",
        capture_output=True,
        check=True,
    ).stdout
    path = tmp_path / "p.pack"
    for data, ok in ((pack, True), (pack[:100] + bytes([pack[100] ^ 1]) + pack[101:], False)):
        path.write_bytes(data)
        with (
            open(path, "rb") as handle,
            mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as buf,
        ):
            if ok:
                assert len(index_pack(buf)[0]) > 10
            else:
                with pytest.raises(PackError):
                    index_pack(buf)


@pytest.mark.parametrize("ofs", [True, False], ids=["ofs-delta", "ref-delta"])
def test_pack_index_matches_git(repo: Path, tmp_path: Path, ofs: bool) -> None:
    for i in range(30):  # growing and slightly edited files: the pack holds delta chains
        (repo / "data.txt").write_text("".join(f"line {j} of data\n" for j in range(100 + i * 5)))
        (repo / "b.txt").write_text("".join(f"other {j}\n" for j in range(200)) + f"v{i}\n")
        git(repo, "add", "-A")
        git(repo, "commit", "-qm", f"v{i}")
    args = ["pack-objects", "--all", "--revs", "--depth=20", "--threads=1", str(tmp_path / "p")]
    if ofs:
        args.insert(1, "--delta-base-offset")
    name = (
        subprocess.run(["git", *args], cwd=repo, input=b"", capture_output=True, check=True)
        .stdout.decode()
        .strip()
    )
    pack = tmp_path / f"p-{name}.pack"
    # Delta chains (their exact lengths are git's choice) are what the indexer must resolve.
    assert "chain length = " in git(repo, "verify-pack", "-v", str(pack))
    with open(pack, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as buf:
        entries, checksum = index_pack(buf)
    out = io.BytesIO()
    write_index(out, entries, checksum)
    assert out.getvalue() == pack.with_suffix(".idx").read_bytes()


# -- many machines, one remote; plain git --------------------------------------------------


def test_two_clones_push_at_once_and_a_third_fetches_both(
    repo: Path, daemon: GitDaemon, bare: Path, tmp_path: Path
) -> None:
    url = daemon.url(bare.name)
    git(repo, "remote", "add", "origin", url)
    git(repo, "push", "-q", str(bare), "HEAD:refs/heads/main")
    clones = []
    for name in ("a", "b"):
        clone = clone_of(bare, tmp_path / name)
        git(clone, "remote", "set-url", "origin", url)
        (clone / f"{name}.txt").write_text(name)  # each machine has its own edits
        clones.append((clone, make_runs(clone, 3)))
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "gitxp", "push"],
            cwd=clone,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for clone, _ in clones
    ]
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        assert "pushed 3 runs" in out
    third = clone_of(bare, tmp_path / "c")
    git(third, "remote", "set-url", "origin", url)
    assert "fetched 6 runs" in gitxp(third, "fetch").stdout
    expected = {RUNS + i for _, ids in clones for i in ids}
    assert set(run_refs(third)) == expected == set(run_refs(bare))
    git(third, "fsck", "--strict", "--no-dangling")


def test_plain_git_sees_the_same_runs(project: Path, bare: Path, tmp_path: Path) -> None:
    make_runs(project, 2)
    push_branch(project)
    gitxp(project, "push", "-q")
    plain = clone_of(bare, tmp_path / "plain")
    git(plain, "fetch", "-q", "origin", "refs/gitxp/*:refs/gitxp/*")
    assert run_refs(plain) == run_refs(project)
    assert len(gitxp(plain, "ls").stdout.splitlines()) == 3  # header + 2 runs
    # And the other way: runs pushed by plain git are fetched by gitxp.
    make_runs(plain, 1)
    git(plain, "push", "-q", "origin", "refs/gitxp/*:refs/gitxp/*")
    assert "fetched 1 run" in gitxp(project, "fetch").stdout
    assert run_refs(project) == run_refs(plain) == run_refs(bare)


# -- automatic pushes after a run ----------------------------------------------------------


def test_run_push_and_autopush(project: Path, bare: Path) -> None:
    proc = gitxp(project, "run", "--push", "train.py", "with", "lr=0.5")
    assert "gitxp: pushed run" in proc.stderr and len(run_refs(bare)) == 1
    git(project, "config", "gitxp.autopush", "origin")
    proc = gitxp(project, "run", "train.py")
    assert "gitxp: pushed run" in proc.stderr and len(run_refs(bare)) == 2
    assert run_refs(bare) == run_refs(project)


def test_failed_autopush_never_fails_the_run(project: Path, bare: Path) -> None:
    git(project, "remote", "set-url", "origin", f"git://127.0.0.1:{free_port()}/x.git")
    git(project, "config", "gitxp.autopush", "origin")
    proc = gitxp(project, "run", "train.py")
    assert proc.returncode == 0 and "COMPLETED" in proc.stderr
    assert "warning: run" in proc.stderr and "'gitxp push' sends it later" in proc.stderr
    git(project, "remote", "set-url", "origin", str(bare))
    assert "pushed 1 run" in gitxp(project, "push").stdout
    assert run_refs(bare) == run_refs(project)


# -- small pieces --------------------------------------------------------------------------


def test_remote_names_urls_and_masking(repo: Path, bare: Path) -> None:
    gitrepo = GitRepo(repo)
    assert mask_url("https://bob:tok3n@example.com/x.git") == "https://bob:***@example.com/x.git"
    assert mask_url("git@example.com:x.git") == "git@example.com:x.git"
    git(repo, "remote", "add", "origin", "../elsewhere.git")
    git(repo, "remote", "add", "team", "https://example.com/team.git")
    git(repo, "config", "remote.team.pushurl", "ssh://git@example.com/team.git")
    assert resolve_remote(gitrepo, None).url == str(repo / "../elsewhere.git")
    assert resolve_remote(gitrepo, "team").url == "https://example.com/team.git"
    assert resolve_remote(gitrepo, "team", push=True).url == "ssh://git@example.com/team.git"
    git(repo, "config", "gitxp.remote", "team")
    assert resolve_remote(gitrepo, None).name == "team"
    assert resolve_remote(gitrepo, str(bare)).url == str(bare)
    with pytest.raises(RemoteError, match="neither a remote"):
        resolve_remote(gitrepo, "nosuchremote")


def test_progress_is_reported(project: Path, tmp_path: Path) -> None:
    make_runs(project, 2)
    seen: list[str] = []
    sharing.push(GitRepo(project), progress=seen.append)
    assert any("sending objects" in s for s in seen)
    other = tmp_path / "other"
    other.mkdir()
    git(other, "init", "-q")
    seen.clear()
    sharing.fetch(GitRepo(other), str(project), progress=seen.append)
    assert any(s.startswith("received ") for s in seen)


def test_without_the_git_command(
    project: Path, bare: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No ``git`` on PATH: local remotes go through dulwich's in-process client."""
    import gitxp.share.transport

    monkeypatch.setattr(gitxp.share.transport.shutil, "which", lambda name: None)
    make_runs(project, 3)
    assert len(sharing.push(GitRepo(project)).created) == 3
    git(bare, "fsck", "--strict", "--no-dangling")
    other = tmp_path / "other"
    other.mkdir()
    git(other, "init", "-q")
    assert len(sharing.fetch(GitRepo(other), str(bare)).created) == 3
    assert run_refs(other) == run_refs(project) == run_refs(bare)


def test_index_writer_and_delta_reader_agree_with_dulwich() -> None:
    import random

    from dulwich.pack import create_delta, write_pack_index_v2

    from gitxp.git.packindex import apply_delta

    rng = random.Random(5)
    entries = sorted((rng.randbytes(20), rng.choice([12, 2**31 + 7, 2**35]), 7) for _ in range(50))
    mine, theirs = io.BytesIO(), io.BytesIO()
    write_index(mine, entries, b"c" * 20)
    write_pack_index_v2(theirs, entries, b"c" * 20)
    assert mine.getvalue() == theirs.getvalue()
    for size in (0, 10, 5000, 200_000):
        base = rng.randbytes(size)
        target = base[: size // 3] + rng.randbytes(100) + base[size // 2 :] * 2
        delta = b"".join(create_delta(base, target))
        assert apply_delta(base, delta) == target
    with pytest.raises(PackError):
        apply_delta(b"abc", b"\x05\x03\x91\x00\x03")


def test_push_over_a_state_this_repository_no_longer_has(project: Path, bare: Path) -> None:
    """Pushed while RUNNING, the heartbeat commit then lost here (git gc): push still
    recognises the remote's state as an earlier one of the same run, by fetching it."""
    push_branch(project)
    running = start_run(project)
    running.heartbeat()
    sharing.push(GitRepo(project))
    heartbeat = run_refs(bare)[running.ref]
    final = running.finish("COMPLETED", exit_code=0)
    loose = project / ".git/objects" / heartbeat[:2] / heartbeat[2:]
    loose.unlink()  # what git gc --prune does to an unreferenced commit
    assert not GitRepo(project).has_object(heartbeat)
    report = sharing.push(GitRepo(project))
    assert report.updated == [running.run_id] and report.ok
    assert run_refs(bare)[running.ref] == final
