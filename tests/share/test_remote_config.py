"""Remotes named through git config as git reads it: url.<base>.insteadOf, core.sshCommand."""

from __future__ import annotations

from pathlib import Path

import pytest
from servers import ServerUnavailable, Sshd, sshd_path
from sharing_helpers import git, gitxp, make_runs, run_refs


def test_url_instead_of_rewrites_a_remote(repo: Path, tmp_path: Path) -> None:
    shared = tmp_path / "lab" / "shared.git"
    shared.parent.mkdir()
    git(tmp_path, "init", "-q", "--bare", str(shared))
    git(repo, "config", f"url.file://{shared.parent}/.insteadOf", "lab:")
    git(repo, "remote", "add", "lab", "lab:shared.git")
    ids = make_runs(repo, 1)
    assert "pushed 1 run to lab" in gitxp(repo, "push", "lab").stdout
    assert list(run_refs(shared)) == [f"refs/gitxp/runs/{ids[0]}"]


@pytest.mark.skipif(sshd_path() is None, reason="sshd (OpenSSH server) is not installed here")
def test_core_ssh_command_is_used(repo: Path, tmp_path: Path) -> None:
    shared = tmp_path / "ssh-shared.git"
    git(tmp_path, "init", "-q", "--bare", str(shared))
    try:
        server = Sshd(tmp_path / "sshd")
    except ServerUnavailable as err:
        pytest.skip(str(err))
    try:
        git(repo, "config", "core.sshCommand", server.ssh_command)  # no GIT_SSH_COMMAND
        make_runs(repo, 1)
        assert "pushed 1 run" in gitxp(repo, "push", server.url(shared)).stdout
        assert len(run_refs(shared)) == 1
    finally:
        server.stop()
