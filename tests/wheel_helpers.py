"""Wheels and venvs built offline for the tests that change or rebuild environments.

A wheel is a zip with a ``.dist-info``: :func:`make_wheel` writes one by hand (no build
backend, no network). :func:`make_venv` makes a venv without pip and fills it with the
suite's pip (``pip --python``) from local wheels only (``--no-index``).
"""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import sys
import zipfile
from pathlib import Path

PIP_ENV = {"PIP_NO_CACHE_DIR": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}


def make_wheel(folder: Path, name: str, version: str, files: dict[str, str]) -> Path:
    """A pure-Python wheel of ``name`` ``version`` holding ``files`` (path → text)."""
    info = f"{name}-{version}.dist-info"
    files = {
        **files,
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{info}/WHEEL": (
            "Wheel-Version: 1.0\nGenerator: gitxp-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    lines = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        lines.append(f"{path},sha256={digest.decode()},{len(text.encode())}")
    record = f"{info}/RECORD"
    files[record] = "\n".join([*lines, f"{record},,"]) + "\n"
    path = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        for member, text in files.items():
            archive.writestr(member, text)
    return path


def pip_env(home: Path, wheels: Path) -> dict[str, str]:
    """An environment in which pip installs only from ``wheels``."""
    return {
        **os.environ,
        **PIP_ENV,
        "HOME": str(home),
        "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": str(wheels),
    }


def make_venv(venv: Path, wheels: Path, *requirements: str) -> Path:
    """A venv without pip holding ``requirements`` from ``wheels``; returns its python."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    if requirements:
        subprocess.run(
            [sys.executable, "-m", "pip", "--python", str(python), "install", "-q",
             *requirements],
            check=True,
            env=pip_env(venv, wheels),
        )  # fmt: skip
    return python
