"""``gitxp board --open --token`` from the command line: the browser gets the URL with the
token, and requests without it are refused (issue 18, point 9)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

from board_helpers import git


def test_board_open_and_token(tmp_path: Path) -> None:
    repo = tmp_path / "project"
    repo.mkdir()
    git(repo, "init", "-q")
    opened = tmp_path / "opened.txt"
    browser = tmp_path / "browser.sh"
    browser.write_text(f'#!/bin/sh\necho "$1" > {opened}.tmp && mv {opened}.tmp {opened}\n')
    os.chmod(browser, 0o755)
    env = {**os.environ, "BROWSER": str(browser)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "gitxp", "board", "--port", "0", "--token", "--open"],
        cwd=repo,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for _ in range(300):  # bounded: the browser stand-in writes the URL when started
            if opened.exists() or proc.poll() is not None:
                break
            time.sleep(0.05)
        assert opened.exists(), proc.stderr.read() if proc.poll() is not None else "no URL"
        url = opened.read_text().strip()
        parts = urlsplit(url)
        assert parts.hostname == "127.0.0.1" and "token=" in url
        base = f"{parts.scheme}://{parts.netloc}/api/runs"
        try:
            urllib.request.urlopen(base, timeout=10)
            raise AssertionError("a request without the token was answered")
        except urllib.error.HTTPError as err:
            assert err.code in (401, 403)
        with urllib.request.urlopen(f"{base}?{parts.query}", timeout=10) as answer:
            assert answer.status == 200
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    assert url in out  # the same URL is printed
