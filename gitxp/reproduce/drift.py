"""Environment drift: what differs between where a run ran and where it runs again.

Checked before anything runs, and printed then: the interpreter (version and
implementation; its path as detail), every package (``name old → new``), the OS, the CPU
and the GPUs with their driver. With ``--env venv`` a ``rebuild`` check lists what the
lock named but no venv can rebuild (local installs from elsewhere) and what this gitxp
provides instead (gitxp itself). Drift is reported, and fails the verdict only with
``--strict`` (which then refuses to run at all).
"""

from __future__ import annotations

from typing import Any

from gitxp.machine.lock import interpreter_of_lock, parse_env_lock
from gitxp.machine.venv import RebuildPlan
from gitxp.query.diff import host_summary, package_diff
from gitxp.reproduce.verdict import Check
from gitxp.store.runs import RunRecord


def environment_checks(
    rec: RunRecord,
    lock_now: str,
    host_now: dict[str, Any],
    plan: RebuildPlan | None = None,
) -> list[Check]:
    """The run's interpreter, packages and host compared with ``lock_now``/``host_now``."""
    then_python = _python(rec.host.get("python"), rec.env_lock)
    now_python = _python(interpreter_of_lock(lock_now), lock_now)
    packages = package_diff(rec.env_lock, lock_now)
    then_host, now_host = host_summary(rec.host), host_summary(host_now)
    checks = [
        _compare("python", then_python[0], now_python[0], _paths(then_python, now_python)),
        Check(
            "packages",
            f"{len(parse_env_lock(rec.env_lock))} packages",
            f"{len(parse_env_lock(lock_now))} packages",
            "drift" if packages else "match",
            packages.lines(added="+ (only here)", removed="- (missing here)"),
        ),
        _compare("os", then_host["os"], now_host["os"]),
        _compare("cpu", then_host["cpu"], now_host["cpu"]),
        _compare("gpu", _gpus(rec.host), _gpus(host_now)),
    ]
    if plan is not None and (plan.cannot or plan.provided):
        detail = [f"cannot rebuild: {line}" for line in plan.cannot]
        detail += [f"provided by this gitxp: {line}" for line in plan.provided]
        rebuilt = "all rebuilt" if not plan.cannot else f"{len(plan.cannot)} not rebuilt"
        checks.append(
            Check("rebuild", "env lock", rebuilt, "drift" if plan.cannot else "match", detail)
        )
    return checks


def _compare(what: str, then: str, now: str, detail: list[str] | None = None) -> Check:
    return Check(what, then, now, "match" if then == now else "drift", detail or [])


def _python(info: Any, lock: str) -> tuple[str, str]:
    """(``3.11.7`` or ``3.11.7 (PyPy)``, executable) from host facts or a lock header."""
    if not isinstance(info, dict):
        info = interpreter_of_lock(lock) or {}
    version = str(info.get("version") or "?")
    impl = info.get("implementation")
    shown = version if impl in (None, "CPython") else f"{version} ({impl})"
    return shown, str(info.get("executable") or "?")


def _paths(then: tuple[str, str], now: tuple[str, str]) -> list[str]:
    return [] if then[1] == now[1] else [f"interpreter {then[1]} → {now[1]}"]


def _gpus(host: dict[str, Any]) -> str:
    gpus = host.get("gpus")
    if not isinstance(gpus, list) or not gpus:
        return "none"
    shown = []
    for gpu in gpus:
        if isinstance(gpu, dict):
            driver = gpu.get("driver_version")
            shown.append(f"{gpu.get('name')}" + (f" (driver {driver})" if driver else ""))
    return ", ".join(shown) or "none"
