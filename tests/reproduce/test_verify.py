"""``gitxp verify`` on unsigned runs, and signing that cannot happen: one line, nothing written."""

from __future__ import annotations

from pathlib import Path

from runstore_helpers import fsck, git, gitxp, run_refs


def test_an_unsigned_run_is_not_verified(repo: Path) -> None:
    gitxp(repo, "run", "-b", "0", "train.py")
    proc = gitxp(repo, "verify", "latest", check=False)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert proc.stdout.count("not signed") == 2  # snapshot and record commit
    assert "NOT verified: 0 of 2 signatures good" in proc.stdout


def test_signing_without_a_key_is_one_line_and_records_nothing(repo: Path) -> None:
    git(repo, "config", "gpg.format", "ssh")
    before = run_refs(repo)
    proc = gitxp(repo, "run", "--sign", "-b", "0", "train.py", check=False)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert lines == [
        "gitxp: error: gpg.format is ssh but user.signingkey is not set; "
        "git config user.signingkey ~/.ssh/id_ed25519.pub"
    ]
    assert run_refs(repo) == before
    assert not any((repo / ".git" / "gitxp" / "spool").iterdir())
    fsck(repo)
