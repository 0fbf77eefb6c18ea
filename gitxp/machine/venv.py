"""Virtual environments built from a run's env lock (``gitxp reproduce --env venv``).

A venv is built with the standard ``venv`` module (without pip of its own) and filled by
the pip of the running interpreter, pointed at it with ``pip --python``. pip takes its
index, ``--find-links`` and proxy settings from its own configuration (``pip.conf``,
``PIP_INDEX_URL``, ``PIP_FIND_LINKS``, ``PIP_NO_INDEX`` …), so an offline mirror works.

What the lock asks for is sorted by :func:`rebuild_plan`: index pins, ``name @ URL``
lines and local installs whose ``# source:`` is a git URL are installed by pip; local
installs that lie in the run's own sources (``# source: NAME from run:DIR``) are
installed from the reproduction's checkout of those sources; gitxp itself is provided by
the gitxp that reproduces (``gitxp run`` lends its API); the rest cannot be rebuilt and
is listed as such in the verdict.

Venvs are kept under ``<git-dir>/gitxp/venvs/<hash>/``, keyed by the lock's installable
lines, the Python version and the source trees installed from the run, and reused by
the next reproduction with the same key. A venv is used only once it is complete (a
marker file is written last); an interrupted build is thrown away and done again. Each
use touches the marker; :func:`prune_venvs` (``gitxp gc``) removes the ones not used
lately.
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
from dataclasses import dataclass, field
from pathlib import Path

from gitxp.errors import UsageError
from gitxp.git.repo import GitRepo
from gitxp.machine.lock import normalize_name, python_version_of_lock

MARKER = "gitxp-venv.json"
_EXECUTABLE = re.compile(r"^#\s*python:\s*\S+\s+\([^)]*\)\s+(\S.*?)\s*$", re.M)
_VERSION = "import platform; print(platform.python_version())"


def requirements(lock: str) -> list[str]:
    """The lines of ``lock`` that pip installs (pins and ``name @ URL``)."""
    return [line.strip() for line in lock.splitlines() if line.strip() and line[0] != "#"]


_LOCAL = re.compile(r"^#\s*(editable|local):\s*([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)\s+from\s+(\S+)")
_SOURCE = re.compile(r"^#\s*source:\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s+from\s+(\S+)", re.M)


@dataclass
class RebuildPlan:
    """How each distribution of a lock comes back in a new venv."""

    requirements: list[str] = field(default_factory=list)  # for pip install -r
    from_run: dict[str, str] = field(default_factory=dict)  # name → folder in the sources
    provided: list[str] = field(default_factory=list)  # gitxp: lent by this gitxp
    cannot: list[str] = field(default_factory=list)  # "name==1.0 (editable, file:///…)"


def rebuild_plan(lock: str) -> RebuildPlan:
    """Sort the distributions of ``lock`` by how a new venv gets them."""
    plan = RebuildPlan(requirements=requirements(lock))
    sources = {normalize_name(m[0]): m[1] for m in _SOURCE.findall(lock)}
    for line in lock.splitlines():
        match = _LOCAL.match(line)
        if not match:
            continue
        kind, name, version, url = match.groups()
        key = normalize_name(name)
        where = sources.get(key, "")
        if key == "gitxp":
            plan.provided.append(f"{name}=={version}")
        elif where.startswith("run:"):
            plan.from_run[name] = where[len("run:") :] or "."
        elif where:
            plan.requirements.append(f"{name} @ {where}")
        else:
            plan.cannot.append(f"{name}=={version} ({kind} install from {url})")
    return plan


def lock_key(lock: str, python_version: str, trees: dict[str, str] | None = None) -> str:
    """The cache key of a venv: its requirements, the Python major.minor version and the
    source trees (name → tree id) installed from the run."""
    minor = ".".join(python_version.split(".")[:2])
    plan = rebuild_plan(lock)
    text = "\n".join(
        [
            f"python {minor}",
            *sorted(plan.requirements, key=str.lower),
            *(f"{name} tree {tree}" for name, tree in sorted((trees or {}).items())),
        ]
    )
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


def venv_python(
    repo: GitRepo,
    lock: str,
    echo: Callable[[str], None],
    sources: Path | None = None,
    trees: dict[str, str] | None = None,
) -> Path:
    """The interpreter of a venv holding ``lock``'s packages, built now or reused.

    ``sources`` is a checkout of the run's sources (for the ``run:`` installs), ``trees``
    the git tree id of each of those folders (part of the cache key).
    """
    base, version = base_interpreter(lock)
    key = lock_key(lock, version, trees)
    root = repo.state_dir / "venvs"
    root.mkdir(parents=True, exist_ok=True)
    target = root / key
    python = target / "bin" / "python"
    with open(root / f"{key}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        if (target / MARKER).is_file() and python.exists():
            echo(f"gitxp: reusing the environment built for this lock: {target}")
            os.utime(target / MARKER)
            return python
        shutil.rmtree(target, ignore_errors=True)
        try:
            _build(base, version, target, rebuild_plan(lock), sources, echo)
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
    base: str,
    version: str,
    target: Path,
    plan: RebuildPlan,
    sources: Path | None,
    echo: Callable[[str], None],
) -> None:
    started = time.monotonic()
    reqs = plan.requirements
    local = [sources / folder for folder in plan.from_run.values()] if sources else []
    steps = 1 + bool(reqs) + bool(local)
    echo(
        f"gitxp: building an environment from the run's env lock "
        f"({len(reqs)} package{'s' if len(reqs) != 1 else ''}, python {version}) in {target}"
    )
    echo(f"gitxp: [1/{steps}] python -m venv")
    _stream([base, "-m", "venv", "--without-pip", str(target)], echo, "python -m venv")
    python = target / "bin" / "python"
    pip = [sys.executable, "-m", "pip", "--python", str(python)]
    if (reqs or local) and not _pip_can_target():
        _stream([str(python), "-m", "ensurepip", "--default-pip"], echo, "ensurepip")
        pip = [str(python), "-m", "pip"]
    install = [*pip, "install", "--disable-pip-version-check", "--no-input"]
    step = 1
    if reqs:
        step += 1
        listing = target / "requirements.txt"
        listing.write_text("\n".join(reqs) + "\n")
        echo(f"gitxp: [{step}/{steps}] pip install {len(reqs)} package{'s' * (len(reqs) != 1)}")
        _stream([*install, "-r", str(listing)], echo, "pip install")
    if local:
        step += 1
        names = ", ".join(plan.from_run)
        echo(f"gitxp: [{step}/{steps}] pip install {names} from the run's sources")
        _stream([*install, "--no-deps", *map(str, local)], echo, "pip install")
    seconds = time.monotonic() - started
    info = {
        "python": version,
        "base": base,
        "requirements": reqs,
        "from_run": plan.from_run,
        "seconds": round(seconds, 1),
    }
    (target / MARKER).write_text(json.dumps(info, indent=1) + "\n")
    echo(f"gitxp: environment ready in {seconds:.1f} s")


def prune_venvs(repo: GitRepo, older_than: float, now: float | None = None) -> tuple[int, int]:
    """Remove the cached venvs not used for ``older_than`` seconds (and unfinished ones);
    returns how many went and the bytes they held."""
    root = repo.state_dir / "venvs"
    cutoff = (time.time() if now is None else now) - older_than
    removed = freed = 0
    for target in sorted(root.iterdir()) if root.is_dir() else []:
        if not target.is_dir():
            continue
        with open(root / f"{target.name}.lock", "w") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:  # being built or used right now
                continue
            marker = target / MARKER
            if marker.is_file() and marker.stat().st_mtime > cutoff:
                continue
            freed += _size(target)
            shutil.rmtree(target, ignore_errors=True)
            removed += 1
        (root / f"{target.name}.lock").unlink(missing_ok=True)
    return removed, freed


def _size(folder: Path) -> int:
    total = 0
    for path in folder.rglob("*"):
        try:
            if path.is_file() and not path.is_symlink():
                total += path.stat().st_size
        except OSError:
            pass
    return total


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
