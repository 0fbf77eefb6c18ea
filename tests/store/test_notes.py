"""The text of a run's note (refs/notes/gitxp): tags line, then free text."""

from __future__ import annotations

import pytest

from gitxp.errors import UsageError
from gitxp.store.notes import RunNote, clean_tags, format_note, merged_tags, parse_note


def test_note_text_format_round_trips() -> None:
    note = RunNote(["a", "b c"], "line one\n\nline three")
    assert parse_note(format_note(note)) == note
    assert parse_note("just text\n") == RunNote([], "just text")
    assert format_note(RunNote()) == ""


def test_tags_are_cleaned_and_merged_after_the_runs_own() -> None:
    assert clean_tags([" best ", "best", "", "x y"]) == ["best", "x y"]
    for bad in ("a,b", "a\nb", "x" * 101):
        with pytest.raises(UsageError):
            clean_tags([bad])
    assert merged_tags(["keep", "best"], RunNote(["best", "new"])) == ["keep", "best", "new"]
    assert merged_tags(None, RunNote()) == []
