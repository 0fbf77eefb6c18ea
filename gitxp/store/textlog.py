"""Render captured terminal output the way a terminal shows it.

A captured log keeps every byte a program wrote, so a tqdm progress bar that redraws itself
ten thousand times with ``\\r`` is ten thousand copies of the bar. :func:`apply_control_chars`
collapses that to what the terminal ended up showing:

* ``\\r`` moves the cursor to the start of the current line; the following text overwrites
  the line from there (characters beyond the new text stay, exactly as on a terminal, which
  is why tqdm pads its bar with spaces). ``\\r\\n`` is therefore a plain newline.
* ``\\b`` moves the cursor one column left (never past the line start); it erases nothing.
* ``\\n`` ends the line.

Nothing else is removed. ANSI escape sequences (colours, OSC titles, ...) stay in the text;
they take no column, and one that is overwritten goes with the character it preceded. Use
:func:`strip_ansi` to remove them. Known simplifications: every other character takes one
column (no tab stops, no double-width characters) and cursor-movement sequences such as
``ESC[A`` (used by nested tqdm bars) are kept but not interpreted.

:class:`LogCleaner` does the same incrementally: feeding text in any chunking yields exactly
``apply_control_chars`` of the whole text, and a long-running unterminated progress line is
kept as its rendered state, never as its raw history.
"""

from __future__ import annotations

import re

__all__ = ["LogCleaner", "apply_backspaces_and_linefeeds", "apply_control_chars", "strip_ansi"]

# A complete escape sequence: CSI (ESC [ params intermediates final), OSC (ESC ] ... BEL or
# ESC \), or a short ESC sequence (ESC intermediates final). None of them spans a line end.
_ESC_COMPLETE = re.compile(
    r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b\n\r]*(?:\x07|\x1b\\)|[ -/]*[0-~])"
)
# A prefix of an escape sequence that reaches the end of the text seen so far: undecidable
# until more text arrives, so a streaming cleaner holds it back.
_ESC_PARTIAL = re.compile(r"\x1b(?:\[[0-?]*[ -/]*|\][^\x07\x1b\n\r]*\x1b?|[ -/]*)\Z")
_TOKEN = re.compile(r"[^\r\n\b\x1b]+|[\r\n\b\x1b]")


def strip_ansi(text: str) -> str:
    """Return ``text`` without ANSI escape sequences (CSI such as colours, OSC, short ESC)."""
    return _ESC_COMPLETE.sub("", text)


def apply_control_chars(text: str) -> str:
    """Return ``text`` as a terminal would show it after interpreting ``\\r`` and ``\\b``."""
    cleaner = LogCleaner()
    return cleaner.feed(text) + cleaner.close()


def apply_backspaces_and_linefeeds(text: str) -> str:
    """Sacred's filter of that name: :func:`apply_control_chars`, keeping a trailing ``\\r``.

    Sacred applies it to the whole captured text at each heartbeat; the trailing ``\\r``
    lets the next chunk overwrite the unfinished line. Use it as
    ``ex.captured_out_filter = apply_backspaces_and_linefeeds``.
    """
    rendered = apply_control_chars(text)
    return rendered + "\r" if text.endswith("\r") else rendered


class LogCleaner:
    """Streaming :func:`apply_control_chars`: ``feed`` chunks, then ``close``.

    ``feed`` returns the lines finished so far (each ending in ``\\n``); ``close`` returns
    the rendered unterminated last line (possibly empty) and resets the cleaner.
    """

    def __init__(self) -> None:
        self._cells: list[str] = []  # one entry per column: escapes + one character
        self._cursor = 0
        self._pending = ""  # escape sequences not yet attached to a column
        self._held = ""  # an escape sequence cut off by the end of the last chunk

    def feed(self, chunk: str) -> str:
        """Consume ``chunk`` and return the lines completed by it."""
        text = self._held + chunk if self._held else chunk
        self._held = ""
        if not text:
            return ""
        out: list[str] = []
        if self._clean() and "\r" not in text and "\b" not in text:
            # Fast path: complete lines without control characters render as themselves.
            end = text.rfind("\n") + 1
            out.append(text[:end])
            text = text[end:]
        self._render(text, out, final=False)
        return "".join(out)

    def close(self) -> str:
        """Return the rendered unterminated last line and reset the cleaner."""
        out: list[str] = []
        text, self._held = self._held, ""
        self._render(text, out, final=True)
        out.append(self._take_line())
        return "".join(out)

    def _clean(self) -> bool:
        return not self._cells and not self._pending and self._cursor == 0

    def _render(self, text: str, out: list[str], *, final: bool) -> None:
        pos = 0
        size = len(text)
        while pos < size:
            match = _TOKEN.match(text, pos)
            assert match is not None  # the token pattern matches any character
            token = match.group()
            if token == "\x1b":
                esc = _ESC_COMPLETE.match(text, pos)
                partial = _ESC_PARTIAL.match(text, pos)
                if partial is not None and not final:
                    self._held = text[pos:]
                    return
                if esc is not None and partial is None:
                    self._pending += esc.group()
                    pos = esc.end()
                    continue
                self._put("\x1b")  # not a valid sequence: a literal character
                pos += 1
                continue
            pos = match.end()
            if token == "\n":
                out.append(self._take_line() + "\n")
            elif token == "\r":
                self._attach_pending()
                self._cursor = 0
            elif token == "\b":
                self._attach_pending()
                self._cursor = max(0, self._cursor - 1)
            else:
                self._put(token)

    def _put(self, run: str) -> None:
        """Write printable ``run`` at the cursor, overwriting columns, and advance."""
        cells = self._cells
        cursor = self._cursor
        chars = list(run)
        if self._pending:
            chars[0] = self._pending + chars[0]
            self._pending = ""
        if cursor == len(cells):
            cells.extend(chars)
        else:
            cells[cursor : cursor + len(chars)] = chars
        self._cursor = cursor + len(chars)

    def _attach_pending(self) -> None:
        """Glue escape sequences waiting for a character to the column left of the cursor.

        At the line start they keep waiting: they belong to whatever is written next.
        """
        if self._pending and self._cursor > 0:
            self._cells[self._cursor - 1] += self._pending
            self._pending = ""

    def _take_line(self) -> str:
        """Return the rendered current line (without newline) and start a new one."""
        self._attach_pending()
        line = self._pending + "".join(self._cells)
        self._cells, self._cursor, self._pending = [], 0, ""
        return line


def utf8_boundary(data: bytes) -> int:
    """The length of ``data`` without a trailing incomplete UTF-8 sequence."""
    for back in range(1, min(4, len(data)) + 1):
        byte = data[-back]
        if byte & 0xC0 != 0x80:  # a lead byte or ASCII
            need = 1 if byte < 0x80 else 2 if byte >> 5 == 6 else 3 if byte >> 4 == 14 else 4
            return len(data) if need <= back else len(data) - back
    return len(data)
