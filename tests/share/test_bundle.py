"""gitxp bundle create / import: runs carried in a file, by the rules of a fetch."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from sharing_helpers import RUNS, git, gitxp, make_runs, run_refs, start_run

from gitxp.git.repo import NOTES_REF, GitRepo
from gitxp.share.bundle import BundleFile


def fresh_clone(origin: Path, where: Path) -> Path:
    """A clone that shares no object files with ``origin`` (as on another machine)."""
    git(where.parent, "clone", "-q", "--no-local", str(origin), str(where))
    return where


def fsck(*paths: Path) -> None:
    for path in paths:
        git(path, "fsck", "--strict")


def test_runs_and_notes_travel_and_import_is_idempotent(repo: Path, tmp_path: Path) -> None:
    ids = make_runs(repo, 3)
    snapshot = start_run(repo, lr=9)
    snapshot.finish("COMPLETED", exit_code=0)
    GitRepo(repo).set_note(snapshot.snapshot_commit, "Tags: best")
    out = gitxp(repo, "bundle", "create", str(tmp_path / "runs.bundle")).stdout
    assert "wrote 4 runs with tags and notes" in out
    git(repo, "bundle", "verify", "-q", str(tmp_path / "runs.bundle"))  # git accepts it

    other = fresh_clone(repo, tmp_path / "other")
    assert run_refs(other) == {}
    first = gitxp(other, "bundle", "import", str(tmp_path / "runs.bundle")).stdout
    assert "fetched 4 runs" in first and "4 new" in first
    assert run_refs(other) == run_refs(repo)
    assert git(other, "rev-parse", NOTES_REF) == git(repo, "rev-parse", NOTES_REF)
    again = gitxp(other, "bundle", "import", str(tmp_path / "runs.bundle")).stdout
    assert "nothing new" in again and "4 runs up to date" in again
    shown = gitxp(other, "show", ids[0]).stdout
    assert ids[0] in shown and "COMPLETED" in shown
    fsck(repo, other)


def test_named_runs_and_since(repo: Path, tmp_path: Path) -> None:
    a, _, c = make_runs(repo, 3)
    gitxp(repo, "bundle", "create", str(tmp_path / "two.bundle"), a, c[:10])
    assert set(BundleFile.open(tmp_path / "two.bundle").refs) == {
        f"{RUNS}{a}".encode(),
        f"{RUNS}{c}".encode(),
    }
    gitxp(repo, "bundle", "create", str(tmp_path / "new.bundle"), "--since", "1h")
    assert len(BundleFile.open(tmp_path / "new.bundle").refs) == 3
    proc = gitxp(
        repo, "bundle", "create", str(tmp_path / "x"), "--since", "2999-01-01", check=False
    )
    assert proc.returncode != 0 and "no runs to bundle" in proc.stderr
    assert not (tmp_path / "x").exists()


def test_a_later_state_is_taken_and_a_conflict_is_refused(repo: Path, tmp_path: Path) -> None:
    running = start_run(repo, lr=1)
    gitxp(repo, "bundle", "create", str(tmp_path / "early.bundle"))
    other = fresh_clone(repo, tmp_path / "other")
    gitxp(other, "bundle", "import", str(tmp_path / "early.bundle"))
    running.finish("COMPLETED", exit_code=0)
    gitxp(repo, "bundle", "create", str(tmp_path / "late.bundle"))
    out = gitxp(other, "bundle", "import", str(tmp_path / "late.bundle")).stdout
    assert "1 updated" in out
    assert run_refs(other) == run_refs(repo)
    # The earlier state does not roll the run back.
    gitxp(other, "bundle", "import", str(tmp_path / "early.bundle"))
    assert run_refs(other) == run_refs(repo)

    (mine,) = make_runs(other, 1)
    (theirs,) = make_runs(repo, 1)
    git(repo, "update-ref", RUNS + mine, run_refs(repo)[RUNS + theirs])  # another run, same id
    gitxp(repo, "bundle", "create", str(tmp_path / "clash.bundle"), mine)
    before = run_refs(other)[RUNS + mine]
    proc = gitxp(other, "bundle", "import", str(tmp_path / "clash.bundle"), check=False)
    assert proc.returncode == 1 and f"conflict: run {mine}" in proc.stderr
    assert run_refs(other)[RUNS + mine] == before
    fsck(other)


def forged(source: Path, target: Path, header_lines: list[bytes]) -> Path:
    """A bundle with ``header_lines`` in place of the refs of ``source``, and its pack."""
    data = source.read_bytes()
    pack = data[data.index(b"\n\n") + 2 :]
    target.write_bytes(b"# v2 git bundle\n" + b"".join(header_lines) + b"\n" + pack)
    return target


def test_hostile_bundles_get_one_line_and_change_nothing(repo: Path, tmp_path: Path) -> None:
    (run,) = make_runs(repo, 1)
    good = tmp_path / "good.bundle"
    gitxp(repo, "bundle", "create", str(good))
    commit = run_refs(repo)[RUNS + run].encode()
    escape = forged(
        good, tmp_path / "escape.bundle", [commit + b" refs/gitxp/runs/../../heads/x\n"]
    )
    branch = forged(good, tmp_path / "branch.bundle", [commit + b" refs/heads/main\n"])
    needs = forged(
        good,
        tmp_path / "needs.bundle",
        [b"-" + b"1" * 40 + b"\n", commit + b" " + f"{RUNS}{run}\n".encode()],
    )
    long_line = tmp_path / "long.bundle"
    long_line.write_bytes(b"# v2 git bundle\n" + b"a" * 100_000)
    damaged = tmp_path / "damaged.bundle"
    data = good.read_bytes()
    damaged.write_bytes(data[: len(data) - 30])
    not_one = tmp_path / "plain.txt"
    not_one.write_text("hello\n")

    for path in (escape, branch, needs, long_line, damaged, not_one):
        other = fresh_clone(repo, tmp_path / f"other-{path.stem}")  # no objects from before
        refs_before = git(other, "for-each-ref")
        proc = gitxp(other, "bundle", "import", str(path), check=False)
        lines = proc.stderr.strip().splitlines()
        assert "Traceback" not in proc.stderr, proc.stderr
        if proc.returncode != 0:
            assert len(lines) == 1 and lines[0].startswith("gitxp: error:"), proc.stderr
        assert git(other, "for-each-ref") == refs_before, path.name
        assert not (other / ".git" / "x").exists() and not (other / ".git" / "heads").exists()
        fsck(other)
    # The same good bundle still imports afterwards.
    gitxp(other, "bundle", "import", str(good))
    assert run_refs(other) == run_refs(repo)


def test_cli_mistakes(repo: Path, tmp_path: Path) -> None:
    make_runs(repo, 1)
    proc = gitxp(repo, "bundle", "create", str(tmp_path / "no" / "such" / "f"), check=False)
    assert proc.returncode != 0 and "no folder" in proc.stderr
    proc = gitxp(repo, "bundle", "create", str(tmp_path / "f"), "--since", "soon", check=False)
    assert proc.returncode != 0 and "--since 'soon'" in proc.stderr
    proc = gitxp(repo, "bundle", "create", str(tmp_path / "f"), "NOSUCHRUN", check=False)
    assert proc.returncode != 0 and proc.stderr.count("\n") == 1
    gitxp(repo, "bundle", "create", str(tmp_path / "f"))
    proc = gitxp(repo, "push", str(tmp_path / "f"), check=False)
    assert proc.returncode != 0 and "read-only" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    "header", [b"# v3 git bundle\n@filter=blob:none\n", b"# v2 git bundle\nzz refs/x\n"]
)
def test_header_reader_refuses_what_it_cannot_read(tmp_path: Path, header: bytes) -> None:
    path = tmp_path / "h.bundle"
    path.write_bytes(header + b"\n")
    with pytest.raises(ValueError):
        BundleFile.open(path)


def test_plain_git_reads_what_gitxp_writes(repo: Path, tmp_path: Path) -> None:
    make_runs(repo, 2)
    gitxp(repo, "bundle", "create", str(tmp_path / "r.bundle"))
    heads = subprocess.run(
        ["git", "bundle", "list-heads", str(tmp_path / "r.bundle")],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert sorted(line.split()[1] for line in heads.splitlines()) == sorted(run_refs(repo))


def test_attestations_travel_with_their_runs(repo: Path, tmp_path: Path) -> None:
    (repo / "train.py").write_text("import gitxp\ngitxp.set_result(1)\n")
    git(repo, "commit", "-q", "-am", "deterministic")
    gitxp(repo, "run", "train.py")
    gitxp(repo, "reproduce", "latest")
    attestations = git(repo, "for-each-ref", "--format=%(refname)", "refs/gitxp/attestations/")
    assert attestations.strip()
    original = attestations.split("/")[3]
    gitxp(repo, "bundle", "create", str(tmp_path / "r.bundle"), original)
    other = fresh_clone(repo, tmp_path / "other")
    gitxp(other, "bundle", "import", str(tmp_path / "r.bundle"))
    got = git(other, "for-each-ref", "--format=%(refname)", "refs/gitxp/attestations/")
    assert got == attestations
    frame = json.loads(gitxp(other, "ls", "--json", "--columns", "id,reproduced").stdout)
    assert {r["id"]: r["reproduced"] for r in frame}[original] is True
