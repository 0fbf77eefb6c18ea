"""What ``gitxp show`` prints: everything recorded about one run, as readable sections."""

from __future__ import annotations

from typing import Any

from gitxp.query.attested import attestation_lines
from gitxp.query.listing import display_status, duration, format_duration, local_time, text_of
from gitxp.store.notes import merged_tags, record_note
from gitxp.store.runs import RunRecord, record


def show_text(rec: RunRecord, output_lines: int = 20, full_env: bool = False) -> str:
    """Everything recorded about a run, as readable sections."""
    info = rec.info
    note = record_note(rec)
    lines = [f"run {rec.ref.id}  {display_status(info)}"]
    fields = [
        ("experiment", info.get("experiment")),
        ("name", info.get("name")),
        ("command", " ".join(info.get("command") or [])),
        ("cwd", info.get("cwd")),
        ("started", local_time(info.get("start_time")) + f"  ({info.get('start_time')})"),
        ("stopped", info.get("stop_time")),
        ("duration", format_duration(duration(info))),
        ("heartbeat", info.get("heartbeat")),
        ("exit code", info.get("exit_code")),
        ("result", None if info.get("result") is None else text_of(info.get("result"))),
        ("seed", info.get("seed")),
        ("base", _base(info)),
        ("comment", info.get("comment")),
        ("tags", ", ".join(merged_tags(info.get("tags"), note))),
        ("reproduces", info.get("reproduction_of")),
        ("resumes", info.get("resumed_from")),
        ("ref", f"{rec.ref.ref} ({rec.ref.commit[:12]}, snapshot {rec.snapshot_commit[:12]})"),
    ]
    lines += [f"  {k + ':':<12}{v}" for k, v in fields if v not in (None, "", [])]
    if info.get("skipped_files"):
        lines.append("  left out of the snapshot:")
        lines += [f"    {s['path']} ({skip_reason(s)})" for s in info["skipped_files"]]
    if note.text:
        lines += ["", "note:"] + ["  " + x for x in note.text.splitlines()]
    lines += attestation_lines(rec)
    lines += ["", "config:"]
    lines += [
        "  " + line for line in record.dump_yaml(rec.config).decode().splitlines() if rec.config
    ]
    lines += _metric_lines(rec.metrics)
    if info.get("artifacts"):
        lines += ["", "artifacts:"]
        lines += [f"  {a['name']} ({a['size']} bytes)" for a in info["artifacts"]]
    if info.get("info"):
        lines += ["", "info:", "  " + text_of(info["info"])]
    if info.get("fail_trace"):
        lines += ["", "failure:"] + ["  " + x for x in str(info["fail_trace"]).splitlines()]
    host = rec.host
    python = host.get("python") or {}
    cpu = host.get("cpu") or {}
    lines += [
        "",
        "host:",
        f"  {host.get('hostname', '?')}  {_os(host)}  "
        f"python {python.get('version', '?')}  {cpu.get('model') or ''}".rstrip(),
    ]
    packages = [x for x in rec.env_lock.splitlines() if x and not x.startswith("#")]
    lines += ["", f"environment: {len(packages)} packages (gitxp show --env to list)"]
    if full_env:
        lines += ["  " + x for x in rec.env_lock.splitlines()]
    out = rec.output.splitlines()
    if out:
        shown = out if output_lines < 0 else out[-output_lines:]
        cut = f", last {len(shown)} of {len(out)} lines" if len(shown) < len(out) else ""
        lines += ["", f"output{cut}:"] + ["  " + x for x in shown]
    return "\n".join(lines)


def skip_reason(entry: dict[str, Any]) -> str:
    """Why a file was left out of a run's snapshot, for people."""
    if entry.get("reason") == "secret":
        return f"looks like a secret: {entry.get('pattern') or 'a secret pattern'}"
    return f"too large: {entry.get('size')} bytes"


def _base(info: dict[str, Any]) -> str | None:
    base = info.get("base_commit")
    where = info.get("branch") or ("detached HEAD" if info.get("detached") else None)
    if base is None:
        return f"no commits yet ({where})" if where else "no commits yet"
    text = f"{base[:12]} on {where}" if where else base[:12]
    return text + (" + uncommitted changes" if info.get("dirty") else "")


def _os(host: dict[str, Any]) -> str:
    os_info = host.get("os")
    if isinstance(os_info, dict):
        return str(os_info.get("distro") or os_info.get("system") or "")
    return str(os_info or "")


def _metric_lines(metrics: dict[str, dict[str, list[Any]]]) -> list[str]:
    if not metrics:
        return []
    lines = ["", "metrics:"]
    for name, series in sorted(metrics.items()):
        values = series.get("values") or []
        if not values:
            continue
        lines.append(
            f"  {name}: last {values[-1]:g}  min {min(values):g}  max {max(values):g}  "
            f"({len(values)} values, steps {series['steps'][0]}..{series['steps'][-1]})"
        )
    return lines
