"""Naming a run the way git names a commit: every form ``resolve`` takes, and its errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from runstore_helpers import fsck, git, gitxp

from gitxp.errors import RunNotFoundError
from gitxp.git.repo import GitRepo
from gitxp.store.recorder import Recorder, RunSpec
from gitxp.store.runs import RunRef, list_runs, resolve


def record_runs(path: Path, count: int) -> list[tuple[str, list[str]]]:
    """``count`` finished runs, oldest first: (id, [snapshot, heartbeat, final commit])."""
    repo = GitRepo(path)
    made = []
    for _ in range(count):
        recorder = Recorder.start(repo, RunSpec(command=["python", "train.py"]))
        snapshot = recorder.snapshot_commit
        recorder.heartbeat()
        beat = recorder.head
        final = recorder.finish("COMPLETED", exit_code=0)
        made.append((recorder.run_id, [snapshot, beat, final]))
    return made


@pytest.fixture
def three(repo: Path) -> list[tuple[str, list[str]]]:
    return record_runs(repo, 3)


def test_every_name_git_would_accept_names_the_run(
    repo: Path, three: list[tuple[str, list[str]]]
) -> None:
    gitrepo = GitRepo(repo)
    oldest, middle, newest = (run_id for run_id, _ in three)
    short = git(repo, "for-each-ref", "--format=%(refname:short)", f"refs/gitxp/runs/{middle}")
    names = {
        f"refs/gitxp/runs/{middle}": middle,
        short.strip(): middle,
        f"gitxp/runs/{middle}": middle,
        f"runs/{middle}": middle,
        middle[:14].lower(): middle,
        "latest": newest,
        "latest~0": newest,
        "latest^": middle,
        "latest~1": middle,
        "latest^^": oldest,
        "latest~1^": oldest,
        "latest~2": oldest,
        f"gitxp/runs/{middle}~1": middle,  # its snapshot commit, by git's own syntax
        f"refs/gitxp/runs/{oldest}^": oldest,
    }
    for run_id, commits in three:
        for commit in commits:  # snapshot, an earlier heartbeat, the final record
            names[commit] = run_id
            names[commit[:12]] = run_id
    for name, expected in names.items():
        assert resolve(gitrepo, name).id == expected, name
    fsck(repo)


def test_names_that_are_no_run_say_what_to_type(
    repo: Path, three: list[tuple[str, list[str]]]
) -> None:
    gitrepo = GitRepo(repo)
    head = git(repo, "rev-parse", "HEAD").strip()
    cases = {
        "latest~3": "only 3 runs",
        "latest^2": "latest~N",
        "HEAD": "belongs to no run",
        head[:10]: "belongs to no run",
        "refs/gitxp/runs/" + "0" * 26: "no run at",
        "nothing-like-it": "not a run id",
        "7ZZZZZZZ": "no run matches",
        "": "no run named",
    }
    for name, words in cases.items():
        with pytest.raises(RunNotFoundError, match=words):
            resolve(gitrepo, name)


def test_an_ambiguous_prefix_lists_the_candidates(
    repo: Path, three: list[tuple[str, list[str]]]
) -> None:
    gitrepo = GitRepo(repo)
    ids = [run_id for run_id, _ in three]
    with pytest.raises(RunNotFoundError, match="ambiguous") as caught:
        resolve(gitrepo, "0")
    for run_id in ids:
        assert run_id[:12] in str(caught.value)
    # A prefix both of one run's id and of another run's commit is ambiguous too.
    runs = list_runs(gitrepo)
    other = three[0][1][2]
    fake = [RunRef(other[:4].upper() + r.id[4:], r.ref, r.commit) for r in runs[:1]]
    with pytest.raises(RunNotFoundError, match=r"\(id\).*\(commit|\(commit.*\(id\)"):
        resolve(gitrepo, other[:4], [*fake, *runs[1:]])


def test_a_commit_that_only_claims_a_run_is_not_that_run(
    repo: Path, three: list[tuple[str, list[str]]]
) -> None:
    """A fetched commit with a forged ``Gitxp-Run`` trailer names no run."""
    run_id = three[0][0]
    tree = git(repo, "rev-parse", "HEAD^{tree}").strip()
    forged = git(
        repo, "commit-tree", tree, "-p", "HEAD", "-m", f"forged\n\nGitxp-Run: {run_id}\n"
    ).strip()
    with pytest.raises(RunNotFoundError, match="belongs to no run"):
        resolve(GitRepo(repo), forged)


def test_commands_take_every_form(repo: Path, three: list[tuple[str, list[str]]]) -> None:
    """show, diff and checkout name runs through the same resolver."""
    run_id, commits = three[1]
    for name in (f"gitxp/runs/{run_id}", commits[0][:10], "latest^"):
        shown = gitxp(repo, "show", name, "--json").stdout
        assert run_id in shown
    diff = gitxp(repo, "diff", "latest~2", f"gitxp/runs/{run_id}", check=False)
    assert diff.returncode in (0, 1), diff.stderr
    bad = gitxp(repo, "show", "0", check=False)
    assert bad.returncode != 0 and "ambiguous" in bad.stderr and "Traceback" not in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1


def test_a_whole_id_or_ref_is_looked_up_without_listing_the_runs(
    repo: Path, three: list[tuple[str, list[str]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """At 100,000 runs a listing takes seconds; a run named in full never pays it."""
    import gitxp.store.runs as runs_module

    gitrepo = GitRepo(repo)
    expected = {run.id: run for run in list_runs(gitrepo)}

    def no_listing(_repo: GitRepo) -> list[RunRef]:
        raise AssertionError("the runs were listed")

    monkeypatch.setattr(runs_module, "list_runs", no_listing)
    for run_id, _ in three:
        for name in (run_id, f"refs/gitxp/runs/{run_id}", f"gitxp/runs/{run_id}", f"runs/{run_id}"):
            assert resolve(gitrepo, name) == expected[run_id]
    with pytest.raises(AssertionError, match="listed"):
        resolve(gitrepo, three[0][0][:12])  # a prefix still needs the list
