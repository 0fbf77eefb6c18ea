"""gitxp bisect: the first commit where a metric fell below the bar, runs reused by inputs."""

from __future__ import annotations

from pathlib import Path

import pytest
from gitxp_testing import git, gitxp, run_refs

TRAIN = """\
import gitxp
quality = float(open("quality.txt").read())
gitxp.log_scalar("val_acc", quality)
gitxp.set_result(quality)
"""


def commit(repo: Path, name: str, text: str, message: str) -> str:
    (repo / name).write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD").strip()


@pytest.fixture
def history(repo: Path) -> list[str]:
    """Five commits; the fourth (index 3) plants the drop in quality."""
    shas = [commit(repo, "train.py", TRAIN, "train")]
    commit(repo, "quality.txt", "0.95\n", "quality")
    shas[0] = git(repo, "rev-parse", "HEAD").strip()
    shas.append(commit(repo, "notes.md", "a\n", "notes"))
    shas.append(commit(repo, "notes.md", "b\n", "more notes"))
    shas.append(commit(repo, "quality.txt", "0.50\n", "a change that drops the metric"))
    shas.append(commit(repo, "notes.md", "c\n", "even more notes"))
    return shas


def test_bisect_names_the_planted_commit_and_reuses_runs(repo: Path, history: list[str]) -> None:
    git(repo, "checkout", "-q", history[2])
    gitxp(repo, "run", "train.py")  # recorded by hand before: bisect reuses it
    git(repo, "checkout", "-q", "-")
    head, status = git(repo, "rev-parse", "HEAD"), git(repo, "status", "--porcelain")
    args = ["train.py", "--good", history[0], "--bad", history[4], "--metric", "val_acc"]
    proc = gitxp(repo, "bisect", *args, "--min", "0.9")
    assert f"first bad commit: {history[3]} a change that drops the metric" in proc.stdout
    assert f"{history[2][:10]} val_acc=0.95 good (reused" in proc.stderr
    assert "1 reused" in proc.stdout
    runs_after_first = len(run_refs(repo))
    again = gitxp(repo, "bisect", *args, "--min", "0.9")
    assert f"first bad commit: {history[3]}" in again.stdout and ": 0 ran," in again.stdout
    assert len(run_refs(repo)) == runs_after_first  # nothing ran again
    assert git(repo, "rev-parse", "HEAD") == head and git(repo, "status", "--porcelain") == status
    assert git(repo, "worktree", "list").count("\n") == 1  # its worktree is gone
    git(repo, "fsck", "--strict")


def test_lower_is_better_with_max(repo: Path, history: list[str]) -> None:
    (repo / "train.py").write_text(TRAIN.replace("val_acc", "loss"))
    git(repo, "commit", "-q", "-am", "loss instead")
    proc = gitxp(
        repo,
        "bisect",
        "train.py",
        "--good",
        history[0],
        "--bad",
        history[4],
        "--metric",
        "result",
        "--max",
        "0.96",
        check=False,
    )
    # result 0.95 and 0.50 both pass --max 0.96: the bad end is not bad
    assert proc.returncode != 0 and f"--bad {history[4][:10]} is not bad" in proc.stderr


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--min", "0.9", "--max", "1"], "--min X"),
        (["--min", "0.9", "--good", "nosuch"], "--good 'nosuch'"),
        (["--min", "0.9", "--swap"], "older commit than --bad"),
    ],
)
def test_mistakes_are_one_line(
    repo: Path, history: list[str], extra: list[str], message: str
) -> None:
    good, bad = history[0], history[4]
    if "--swap" in extra:
        extra = ["--min", "0.9"]
        good, bad = bad, good
    args = ["bisect", "train.py", "--good", good, "--bad", bad, "--metric", "val_acc", *extra]
    before = run_refs(repo)
    proc = gitxp(repo, *args, check=False)
    assert proc.returncode != 0 and message in proc.stderr and "Traceback" not in proc.stderr
    assert run_refs(repo) == before
