"""Per-key documentation for config scopes, taken from the comments in their source.

The doc of ``lr = 0.1  # learning rate`` is ``"learning rate"``. Without an inline comment,
the block of comment-only lines directly above the assignment is used. Entries of a dict
literal written one per line (``opt = {\\n  "lr": 0.1,  # step size\\n}``) are documented
the same way under their dotted key (``opt.lr``). Tool pragmas (``noqa``, ``type:``,
``pylint:`` ...) are never docs.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from collections.abc import Iterator

__all__ = ["collect_docs", "iter_top_statements"]

_IGNORED = re.compile(r"^(noqa\b|type:|pylint:|noinspection|fmt:|pragma\b|isort:|mypy:|ruff:)")


def _comments(source: str) -> dict[int, str]:
    """Map line number -> comment text (without ``#``) for every comment in ``source``."""
    found: dict[int, str] = {}
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type == tokenize.COMMENT:
                text = tok.string.lstrip("#").strip()
                if text and not _IGNORED.match(text):
                    found[tok.start[0]] = text
    except (tokenize.TokenError, SyntaxError):  # pragma: no cover - source already parsed
        pass
    return found


def iter_top_statements(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """Yield the statements of a function body, entering compound statements.

    Nested function and class definitions are yielded but not entered.
    """
    for stmt in body:
        yield stmt
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        for attr in ("body", "orelse", "finalbody"):
            inner = getattr(stmt, attr, None)
            if isinstance(inner, list):
                yield from iter_top_statements(inner)
        for handler in getattr(stmt, "handlers", []):
            yield from iter_top_statements(handler.body)
        for case in getattr(stmt, "cases", []):
            yield from iter_top_statements(case.body)


def _target_names(target: ast.expr) -> list[str]:
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, (ast.Tuple, ast.List)):
        return [name for elt in target.elts for name in _target_names(elt)]
    if isinstance(target, ast.Starred):
        return _target_names(target.value)
    return []


def _assignment(stmt: ast.stmt) -> tuple[list[str], ast.expr | None]:
    """The names a statement assigns and the assigned expression (if a single value)."""
    if isinstance(stmt, ast.Assign):
        names = [n for t in stmt.targets for n in _target_names(t)]
        return names, stmt.value
    if isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
        return _target_names(stmt.target), stmt.value
    if isinstance(stmt, ast.AugAssign):
        return _target_names(stmt.target), None
    return [], None


class _DocFinder:
    """Finds the doc comment that belongs to a given source line."""

    def __init__(self, source: str) -> None:
        self.lines = source.splitlines()
        self.comments = _comments(source)

    def _is_comment_line(self, lineno: int) -> bool:
        return 1 <= lineno <= len(self.lines) and self.lines[lineno - 1].lstrip().startswith("#")

    def doc_for(self, lineno: int) -> str:
        """Inline comment on ``lineno``, else the comment-only lines right above it."""
        if lineno in self.comments and not self._is_comment_line(lineno):
            return self.comments[lineno]
        above: list[str] = []
        current = lineno - 1
        while self._is_comment_line(current):
            if current in self.comments:
                above.insert(0, self.comments[current])
            current -= 1
        return " ".join(above)


def _dict_items(node: ast.expr) -> list[tuple[str, ast.expr, int]] | None:
    """``(key, value, key_line)`` for a dict literal or ``dict(k=v)`` call with str keys."""
    if isinstance(node, ast.Dict):
        items = []
        for key, value in zip(node.keys, node.values, strict=True):
            if isinstance(key, ast.Constant) and isinstance(key.value, str):
                items.append((key.value, value, key.lineno))
        return items
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "dict"
        and not node.args
    ):
        return [(kw.arg, kw.value, kw.value.lineno) for kw in node.keywords if kw.arg]
    return None


def _dict_docs(
    path: str, node: ast.expr, skip_line: int, finder: _DocFinder, docs: dict[str, str]
) -> None:
    items = _dict_items(node)
    if not items:
        return
    per_line: dict[int, int] = {}
    for _, _, line in items:
        per_line[line] = per_line.get(line, 0) + 1
    for key, value, line in items:
        if line != skip_line and per_line[line] == 1:
            doc = finder.doc_for(line)
            if doc:
                docs[f"{path}.{key}"] = doc
        _dict_docs(f"{path}.{key}", value, line, finder, docs)


def collect_docs(source: str, body: list[ast.stmt]) -> dict[str, str]:
    """Docs for the names assigned in ``body`` (parsed from ``source``), keyed by dotted path.

    Names starting with ``_`` are skipped. A later documented assignment of the same name
    replaces an earlier doc.
    """
    finder = _DocFinder(source)
    docs: dict[str, str] = {}
    for stmt in iter_top_statements(body):
        names, value = _assignment(stmt)
        names = [n for n in names if not n.startswith("_")]
        if not names:
            continue
        doc = finder.doc_for(stmt.lineno)
        for name in names:
            if doc:
                docs[name] = doc
        if value is not None and len(names) == 1:
            _dict_docs(names[0], value, stmt.lineno, finder, docs)
    return docs
