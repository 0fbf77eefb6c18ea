"""What a heartbeat adds: the output and metrics gathered since the previous one.

A run's heartbeat commits (status RUNNING, format 2) hold no whole ``metrics.json`` or
``output.log``. Each beat that has something new adds one chunk of each to
``.gitxp/live/``, built on the previous beat's tree, so a beat costs what is new plus a
few small trees, and a long run's repository grows with its data, not with its data
times its heartbeats::

    .gitxp/live/output/00/00/07.log     the output lines completed since beat 6
    .gitxp/live/metrics/00/00/07.json   the values logged since beat 6 (metrics.json form)

Chunk ``n`` sits at ``aa/bb/cc`` (the three bytes of ``n`` in hex): no tree holds more
than 256 entries. The final record commit has the whole ``metrics.json`` and
``output.log`` again and no ``live/``. Readers of a RUNNING run join the chunks in path
order; a heartbeat commit of format 1 had the whole files, which readers look for first.
"""

from __future__ import annotations

from typing import Any

from gitxp.git.repo import GitRepo, TreeValue
from gitxp.store import checked, record

LIVE = "live"
Series = dict[str, list[Any]]


def chunk_entry(number: int, kind: str, data: TreeValue) -> dict[str, TreeValue]:
    """The nested tree mapping that places chunk ``number`` of ``kind`` under ``live/``."""
    ext = "log" if kind == "output" else "json"
    top, mid, low = (number >> 16) & 255, (number >> 8) & 255, number & 255
    return {kind: {f"{top:02x}": {f"{mid:02x}": {f"{low:02x}.{ext}": data}}}}


def merge_entries(into: dict[str, Any], entry: dict[str, Any]) -> None:
    """Merge nested mapping ``entry`` into ``into`` (both tree mappings)."""
    for name, value in entry.items():
        if isinstance(value, dict) and isinstance(into.get(name), dict):
            merge_entries(into[name], value)
        else:
            into[name] = value


def _chunks(repo: GitRepo, commit: str, kind: str) -> list[bytes]:
    folder = f"{record.RECORD_DIR}/{LIVE}/{kind}"
    return [repo.blob_data(oid) for _, oid, _ in repo.walk_files(commit, folder)]


def live_output(repo: GitRepo, commit: str) -> bytes | None:
    """The output of a heartbeat commit joined from its chunks (None: it has none)."""
    chunks = _chunks(repo, commit, "output")
    return b"".join(chunks) if chunks else None


def live_metrics(repo: GitRepo, commit: str) -> dict[str, Series] | None:
    """The metrics of a heartbeat commit joined from its chunks (None: it has none)."""
    chunks = _chunks(repo, commit, "metrics")
    if not chunks:
        return None
    out: dict[str, Series] = {}
    for raw in chunks:
        try:  # a chunk is untrusted as metrics.json is: one that is not sound is left out
            data = checked.metrics(raw)
        except checked.RecordProblem:
            continue
        for name, series in data.items():
            into = out.setdefault(str(name), {"steps": [], "values": [], "timestamps": []})
            for key in into:
                values = series.get(key)
                if isinstance(values, list):
                    into[key].extend(values)
    return out
