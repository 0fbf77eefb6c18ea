"""Facts about the machine a run executes on, recorded with every run.

:func:`host_facts` is called on the hot path of starting a run, so it reads only cheap
sources (``os.uname``, ``/proc``, ``/etc/os-release``) and starts no process, except
``nvidia-smi`` when it is installed. It never records the whole environment: only the
variables in :data:`ENV_ALLOW` plus the ones a caller names explicitly, so secrets such as
API tokens do not end up in a git history.
"""

from __future__ import annotations

import copy
import functools
import os
import platform
import shutil
import sys
from collections.abc import Iterable
from typing import Any

__all__ = ["ENV_ALLOW", "HOST_FORMAT_VERSION", "NVIDIA_SMI_TIMEOUT", "host_facts"]

HOST_FORMAT_VERSION = 1
"""Version of the layout of the :func:`host_facts` dict (its ``host_format_version`` key)."""

NVIDIA_SMI_TIMEOUT = 5.0

ENV_ALLOW: tuple[str, ...] = (
    "CUDA_VISIBLE_DEVICES",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "PYTHONHASHSEED",
    "CUBLAS_WORKSPACE_CONFIG",
    "SLURM_JOB_ID",
    "SLURM_ARRAY_TASK_ID",
    "SLURM_NODELIST",
    "LANG",
    "LC_ALL",
    "TZ",
    "VIRTUAL_ENV",
    "CONDA_DEFAULT_ENV",
)
"""Environment variables recorded by default (never ``PATH``, never the whole environment)."""

_GPU_QUERY = ("--query-gpu=name,memory.total,driver_version", "--format=csv,noheader")
_MEMORY_UNITS = {"KiB": 1024, "MiB": 1024**2, "GiB": 1024**3, "TiB": 1024**4}


def host_facts(extra_env_allow: Iterable[str] = ()) -> dict[str, Any]:
    """Return a JSON-ready dict describing this host, its Python, CPU, memory and GPUs.

    ``env`` holds only the allow-listed variables that are set, plus ``extra_env_allow``.
    GPU problems never raise: ``gpus`` is then empty and ``gpu_error`` says why. What
    cannot change while a process lives (CPU, memory, GPUs, OS) is read once per process,
    so a sweep of runs from one Python process asks ``nvidia-smi`` once.
    """
    facts = copy.deepcopy(_machine())
    facts["cpu"]["usable_cores"] = _usable()
    facts["env"] = _env(extra_env_allow)
    return facts


@functools.lru_cache(maxsize=1)
def _machine() -> dict[str, Any]:
    uname = os.uname()
    gpus, gpu_error = _gpus()
    return {
        "host_format_version": HOST_FORMAT_VERSION,
        "hostname": uname.nodename,
        "os": {
            "system": platform.system(),
            "release": platform.release(),
            "version": platform.version(),
            "distro": _distro(),
        },
        "kernel": f"{uname.sysname} {uname.release}",
        "machine": uname.machine,
        "python": {
            "implementation": platform.python_implementation(),
            "version": platform.python_version(),
            "executable": sys.executable,
        },
        "cpu": {"model": _cpu_model(), "cores": os.cpu_count(), "usable_cores": None},
        "memory": {"total_bytes": _memory_total()},
        "gpus": gpus,
        "gpu_error": gpu_error,
    }


def _read_text(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except OSError:
        return None


def _distro() -> str | None:
    for path in ("/etc/os-release", "/usr/lib/os-release"):
        text = _read_text(path)
        if text is None:
            continue
        for line in text.splitlines():
            key, sep, value = line.partition("=")
            if sep and key.strip() == "PRETTY_NAME":
                value = value.strip()
                if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
                    value = value[1:-1]
                return value or None
        return None
    return None


def _cpu_model() -> str | None:
    if sys.platform.startswith("linux"):
        text = _read_text("/proc/cpuinfo") or ""
        found: dict[str, str] = {}
        for line in text.splitlines():
            key, sep, value = line.partition(":")
            key = key.strip()
            if sep and key in ("model name", "Hardware", "Processor", "cpu model", "cpu"):
                found.setdefault(key, value.strip())
                if key == "model name":
                    break
        for key in ("model name", "Hardware", "Processor", "cpu model", "cpu"):
            if found.get(key):
                return found[key]
        return platform.machine() or None
    return platform.processor() or platform.machine() or None


def _usable() -> int | None:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count()


def _memory_total() -> int | None:
    text = _read_text("/proc/meminfo")
    if text:
        for line in text.splitlines():
            if line.startswith("MemTotal:"):
                parts = line.split()
                if len(parts) >= 2 and parts[1].isdigit():
                    unit = parts[2] if len(parts) > 2 else "kB"
                    return int(parts[1]) * (1024 if unit.lower() == "kb" else 1)
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def _memory_bytes(text: str) -> int | None:
    number, _, unit = text.strip().partition(" ")
    try:
        return int(float(number) * _MEMORY_UNITS[unit.strip()])
    except (KeyError, ValueError):
        return None


def _gpus() -> tuple[list[dict[str, Any]], str | None]:
    """Query ``nvidia-smi`` if it is installed; return (gpus, why not) and never raise."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return [], None
    import subprocess  # only here: most hosts have no nvidia-smi

    try:
        proc = subprocess.run(
            [exe, *_GPU_QUERY],
            capture_output=True,
            text=True,
            errors="replace",
            timeout=NVIDIA_SMI_TIMEOUT,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        return [], f"nvidia-smi timed out after {NVIDIA_SMI_TIMEOUT:g} s"
    except OSError as err:
        return [], f"nvidia-smi could not be run: {err.strerror or err}"
    if proc.returncode != 0:
        detail = (proc.stderr.strip() or proc.stdout.strip()).splitlines()
        why = detail[0] if detail else "no output"
        return [], f"nvidia-smi exited with status {proc.returncode}: {why}"
    gpus: list[dict[str, Any]] = []
    for index, line in enumerate(ln for ln in proc.stdout.splitlines() if ln.strip()):
        fields = [f.strip() for f in line.split(",")]
        if len(fields) != 3:
            return [], f"nvidia-smi printed an unexpected line: {line.strip()!r}"
        name, memory, driver = fields
        gpus.append(
            {
                "index": index,
                "name": name,
                "memory_total": memory,
                "memory_total_bytes": _memory_bytes(memory),
                "driver_version": driver,
            }
        )
    return gpus, None


def _env(extra: Iterable[str]) -> dict[str, str]:
    names = list(ENV_ALLOW)
    names += [extra] if isinstance(extra, str) else list(extra)
    return {name: os.environ[name] for name in dict.fromkeys(names) if name in os.environ}
