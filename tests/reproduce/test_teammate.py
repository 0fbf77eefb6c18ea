"""Reproduce a teammate's runs on "another machine", and prove it.

Alice records an Experiment script and a plain script in a project venv (gitxp is not
installed there), signs her runs with an ssh key and pushes them to a real ``git daemon``.
Bob clones that remote into a new folder, fetches the runs and reproduces each with
``--env venv`` (a venv rebuilt from the run's lock, offline from a local wheel): every
verdict matches. His signed attestations reach Alice through push and fetch, where
``show``, ``ls``, the frame and ``gitxp verify`` see them; a tampered run is rejected.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from runstore_helpers import fsck, git, run_refs
from servers import GitDaemon
from wheel_helpers import PIP_ENV

from gitxp.board.views import run_page
from gitxp.git.repo import GitRepo
from gitxp.store.notes import NotesIndex

EXPERIMENT = """\
import tinydep
from gitxp import Experiment

ex = Experiment("fit")


@ex.config
def cfg():
    lr = 0.5
    steps = 4


@ex.automain
def main(lr, steps, _run):
    w = 0.0
    for step in range(steps):
        w += lr * (float(tinydep.VALUE) - w)
        _run.log_scalar("w", w)
    return w
"""

PLAIN = """\
import json
import os
import tinydep

config = json.loads(os.environ.get("GITXP_CONFIG", "{}"))
print("plain run with tinydep", tinydep.VALUE, config)
"""


def keypair(folder: Path, email: str) -> tuple[Path, str]:
    """A fresh ed25519 key (no passphrase) and its allowed-signers line."""
    key = folder / f"{email.split('@')[0]}_ed25519"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", email, "-f", str(key)], check=True
    )
    public = key.with_suffix(".pub").read_text().split()
    return key, f"{email} {public[0]} {public[1]}"


def as_user(repo: Path, name: str, email: str, key: Path, allowed: Path) -> None:
    for setting, value in [
        ("user.name", name),
        ("user.email", email),
        ("gpg.format", "ssh"),
        ("user.signingkey", str(key)),
        ("gpg.ssh.allowedSignersFile", str(allowed)),
        ("gitxp.sign", "true"),
    ]:
        git(repo, "config", setting, value)


class Shell:
    """A user's shell: the project venv activated, gitxp on PATH from its own venv only."""

    def __init__(self, project_python: Path, wheels: Path, home: Path) -> None:
        venv = project_python.parent.parent
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        env.update(PIP_ENV)
        env.update(
            PATH=os.pathsep.join([str(venv / "bin"), "/usr/bin", "/bin"]),
            VIRTUAL_ENV=str(venv),
            PIP_NO_INDEX="1",
            PIP_FIND_LINKS=str(wheels),
        )
        self.env = env
        self.gitxp_exe = [str(Path(sys.executable).parent / "gitxp")]

    def gitxp(self, cwd: Path, *args: str, code: int = 0) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [*self.gitxp_exe, *args],
            cwd=cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=180,
            stdin=subprocess.DEVNULL,
        )
        assert proc.returncode == code, f"gitxp {' '.join(args)}:\n{proc.stdout}\n{proc.stderr}"
        return proc


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[GitDaemon]:
    served = tmp_path / "served"
    served.mkdir()
    server = GitDaemon(served)
    yield server
    server.stop()


def test_a_teammate_reproduces_pushed_runs_and_the_verdict_comes_back(
    tmp_path: Path, daemon: GitDaemon, tinydep: dict[str, Path]
) -> None:
    keys = tmp_path / "keys"
    keys.mkdir()
    alice_key, alice_line = keypair(keys, "alice@example.com")
    bob_key, bob_line = keypair(keys, "bob@example.com")
    allowed = keys / "allowed_signers"
    allowed.write_text(f"{alice_line}\n{bob_line}\n")
    shell = Shell(tinydep["1.0"], tinydep["wheels"], tmp_path)
    git(daemon.root, "init", "-q", "--bare", "team.git")
    url = daemon.url("team.git")

    # -- Alice records two runs, signed, and pushes them --------------------------------
    alice = tmp_path / "alice"
    alice.mkdir()
    git(alice, "init", "-q")
    as_user(alice, "Alice Example", "alice@example.com", alice_key, allowed)
    (alice / "fit.py").write_text(EXPERIMENT)
    (alice / "plain.py").write_text(PLAIN)
    git(alice, "add", "-A")
    git(alice, "commit", "-q", "--no-gpg-sign", "-m", "two scripts")
    git(alice, "remote", "add", "origin", url)
    shell.gitxp(alice, "run", "-b", "0", "fit.py", "with", "lr=0.25")
    shell.gitxp(alice, "run", "-b", "0", "plain.py", "with", "n=3")
    fit_id, plain_id = sorted(ref.rsplit("/", 1)[-1] for ref in run_refs(alice))
    for ref in run_refs(alice):
        git(alice, "verify-commit", ref)  # git itself accepts gitxp's signatures
    git(alice, "push", "-q", "origin", "main")
    assert "pushed 2 runs" in shell.gitxp(alice, "push").stdout

    # -- Bob clones the remote as a second user would, fetches, reproduces -------------
    bob = tmp_path / "bob"
    git(tmp_path, "clone", "-q", url, str(bob))
    as_user(bob, "Bob Builder", "bob@example.com", bob_key, allowed)
    assert "fetched 2 runs" in shell.gitxp(bob, "fetch").stdout
    short = git(bob, "for-each-ref", "--format=%(refname:short)", f"refs/gitxp/runs/{fit_id}")
    fit_commit = git(bob, "rev-parse", f"refs/gitxp/runs/{fit_id}").strip()
    first = shell.gitxp(bob, "reproduce", short.strip(), "--env", "venv", "--yes")
    assert "building an environment from the run's env lock (1 package" in first.stderr
    assert "[2/2] pip install 1 package\n" in first.stderr
    assert "reproduced: all" in first.stdout, first.stdout
    assert "metric w" in first.stdout and "differs" not in first.stdout
    second = shell.gitxp(bob, "reproduce", plain_id[:10], "--env", "venv", "--yes")
    assert "reusing the environment built for this lock" in second.stderr
    assert "reproduced: all" in second.stdout, second.stdout
    again = shell.gitxp(bob, "reproduce", fit_commit[:12], "--env", "venv", "--yes", "--json")
    verdict = json.loads(again.stdout)
    assert verdict["reproduced"] is True and verdict["original"] == fit_id
    rebuild = [c for c in verdict["environment"] if c["what"] == "packages"]
    assert rebuild[0]["verdict"] == "match"
    attestations = git(bob, "for-each-ref", "--format=%(refname)", "refs/gitxp/attestations/")
    assert len(attestations.split()) == 3
    assert "attestations: pushed 3" in shell.gitxp(bob, "push").stdout

    # -- The verdicts reach Alice ---------------------------------------------------------
    fetched = shell.gitxp(alice, "fetch")
    assert "attestations: fetched 3" in fetched.stdout, fetched.stdout
    shown = shell.gitxp(alice, "show", fit_id[:12]).stdout
    assert "reproductions:" in shown and "by Bob Builder <bob@example.com>" in shown
    assert shown.count("reproduced: all") == 2
    listed = shell.gitxp(alice, "ls").stdout
    assert "REPRODUCED" in listed and "yes 2/2" in listed and "yes 1/1" in listed
    data = json.loads(shell.gitxp(alice, "show", plain_id, "--json").stdout)
    assert [a["reproduced"] for a in data["attestations"]] == [True]
    code = (
        "import gitxp, json; f = gitxp.runs('.'); "
        "print(json.dumps({i: v is True for i, v in zip(f['id'], f['reproduced'].astype(object))}))"
    )
    frame = subprocess.run([sys.executable, "-c", code], cwd=alice, capture_output=True, text=True)
    assert frame.returncode == 0, frame.stderr
    reproduced = json.loads(frame.stdout)
    assert reproduced[fit_id] is True and reproduced[plain_id] is True

    page = run_page(GitRepo(alice), NotesIndex(), fit_id)  # the board's run page
    assert [a["by"] for a in page["attestations"]] == ["Bob Builder <bob@example.com>"] * 2
    assert all(a["reproduced"] and a["host"] for a in page["attestations"])

    # -- Signatures: good ones accepted and named, a tampered run rejected -------------
    verified = shell.gitxp(alice, "verify", fit_id)
    assert "verified: 4 of 4 signatures good" in verified.stdout, verified.stdout
    assert "by alice@example.com" in verified.stdout and "by bob@example.com" in verified.stdout
    head = git(alice, "rev-parse", f"refs/gitxp/runs/{plain_id}").strip()
    text = git(alice, "cat-file", "commit", head)
    text = text.replace("Gitxp-Status: COMPLETED", "Gitxp-Status: FAILED")
    forged = subprocess.run(
        ["git", "hash-object", "-t", "commit", "-w", "--stdin"],
        cwd=alice, input=text, capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    git(alice, "update-ref", f"refs/gitxp/runs/{plain_id}", forged, head)
    rejected = shell.gitxp(alice, "verify", plain_id, code=1)
    assert "BAD signature" in rejected.stdout and "NOT verified" in rejected.stdout
    assert git(alice, "verify-commit", forged, check=False) == ""
    for repo in (alice, bob):
        fsck(repo)
