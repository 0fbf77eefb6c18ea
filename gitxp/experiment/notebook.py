"""What a run started in a Jupyter notebook records of the notebook itself.

In a kernel (IPython's ``get_ipython()`` answers), the notebook file is found where the
frontends say it is: ``__vsc_ipynb_file__`` (VS Code) or ``__session__`` (ipykernel 6.22+,
JupyterLab) in the kernel's namespace, else the ``JPY_SESSION_NAME`` environment variable
(jupyter_server 2). Its ``.ipynb`` (sources and the outputs saved with it) is stored as is,
and the kernel's own output history (``Out``: the value each cell returned, as text) as
``outputs.json``, since cells run since the last save are only there.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

MAX_NOTEBOOK = 50 * 1024 * 1024  # a larger .ipynb is named, not stored
MAX_OUTPUT = 10_000  # characters of one output's text


def kernel_shell() -> Any:
    """The running IPython shell, or None outside one (IPython is never imported here)."""
    ipython = sys.modules.get("IPython")
    get = getattr(ipython, "get_ipython", None)
    try:
        return get() if get is not None else None
    except Exception:  # a broken shell is no shell
        return None


def notebook_path(shell: Any) -> Path | None:
    """The ``.ipynb`` the kernel runs, where a frontend told it (see the module docstring)."""
    namespace = getattr(shell, "user_ns", None) or {}
    for found in (
        namespace.get("__vsc_ipynb_file__"),
        namespace.get("__session__"),
        os.environ.get("JPY_SESSION_NAME"),
    ):
        if isinstance(found, str) and found.endswith(".ipynb") and os.path.isfile(found):
            return Path(found).resolve()
    return None


def notebook_files(shell: Any) -> tuple[dict[str, bytes], dict[str, Any], list[str]]:
    """Files to store under ``interactive/``, facts for ``run.json``, and what was not found."""
    files: dict[str, bytes] = {}
    facts: dict[str, Any] = {}
    missing: list[str] = []
    path = notebook_path(shell)
    if path is None:
        missing.append("the .ipynb file (the kernel did not say which notebook it runs)")
    elif path.stat().st_size > MAX_NOTEBOOK:
        facts["notebook"] = str(path)
        missing.append(f"{path.name} (over {MAX_NOTEBOOK // 2**20} MiB)")
    else:
        files["interactive/notebook.ipynb"] = path.read_bytes()
        facts["notebook"] = str(path)
    outputs = (getattr(shell, "user_ns", None) or {}).get("Out")
    if isinstance(outputs, dict) and outputs:
        text = {str(k): _text(v) for k, v in sorted(outputs.items(), key=lambda kv: str(kv[0]))}
        files["interactive/outputs.json"] = (
            json.dumps(text, indent=1, ensure_ascii=False) + "\n"
        ).encode()
    return files, facts, missing


def _text(value: Any) -> str:
    try:
        text = repr(value)
    except Exception as err:  # an object whose repr fails
        text = f"<repr failed: {type(err).__name__}>"
    return text if len(text) <= MAX_OUTPUT else text[:MAX_OUTPUT] + "…"
