"""Tags and notes of runs, kept as git notes on each run's snapshot commit.

``gitxp tag``, ``gitxp note`` and the board write them under the notes ref
:data:`gitxp.git.repo.NOTES_REF` (``refs/notes/gitxp``), one note per run, on the run's
*snapshot* commit: that commit never changes while the run goes on (heartbeats add record
commits on top of it), and it is the same commit in every clone that fetched
the run. Plain git reads them::

    git notes --ref gitxp show <snapshot commit>

and ``gitxp push``/``gitxp fetch`` carry them with the runs (a fetch merges diverged
notes, keeping both texts; see docs/sharing.md). A note's text is readable and editable by hand::

    Tags: baseline, keep

    Free text: why this run matters.

The first line is the tags (comma-separated) when it starts with ``Tags:``; everything
after the blank line that follows is the note. A note without a ``Tags:`` line is all
text. Tags given with ``gitxp run -t`` live in the run's ``run.json`` and stay there
(a run is never rewritten); the query layer's ``tags`` column, ``gitxp show`` and the
board show both, and ``note`` is the note's text.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from gitxp.errors import UsageError
from gitxp.git.repo import NOTES_REF, GitRepo
from gitxp.store.runs import RunRecord, RunRef, list_runs, resolve

TAGS_LINE = "Tags:"
MAX_TAG = 100
MAX_NOTE = 100_000


@dataclass(frozen=True)
class RunNote:
    """The tags and free text of one run's note."""

    tags: list[str] = field(default_factory=list)
    text: str = ""


def parse_note(text: str | None) -> RunNote:
    """The tags and text of a note (an absent note has neither)."""
    if not text:
        return RunNote()
    first, _, rest = text.partition("\n")
    if not first.startswith(TAGS_LINE):
        return RunNote([], text.strip("\n"))
    tags = [t.strip() for t in first[len(TAGS_LINE) :].split(",")]
    return RunNote(list(dict.fromkeys(t for t in tags if t)), rest.strip("\n"))


def format_note(note: RunNote) -> str:
    """The note text for ``note`` ("" when it has neither tags nor text)."""
    parts = []
    if note.tags:
        parts.append(f"{TAGS_LINE} {', '.join(note.tags)}")
    if note.text.strip():
        parts.append(note.text.strip("\n"))
    return "\n\n".join(parts) + "\n" if parts else ""


def clean_tags(tags: Iterable[object]) -> list[str]:
    """``tags`` stripped and without repeats; a tag with a comma or a line break is refused."""
    out: list[str] = []
    for tag in tags:
        if not isinstance(tag, str):
            raise UsageError(f"a tag must be text, not {tag!r}")
        text = tag.strip()
        if not text:
            continue
        if "," in text or "\n" in text or "\r" in text:
            raise UsageError(f"tag {text!r}: a tag cannot hold a comma or a line break")
        if len(text) > MAX_TAG:
            raise UsageError(f"tag {text[:20]!r}…: at most {MAX_TAG} characters")
        if text not in out:
            out.append(text)
    return out


def snapshot_of(repo: GitRepo, commit: str, base: str | None) -> str:
    """The snapshot commit of a run whose ref points at ``commit`` (see ``RunRecord``)."""
    return snapshot_from(commit, repo.commit_parents(commit), base)


def snapshot_from(commit: str, parents: list[str], base: str | None) -> str:
    """:func:`snapshot_of` from the parents of ``commit``, read already."""
    if parents == ([base] if base else []):
        return commit
    return parents[0] if parents else commit


class NotesIndex:
    """Every run note of a repository, re-read only when the notes ref moved.

    Also remembers the snapshot commit of each run commit (commits never change), so the
    run list pairs a thousand runs with their notes without reading a thousand commits
    on every refresh. Safe to share between threads.
    """

    def __init__(self, ref: str = NOTES_REF) -> None:
        self.ref = ref
        self._lock = threading.Lock()
        self._target: str | None = None
        self._notes: dict[str, RunNote] = {}
        self._snapshots: dict[str, str] = {}

    def notes(self, repo: GitRepo) -> dict[str, RunNote]:
        """Snapshot commit id → note, up to date with the notes ref."""
        target = repo.ref_target(self.ref)
        with self._lock:
            if target == self._target:
                return self._notes
        notes = {oid: parse_note(text) for oid, text in repo.notes(self.ref).items()}
        with self._lock:
            self._target, self._notes = target, notes
        return notes

    def snapshot(self, repo: GitRepo, commit: str, base: str | None) -> str:
        """:func:`snapshot_of`, remembered."""
        found = self._snapshots.get(commit)
        if found is None:
            found = snapshot_of(repo, commit, base)
            with self._lock:
                self._snapshots[commit] = found
        return found

    def note_of(self, repo: GitRepo, commit: str, base: str | None) -> RunNote:
        """The note of the run whose ref points at ``commit``."""
        notes = self.notes(repo)
        if not notes:
            return RunNote()
        return notes.get(self.snapshot(repo, commit, base), RunNote())

    def write(self, repo: GitRepo, snapshot: str, tags: Iterable[object], text: str) -> RunNote:
        """Store ``tags`` and ``text`` as the note of ``snapshot``; returns what was stored."""
        if len(text) > MAX_NOTE:
            raise UsageError(f"the note is too long (at most {MAX_NOTE} characters)")
        note = RunNote(clean_tags(tags), text.replace("\r\n", "\n").strip("\n"))
        with self._lock:
            repo.set_note(snapshot, format_note(note), self.ref)
            self._target = None  # re-read on next use
        return parse_note(format_note(note))


def merged_tags(run_tags: Iterable[object] | None, note: RunNote) -> list[str]:
    """A run's own tags (``run.json``) followed by its note's, without repeats."""
    return list(dict.fromkeys([*(str(t) for t in run_tags or ()), *note.tags]))


def record_note(rec: RunRecord) -> RunNote:
    """The note of the run ``rec`` (an empty one when it has none)."""
    return parse_note(rec.repo.note(rec.snapshot_commit))


def tag_runs(
    repo: GitRepo, specs: Sequence[str], tags: Sequence[str], remove: bool = False
) -> list[tuple[RunRecord, list[str]]]:
    """Add ``tags`` to (or with ``remove`` take them from) the notes of the runs ``specs``.

    Every run is resolved and every tag checked before any note is written. A tag the run
    was recorded with (``gitxp run -t``) lives in its ``run.json`` and cannot be removed.
    Returns each run with its tags afterwards (its own and its note's).
    """
    wanted = clean_tags(tags)
    if not wanted:
        raise UsageError("name a tag: gitxp tag RUN… TAG")
    records = _records(repo, specs)
    if remove:
        for rec in records:
            fixed = [t for t in wanted if t in (rec.info.get("tags") or [])]
            if fixed:
                raise UsageError(
                    f"run {rec.ref.id[:12]} was recorded with tag {fixed[0]!r} (gitxp run -t): "
                    "it is part of the run and stays; only tags added later can be removed"
                )
    index = NotesIndex()
    out = []
    for rec in records:
        note = record_note(rec)
        new = [t for t in note.tags if t not in wanted] if remove else [*note.tags, *wanted]
        if new != note.tags:
            note = index.write(repo, rec.snapshot_commit, new, note.text)
        out.append((rec, merged_tags(rec.info.get("tags"), note)))
    return out


def note_run(repo: GitRepo, spec: str, text: str) -> tuple[RunRecord, RunNote]:
    """Set the free text of run ``spec``'s note to ``text`` ("" clears it); tags stay."""
    (rec,) = _records(repo, [spec])
    note = record_note(rec)
    return rec, NotesIndex().write(repo, rec.snapshot_commit, note.tags, text)


def _records(repo: GitRepo, specs: Sequence[str]) -> list[RunRecord]:
    if not specs:
        raise UsageError("name a run: an id prefix from 'gitxp ls', or latest")
    runs: list[RunRef] = list_runs(repo)
    found = {ref.ref: ref for ref in (resolve(repo, spec, runs) for spec in specs)}
    return [RunRecord.load(repo, ref).require_sound() for ref in found.values()]
