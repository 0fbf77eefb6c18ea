"""GitRepo's object transfer and notes: what push, fetch and the board's tags need.
Mixed into :class:`gitxp.git.repo.GitRepo`; import that, not this.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from typing import TYPE_CHECKING, cast

import pygit2
from pygit2.enums import FileMode

from gitxp.errors import RefConflictError, RepoError

NOTES_REF = "refs/notes/gitxp"  # tags and notes of runs (gitxp board), on snapshot commits


class TransferMixin:
    """Object transfer, multi-ref updates and notes of :class:`gitxp.git.repo.GitRepo`."""

    repo: pygit2.Repository

    if TYPE_CHECKING:

        def has_commit(self, commit: str) -> bool: ...
        def ref_target(self, name: str) -> str | None: ...
        def signature(self) -> pygit2.Signature: ...
        def git(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]: ...
        def config_value(self, key: str) -> str | None: ...

    # -- partial clones (gitxp fetch --no-artifacts) ----------------------------------

    def blob_bytes(self, blob: pygit2.Blob | str) -> bytes:
        """The content of a blob; one a partial fetch left out is asked of its remote.

        libgit2 cannot fetch missing objects, git can: ``git cat-file`` fetches the blob
        from the promisor remote (and keeps it) when this repository has one.
        """
        try:
            obj = self.repo[blob] if isinstance(blob, str) else blob
            return bytes(cast(pygit2.Blob, obj).data)
        except KeyError:  # pygit2's NotFoundError is a KeyError too
            oid = blob if isinstance(blob, str) else str(blob.id)
            if not self.is_partial():
                raise RepoError(f"object {oid} is missing from this repository") from None
        proc = subprocess.run(
            ["git", "cat-file", "blob", oid],
            cwd=self.repo.path,
            env={**os.environ, "GIT_TERMINAL_PROMPT": "0"},
            capture_output=True,
            stdin=subprocess.DEVNULL,
        )
        if proc.returncode != 0:
            why = proc.stderr.decode(errors="replace").strip().splitlines() or ["git failed"]
            raise RepoError(
                f"{oid[:12]} was left out by 'gitxp fetch --no-artifacts' and could not be "
                f"fetched now ({why[-1].removeprefix('fatal: ')}); is the remote reachable?"
            )
        return proc.stdout

    def is_partial(self) -> bool:
        """Whether a remote of this repository may hold objects it lacks (a promisor)."""
        found = self.git("config", "--get-regexp", r"^remote\..*\.promisor$", check=False)
        return any(line.split()[-1:] == ["true"] for line in found.stdout.splitlines())

    def mark_promisor(self, remote: str, filter_spec: str) -> None:
        """Record ``remote`` as the one to ask for what a filtered fetch left out, as
        ``git clone --filter`` does (no extensions.partialClone: libgit2 refuses it)."""
        if self.config_value("core.repositoryformatversion") in (None, "0"):
            self.git("config", "core.repositoryformatversion", "1")
        self.git("config", f"remote.{remote}.promisor", "true")
        self.git("config", f"remote.{remote}.partialclonefilter", filter_spec)

    # -- sharing runs (gitxp push / fetch): objects out, refs in ---------------------

    def has_object(self, oid: str) -> bool:
        """Whether object ``oid`` is in the object database."""
        try:
            return pygit2.Oid(hex=oid) in self.repo
        except ValueError:
            return False

    def read_object(self, oid: str) -> tuple[int, bytes]:
        """The git type number (1 commit, 2 tree, 3 blob, 4 tag) and content of ``oid``."""
        kind, data = self.repo.odb.read(pygit2.Oid(hex=oid))
        return int(kind), bytes(data)

    def objects_to_send(self, want: list[str], have: list[str]) -> list[tuple[str, str]]:
        """Every object reachable from ``want`` that is not reachable from ``have``.

        Like ``git rev-list --objects want --not have``: commits are walked by libgit2
        and the trees of the commits where the walk stops (the other side has them) are
        left out, so a second push of the same runs sends nothing and a run pushed
        while RUNNING, pushed again when finished, sends only its new record commit.
        ``have`` may name objects this repository lacks; they are ignored.

        Returns ``(id, name)`` pairs, each commit followed by its new trees and files; the
        name is the entry's file name, ``/`` for a commit's root tree, "" for a commit
        (a hint for delta compression: objects of one name tend to look alike).
        """
        repo = self.repo
        walker = repo.walk(None, pygit2.enums.SortMode.NONE)
        for oid in want:
            walker.push(pygit2.Oid(hex=oid))
        for oid in have:
            obj = repo.get(oid)
            if isinstance(obj, pygit2.Commit):
                walker.hide(obj.id)
        commits = list(walker)
        new = {c.id for c in commits}
        seen: set[pygit2.Oid] = set()
        for commit in commits:
            for parent in commit.parent_ids:
                edge = repo.get(parent) if parent not in new else None
                if isinstance(edge, pygit2.Commit):
                    self._mark_tree(edge.tree_id, seen, None)
        out: list[tuple[str, str]] = []
        for commit in commits:
            out.append((str(commit.id), ""))
            self._mark_tree(commit.tree_id, seen, out)
        return out

    def _mark_tree(
        self, tree: pygit2.Oid, seen: set[pygit2.Oid], out: list[tuple[str, str]] | None
    ) -> None:
        """Add ``tree`` and everything below it to ``seen`` (and to ``out`` when given)."""
        if tree in seen:
            return
        seen.add(tree)
        if out is not None:
            out.append((str(tree), "/"))
        stack = [tree]
        while stack:
            node = self.repo[stack.pop()]
            assert isinstance(node, pygit2.Tree)
            for entry in node:
                oid = entry.id
                if oid in seen or entry.filemode == FileMode.COMMIT:  # submodule commits
                    continue
                seen.add(oid)
                if out is not None:
                    out.append((str(oid), str(entry.name)))
                if entry.filemode == FileMode.TREE:
                    stack.append(oid)

    def negotiation_haves(self, common: list[str], limit: int = 256) -> list[str]:
        """Commits to offer as "have" when fetching, most useful first.

        Local branch tips and the notes ref's commit (so a fetch of the notes sends only
        the notes commits this repository lacks) and the commits of ``common`` (ref values
        the remote advertised that this repository already holds), then ancestors of
        those tips, newest first, up to ``limit`` of them.
        """
        repo = self.repo
        tips: list[str] = []
        for ref in repo.references.iterator():
            if ref.name.startswith(("refs/heads/", "refs/remotes/")) or ref.name == NOTES_REF:
                obj = repo.get(ref.target) if isinstance(ref.target, pygit2.Oid) else None
                if isinstance(obj, pygit2.Commit):
                    tips.append(str(obj.id))
        out = list(dict.fromkeys([*tips, *(c for c in common if self.has_commit(c))]))
        if tips:
            taken = set(out)
            walker = repo.walk(None, pygit2.enums.SortMode.TIME)
            for tip in tips:
                walker.push(pygit2.Oid(hex=tip))
            for count, commit in enumerate(walker):
                if count >= limit:
                    break
                if str(commit.id) not in taken:
                    out.append(str(commit.id))
        return out

    def update_refs(
        self, updates: Mapping[str, tuple[str | None, str]], message: str = "gitxp"
    ) -> None:
        """Move several refs at once, each from an expected old target (None: absent).

        All of them move or none does: every ref is locked and checked first, and a
        single mismatch raises RefConflictError before anything is written.
        """
        if not updates:
            return
        try:
            with self.repo.transaction() as txn:
                for name in updates:
                    txn.lock_ref(name)
                for name, (old, new) in updates.items():
                    current = self.ref_target(name)
                    if current != old:
                        raise RefConflictError(
                            f"{name} moved to {current} while gitxp expected {old}"
                        )
                    txn.set_target(name, pygit2.Oid(hex=new), message=message)
        except pygit2.GitError as err:
            raise RefConflictError(f"cannot update refs: {err}") from None

    # -- git notes (tags and notes of runs: gitxp board) -----------------------------

    def notes(self, ref: str = NOTES_REF) -> dict[str, str]:
        """Every note of the notes ref ``ref``: annotated object id → note text."""
        if self.ref_target(ref) is None:
            return {}
        try:
            notes = self.repo.notes(ref)  # type: ignore[call-arg]  # the stub lacks ref
            return {str(n.annotated_id): str(n.message) for n in notes}
        except pygit2.GitError:
            return {}

    def note(self, oid: str, ref: str = NOTES_REF) -> str | None:
        """The note on object ``oid`` under ``ref``, or None."""
        try:
            return str(self.repo.lookup_note(oid, ref).message)
        except (KeyError, ValueError, pygit2.GitError):
            return None

    def set_note(self, oid: str, text: str, ref: str = NOTES_REF) -> None:
        """Write ``text`` as the note on object ``oid`` (replacing one); "" removes it.

        A notes commit is written on ``ref`` as ``git notes`` does, so plain git reads it
        (``git notes --ref gitxp show <commit>``) and push/fetch of ``ref`` share it.
        """
        sig = self.signature()
        for attempt in range(5):  # another writer moved the notes ref: try again
            try:
                if text:
                    self.repo.create_note(text, sig, sig, oid, ref, True)
                else:
                    try:
                        found = self.repo.lookup_note(oid, ref)
                    except KeyError:
                        return
                    found.remove(sig, sig, ref)
                return
            except pygit2.GitError as err:
                if attempt == 4:
                    raise RepoError(f"cannot write the note of {oid[:12]}: {err}") from None
