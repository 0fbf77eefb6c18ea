"""Virtual environments built from a run's env lock (``gitxp reproduce --env venv``).

A venv is built with the standard ``venv`` module (without pip of its own) and filled by
the pip of the running interpreter, pointed at it with ``pip --python``. pip takes its
index, ``--find-links`` and proxy settings from its own configuration (``pip.conf``,
``PIP_INDEX_URL``, ``PIP_FIND_LINKS``, ``PIP_NO_INDEX`` …), so an offline mirror works.

Venvs are kept under ``<git-dir>/gitxp/venvs/<hash>/``, keyed by the lock's installable
lines and the Python version, and reused by the next reproduction of a run with the same
lock. A venv is used only once it is complete (a marker file is written last); an
interrupted build is thrown away and done again. Packages the lock only mentions in a
comment (editable and local installs) are not installed: the environment check of
``reproduce`` lists them as missing.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from gitxp.errors import UsageError
from gitxp.git.repo import GitRepo
from gitxp.machine.lock import python_version_of_lock

MARKER = "gitxp-venv.json"
_EXECUTABLE = re.compile(r"^#\s*python:\s*\S+\s+\([^)]*\)\s+(\S.*?)\s*$", re.M)
_VERSION = "import platform; print(platform.python_version())"


def requirements(lock: str) -> list[str]:
    """The lines of ``lock`` that pip installs (pins and ``name @ URL``)."""
    return [line.strip() for line in lock.splitlines() if line.strip() and line[0] != "#"]


def lock_key(lock: str, python_version: str) -> str:
    """The cache key of a venv: its requirements and the Python major.minor version."""
    minor = ".".join(python_version.split(".")[:2])
    text = "\n".join([f"python {minor}", *sorted(requirements(lock), key=str.lower)])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def base_interpreter(lock: str) -> tuple[str, str]:
    """An interpreter for the lock's Python version: (path, version).

    Tries the interpreter the lock names, then ``pythonX.Y`` on PATH, then the running
    one; the first whose major.minor version matches the lock wins (else the running one).
    """
    wanted = python_version_of_lock(lock) or ""
    minor = ".".join(wanted.split(".")[:2])
    candidates = []
    match = _EXECUTABLE.search(lock)
    if match and os.path.isfile(match.group(1)):
        candidates.append(match.group(1))
    if minor:
        found = shutil.which(f"python{minor}")
        if found:
            candidates.append(found)
    for candidate in candidates:
        version = _version_of(candidate)
        if version and version.split(".")[:2] == minor.split("."):
            return candidate, version
    return sys.executable, ".".join(str(v) for v in sys.version_info[:3])


def _version_of(python: str) -> str | None:
    try:
        proc = subprocess.run([python, "-c", _VERSION], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout.strip() if proc.returncode == 0 else None


def venv_python(repo: GitRepo, lock: str, echo: Callable[[str], None]) -> Path:
    """The interpreter of a venv holding ``lock``'s packages, built now or reused."""
    base, version = base_interpreter(lock)
    key = lock_key(lock, version)
    root = repo.state_dir / "venvs"
    root.mkdir(parents=True, exist_ok=True)
    target = root / key
    python = target / "bin" / "python"
    with open(root / f"{key}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        if (target / MARKER).is_file() and python.exists():
            echo(f"gitxp: reusing the environment built for this lock: {target}")
            return python
        shutil.rmtree(target, ignore_errors=True)
        try:
            _build(base, version, target, requirements(lock), echo)
        except BaseException:
            shutil.rmtree(target, ignore_errors=True)
            raise
        return python


def venv_env(python: str | Path) -> dict[str, str]:
    """The environment variables that put the venv of interpreter ``python`` first."""
    root = Path(python).parent.parent
    return {
        "VIRTUAL_ENV": str(root),
        "PATH": str(root / "bin") + os.pathsep + os.environ.get("PATH", ""),
    }


def _build(
    base: str, version: str, target: Path, reqs: list[str], echo: Callable[[str], None]
) -> None:
    started = time.monotonic()
    echo(
        f"gitxp: building an environment from the run's env lock "
        f"({len(reqs)} package{'s' if len(reqs) != 1 else ''}, python {version}) in {target}"
    )
    _stream([base, "-m", "venv", "--without-pip", str(target)], echo, "python -m venv")
    python = target / "bin" / "python"
    if reqs:
        listing = target / "requirements.txt"
        listing.write_text("\n".join(reqs) + "\n")
        pip = [sys.executable, "-m", "pip", "--python", str(python)]
        if not _pip_can_target():
            _stream([str(python), "-m", "ensurepip", "--default-pip"], echo, "ensurepip")
            pip = [str(python), "-m", "pip"]
        _stream(
            [*pip, "install", "--disable-pip-version-check", "--no-input", "-r", str(listing)],
            echo,
            "pip install",
        )
    seconds = time.monotonic() - started
    info = {"python": version, "base": base, "requirements": reqs, "seconds": round(seconds, 1)}
    (target / MARKER).write_text(json.dumps(info, indent=1) + "\n")
    echo(f"gitxp: environment ready in {seconds:.1f} s")


def _pip_can_target() -> bool:
    """Whether the running interpreter has a pip with ``--python`` (pip 22.3 or newer)."""
    try:
        from importlib.metadata import version

        parts = [int(p) for p in re.findall(r"\d+", version("pip"))[:2]]
    except Exception:
        return False
    return parts >= [22, 3]


def _stream(command: list[str], echo: Callable[[str], None], what: str) -> None:
    """Run ``command``, passing each line of its output to ``echo`` as it comes."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONHOME", "VIRTUAL_ENV")}
    try:
        proc = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            errors="replace",
            env=env,
        )
    except OSError as err:
        raise UsageError(f"cannot run {what}: {err.strerror or err}") from None
    assert proc.stdout is not None
    last = ""
    for line in proc.stdout:
        line = line.rstrip()
        if line:
            last = line
            echo(f"  {line}")
    if proc.wait() != 0:
        raise UsageError(
            f"{what} failed ({last or f'exit status {proc.returncode}'}); "
            "reproduce with --env current to use this interpreter instead"
        )
