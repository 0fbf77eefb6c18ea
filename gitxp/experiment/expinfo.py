"""What an experiment knows about its code: source files, package dependencies, main file.

Cheap by design, because it runs at the start of every run: no process, no scan of
installed distributions. The full environment is pinned separately in ``env.lock``; this
is Sacred's short, readable list:

* sources: the main file, the files of ingredients, every imported module whose file lies
  under the experiment's ``base_dir`` (outside ``site-packages``) and files added with
  ``add_source_file``; each with its md5;
* dependencies: ``name==version`` for each imported top-level package that has a
  ``__version__`` (numpy always when imported), plus ``add_package_dependency`` entries.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from gitxp.errors import UsageValueError

__all__ = ["check_version", "discover_dependencies", "discover_sources", "file_md5"]

# PEP 440, appendix B (canonical public versions plus the usual pre/post/dev/local parts).
_PEP440 = re.compile(
    r"^\s*v?(?:(?:[0-9]+)!)?[0-9]+(?:\.[0-9]+)*"
    r"(?:[-_.]?(?:a|b|c|rc|alpha|beta|pre|preview)[-_.]?[0-9]*)?"
    r"(?:-[0-9]+|[-_.]?(?:post|rev|r)[-_.]?[0-9]*)?"
    r"(?:[-_.]?dev[-_.]?[0-9]*)?"
    r"(?:\+[a-z0-9]+(?:[-_.][a-z0-9]+)*)?\s*$",
    re.IGNORECASE,
)
_SKIP_DIRS = ("site-packages", "dist-packages", ".venv", "venv", "__pypackages__")
_md5_cache: dict[tuple[str, int, int], str] = {}
_realpath = functools.lru_cache(maxsize=4096)(os.path.realpath)
_scan_cache: dict[tuple[str, str, int], Any] = {}


def check_version(name: str, version: str) -> None:
    """Raise UsageError unless ``version`` is a PEP 440 version."""
    if not isinstance(version, str) or not _PEP440.match(version):
        raise UsageValueError(
            f'Invalid Version: "{version}": add_package_dependency({name!r}, {version!r}): '
            f"{version!r} is not a PEP 440 version; write it like 1.2.3"
        )


def file_md5(path: str | os.PathLike[str]) -> str:
    """The md5 of the file at ``path`` (cached while its size and mtime stay the same)."""
    st = os.stat(path)
    key = (os.fspath(path), st.st_size, st.st_mtime_ns)
    digest = _md5_cache.get(key)
    if digest is None:
        with open(path, "rb") as handle:
            digest = _md5_cache[key] = hashlib.md5(handle.read(), usedforsecurity=False).hexdigest()
    return digest


def _under(path: str, base: str) -> bool:
    return path.startswith(base + os.sep) and not any(
        os.sep + skip + os.sep in path[len(base) :] for skip in _SKIP_DIRS
    )


def discover_sources(
    base_dir: str | os.PathLike[str],
    files: Iterable[str | os.PathLike[str]],
    imported: bool = True,
) -> list[dict[str, Any]]:
    """``[{path, md5, inside}]`` for ``files`` and (with ``imported``) local imported modules.

    ``path`` is relative to ``base_dir`` when the file is inside it (``inside`` is then
    True: it is part of the run's snapshot), else absolute.
    """
    base = os.path.realpath(base_dir)
    found: dict[str, None] = {}
    for file in files:
        found[os.path.realpath(file)] = None
    if imported:
        found.update(dict.fromkeys(_local_modules(base)))
    sources = []
    for real in sorted(found):
        if not os.path.isfile(real):
            continue
        inside = _under(real, base)
        path = Path(os.path.relpath(real, base)).as_posix() if inside else real
        sources.append({"path": path, "md5": file_md5(real), "inside": inside})
    return sources


def discover_dependencies(base_dir: str | os.PathLike[str], extra: Mapping[str, str]) -> list[str]:
    """Sorted ``name==version`` of imported packages (with ``__version__``) and ``extra``."""
    base = os.path.realpath(base_dir)
    deps = dict(_imported_packages(base))
    deps.update(extra)
    return [f"{name}=={deps[name]}" for name in sorted(deps, key=str.lower)]


def _local_modules(base: str) -> list[str]:
    """Files of imported modules under ``base`` (cached while no module is imported)."""
    key = ("sources", base, len(sys.modules))
    cached = _scan_cache.get(key)
    if cached is None:
        cached = []
        for module in list(sys.modules.values()):
            file = getattr(module, "__file__", None)
            if isinstance(file, str) and file.endswith(".py"):
                real = _realpath(file)
                if _under(real, base):
                    cached.append(real)
        _scan_cache[key] = cached
    return list(cached)


def _imported_packages(base: str) -> dict[str, str]:
    """``{name: version}`` of imported top-level packages (cached like the sources)."""
    key = ("deps", base, len(sys.modules))
    cached = _scan_cache.get(key)
    if cached is not None:
        return dict(cached)
    deps: dict[str, str] = {}
    stdlib = sys.stdlib_module_names
    for name, module in list(sys.modules.items()):
        if "." in name or name.startswith("_") or name in stdlib or name == "gitxp":
            continue
        version = getattr(module, "__version__", None)
        if not isinstance(version, str):
            continue
        file = getattr(module, "__file__", None)
        if isinstance(file, str) and _under(_realpath(file), base):
            continue  # a local module, listed among the sources
        deps[name] = version
    _scan_cache[key] = deps
    return dict(deps)
