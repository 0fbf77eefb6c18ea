"""reproduce: the warning about files a run left out, and --keep-worktree (issue 18, 9)."""

from __future__ import annotations

import re
from pathlib import Path

from runstore_helpers import git, gitxp, gitxp_run


def test_skipped_files_warning_and_keep_worktree(repo: Path) -> None:
    git(repo, "config", "gitxp.maxUntrackedSize", "1k")
    (repo / "big.bin").write_bytes(b"x" * 4096)
    _, ref = gitxp_run(repo, "-b", "0", "train.py", "with", "lr=0.1")
    run_id = ref.rsplit("/", 1)[1]
    proc = gitxp(repo, "reproduce", run_id, "--keep-worktree", check=False)
    assert "gitxp: warning: big.bin was too large to record; running without it" in proc.stderr
    kept = re.search(r"gitxp: kept the worktree at (\S+) \(remove it", proc.stderr)
    assert kept, proc.stderr
    worktree = Path(kept.group(1))
    try:
        assert (worktree / "train.py").read_text() == (repo / "train.py").read_text()
        assert not (worktree / "big.bin").exists()
        assert str(worktree) in git(repo, "worktree", "list", "--porcelain")
    finally:
        git(repo, "worktree", "remove", "--force", str(worktree))
    # Without --keep-worktree the worktree goes: tests/reproduce/test_reproduce.py checks it.
