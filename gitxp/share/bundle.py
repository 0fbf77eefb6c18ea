"""Runs in git bundles, for machines that cannot reach the shared remote.

``gitxp bundle create FILE`` writes run refs, their attestations and the notes ref into a git
bundle with ``git bundle create``: one file that can be carried to a cluster without
network access and back. Bundles are self-contained (the whole history of every run they
hold), so the clone that imports one needs nothing else.

Reading is the other half of a fetch: :class:`BundleFile` parses the header and streams
the pack, and the transport (:mod:`gitxp.share.transport`) feeds it to the same pack
sink, checks and ref rules as a fetch from a server. So ``gitxp bundle import FILE`` is
idempotent and conflict-free by run id exactly as ``gitxp fetch`` is. A bundle is
untrusted input: the header is read with bounds on line length and count, and only run
refs and the notes ref in it are looked at.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from gitxp.errors import UsageError
from gitxp.git.repo import NOTES_REF, GitRepo
from gitxp.store.attestations import ATTEST_PREFIX, parse_attestation_ref
from gitxp.store.ids import id_time
from gitxp.store.prune import parse_age
from gitxp.store.runs import RunRef, list_runs, resolve

SIGNATURES = {b"# v2 git bundle\n": 2, b"# v3 git bundle\n": 3}
MAX_LINE = 4096  # a ref line is 41 bytes plus the ref name
MAX_REFS = 1_000_000
CHUNK = 1 << 20
_OID = re.compile(rb"[0-9a-f]{40}")


def is_bundle(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a file that starts as a git bundle does."""
    try:
        with open(path, "rb") as handle:
            return handle.readline(64) in SIGNATURES
    except OSError:
        return False


@dataclass
class BundleFile:
    """A bundle's header: its refs, the commits it needs, and where its pack starts."""

    path: Path
    refs: dict[bytes, bytes] = field(default_factory=dict)
    prerequisites: list[str] = field(default_factory=list)
    pack_offset: int = 0

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> BundleFile:
        """Read the header; ValueError (one line) when it is not a bundle gitxp can read."""
        bundle = cls(Path(path))
        with open(bundle.path, "rb") as handle:
            version = SIGNATURES.get(handle.readline(64))
            if version is None:
                raise ValueError("not a git bundle")
            for count in range(MAX_REFS + 2):
                line = handle.readline(MAX_LINE)
                if line == b"\n":
                    break
                if not line.endswith(b"\n") or count > MAX_REFS:
                    raise ValueError("the bundle's header is damaged or too large")
                bundle._take(line[:-1], version)
            else:
                raise ValueError("the bundle's header is damaged or too large")
            bundle.pack_offset = handle.tell()
        return bundle

    def _take(self, line: bytes, version: int) -> None:
        if version == 3 and line.startswith(b"@"):
            if line != b"@object-format=sha1":
                what = line[1:60].decode(errors="replace")
                raise ValueError(f"unsupported bundle capability {what}")
            return
        if line.startswith(b"-"):
            oid = line[1:41]
            if not _OID.fullmatch(oid):
                raise ValueError("the bundle's header is damaged")
            self.prerequisites.append(oid.decode())
            return
        oid, _, name = line.partition(b" ")
        if not _OID.fullmatch(oid) or not name:
            raise ValueError("the bundle's header is damaged")
        self.refs[name] = oid

    def pack_chunks(self) -> Iterator[bytes]:
        """The pack after the header, a chunk at a time (never the whole file in memory)."""
        with open(self.path, "rb") as handle:
            handle.seek(self.pack_offset)
            while chunk := handle.read(CHUNK):
                yield chunk


@dataclass
class BundleReport:
    """What ``bundle create`` wrote."""

    path: Path
    runs: int
    notes: bool


def create_bundle(
    repo: GitRepo,
    path: str | os.PathLike[str],
    runs: list[str] | None = None,
    since: str | None = None,
) -> BundleReport:
    """Write the runs named (all, or those started since ``since``) into bundle ``path``.

    ``since`` is a date (``2026-11-01``, ISO time) or an age (``30d``, ``12h``). The
    notes ref (tags and notes) goes along whole. The file appears only when complete.
    """
    chosen = _choose(repo, runs, since)
    if not chosen:
        raise UsageError("no runs to bundle; 'gitxp ls' lists the runs")
    refs = [r.ref for r in chosen]
    ids = {r.id for r in chosen}
    refs += sorted(  # the verdicts of reproductions travel with the runs they speak of
        name
        for name in repo.refs(ATTEST_PREFIX)
        if (pair := parse_attestation_ref(name)) is not None and pair[0] in ids
    )
    notes = repo.ref_target(NOTES_REF) is not None
    if notes:
        refs.append(NOTES_REF)
    target = Path(os.path.abspath(os.path.expanduser(path)))
    if not target.parent.is_dir():
        raise UsageError(f"no folder {target.parent} to write the bundle into")
    if target.is_dir():
        raise UsageError(f"{target} is a folder; name the bundle file to write")
    fd, tmp = tempfile.mkstemp(prefix=".gitxp-bundle-", dir=target.parent)
    os.close(fd)
    try:
        os.unlink(tmp)  # git writes the file itself, and refuses to overwrite a lock
        repo.git("bundle", "create", "--quiet", tmp, *refs)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return BundleReport(target, len(chosen), notes)


def _choose(repo: GitRepo, specs: list[str] | None, since: str | None) -> list[RunRef]:
    everything = list_runs(repo)
    chosen = [resolve(repo, spec, everything) for spec in specs] if specs else everything
    if since is not None:
        start = _since(since)
        chosen = [r for r in chosen if id_time(r.id) >= start]
    return list({r.ref: r for r in chosen}.values())


def _since(text: str) -> float:
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        try:
            return datetime.now(UTC).timestamp() - parse_age(text)
        except UsageError:
            raise UsageError(
                f"--since {text!r}: give a date (2026-11-01) or an age (30d, 12h)"
            ) from None
    if when.tzinfo is None:
        when = when.astimezone()
    return when.timestamp()
