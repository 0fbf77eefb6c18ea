"""Comparing two runs: ``gitxp diff`` and the value comparisons ``gitxp reproduce`` uses.

:func:`run_diff` returns plain JSON data (what ``gitxp diff --json`` prints) with these
sections: ``config`` (dotted keys added, removed, changed), ``code`` (files changed between
the two source trees, ``.gitxp/`` excluded, and the unified patch), ``environment``
(packages added, removed, changed; python; CPU, GPU, OS), ``metrics`` (last, min, max per
metric) and ``result``. :func:`format_diff` renders it for people.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from gitxp.configuration.dicts import iterate_flattened
from gitxp.git.repo import GitRepo
from gitxp.machine.lock import parse_env_lock, python_version_of_lock
from gitxp.query.listing import table
from gitxp.store.restore import source_tree
from gitxp.store.runs import RunRecord, record

_MISSING = object()


# -- values -------------------------------------------------------------------------------


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def values_close(a: Any, b: Any, rtol: float = 0.0, atol: float = 0.0) -> bool:
    """Whether ``b`` equals ``a`` within ``atol + rtol * |a|`` (numbers inside lists and
    dicts too); everything else must be equal. NaN matches NaN: the same value came back.
    """
    if _is_number(a) and _is_number(b):
        fa, fb = float(a), float(b)
        if math.isnan(fa) or math.isnan(fb):
            return math.isnan(fa) and math.isnan(fb)
        if math.isinf(fa) or math.isinf(fb):
            return fa == fb
        return abs(fa - fb) <= atol + rtol * abs(fa)
    if isinstance(a, list) and isinstance(b, list):
        pairs = zip(a, b, strict=False)
        return len(a) == len(b) and all(values_close(x, y, rtol, atol) for x, y in pairs)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(values_close(a[k], b[k], rtol, atol) for k in a)
    return bool(a == b)


def how_far(a: Any, b: Any) -> str:
    """How much ``b`` differs from ``a``, for people ("" when that is not a number)."""
    if not (_is_number(a) and _is_number(b)):
        return ""
    delta = float(b) - float(a)
    if math.isnan(delta):
        return ""
    text = f"by {delta:+.3g}"
    if float(a) != 0 and not math.isinf(delta):
        text += f" ({delta / abs(float(a)):+.2%})"
    return text


def show_value(value: Any, width: int = 40) -> str:
    """A value on one line: numbers exactly (``repr``), the rest as short JSON."""
    if value is _MISSING:
        return "-"
    if isinstance(value, float):
        return repr(value)
    return record.short_result(value, width) if value is not None else "null"


# -- sections -------------------------------------------------------------------------------


def config_diff(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    """Dotted keys ``added`` (only in b), ``removed`` (only in a) and ``changed`` ([a, b])."""
    flat_a = dict(iterate_flattened(a))
    flat_b = dict(iterate_flattened(b))
    return {
        "added": {k: v for k, v in flat_b.items() if k not in flat_a},
        "removed": {k: v for k, v in flat_a.items() if k not in flat_b},
        "changed": {
            k: [v, flat_b[k]] for k, v in flat_a.items() if k in flat_b and not _same(v, flat_b[k])
        },
    }


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and values_close(a, b)


@dataclass
class PackageDiff:
    """Packages of lock b compared with lock a (names normalised as PEP 503 says)."""

    added: dict[str, str] = field(default_factory=dict)
    removed: dict[str, str] = field(default_factory=dict)
    changed: dict[str, list[str]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.changed)

    def as_json(self) -> dict[str, Any]:
        """The three groups as JSON data."""
        return {"added": self.added, "removed": self.removed, "changed": self.changed}

    def lines(self, added: str = "+", removed: str = "-") -> list[str]:
        """One line a package: ``~ name a → b``, ``+ name v``, ``- name v``."""
        out = [f"~ {k} {a} → {b}" for k, (a, b) in sorted(self.changed.items())]
        out += [f"{added} {k} {v}" for k, v in sorted(self.added.items())]
        out += [f"{removed} {k} {v}" for k, v in sorted(self.removed.items())]
        return out


def package_diff(lock_a: str, lock_b: str) -> PackageDiff:
    """What differs between the packages of two env locks."""
    a = parse_env_lock(lock_a)
    b = parse_env_lock(lock_b)
    return PackageDiff(
        added={k: v for k, v in b.items() if k not in a},
        removed={k: v for k, v in a.items() if k not in b},
        changed={k: [v, b[k]] for k, v in a.items() if k in b and b[k] != v},
    )


def python_version(rec: RunRecord) -> str | None:
    """The Python version a run used (host facts, else the env lock's header)."""
    python = rec.host.get("python")
    if isinstance(python, dict) and python.get("version"):
        impl = python.get("implementation")
        version = str(python["version"])
        return version if impl in (None, "CPython") else f"{version} ({impl})"
    return python_version_of_lock(rec.env_lock)


def host_summary(host: Mapping[str, Any]) -> dict[str, str]:
    """The host facts that can change results: CPU, GPU, OS (and machine)."""
    cpu: dict[str, Any] = host.get("cpu") or {}
    os_info: dict[str, Any] = host.get("os") or {}
    gpus: list[Any] = host.get("gpus") or []
    if not isinstance(cpu, dict) or not isinstance(os_info, dict) or not isinstance(gpus, list):
        return {"cpu": "?", "gpu": "?", "os": "?", "machine": str(host.get("machine") or "?")}
    cores = cpu.get("cores")
    gpu_names = [str(g.get("name")) for g in gpus if isinstance(g, dict)]
    return {
        "cpu": f"{cpu.get('model') or '?'}" + (f" ({cores} cores)" if cores else ""),
        "gpu": ", ".join(gpu_names) if gpu_names else "none",
        "os": " ".join(
            str(x)
            for x in (os_info.get("distro") or os_info.get("system"), os_info.get("release"))
            if x
        )
        or "?",
        "machine": str(host.get("machine") or "?"),
    }


def metric_summary(metrics: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Per metric: ``last``, ``min``, ``max`` and ``count`` of its values."""
    out: dict[str, dict[str, Any]] = {}
    for name, series in metrics.items():
        values = [v for v in (series.get("values") or []) if _is_number(v)]
        finite = [v for v in values if not math.isnan(float(v))]
        out[name] = {
            "last": values[-1] if values else None,
            "min": min(finite) if finite else None,
            "max": max(finite) if finite else None,
            "count": len(values),
        }
    return out


def artifact_ids(repo: GitRepo, rec: RunRecord) -> dict[str, str]:
    """The run's artifacts: name → git blob id (a content hash, so equal ids mean equal bytes)."""
    folder = f"{record.RECORD_DIR}/artifacts"
    return {
        path[len(folder) + 1 :]: oid for path, oid, _mode in repo.walk_files(rec.ref.commit, folder)
    }


# -- the whole diff ---------------------------------------------------------------------------


def _run_label(rec: RunRecord) -> dict[str, Any]:
    info = rec.info
    return {
        "id": rec.ref.id,
        "name": info.get("name"),
        "experiment": info.get("experiment"),
        "status": info.get("status"),
        "start_time": info.get("start_time"),
        "commit": rec.ref.commit,
    }


def run_diff(repo: GitRepo, a: RunRecord, b: RunRecord, patch: bool = True) -> dict[str, Any]:
    """Everything that differs between runs ``a`` and ``b``, as JSON data."""
    code = repo.diff_trees(source_tree(repo, a), source_tree(repo, b))
    code_json: dict[str, Any] = {
        "files": [asdict(f) for f in code.files],
        "additions": sum(f.additions for f in code.files),
        "deletions": sum(f.deletions for f in code.files),
    }
    if patch:
        code_json["patch"] = code.patch
    py_a, py_b = python_version(a), python_version(b)
    host_a, host_b = host_summary(a.host), host_summary(b.host)
    metrics_a, metrics_b = metric_summary(a.metrics), metric_summary(b.metrics)
    result_a, result_b = a.info.get("result"), b.info.get("result")
    return {
        "a": _run_label(a),
        "b": _run_label(b),
        "config": config_diff(a.config, b.config),
        "code": code_json,
        "environment": {
            "python": None if py_a == py_b else [py_a, py_b],
            "packages": package_diff(a.env_lock, b.env_lock).as_json(),
            "host": {k: [host_a[k], host_b[k]] for k in host_a if host_a[k] != host_b.get(k)},
        },
        "metrics": {
            name: {"a": metrics_a.get(name), "b": metrics_b.get(name)}
            for name in sorted(set(metrics_a) | set(metrics_b))
        },
        "result": {"a": result_a, "b": result_b, "equal": _same(result_a, result_b)},
    }


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def format_diff(data: Mapping[str, Any], stat: bool = False) -> str:
    """``gitxp diff`` for people: one section per kind of difference."""
    lines = []
    for side in ("a", "b"):
        run = data[side]
        label = run.get("name") or run.get("experiment") or ""
        lines.append(f"{side.upper()}  {run['id']}  {label}  {run.get('status')}".rstrip())
    config = data["config"]
    n_config = sum(len(config[k]) for k in ("added", "removed", "changed"))
    lines += ["", f"config: {'identical' if not n_config else _count(n_config, 'difference')}"]
    lines += [
        f"  ~ {k}: {show_value(a)} → {show_value(b)}"
        for k, (a, b) in sorted(config["changed"].items())
    ]
    lines += [f"  + {k}: {show_value(v)}" for k, v in sorted(config["added"].items())]
    lines += [f"  - {k}: {show_value(v)}" for k, v in sorted(config["removed"].items())]
    code = data["code"]
    files = code["files"]
    if not files:
        lines += ["", "code: identical"]
    else:
        lines += [
            "",
            f"code: {_count(len(files), 'file')} changed, "
            f"{_count(code['additions'], 'insertion')}(+), "
            f"{_count(code['deletions'], 'deletion')}(-)",
        ]
        for f in files:
            name = f["path"] if f["path"] == f["old_path"] else f"{f['old_path']} → {f['path']}"
            counts = "binary" if f["binary"] else f"+{f['additions']} -{f['deletions']}"
            lines.append(f"  {f['status']} {name}  {counts}")
        if not stat and code.get("patch"):
            lines += ["", code["patch"].rstrip("\n")]
    env = data["environment"]
    packages = PackageDiff(**env["packages"])
    env_lines = []
    if env["python"]:
        env_lines.append(f"  python: {env['python'][0]} → {env['python'][1]}")
    if packages:
        env_lines.append(
            "  packages: "
            + ", ".join(
                _count(len(group), "package") + f" {what}"
                for group, what in (
                    (packages.changed, "changed"),
                    (packages.added, "added"),
                    (packages.removed, "removed"),
                )
                if group
            )
        )
        env_lines += ["    " + line for line in packages.lines()]
    env_lines += [f"  {k}: {a} → {b}" for k, (a, b) in env["host"].items()]
    lines += ["", "environment: identical" if not env_lines else "environment:", *env_lines]
    metrics = data["metrics"]
    if metrics:
        lines += ["", "metrics:"]
        rows = []
        for name, sides in metrics.items():
            a, b = sides["a"] or {}, sides["b"] or {}
            cells = [name]
            for key in ("last", "min", "max"):
                cells += [_metric_cell(a, key), _metric_cell(b, key)]
            rows.append(cells)
        header = ["  metric", "last A", "last B", "min A", "min B", "max A", "max B"]
        lines.append(table(header, [["  " + r[0], *r[1:]] for r in rows]))
    result = data["result"]
    verdict = "same" if result["equal"] else "differs"
    lines += [
        "",
        f"result: {show_value(result['a'])} → {show_value(result['b'])} ({verdict})"
        if not result["equal"]
        else f"result: {show_value(result['a'])} ({verdict})",
    ]
    return "\n".join(lines)


def _metric_cell(summary: Mapping[str, Any], key: str) -> str:
    if not summary:
        return "-"
    value = summary.get(key)
    return "-" if value is None else f"{value:.6g}"


def diff_json(data: Mapping[str, Any]) -> str:
    """``gitxp diff --json``."""
    return json.dumps(data, indent=2, ensure_ascii=False)
