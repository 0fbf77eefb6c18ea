"""Sharing the board's tags and notes (``refs/notes/gitxp``) along with runs.

A push sends the notes ref only as a fast-forward; a fetch fast-forwards it, or merges
diverged notes with ``git notes merge -s union`` (a note edited on both sides keeps both
texts) on a scratch ref, then swaps the result in with a compare-and-swap, so a note the
board writes meanwhile is never lost.
"""

from __future__ import annotations

from gitxp.errors import GitxpError
from gitxp.git.repo import NOTES_REF, GitRepo, RefConflictError

ATTEMPTS = 3
NOTES_FETCHED_REF = "refs/gitxp/notes-fetched"  # the remote's notes, while merging them
NOTES_MERGING_REF = "refs/notes/gitxp-merging"  # the merge result, before it replaces ours
NOTES_LACKING = "the remote has notes this repository lacks; run 'gitxp fetch' first"


def plan_notes_push(repo: GitRepo, there: str | None) -> tuple[str, str | None]:
    """What to do with the notes ref, and the commit to send: fast-forwards only."""
    here = repo.ref_target(NOTES_REF)
    if here is None:
        return "", None
    if there == here:
        return "same", None
    if there is None or repo.is_ancestor(there, here):
        return "send", here
    if not repo.has_object(there) or repo.is_ancestor(here, there):  # theirs is newer
        return "lacking", None
    return "diverged", None


def take_notes(repo: GitRepo, theirs: str) -> tuple[str, bool]:
    """Bring the remote's notes commit ``theirs`` (already fetched) into the notes ref.

    None here or ours is an ancestor: fast-forward (compare-and-swap). Ours a
    descendant: nothing. Diverged: ``git notes merge -s union`` (a note edited on both
    sides keeps both texts), done on a scratch ref and then swapped in, so a note the
    board writes meanwhile is never lost (the merge is done again). Returns the line to
    report ("" when up to date) and whether it is a problem.
    """
    for _ in range(ATTEMPTS):
        here = repo.ref_target(NOTES_REF)
        if here == theirs:
            return "", False
        if here is not None and repo.is_ancestor(theirs, here):
            return "notes: newer here; 'gitxp push' sends them", False
        if here is None or repo.is_ancestor(here, theirs):
            new, how = theirs, "updated tags and notes (fast-forward)"
        else:
            try:
                new, how = merge_notes(repo, here, theirs), "merged tags and notes"
            except GitxpError as err:
                return f"notes: the remote's tags and notes were not merged: {err}", True
        try:
            repo.update_refs({NOTES_REF: (here, new)}, message="gitxp fetch: notes")
        except RefConflictError:  # a note was written meanwhile: decide again
            continue
        return f"notes: {how}", False
    return "notes: not updated (the local notes kept changing); fetch again", True


def merge_notes(repo: GitRepo, here: str, theirs: str) -> str:
    """The notes commit merging ``here`` and ``theirs`` (``git notes merge -s union``)."""
    sig = repo.signature()
    for ref in (NOTES_FETCHED_REF, NOTES_MERGING_REF):  # left by an interrupted fetch
        repo.delete_ref(ref)
    repo.create_ref(NOTES_FETCHED_REF, theirs)
    try:
        repo.create_ref(NOTES_MERGING_REF, here)
        repo.git(
            *("-c", f"user.name={sig.name}", "-c", f"user.email={sig.email}"),
            *("notes", "--ref", NOTES_MERGING_REF, "merge", "-q", "-s", "union"),
            NOTES_FETCHED_REF,
        )
        merged = repo.ref_target(NOTES_MERGING_REF)
        if merged is None or merged == here:
            raise GitxpError("git notes merge left no merge commit")
        return merged
    finally:
        repo.delete_ref(NOTES_MERGING_REF)
        repo.delete_ref(NOTES_FETCHED_REF)
