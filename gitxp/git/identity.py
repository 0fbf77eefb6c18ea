"""Who a commit is by: the user's git identity, overridden by git's environment variables.

git reads ``GIT_AUTHOR_NAME``/``_EMAIL``/``_DATE`` and ``GIT_COMMITTER_NAME``/``_EMAIL``/
``_DATE`` before its config; so does every run commit gitxp writes. Dates take git's
forms: ``@<seconds> [+hhmm]``, ``<seconds> +hhmm``, RFC 2822 and ISO 8601.
"""

from __future__ import annotations

import os
import re
from datetime import datetime

import pygit2

from gitxp.errors import UsageError

_RAW = re.compile(r"^@?(\d+)(?:\s+([+-])(\d\d)(\d\d))?$")


def signature_from_env(default: pygit2.Signature, role: str) -> pygit2.Signature:
    """``default`` with the name, email and date of ``GIT_<role>_*`` where they are set."""
    name = os.environ.get(f"GIT_{role}_NAME") or default.name
    email = os.environ.get(f"GIT_{role}_EMAIL") or default.email
    date = os.environ.get(f"GIT_{role}_DATE")
    if not date:
        if name == default.name and email == default.email:
            return default
        return pygit2.Signature(name, email)
    seconds, offset = parse_git_date(date, f"GIT_{role}_DATE")
    return pygit2.Signature(name, email, seconds, offset)


def parse_git_date(text: str, variable: str) -> tuple[int, int]:
    """``(seconds since the epoch, offset in minutes)`` of a date in one of git's forms."""
    raw = _RAW.match(text.strip())
    if raw:
        sign = -1 if raw.group(2) == "-" else 1
        offset = sign * (int(raw.group(3) or 0) * 60 + int(raw.group(4) or 0))
        return int(raw.group(1)), offset
    from email.utils import parsedate_to_datetime  # the RFC 2822 form only: 2 ms to import

    moment: datetime | None
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        try:
            moment = datetime.fromisoformat(text.strip())
        except ValueError:
            moment = None
    if moment is None:
        raise UsageError(
            f"{variable}={text!r} is not a date; use '@<seconds> +0000', RFC 2822 or ISO 8601"
        )
    if moment.tzinfo is None:
        moment = moment.astimezone()
    delta = moment.utcoffset()
    offset = int(delta.total_seconds() // 60) if delta is not None else 0
    return int(moment.timestamp()), offset


__all__ = ["parse_git_date", "signature_from_env"]
