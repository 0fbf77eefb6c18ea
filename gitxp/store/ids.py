"""Run ids: unique without coordination, sortable by start time, short to type by prefix.

A run id is a ULID: 48 bits of milliseconds since the Unix epoch followed by 80 random
bits, written as 26 characters of Crockford's base32 (``01JD8XQ4…``). Two machines that
never talked would need to draw the same 80 random bits in the same millisecond to
collide. Because the time comes first, ids sort by start time, and the first few
characters already tell runs of different moments apart.
"""

from __future__ import annotations

import hashlib
import secrets
import time

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
ID_LENGTH = 26
_DECODE = {c: i for i, c in enumerate(ALPHABET)}
# Crockford's base32 reads the letters people confuse with digits as those digits.
_CONFUSABLE = str.maketrans({"I": "1", "L": "1", "O": "0"})


def new_run_id(now: float | None = None, key: bytes | None = None) -> str:
    """A fresh run id for a run starting at ``now`` (seconds since the epoch).

    With ``key`` the 80 random bits come from its SHA-256 instead: the same key and time
    give the same id (an imported run keeps its id when imported again).
    """
    millis = int((time.time() if now is None else now) * 1000)
    if key is None:
        bits = secrets.randbits(80)
    else:
        bits = int.from_bytes(hashlib.sha256(key).digest()[:10], "big")
    value = (millis << 80) | bits
    chars = []
    for _ in range(ID_LENGTH):
        chars.append(ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def normalize_prefix(text: str) -> str | None:
    """Upper-case ``text`` and map confusable letters; None if it cannot start a run id."""
    prefix = text.strip().upper().translate(_CONFUSABLE)
    if not prefix or len(prefix) > ID_LENGTH or any(c not in _DECODE for c in prefix):
        return None
    return prefix


def is_run_id(text: str) -> bool:
    """True when ``text`` is a complete, well-formed run id."""
    return len(text) == ID_LENGTH and normalize_prefix(text) == text


def id_time(run_id: str) -> float:
    """The start time (seconds since the epoch) encoded in ``run_id``; 0.0 (the oldest) for a
    name that is not a run id (a damaged ref)."""
    value = 0
    for c in run_id[:10]:
        digit = _DECODE.get(c)
        if digit is None:
            return 0.0
        value = value * 32 + digit
    return value / 1000.0
