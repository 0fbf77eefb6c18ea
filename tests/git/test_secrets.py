"""Untracked files that look like secrets stay out of run snapshots (gitxp/git/secrets.py)."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

from gitxp_testing import git, gitxp
from runstore_helpers import ls_tree

from gitxp.git.repo import GitRepo
from gitxp.git.secrets import SECRET_PATTERNS, SecretRules
from gitxp.git.snapshot import take_snapshot

SECRET = "AKIA-very-secret-token"


def plant(repo: Path) -> None:
    """Secrets in every usual place, a safe example file and a tracked key."""
    for name in (".env", ".env.local", "secrets/id_rsa", "certs/server.pem", "credentials.json"):
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(f"TOKEN={SECRET}\n")
    (repo / ".env.example").write_text("TOKEN=put-yours-here\n")
    (repo / "keys").mkdir()
    (repo / "keys" / "public.key").write_text("committed on purpose\n")
    git(repo, "add", "keys/public.key")
    git(repo, "commit", "-q", "-m", "a key we mean to keep")
    (repo / "notes.txt").write_text("plain notes\n")


def snapshot_paths(repo: Path) -> set[str]:
    snap = take_snapshot(GitRepo(repo))
    return set(ls_tree(repo, snap.tree)) if snap.tree else set()


def test_secrets_left_out_and_listed_with_their_pattern(repo: Path) -> None:
    plant(repo)
    snap = take_snapshot(GitRepo(repo))
    paths = set(ls_tree(repo, snap.tree))
    assert {"notes.txt", ".env.example", "keys/public.key", "train.py"} <= paths
    left = {s["path"]: s for s in snap.skipped}
    assert set(left) == {
        ".env",
        ".env.local",
        "secrets/id_rsa",
        "certs/server.pem",
        "credentials.json",
    }
    assert not set(left) & paths
    assert left["certs/server.pem"]["pattern"] == "*.pem"
    assert all(
        s["reason"] == "secret" and s["size"] == len(f"TOKEN={SECRET}\n") for s in left.values()
    )
    assert snap.dirty


def test_gitxpignore_and_git_config_decide(repo: Path) -> None:
    plant(repo)
    (repo / "model.ckpt").write_text("weights\n")
    (repo / ".gitxpignore").write_text("# ours\n!.env.local\n*.ckpt\n")
    paths = snapshot_paths(repo)
    assert ".env.local" in paths and ".gitxpignore" in paths
    assert ".env" not in paths and "model.ckpt" not in paths
    git(repo, "config", "gitxp.skipSecrets", "false")
    paths = snapshot_paths(repo)
    assert {".env", "secrets/id_rsa", "credentials.json"} <= paths
    assert "model.ckpt" not in paths  # .gitxpignore still applies


def test_patterns_match_at_any_depth() -> None:
    rules = SecretRules(list(SECRET_PATTERNS))
    for path in (".env", "app/.env.prod", "a/b/id_ed25519.pub", "x/.netrc", "deploy/prod.tfvars"):
        assert rules.match(path) is not None, path
    for path in ("env.py", ".env.example", "src/keys.py", "README.md", "my.environment"):
        assert rules.match(path) is None, path


def test_the_quick_name_test_agrees_with_pathspec() -> None:
    """Paths no built-in pattern can match are answered without pathspec, and the answer
    for every path is pathspec's, with and without name-glob lines of .gitxpignore."""
    import pathspec

    rng = random.Random(7)
    names = [
        "src",
        "a.py",
        ".env",
        ".env.example",
        "id_rsa",
        "x.pem",
        "credentials",
        "keys",
        "notes.txt",
        "my.key",
        "secrets.yaml",
        "kubeconfig",
        "n.tfvars",
        ".netrc",
        "é.txt",
    ]
    extras = ([], ["*.ckpt", "!x.pem", "# comment", ""], ["m?ckpt", "*a*", "x**"], ["build/"])
    for extra in extras:
        lines = [*SECRET_PATTERNS, *extra]
        spec = pathspec.GitIgnoreSpec.from_lines(lines)
        rules = SecretRules(lines)
        for _ in range(400):
            path = "/".join(rng.choice([*names, "m.ckpt"]) for _ in range(rng.randint(1, 3)))
            found = spec.check_file(path)
            expected = spec.patterns[found.index].pattern if found.include else None
            assert rules.match(path) == expected, (path, extra)


def test_a_run_of_a_plain_tree_does_not_load_pathspec(repo: Path) -> None:
    (repo / "new_module.py").write_text("x = 1\n")
    code = (
        "import sys\n"
        "from gitxp.git.repo import GitRepo\n"
        "from gitxp.git.snapshot import take_snapshot\n"
        f"snap = take_snapshot(GitRepo({str(repo)!r}))\n"
        "print('pathspec' in sys.modules, snap.dirty, snap.skipped)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True", "[]"]


def test_run_warns_once_records_the_reason_and_push_sends_no_secret(
    repo: Path, tmp_path: Path
) -> None:
    plant(repo)
    proc = gitxp(repo, "run", "train.py")
    warnings = [line for line in proc.stderr.splitlines() if "look like secrets" in line]
    assert len(warnings) == 1 and ".env" in warnings[0] and ".gitxpignore" in warnings[0]
    info = json.loads(gitxp(repo, "show", "--json", "latest").stdout)
    reasons = {s["path"]: s["reason"] for s in info["skipped_files"]}
    assert reasons[".env"] == "secret" and "secrets/id_rsa" in reasons
    assert "looks like a secret: .env" in gitxp(repo, "show", "latest").stdout
    bare = tmp_path / "shared.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    gitxp(repo, "push", str(bare))
    listing = git(bare, "rev-list", "--objects", "--all").split("\n")
    blobs = [line.split()[0] for line in listing if line.strip()]
    contents = subprocess.run(
        ["git", "cat-file", "--batch"],
        cwd=bare,
        input="\n".join(blobs).encode(),
        capture_output=True,
        check=True,
    ).stdout
    assert b"committed on purpose" in contents  # the pushed run is there, tracked key and all
    assert SECRET.encode() not in contents
