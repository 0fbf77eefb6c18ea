"""Tags and notes of runs, kept as git notes on each run's snapshot commit.

The board writes them under the notes ref :data:`gitxp.git.repo.NOTES_REF`
(``refs/notes/gitxp``), one note per run, on the run's *snapshot* commit: that commit
never changes while the run goes on (heartbeats add record commits on top of it), and it
is the same commit in every clone that fetched the run. Plain git reads them::

    git notes --ref gitxp show <snapshot commit>

and ``gitxp push``/``gitxp fetch`` carry them with the runs (a fetch merges diverged
notes, keeping both texts; see docs/sharing.md). A note's text is readable and editable by hand::

    Tags: baseline, keep

    Free text: why this run matters.

The first line is the tags (comma-separated) when it starts with ``Tags:``; everything
after the blank line that follows is the note. A note without a ``Tags:`` line is all
text. Tags given with ``gitxp run -t`` live in the run's ``run.json`` and stay there; the
board shows both.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field

from gitxp.errors import UsageError
from gitxp.git.repo import NOTES_REF, GitRepo

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
    parents = repo.commit_parents(commit)
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
