"""Tests for gitxp.store.textlog: terminal-like rendering of \\r and \\b, streaming-safe."""

from __future__ import annotations

import random
import subprocess
import sys

import pytest

from gitxp.store.textlog import LogCleaner, apply_control_chars, strip_ansi


def tqdm_like(total: int, width: int = 10) -> str:
    """What tqdm writes to a file: a redraw per update, each starting with \\r."""
    out = []
    for i in range(total + 1):
        filled = width * i // total
        out.append(f"\r{100 * i // total:3d}%|{'#' * filled}{' ' * (width - filled)}| {i}/{total}")
    return "".join(out) + "\n"


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("plain\ntext\n", "plain\ntext\n"),
        ("10%\r50%\r100%\n", "100%\n"),
        ("abcdef\rxy\n", "xycdef\n"),  # a terminal keeps what is not overwritten
        ("a\r\nb\r\n", "a\nb\n"),
        ("abc\b\bX\n", "aXc\n"),
        ("\b\bx\n", "x\n"),  # never left of the line start
        ("abc\bd", "abd"),
        ("half\r", "half"),
        ("", ""),
        ("\n\n", "\n\n"),
        ("a\rb\rc", "c"),
    ],
)
def test_rendering(raw: str, shown: str) -> None:
    assert apply_control_chars(raw) == shown


def test_progress_bar_collapses_to_final_state() -> None:
    text = "epoch 1\n" + tqdm_like(50) + "done\n"
    assert apply_control_chars(text) == "epoch 1\n100%|##########| 50/50\ndone\n"


def test_ansi_codes_are_kept_and_take_no_column() -> None:
    raw = "\x1b[32m 50%\x1b[0m\r\x1b[32m100%\x1b[0m\n"
    assert apply_control_chars(raw) == "\x1b[32m100%\x1b[0m\n"
    # overwriting 2 of 3 columns keeps the third with its colour reset
    assert apply_control_chars("\x1b[31mERR\x1b[0m\rOK") == "OKR\x1b[0m"
    assert apply_control_chars("\x1b[1mbold\x1b[0m\n") == "\x1b[1mbold\x1b[0m\n"


def test_strip_ansi() -> None:
    text = "\x1b[31mred\x1b[0m \x1b]0;title\x07x \x1b[2K\x1b(B!"
    assert strip_ansi(text) == "red x !"
    assert strip_ansi("100%\r") == "100%\r"  # control characters are not its business


def test_other_control_characters_are_kept() -> None:
    assert apply_control_chars("a\tb\x07c\x00\n") == "a\tb\x07c\x00\n"


def test_cleaner_returns_finished_lines_only() -> None:
    cleaner = LogCleaner()
    assert cleaner.feed("step 1") == ""
    assert cleaner.feed("\rstep 2\nnext") == "step 2\n"
    assert cleaner.feed("\r") == ""
    assert cleaner.feed("\n") == "next\n"  # \r then \n across chunks is a plain newline
    assert cleaner.feed("tail\r") == ""
    assert cleaner.close() == "tail"
    assert cleaner.close() == ""  # reset


def test_long_unterminated_progress_keeps_only_its_state() -> None:
    cleaner = LogCleaner()
    for i in range(20000):
        assert cleaner.feed(f"\r{i:6d}/20000") == ""
    assert cleaner.close() == " 19999/20000"


ALPHABET = [
    "a", "b", "xyz", " ", "\r", "\n", "\b", "\r\n", "é", "\t",
    "\x1b[31m", "\x1b[0m", "\x1b[2K", "\x1b]0;title\x07", "\x1b]2;t\x1b\\", "\x1b(B",
    "\x1b", "[", "3", "m", "]", "\x07", "\\",
]  # fmt: skip


def _random_text(rng: random.Random) -> str:
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 40)))


def _feed_in_pieces(text: str, cuts: list[int]) -> str:
    cleaner = LogCleaner()
    out = []
    start = 0
    for cut in [*cuts, len(text)]:
        out.append(cleaner.feed(text[start:cut]))
        start = cut
    out.append(cleaner.close())
    return "".join(out)


def test_any_chunking_gives_the_same_result() -> None:
    rng = random.Random(20240601)
    for _ in range(1500):
        text = _random_text(rng)
        whole = apply_control_chars(text)
        cuts = sorted(rng.sample(range(len(text) + 1), k=min(len(text) + 1, rng.randint(0, 6))))
        assert _feed_in_pieces(text, cuts) == whole, repr(text)
        assert _feed_in_pieces(text, list(range(len(text)))) == whole, repr(text)


def test_escape_sequence_split_across_chunks() -> None:
    text = "ab\x1b[31mc\rX\n"
    whole = apply_control_chars(text)
    assert whole == "Xb\x1b[31mc\n"
    for cut in range(len(text) + 1):
        assert _feed_in_pieces(text, [cut]) == whole


def test_real_program_output_through_a_pipe() -> None:
    code = (
        "import sys\n"
        "for i in range(101):\n"
        "    sys.stdout.write(f'\\rtraining {i:3d}%')\n"
        "    sys.stdout.flush()\n"
        "sys.stdout.write('\\nloss 0.1\\n')\n"
    )
    raw = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True).stdout
    assert raw.count(b"\r") == 101
    assert apply_control_chars(raw.decode()) == "training 100%\nloss 0.1\n"


def test_large_plain_log_is_fast() -> None:
    import time

    text = "".join(f"line {i} some typical log output here\n" for i in range(200000))
    start = time.perf_counter()
    assert apply_control_chars(text) == text
    bar = tqdm_like(20000)
    assert apply_control_chars(bar).endswith("20000/20000\n")
    assert time.perf_counter() - start < 2.0
