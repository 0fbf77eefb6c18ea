"""What a snapshot leaves out is said at run time and recorded (issue 18, point 8).

Large untracked files: one warning naming them, the limit and the git config that
changes it. A submodule with uncommitted changes: its commit and dirty state in run.json
and a warning. The README's plain-git restore line leaves the index alone and brings no
``.gitxp/`` into the working tree.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from runstore_helpers import git, gitxp, run_info, run_refs

ROOT = Path(__file__).resolve().parents[2]


def test_large_untracked_files_and_dirty_submodules_are_named(repo: Path, tmp_path: Path) -> None:
    sub = tmp_path / "lib"
    sub.mkdir()
    git(sub, "init", "-q")
    (sub / "a.txt").write_text("a\n")
    git(sub, "add", "-A")
    git(sub, "commit", "-q", "-m", "lib")
    git(repo, "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(sub), "lib")
    git(repo, "commit", "-q", "-m", "submodule")
    (repo / "lib" / "a.txt").write_text("edited\n")
    git(repo, "config", "gitxp.maxUntrackedSize", "1k")
    (repo / "big.bin").write_bytes(b"x" * 2048)
    proc = gitxp(repo, "run", "-b", "0", "train.py")
    warnings = [line for line in proc.stderr.splitlines() if line.startswith("gitxp: warning:")]
    assert len(warnings) == 2, proc.stderr
    assert "over 1024 bytes are not recorded: big.bin (2048 bytes)" in warnings[0]
    assert "git config gitxp.maxUntrackedSize" in warnings[0]
    head = git(sub, "rev-parse", "HEAD").strip()
    assert (
        f"submodule lib has 1 uncommitted change(s); the run records its commit {head[:12]}"
        in warnings[1]
    )
    (ref,) = run_refs(repo)
    info = run_info(repo, ref)
    assert info["dirty_submodules"] == [{"path": "lib", "commit": head, "changed": 1}]
    assert info["skipped_files"] == [{"path": "big.bin", "size": 2048, "reason": "too large"}]
    assert git(repo, "ls-tree", ref, "lib").split()[:3] == ["160000", "commit", head]


def test_the_readme_restore_line_keeps_the_index(repo: Path) -> None:
    (line,) = re.findall(
        r"`(git restore --source=refs/gitxp/runs/\S+ [^`]+)`", (ROOT / "README.md").read_text()
    )
    gitxp(repo, "run", "-b", "0", "train.py")
    (ref,) = run_refs(repo)
    (repo / "train.py").write_text("changed\n")
    index = (repo / ".git" / "index").read_bytes()
    git(repo, *shlex.split(line.replace("refs/gitxp/runs/01JD8X…", ref))[1:])
    assert (repo / "train.py").read_text().startswith("import gitxp")
    assert not (repo / ".gitxp").exists()
    assert (repo / ".git" / "index").read_bytes() == index
    assert git(repo, "status", "--porcelain") == ""
