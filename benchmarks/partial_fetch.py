"""Bytes moved by ``gitxp fetch`` with and without ``--no-artifacts``, in one run.

    python benchmarks/partial_fetch.py [--runs 5] [--mb 50] [--repeat 3]

A project records ``--runs`` runs, each with a ``--mb`` MiB random artifact (a model),
and pushes them to a bare repository served by ``git daemon`` on 127.0.0.1 with
``uploadpack.allowFilter``. Fresh clones then fetch the runs, whole and with
``--no-artifacts``; the figure is what each clone's object database grew by, and the
wall time of the fetch (medians of ``--repeat`` passes, with min–max). Nothing asserts.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
}
SCRIPT = """\
import os, gitxp
with open("model.bin", "wb") as f:
    f.write(os.urandom({size}))
gitxp.add_artifact("model.bin")
gitxp.log_scalar("loss", 0.5)
gitxp.set_result(1)
"""


def sh(*args: str, cwd: Path) -> None:
    subprocess.run(args, cwd=cwd, env=ENV, check=True, capture_output=True)


def gitxp(*args: str, cwd: Path) -> None:
    sh(sys.executable, "-m", "gitxp", *args, cwd=cwd)


def size(path: Path) -> int:
    return sum(f.stat().st_size for f in (path / ".git" / "objects").rglob("*") if f.is_file())


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--mb", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        served = root / "served"
        served.mkdir()
        sh("git", "init", "-q", "--bare", "team.git", cwd=served)
        sh("git", "config", "uploadpack.allowFilter", "true", cwd=served / "team.git")
        project = root / "project"
        project.mkdir()
        sh("git", "init", "-q", cwd=project)
        (project / "train.py").write_text(SCRIPT.format(size=opts.mb << 20))
        (project / ".gitignore").write_text("model.bin\n")
        sh("git", "add", "-A", cwd=project)
        sh("git", "commit", "-q", "-m", "train", cwd=project)
        sh("git", "push", "-q", str(served / "team.git"), "HEAD:refs/heads/main", cwd=project)
        print(f"recording {opts.runs} runs with a {opts.mb} MiB artifact each …")
        for _ in range(opts.runs):
            gitxp("run", "train.py", cwd=project)
        gitxp("push", "-q", str(served / "team.git"), cwd=project)
        port = free_port()
        daemon = subprocess.Popen(
            [
                "git",
                "daemon",
                "--reuseaddr",
                "--export-all",
                f"--base-path={served}",
                "--listen=127.0.0.1",
                f"--port={port}",
                str(served),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(0.5)
        results: dict[str, list[tuple[int, float]]] = {"whole": [], "--no-artifacts": []}
        try:
            for i in range(opts.repeat):
                for label, extra in (("whole", []), ("--no-artifacts", ["--no-artifacts"])):
                    clone = root / f"clone-{i}-{len(extra)}"
                    sh(
                        "git",
                        "clone",
                        "-q",
                        f"git://127.0.0.1:{port}/team.git",
                        str(clone),
                        cwd=root,
                    )
                    before = size(clone)
                    start = time.perf_counter()
                    gitxp("fetch", "-q", "origin", *extra, cwd=clone)
                    results[label].append((size(clone) - before, time.perf_counter() - start))
        finally:
            daemon.terminate()
            daemon.wait()
    print(f"\nfetch of {opts.runs} runs (median of {opts.repeat}, min–max)")
    medians = {}
    for label, rows in results.items():
        sizes = [r[0] for r in rows]
        times = [r[1] for r in rows]
        medians[label] = statistics.median(sizes)
        print(
            f"  {label:<16} {statistics.median(sizes) / 1e6:9.2f} MB "
            f"({min(sizes) / 1e6:.2f}–{max(sizes) / 1e6:.2f})   "
            f"{statistics.median(times):6.2f} s ({min(times):.2f}–{max(times):.2f})"
        )
    ratio = medians["--no-artifacts"] / medians["whole"]
    print(f"  --no-artifacts moves {ratio:.5f}x the bytes of a whole fetch")


if __name__ == "__main__":
    main()
