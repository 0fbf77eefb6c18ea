"""Untracked files that look like secrets, left out of run snapshots.

A run's snapshot takes what ``git add -A`` would stage, and runs are pushed to shared
remotes: an untracked, un-ignored ``.env`` or ``id_rsa`` would travel with them. So the
snapshot leaves out untracked files that match :data:`SECRET_PATTERNS` (gitignore syntax,
matched at any depth), and the run lists them in ``run.json`` as skipped, reason
``secret``. Tracked files are never left out: they are in the project's history already.

The project decides with two settings:

- ``.gitxpignore`` at the top of the working tree, in gitignore syntax, read after the
  built-in patterns: a pattern leaves more files out (``*.ckpt``), ``!pattern`` records a
  file the built-in patterns would leave out (``!config/dev.key``);
- ``git config gitxp.skipSecrets false`` turns the built-in patterns off
  (``.gitxpignore`` still applies).

pathspec (a well-kept implementation of gitignore's matching rules) reads the patterns,
so ``.gitxpignore`` means exactly what the same lines would mean in ``.gitignore``.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

IGNORE_FILE = ".gitxpignore"
SECRET_PATTERNS = (
    ".env",
    ".env.*",
    "!.env.example",
    "!.env.sample",
    "!.env.template",
    "!.env.dist",
    "*.pem",
    "*.key",
    "*.p12",
    "*.pfx",
    "*.jks",
    "*.keystore",
    "*.ppk",
    "*.kdbx",
    "id_rsa*",
    "id_dsa*",
    "id_ecdsa*",
    "id_ed25519*",
    "credentials",
    "credentials.json",
    "client_secret*.json",
    "service-account*.json",
    "secrets.*",
    "*.secret",
    ".netrc",
    "_netrc",
    ".pgpass",
    ".pypirc",
    ".npmrc",
    ".git-credentials",
    ".htpasswd",
    "*.tfvars",
    "*.tfstate",
    ".dockercfg",
    "kubeconfig",
)


@dataclass
class SecretRules:
    """Which untracked paths to leave out; ``lines`` are gitignore patterns, in order."""

    lines: list[str] = field(default_factory=list)
    _spec: Any = None
    _quick: Any = None

    @classmethod
    def load(cls, workdir: Path, builtin: bool = True) -> SecretRules:
        """The built-in patterns (unless ``builtin`` is False), then ``.gitxpignore``'s."""
        lines = list(SECRET_PATTERNS) if builtin else []
        try:
            text = (workdir / IGNORE_FILE).read_text(encoding="utf-8", errors="replace")
        except OSError:
            text = ""
        lines += [line.rstrip("\n") for line in text.splitlines()]
        return cls(lines)

    def match(self, path: str) -> str | None:
        """The pattern that leaves ``path`` (``/``-separated) out, or None to record it."""
        if not self.lines:
            return None
        if self._quick is None:
            self._quick = _quick_check(self.lines)
        if self._quick is not False and not any(map(self._quick, path.split("/"))):
            return None  # no pattern matches any part of the path: pathspec need not load
        if self._spec is None:
            import pathspec

            self._spec = pathspec.GitIgnoreSpec.from_lines(self.lines)
        found = self._spec.check_file(path)
        if not found.include or found.index is None:
            return None
        return str(self._spec.patterns[found.index].pattern)


# A gitignore pattern without a slash, escape or bracket: it matches a path when it
# matches one of the path's names (a directory's name leaves out all below it).
_NAME_GLOB = re.compile(r"!?[A-Za-z0-9._*?-]+")


def _quick_check(lines: list[str]) -> Any:
    """A test of one path name that is false for every name no line's pattern matches, or
    False when some line is not a name glob (then only pathspec knows).

    Importing pathspec costs a run's start 10-30 ms; most runs' untracked files match no
    pattern, and this says so without it, and without compiling a regular expression for
    the usual globs (``NAME``, ``PREFIX*SUFFIX``). Negated lines only put files back, so
    they are left out of the test.
    """
    exact: set[str] = set()
    affixes: list[tuple[str, str]] = []
    others: list[str] = []
    for line in lines:
        if not line or line.startswith("#"):
            continue
        if not _NAME_GLOB.fullmatch(line):
            return False
        if line.startswith("!"):
            continue
        stars = line.count("*")
        if stars == 0 and "?" not in line:
            exact.add(line)
        elif stars == 1 and "?" not in line:
            prefix, _, suffix = line.partition("*")
            affixes.append((prefix, suffix))
        else:
            others.append(fnmatch.translate(line))
    pattern = re.compile("|".join(others)).match if others else None

    def test(name: str) -> bool:
        if name in exact:
            return True
        for prefix, suffix in affixes:
            if (
                len(name) >= len(prefix) + len(suffix)
                and name.startswith(prefix)
                and name.endswith(suffix)
            ):
                return True
        return pattern is not None and pattern(name) is not None

    return test


def secrets_warning(skipped: list[dict[str, object]]) -> str | None:
    """The one terminal line about files left out as secrets, or None if there are none."""
    paths = [str(s.get("path")) for s in skipped if s.get("reason") == "secret"]
    if not paths:
        return None
    shown = ", ".join(paths[:5]) + (f" and {len(paths) - 5} more" if len(paths) > 5 else "")
    return (
        f"gitxp: warning: left {len(paths)} untracked file{'s' if len(paths) > 1 else ''} "
        f"that look{'s' if len(paths) == 1 else ''} like secrets out of the run: {shown} "
        f"(record one with a '!path' line in {IGNORE_FILE}; see docs/guide.md)"
    )
