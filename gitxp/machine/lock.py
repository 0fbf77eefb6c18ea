"""A pip-installable lock of the Python environment a run used.

:func:`env_lock` returns text such as::

    # gitxp env lock v1
    # python: 3.11.7 (CPython) /usr/bin/python3
    # platform: linux x86_64 glibc 2.36
    numpy==1.26.4
    # editable: mypkg==0.1.0 from file:///home/me/mypkg
    # mypkg==0.1.0
    # vcs: tool==2.0 from git+https://github.com/me/tool@3f2a...
    tool @ git+https://github.com/me/tool@3f2a...

Every installed distribution appears once (the first one on ``sys.path`` wins), sorted
case-insensitively, pinned as ``name==version``. Origins recorded in PEP 610
``direct_url.json`` get a ``# kind: name==version from URL`` comment first:

* ``editable`` (``pip install -e``; legacy ``setup.py develop`` eggs too) and ``local``
  (installed from a directory or archive on this machine): the pin itself is *commented
  out*. The path does not exist on another machine and such projects are usually not on
  PyPI, where the same name could even be somebody else's package, so ``pip install -r
  env.lock`` installs everything else and leaves these to the user.
* ``vcs`` and ``url`` (a remote direct reference): written as ``name @ URL`` (pinned to the
  recorded commit or archive hash), which pip installs anywhere.

:func:`parse_env_lock` reads pins and the origin comments back, so the commented-out
packages still take part in comparisons.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sys
from pathlib import Path
from typing import Any

from gitxp.errors import GitxpError, UsageError
from gitxp.git.repo import GitRepo

__all__ = [
    "ENVLOCK_TIMEOUT",
    "LOCK_HEADER",
    "clear_env_lock_cache",
    "env_lock",
    "interpreter_of_lock",
    "normalize_name",
    "parse_env_lock",
    "python_version_of_lock",
    "with_sources",
]

LOCK_HEADER = "# gitxp env lock v1"
ENVLOCK_TIMEOUT = 60.0

# Runs in-process and, with -c, in other interpreters (any Python >= 3.8), so both paths
# read the environment the same way. It parses only the METADATA header by hand: going
# through importlib.metadata's email parser is about 20 times slower.
_COLLECTOR = r"""
def _gitxp_collect(path):
    import os
    import platform
    import re
    import sys
    from importlib import metadata

    def header(text):
        name = version = None
        for line in text.splitlines():
            if not line.strip():
                break
            key, sep, value = line.partition(":")
            if not sep or line[0] in " \t":
                continue
            key = key.strip().lower()
            if key == "name" and name is None:
                name = value.strip()
            elif key == "version" and version is None:
                version = value.strip()
        return name, version

    seen = set()
    dists = []
    for dist in metadata.distributions(**({} if path is None else {"path": path})):
        text = dist.read_text("METADATA") or dist.read_text("PKG-INFO") or ""
        name, version = header(text)
        key = re.sub(r"[-_.]+", "-", name).lower() if name else ""
        if not key or not version or key in seen:
            continue
        seen.add(key)
        location = str(getattr(dist, "_path", ""))
        develop = None
        if location.endswith(".egg-info"):
            parent = os.path.dirname(os.path.abspath(location))
            if os.path.basename(parent) not in ("site-packages", "dist-packages"):
                develop = parent
        dists.append([name, version, dist.read_text("direct_url.json"), develop])
    try:
        libc = os.confstr("CS_GNU_LIBC_VERSION")
    except (AttributeError, ValueError, OSError):
        libc = None
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "executable": sys.executable,
        "platform": " ".join(p for p in (sys.platform, platform.machine(), libc) if p),
        "dists": dists,
    }
"""

_FOREIGN_MAIN = """
import json, sys
path = [p for p in sys.path if p != ""]
json.dump(_gitxp_collect(path), sys.stdout)
"""

_cache: str | None = None


def env_lock(
    python: str | None = None, cache_dir: Path | None = None, project: Path | None = None
) -> str:
    """Return the lock text for interpreter ``python`` (default: the running one).

    With ``project`` (the run's work tree), editable and local installs get a
    ``# source:`` line saying where another machine finds them (:func:`with_sources`).

    The running interpreter is read in-process (cached for the life of the process; see
    :func:`clear_env_lock_cache`); any other one is asked through a short subprocess.
    With ``cache_dir``, the running interpreter's lock is also kept on disk, keyed by the
    modification times of its ``sys.path`` folders: installing, upgrading or removing a
    package changes its folder, so a stale lock is never reused.
    """
    global _cache
    if python is None or _same_as_running(python):
        if _cache is None:
            _cache = _disk_cached(cache_dir) if cache_dir is not None else _collect_running()
        text = _cache
    else:
        text = _format(_query(_resolve(python)))
    return text if project is None else with_sources(text, project)


_LOCAL = re.compile(r"^# (?:editable|local): ([A-Za-z0-9][A-Za-z0-9._-]*)==\S+ from (file:\S+)$")


def with_sources(text: str, project: Path) -> str:
    """``text`` with a ``# source: NAME from WHERE`` line after each local install's
    marker that can be found elsewhere:

    * ``run:DIR``: the project lies inside the run's own sources (``pip install -e .``
      of the repository the run records), at ``DIR`` relative to their top;
    * ``git+URL@COMMIT[#subdirectory=DIR]``: a checkout of another git repository with
      a remote that is not a local path (its ``HEAD`` commit; edits not committed there
      are not in it).

    gitxp itself needs none: the gitxp that reproduces a run provides its API.
    """
    out = []
    for line in text.splitlines():
        out.append(line)
        match = _LOCAL.match(line)
        if match and normalize_name(match.group(1)) != "gitxp":
            from urllib.parse import urlsplit
            from urllib.request import url2pathname  # 5 ms to import: only for local installs

            where = _source_of(Path(url2pathname(urlsplit(match.group(2)).path)), project)
            if where:
                out.append(f"# source: {match.group(1)} from {where}")
    return "\n".join(out) + "\n"


def _source_of(path: Path, project: Path) -> str | None:
    try:
        inside = path.resolve().relative_to(project.resolve())
        return f"run:{inside.as_posix()}"
    except (ValueError, OSError):
        pass
    try:
        checkout = GitRepo(path)
    except GitxpError:
        return None
    url = checkout.config_value("remote.origin.url") or ""
    commit = checkout.head().commit
    if not url or not commit or url.startswith(("file:", "/", ".")) or "://" not in url:
        return None
    sub = path.resolve().relative_to(checkout.workdir).as_posix()
    return f"git+{url}@{commit}" + (f"#subdirectory={sub}" if sub != "." else "")


def _collect_running() -> str:
    namespace: dict[str, Any] = {}
    exec(compile(_COLLECTOR, "<gitxp.machine.lock>", "exec"), namespace)
    return _format(namespace["_gitxp_collect"](_install_path(sys.path)))


def _install_path(path: list[str]) -> list[str]:
    """``path`` without the entries a package added inside site-packages at run time.

    Importing ``pkg_resources`` puts ``setuptools/_vendor`` on ``sys.path``; the copies
    vendored there are not installed distributions, and another process never sees them.
    """
    kept = []
    for entry in path:
        if not entry:
            continue
        parts = Path(entry).parts
        inside = [i for i, part in enumerate(parts) if part in ("site-packages", "dist-packages")]
        if inside and inside[-1] < len(parts) - 1:
            continue
        kept.append(entry)
    return kept


def _disk_cached(cache_dir: Path) -> str:
    key = hashlib.sha1(sys.executable.encode())
    for entry in sys.path:
        try:
            key.update(f"{entry}\0{os.stat(entry or '.').st_mtime_ns}\0".encode())
        except OSError:
            key.update(f"{entry}\0-\0".encode())
    path = cache_dir / f"envlock-{key.hexdigest()}.txt"
    try:
        return path.read_text()
    except OSError:
        pass
    text = _collect_running()
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        temp = path.with_suffix(f".{os.getpid()}.tmp")
        temp.write_text(text)
        os.replace(temp, path)
    except OSError:
        pass  # a cache that cannot be written only costs time
    return text


def clear_env_lock_cache() -> None:
    """Forget the cached lock of the running interpreter (after installing packages)."""
    global _cache
    _cache = None


def normalize_name(name: str) -> str:
    """Return the PEP 503 normalised form of a distribution name."""
    return re.sub(r"[-_.]+", "-", name).lower()


_MARKER = re.compile(
    r"^#\s*(?:editable|local|vcs|url):\s*([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)\s+from\s", re.M
)
_PIN = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*==\s*([^\s;#]+)", re.M)
_PYTHON = re.compile(r"^#\s*python:\s*(\S+)", re.M)
_INTERPRETER = re.compile(r"^#\s*python:\s*(\S+)\s+\(([^)]*)\)\s+(\S.*?)\s*$", re.M)


def parse_env_lock(text: str) -> dict[str, str]:
    """Return ``{normalised name: version}`` for every package of a lock.

    Reads ``name==version`` pins and the ``# editable:``/``# local:``/``# vcs:``/``# url:``
    origin comments; other comments and ``name @ URL`` lines add nothing of their own.
    """
    found: dict[str, str] = {}
    for name, version in _MARKER.findall(text):
        found[normalize_name(name)] = version
    for name, version in _PIN.findall(text):
        found.setdefault(normalize_name(name), version)
    return found


def interpreter_of_lock(text: str) -> dict[str, str] | None:
    """The interpreter a lock's header names: implementation, version, executable."""
    match = _INTERPRETER.search(text)
    if not match:
        return None
    version, implementation, executable = match.groups()
    return {"implementation": implementation, "version": version, "executable": executable}


def python_version_of_lock(text: str) -> str | None:
    """Return the Python version recorded in a lock's header, or None."""
    match = _PYTHON.search(text)
    return match.group(1) if match else None


def _same_as_running(python: str) -> bool:
    found = shutil.which(python) if os.sep not in python else python
    return found is not None and os.path.abspath(found) == os.path.abspath(sys.executable)


def _resolve(python: str) -> str:
    found = shutil.which(python) if os.sep not in python else python
    if found is None or not os.path.isfile(found) or not os.access(found, os.X_OK):
        raise UsageError(f"Python interpreter not found or not executable: {python}")
    return os.path.abspath(found)


def _query(exe: str) -> dict[str, Any]:
    import subprocess

    try:
        proc = subprocess.run(
            [exe, "-c", _COLLECTOR + _FOREIGN_MAIN],
            capture_output=True,
            text=True,
            errors="replace",
            timeout=ENVLOCK_TIMEOUT,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        raise UsageError(f"{exe} did not list its packages within {ENVLOCK_TIMEOUT:g} s") from None
    except OSError as err:
        raise UsageError(f"cannot run {exe}: {err.strerror or err}") from None
    lines = proc.stderr.strip().splitlines()
    if proc.returncode != 0:
        why = lines[-1] if lines else f"exit status {proc.returncode}"
        raise UsageError(f"{exe} could not list its packages: {why}")
    try:
        info = json.loads(proc.stdout)
        if not isinstance(info, dict) or not isinstance(info.get("dists"), list):
            raise ValueError("not a package listing")
    except ValueError:
        raise UsageError(f"{exe} printed no usable package listing") from None
    return info


def _origin(direct_url: str | None, develop: str | None) -> tuple[str, str] | None:
    """Classify a PEP 610 record as (kind, URL); None for a plain index install."""
    if direct_url:
        try:
            data = json.loads(direct_url)
            url = str(data["url"])
        except (ValueError, KeyError, TypeError):
            data, url = None, ""
        if isinstance(data, dict) and url:
            portable = not url.startswith("file:")
            extras = [f"subdirectory={data['subdirectory']}"] if data.get("subdirectory") else []
            vcs = data.get("vcs_info")
            archive = data.get("archive_info")
            if isinstance(data.get("dir_info"), dict):
                editable = data["dir_info"].get("editable")
                return ("editable" if editable else "local"), url
            if isinstance(vcs, dict) and portable:
                ref = vcs.get("commit_id") or vcs.get("requested_revision")
                prefix = "" if url.startswith(f"{vcs.get('vcs')}+") else f"{vcs.get('vcs')}+"
                fragment = "#" + "&".join(extras) if extras else ""
                return "vcs", f"{prefix}{url}{'@' + ref if ref else ''}{fragment}"
            if isinstance(archive, dict) and portable:
                digest = archive.get("hash") or ""
                hashes = archive.get("hashes")
                if isinstance(hashes, dict) and hashes.get("sha256"):
                    digest = f"sha256={hashes['sha256']}"
                extras += [digest] if digest else []
                return "url", url + ("#" + "&".join(extras) if extras else "")
            return "local", url
    if develop:
        return "editable", Path(develop).as_uri()
    return None


def _format(info: dict[str, Any]) -> str:
    lines = [
        LOCK_HEADER,
        f"# python: {info.get('python')} ({info.get('implementation')}) {info.get('executable')}",
        f"# platform: {info.get('platform')}",
    ]
    entries = [d for d in info["dists"] if isinstance(d, list) and len(d) == 4]
    for name, version, direct_url, develop in sorted(entries, key=lambda d: (d[0].lower(), d[0])):
        pin = f"{name}=={version}"
        origin = _origin(direct_url, develop)
        if origin is None:
            lines.append(pin)
            continue
        kind, url = origin
        lines.append(f"# {kind}: {pin} from {url}")
        lines.append(f"# {pin}" if kind in ("editable", "local") else f"{name} @ {url}")
    return "\n".join(lines) + "\n"
