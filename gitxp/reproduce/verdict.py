"""The verdict of a reproduction: what was compared, within which tolerances, and how.

Metrics are compared step by step: the check of a metric names the first step whose
value differs beyond the metric's tolerance, by how much, and how many steps differ.
Tolerances are ``|new - old| <= atol + rtol * |old|``: one pair for everything
(``--rtol``/``--atol``) and pairs per metric or for ``result`` from a file
(``--tolerances FILE``, YAML or JSON)::

    default: {rtol: 1e-6}
    loss: {rtol: 1e-3, atol: 1e-8}
    result: {atol: 0.01}
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitxp.configuration.dicts import iterate_flattened
from gitxp.configuration.files import load_config_file
from gitxp.errors import UsageError
from gitxp.git.repo import GitRepo
from gitxp.query.diff import artifact_ids, config_diff, how_far, show_value, values_close
from gitxp.query.listing import table
from gitxp.store.runs import RunRecord


@dataclass(frozen=True)
class Tolerances:
    """``rtol``/``atol`` for every value, and per name (a metric, or ``result``)."""

    rtol: float = 0.0
    atol: float = 0.0
    per_name: dict[str, tuple[float, float]] = field(default_factory=dict)

    def of(self, name: str) -> tuple[float, float]:
        """The (rtol, atol) of ``name``."""
        return self.per_name.get(name, (self.rtol, self.atol))

    def describe(self) -> str:
        """``exactly`` or ``within rtol=… atol=…`` (plus ``, per metric from a file``)."""
        text = (
            "exactly"
            if not (self.rtol or self.atol)
            else f"within rtol={self.rtol:g} atol={self.atol:g}"
        )
        return text + (f" ({len(self.per_name)} set per metric)" if self.per_name else "")

    def as_json(self) -> dict[str, Any]:
        """The tolerances as JSON data (for the attestation)."""
        return {
            "rtol": self.rtol,
            "atol": self.atol,
            "per_name": {k: {"rtol": r, "atol": a} for k, (r, a) in self.per_name.items()},
        }


def load_tolerances(path: str | None, rtol: float, atol: float) -> Tolerances:
    """``--rtol``/``--atol`` and the file of ``--tolerances`` (its ``default`` entry
    replaces the flags' pair)."""
    if rtol < 0 or atol < 0:
        raise UsageError("--rtol and --atol must be 0 or more")
    if path is None:
        return Tolerances(rtol, atol)
    data = load_config_file(Path(path))
    per_name: dict[str, tuple[float, float]] = {}
    for name, entry in data.items():
        if not isinstance(entry, dict) or set(entry) - {"rtol", "atol"}:
            raise UsageError(
                f"--tolerances {path}: {name!r} must map to {{rtol: N, atol: N}}, like "
                "'loss: {rtol: 1e-3}'"
            )
        pair = []
        for key in ("rtol", "atol"):
            value = entry.get(key, 0.0)
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise UsageError(f"--tolerances {path}: {name}.{key} must be a number >= 0")
            pair.append(float(value))
        per_name[str(name)] = (pair[0], pair[1])
    default = per_name.pop("default", None)
    if default is not None:
        rtol, atol = default
    return Tolerances(rtol, atol, per_name)


@dataclass
class Check:
    """One line of the verdict: what was compared, both values, and the outcome."""

    what: str
    original: str
    reproduction: str
    verdict: str  # match | differs | drift
    detail: list[str] = field(default_factory=list)
    first_step: float | None = None  # a metric: the first step that differs


@dataclass
class Verdict:
    """The outcome of a reproduction."""

    original: str
    reproduction: str | None
    checks: list[Check]
    environment: list[Check]
    strict: bool
    tolerance: str

    @property
    def differing(self) -> list[Check]:
        """The checks that failed (environment drift only with ``strict``)."""
        out = [c for c in self.checks if c.verdict != "match"]
        if self.strict:
            out += [c for c in self.environment if c.verdict != "match"]
        return out

    @property
    def drift(self) -> list[Check]:
        """Environment checks that found a difference."""
        return [c for c in self.environment if c.verdict != "match"]

    @property
    def reproduced(self) -> bool:
        """Whether every value matched (and, with ``strict``, the environment too)."""
        return self.reproduction is not None and not self.differing

    def summary(self) -> str:
        """The last line: ``reproduced: …`` or ``NOT reproduced: …``."""
        total = len(self.checks) + (len(self.environment) if self.strict else 0)
        if self.reproduced:
            text = f"reproduced: all {total} checks matched {self.tolerance}"
            if self.drift:
                names = ", ".join(c.what for c in self.drift)
                text += f", with environment drift ({names}; --strict makes that a failure)"
            return text
        if self.reproduction is None:
            return "NOT reproduced: " + ", ".join(c.what for c in self.differing)
        names = ", ".join(c.what for c in self.differing)
        return f"NOT reproduced: {len(self.differing)} of {total} checks differ ({names})"

    def table(self) -> str:
        """The verdict table with the summary line."""
        checks = [*self.checks, *self.environment]
        rows = [["  " + c.what, c.original, c.reproduction, c.verdict] for c in checks]
        header = ["  what", "original", "reproduction", "verdict"]
        lines = table(header, rows).splitlines()
        out = lines[:1]  # details under their check, outside the columns
        for check, line in zip(checks, lines[1:], strict=True):
            out += [line, *("      " + detail for detail in check.detail)]
        head = f"reproduction of run {self.original} → run {self.reproduction or '-'}"
        return f"{head}\n\n" + "\n".join(out) + f"\n\n{self.summary()}"

    def as_json(self) -> dict[str, Any]:
        """The verdict as JSON data."""

        def rows(checks: list[Check]) -> list[dict[str, Any]]:
            return [c.__dict__ for c in checks]

        return {
            "original": self.original,
            "reproduction": self.reproduction,
            "reproduced": self.reproduced,
            "checks": rows(self.checks),
            "environment": rows(self.environment),
            "summary": self.summary(),
        }


def compare_runs(
    repo: GitRepo, original: RunRecord, new: RunRecord, tolerances: Tolerances
) -> list[Check]:
    """Status, config, result, every metric step by step, and every artifact."""
    a, b = original.info, new.info
    checks = [_check("status", a.get("status"), b.get("status"), 0.0, 0.0)]
    if b.get("status") not in ("COMPLETED", a.get("status")) and b.get("fail_trace"):
        checks[-1].detail = str(b["fail_trace"]).strip().splitlines()[-3:]
    diff = config_diff(original.config, new.config)
    keys = [f"~ {k}: {show_value(x)} → {show_value(y)}" for k, (x, y) in diff["changed"].items()]
    keys += [f"+ {k}: {show_value(v)}" for k, v in diff["added"].items()]
    keys += [f"- {k}: {show_value(v)}" for k, v in diff["removed"].items()]
    n_a, n_b = len(_leaves(original.config)), len(_leaves(new.config))
    checks.append(
        Check(
            "config",
            f"{n_a} key{'' if n_a == 1 else 's'}",
            f"{n_b} key{'' if n_b == 1 else 's'}",
            "differs" if keys else "match",
            keys,
        )
    )
    if "result" in a or "result" in b:
        rtol, atol = tolerances.of("result")
        checks.append(_check("result", a.get("result"), b.get("result"), rtol, atol))
    metrics_a, metrics_b = original.metrics, new.metrics
    for name in sorted(set(metrics_a) | set(metrics_b)):
        checks.append(_series_check(name, metrics_a.get(name), metrics_b.get(name), tolerances))
    files_a, files_b = artifact_ids(repo, original), artifact_ids(repo, new)
    for name in sorted(set(files_a) | set(files_b)):
        x, y = files_a.get(name), files_b.get(name)
        checks.append(
            Check(
                f"artifact {name}",
                f"blob {x[:10]}" if x else "-",
                f"blob {y[:10]}" if y else "-",
                "match" if x == y else "differs",
            )
        )
    return checks


_ABSENT = object()


def _last(series: dict[str, Any] | None) -> Any:
    values = (series or {}).get("values") or []
    return values[-1] if values else _ABSENT


def _leaves(config: dict[str, Any]) -> list[str]:
    return [k for k, _ in iterate_flattened(config)]


def _check(what: str, a: Any, b: Any, rtol: float, atol: float) -> Check:
    shown_a = "-" if a is _ABSENT else show_value(a, 24)
    shown_b = "-" if b is _ABSENT else show_value(b, 24)
    if a is _ABSENT or b is _ABSENT:
        return Check(what, shown_a, shown_b, "differs")
    if values_close(a, b, rtol, atol):
        return Check(what, shown_a, shown_b, "match")
    far = how_far(a, b)
    return Check(what, shown_a, shown_b, f"differs {far}".strip())


def _series_check(
    name: str, a: dict[str, Any] | None, b: dict[str, Any] | None, tolerances: Tolerances
) -> Check:
    rtol, atol = tolerances.of(name)
    check = _check(f"metric {name}", _last(a), _last(b), rtol, atol)
    if a is None or b is None:
        return check
    steps_a = dict(zip(a.get("steps") or [], a.get("values") or [], strict=False))
    steps_b = dict(zip(b.get("steps") or [], b.get("values") or [], strict=False))
    differing = []
    for step in sorted(set(steps_a) | set(steps_b), key=_step_key):
        x, y = steps_a.get(step, _ABSENT), steps_b.get(step, _ABSENT)
        if x is _ABSENT or y is _ABSENT or not values_close(x, y, rtol, atol):
            differing.append((step, x, y))
    if not differing:
        return check
    step, x, y = differing[0]
    shown_x = "-" if x is _ABSENT else show_value(x, 24)
    shown_y = "-" if y is _ABSENT else show_value(y, 24)
    far = "" if _ABSENT in (x, y) else how_far(x, y)
    of_all = f"{len(differing)} of {len(set(steps_a) | set(steps_b))} steps differ"
    check.verdict = "differs"
    check.first_step = step if isinstance(step, int | float) else None
    check.detail = [f"first differs at step {step}: {shown_x} → {shown_y} {far}".rstrip(), of_all]
    return check


def _step_key(step: Any) -> tuple[int, float, str]:
    if isinstance(step, int | float) and not isinstance(step, bool) and not math.isnan(step):
        return (0, float(step), "")
    return (1, 0.0, str(step))
