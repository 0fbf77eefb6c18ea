"""The small ones of issue 11 (point 12): messages, strict JSON, identity, early Ctrl-C."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from runstore_helpers import fsck, git, gitxp, gitxp_run, run_info


def _strict(text: str) -> object:
    def refuse(token: str) -> object:
        raise ValueError(f"{token} is not JSON")

    return json.loads(text, parse_constant=refuse)


def test_ls_and_show_json_are_strict_json_with_nan_values(repo: Path) -> None:
    (repo / "nan.py").write_text(
        "import gitxp\n"
        "gitxp.log_scalar('x', float('nan'))\n"
        "gitxp.log_scalar('x', float('inf'))\n"
        "gitxp.set_result(float('nan'))\n"
    )
    gitxp_run(repo, "nan.py")
    rows = _strict(gitxp(repo, "ls", "--json").stdout)
    assert isinstance(rows, list) and rows[0]["result"] is None
    _strict(gitxp(repo, "ls", "--json", "--columns", "metrics.x.last,result").stdout)
    _strict(gitxp(repo, "show", "latest", "--json").stdout)


def test_a_config_nested_3000_deep_is_a_one_line_error(repo: Path) -> None:
    (repo / "deep.json").write_text('{"a": ' * 3000 + "1" + "}" * 3000)
    (repo / "deep.yaml").write_text("{a: " * 3000 + "1" + "}" * 3000)
    (repo / "mid.json").write_text('{"a": ' * 500 + "1" + "}" * 500)
    for file in ("deep.json", "deep.yaml", "mid.json"):
        proc = gitxp(repo, "run", "train.py", "with", file, check=False)
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("gitxp: error: ")
        assert "nested" in proc.stderr
    proc = gitxp(repo, "run", "train.py", "with", "a." * 3000 + "b=1", check=False)
    assert proc.returncode == 2 and proc.stderr.startswith("gitxp: error: with: token 1")
    assert git(repo, "for-each-ref", "refs/gitxp") == ""


def test_run_commits_take_the_git_identity_variables(repo: Path) -> None:
    env = {
        "GIT_AUTHOR_NAME": "Ann Author",
        "GIT_AUTHOR_EMAIL": "ann@example.org",
        "GIT_AUTHOR_DATE": "@1700000000 +0100",
        "GIT_COMMITTER_NAME": "Cy Committer",
        "GIT_COMMITTER_EMAIL": "cy@example.org",
        "GIT_COMMITTER_DATE": "2024-05-01T12:00:00+00:00",
    }
    _, ref = gitxp_run(repo, "train.py", env=env)
    shown = git(repo, "log", "-2", "--format=%an|%ae|%at|%ad|%cn|%ce|%ct", "--date=raw", ref)
    for line in shown.splitlines():  # the record commit and the snapshot commit
        an, ae, at, ad, cn, ce, ct = line.split("|")
        assert (an, ae, at, ad) == (
            "Ann Author",
            "ann@example.org",
            "1700000000",
            "1700000000 +0100",
        )
        assert (cn, ce, ct) == ("Cy Committer", "cy@example.org", "1714564800")
    bad = gitxp(repo, "run", "train.py", env={"GIT_AUTHOR_DATE": "yesterday-ish"}, check=False)
    assert bad.returncode == 2 and "GIT_AUTHOR_DATE" in bad.stderr
    assert "Traceback" not in bad.stderr
    fsck(repo)


def test_recover_says_the_status_it_sealed(repo: Path) -> None:
    """A supervisor that recorded the end but died before its commit: sealed COMPLETED."""
    code = textwrap.dedent(
        """\
        import os
        from gitxp.git.repo import GitRepo
        from gitxp.store.recorder import Recorder, RunSpec
        rec = Recorder.start(GitRepo('.'), RunSpec(command=['x']))
        rec.spool.log_scalar('loss', 0.5)
        rec.spool.event('end', status='COMPLETED', exit_code=0)
        print(rec.run_id, flush=True)
        os._exit(0)
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=repo, capture_output=True, text=True, check=True
    )
    run_id = proc.stdout.strip()
    out = gitxp(repo, "recover").stdout
    assert out.strip() == f"sealed {run_id} (COMPLETED)"
    info = run_info(repo, f"refs/gitxp/runs/{run_id}")
    assert (info["status"], info["exit_code"]) == ("COMPLETED", 0)


@pytest.mark.parametrize("delay_ms", [0, 10, 20, 30, 40, 50, 80])
def test_ctrl_c_in_the_first_moments_prints_no_traceback(repo: Path, delay_ms: int) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "gitxp", "ls"],
        cwd=repo,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(delay_ms / 1000)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    # The interpreter's own start (site, its streams) runs before any gitxp code and may
    # still print one; no frame of gitxp's own may ever show.
    assert not re.search(r'File "[^"]*/gitxp/', err), err
    if "Traceback" not in err:
        assert proc.returncode in (0, 130, -signal.SIGINT), err


def test_a_rejected_notes_push_says_what_to_do() -> None:
    """The server refused refs/notes/gitxp (someone pushed theirs meanwhile)."""
    from types import SimpleNamespace
    from typing import Any, cast

    from gitxp.git.repo import NOTES_REF
    from gitxp.share.sync import PushReport, _report_notes_push

    report = PushReport(remote="origin")
    plan = cast(Any, SimpleNamespace(notes="send"))
    _report_notes_push(report, plan, {NOTES_REF: "failed to update ref"}, False)
    assert report.notes_problem
    assert "failed to update ref" in report.notes
    assert "run 'gitxp fetch'" in report.notes and "push again" in report.notes
