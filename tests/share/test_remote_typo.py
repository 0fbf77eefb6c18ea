"""``gitxp push/fetch WORD``: a word that is neither a remote nor a run is refused."""

from __future__ import annotations

from pathlib import Path

from runstore_helpers import git, gitxp, run_refs


def test_a_remote_typo_is_not_taken_for_a_run(repo: Path, tmp_path: Path) -> None:
    bare = tmp_path / "shared.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    git(repo, "remote", "add", "origin", str(bare))
    gitxp(repo, "run", "-b", "0", "train.py", "with", "lr=0.1")
    for verb in ("push", "fetch"):
        proc = gitxp(repo, verb, "orgin", check=False)
        assert proc.returncode != 0
        assert proc.stderr == (
            "gitxp: error: 'orgin' is neither a remote nor a run: the remotes are origin "
            "('git remote add NAME URL' adds one); runs are id prefixes from 'gitxp ls'\n"
        )
    assert run_refs(bare) == {}
    (run_id,) = (ref.rsplit("/", 1)[1] for ref in run_refs(repo))
    gitxp(repo, "push", run_id[:10])  # a run prefix still works without a remote named
    assert list(run_refs(bare)) == list(run_refs(repo))
