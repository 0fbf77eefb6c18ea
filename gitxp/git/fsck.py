"""Objects and names that came from elsewhere, checked as ``git fsck`` checks them.

Everything a remote sends is hostile until checked. :func:`check_object` looks at one raw
object (the content git hashes, without its header) the way ``git fsck`` and
``fetch.fsckObjects`` do, and returns what is wrong with it, or None:

- trees: entries well formed (mode, name, 20-byte id), sorted as git sorts them, no
  duplicates, no null ids, modes git writes (``100644``, ``100755``, ``120000``,
  ``40000``, ``160000``), and names that are safe on every file system: not empty, no
  ``/``, not ``.`` or ``..``, not ``.git`` in any spelling a file system folds to it
  (any case, trailing dots or spaces, ``git~1``, ignorable Unicode characters);
- commits: a ``tree`` line, ``parent`` lines, ``author`` and ``committer`` identities with
  a time and a zone;
- tags: ``object``, ``type``, ``tag`` lines.

:func:`unsafe_path` applies the same name rules to a path before gitxp writes it to disk,
whatever the object database holds (a bad object can also arrive by plain ``git fetch``).
"""

from __future__ import annotations

import re

from gitxp.errors import UnsafeNameError

COMMIT, TREE, BLOB, TAG = 1, 2, 3, 4
TREE_MODE = 0o040000
GITLINK_MODE = 0o160000
_MODES = frozenset({0o100644, 0o100755, 0o120000, TREE_MODE, GITLINK_MODE})
_NULL_ID = bytes(20)
_HEX_ID = rb"[0-9a-f]{40}"
_IDENT = rb"[^<>\n]*<[^<>\n]*> (?:0|[1-9][0-9]{0,17}) [+-][0-9]{4}"
_COMMIT_HEAD = re.compile(
    rb"tree "
    + _HEX_ID
    + rb"\n(?:parent "
    + _HEX_ID
    + rb"\n)*author "
    + _IDENT
    + rb"\ncommitter "
    + _IDENT
    + rb"\n"
)
_TAG_HEAD = re.compile(rb"object " + _HEX_ID + rb"\ntype (?:commit|tree|blob|tag)\ntag [^\n]+\n")
# Characters HFS+ ignores when it compares names: ".g\u200cit" is ".git" there.
_IGNORABLE = re.compile("[\u200c-\u200f\u202a-\u202e\u206a-\u206f\ufeff]")


class ObjectProblem(ValueError):
    """What is wrong with one object (its message names the git fsck check)."""


def unsafe_name(name: str) -> str | None:
    """Why the single path component ``name`` must not be written to disk, or None."""
    if not name:
        return "an empty name (emptyName)"
    if "/" in name or "\0" in name:
        return f"an entry named {name!r}, with '/' or NUL in it (fullPathname)"
    if name in (".", ".."):
        return f"an entry named {name!r} ({'hasDot' if name == '.' else 'hasDotdot'})"
    folded = _IGNORABLE.sub("", name).lower().rstrip(". ")
    if folded in (".git", "git~1"):
        return f"an entry named {name!r}, which a file system may read as .git (hasDotgit)"
    return None


def check_name(path: str, name: str) -> None:
    """Raise UnsafeNameError when ``name`` (the last component of ``path``) is unsafe."""
    why = unsafe_name(name)
    if why is not None:
        raise UnsafeNameError(path, why)


def unsafe_path(path: str) -> str | None:
    """Why ``path`` (``/``-separated, relative) must not be written to disk, or None."""
    for part in path.split("/"):
        problem = unsafe_name(part)
        if problem is not None:
            return problem
    return None


def check_object(kind: int, data: bytes) -> str | None:
    """What is wrong with the raw object ``data`` of type ``kind`` (see the module), or None."""
    try:
        if kind == TREE:
            tree_entries(data)
        elif kind == COMMIT:
            commit_links(data)
        elif kind == TAG and _TAG_HEAD.match(data) is None:
            raise ObjectProblem("a tag without object, type and tag lines (badTag)")
    except ObjectProblem as err:
        return str(err)
    return None


def links(kind: int, data: bytes) -> list[bytes]:
    """The ids (20 bytes) the checked object ``data`` points at: a commit's tree and parents,
    a tree's entries (submodule commits left out), a tag's object."""
    if kind == COMMIT:
        return commit_links(data)
    if kind == TREE:
        return [oid for mode, _name, oid in tree_entries(data) if mode != GITLINK_MODE]
    if kind == TAG:
        return [bytes.fromhex(data[7:47].decode())]
    return []


def commit_links(data: bytes) -> list[bytes]:
    """A commit's tree id and parent ids; ObjectProblem if its header is malformed."""
    head = _COMMIT_HEAD.match(data)
    if head is None:
        raise ObjectProblem(
            "a commit without well-formed tree, parent, author and committer lines (badCommit)"
        )
    lines = data[: head.end()].split(b"\n")
    ids = [line.split(b" ", 1)[1] for line in lines if line.startswith((b"tree ", b"parent "))]
    return [bytes.fromhex(oid.decode()) for oid in ids]


def tree_entries(data: bytes) -> list[tuple[int, str, bytes]]:
    """``(mode, name, id)`` of every entry of a tree; ObjectProblem if it is unsafe."""
    out: list[tuple[int, str, bytes]] = []
    pos, end = 0, len(data)
    last: bytes | None = None
    seen: set[bytes] = set()
    while pos < end:
        space = data.find(b" ", pos)
        nul = data.find(b"\0", space + 1) if space >= 0 else -1
        if space < 0 or nul < 0 or nul + 21 > end:
            raise ObjectProblem("a truncated tree (badTree)")
        mode_text = data[pos:space]
        if not mode_text.isdigit() or mode_text.startswith(b"0"):
            raise ObjectProblem(f"a tree with an entry of mode {mode_text!r} (badFilemode)")
        mode = int(mode_text, 8)
        if mode not in _MODES:
            raise ObjectProblem(f"a tree with an entry of mode {mode:o} (badFilemode)")
        raw = data[space + 1 : nul]
        name = raw.decode("utf-8", "surrogateescape")
        problem = unsafe_name(name)
        if problem is not None:
            raise ObjectProblem(f"a tree with {problem}")
        oid = data[nul + 1 : nul + 21]
        if oid == _NULL_ID:
            raise ObjectProblem(f"a tree with an entry {name!r} of null id (nullSha1)")
        if raw in seen:
            raise ObjectProblem(f"a tree with two entries named {name!r} (duplicateEntries)")
        seen.add(raw)
        key = raw + b"/" if mode == TREE_MODE else raw
        if last is not None and key < last:
            raise ObjectProblem("a tree whose entries are not sorted (treeNotSorted)")
        last = key
        out.append((mode, name, oid))
        pos = nul + 21
    return out
