"""Naming a remote and finding its credentials (no dulwich here: cheap to import).

A remote is a configured git remote name (default ``git config gitxp.remote``, else
``origin``) or a URL or path. Credentials for http(s) come from the URL, from
``GITXP_USERNAME``/``GITXP_PASSWORD``, or from git's credential helpers; every message
shows URLs through :func:`mask_url`, which scrubs the password.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit, urlunsplit

from gitxp.errors import RemoteError, UsageError
from gitxp.git.repo import GitRepo

USERNAME_ENV = "GITXP_USERNAME"
PASSWORD_ENV = "GITXP_PASSWORD"


# -- naming a remote ------------------------------------------------------------------


@dataclass(frozen=True)
class Remote:
    """A remote to talk to: a configured name (or None) and its URL (may hold secrets)."""

    name: str | None
    url: str

    @property
    def label(self) -> str:
        """How messages name this remote: its name, or its URL without the password."""
        return self.name or mask_url(self.url)


def mask_url(url: str) -> str:
    """``url`` with the password of its user part replaced by ``***``."""
    parts = urlsplit(url) if "://" in url else None
    if parts is None or parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))


def _is_url(text: str) -> bool:
    """``scheme://…`` or scp-like ``[user@]host:path`` (a colon before the first slash)."""
    if "://" in text:
        return True
    head, colon, _ = text.partition(":")
    return bool(colon) and "/" not in head and len(head) > 1


def _path_like(text: str) -> bool:
    """Whether ``text`` reads as a filesystem path (run ids and ``refs/…`` do not)."""
    return text.startswith((".", "~", os.sep)) or (os.sep in text and not text.startswith("refs/"))


def local_path(url: str) -> str | None:
    """The filesystem path of a local remote, or None for a network URL."""
    if url.startswith("file://"):
        return unquote(urlsplit(url).path)
    return None if _is_url(url) else url


def resolve_remote(repo: GitRepo, spec: str | None, push: bool = False) -> Remote:
    """The remote named by ``spec``: a configured remote name or a URL/path.

    None means ``git config gitxp.remote``, else ``origin``. A configured remote's
    ``pushurl`` is used for pushes, as git does; relative paths in the configuration
    are relative to the top of the working tree.
    """
    name = spec or repo.config_value("gitxp.remote") or "origin"
    url = (push and repo.config_value(f"remote.{name}.pushurl")) or repo.config_value(
        f"remote.{name}.url"
    )
    if url:
        local = local_path(url)
        if local is not None and not os.path.isabs(os.path.expanduser(local)):
            url = str(repo.workdir / local)
        return Remote(name, url)
    if spec is not None and (
        _is_url(spec) or _path_like(spec) or os.path.isdir(os.path.expanduser(spec))
    ):
        local = local_path(spec)
        return Remote(None, os.path.abspath(os.path.expanduser(local)) if local else spec)
    if spec is None:
        raise RemoteError(
            f"no remote named {name!r}: add one with 'git remote add {name} URL', "
            "name one, or set 'git config gitxp.remote NAME'"
        )
    raise RemoteError(
        f"{spec!r} is neither a remote of this repository nor a URL or a repository path; "
        "'git remote -v' lists the remotes"
    )


def looks_like_remote(repo: GitRepo, text: str) -> bool:
    """Whether ``text`` names a remote (configured name, URL or existing directory)."""
    if repo.config_value(f"remote.{text}.url"):
        return True
    return _is_url(text) or _path_like(text) or os.path.isdir(os.path.expanduser(text))


def split_remote_and_runs(
    repo: GitRepo, args: Sequence[str], remote_runs: bool = False
) -> tuple[str | None, list[str]]:
    """``[REMOTE] [RUN]…``: the first word is a remote if it names one, else a run.

    A first word that is neither (a remote name with a typo) is refused, naming the
    remotes, rather than taken for a run id. With ``remote_runs`` (fetch, push --delete)
    the runs may exist only on the remote: then any word written in the run-id alphabet
    (or a commit id) counts as a run; otherwise it must name a run here.
    """
    if not args:
        return None, []
    first = args[0]
    if looks_like_remote(repo, first):
        return first, list(args[1:])
    if not _names_a_run(repo, first, remote_runs):
        names = repo.remote_names()
        known = f"the remotes are {', '.join(names)}" if names else "there is no remote yet"
        raise UsageError(
            f"{first!r} is neither a remote nor a run: {known} ('git remote add NAME URL' "
            "adds one); runs are id prefixes from 'gitxp ls'"
        )
    return None, list(args)


_RUN_WORD = re.compile(r"[0-9A-HJKMNP-TV-Z]{1,40}", re.IGNORECASE)  # ids and commit ids


def _names_a_run(repo: GitRepo, text: str, remote_runs: bool) -> bool:
    from gitxp.errors import RunNotFoundError
    from gitxp.store.runs import resolve

    if text.startswith(("refs/", "latest")):
        return True
    if not _RUN_WORD.fullmatch(text):
        return False
    if remote_runs:
        return True
    try:
        resolve(repo, text)
    except RunNotFoundError as err:
        return "ambiguous" in str(err)
    return True


# -- credentials ----------------------------------------------------------------------


@dataclass
class Credentials:
    username: str | None = None
    password: str | None = None
    source: str = "none"  # "url", "env", "helper" or "none"


def git_credential(repo: GitRepo, action: str, url: str, creds: Credentials) -> Credentials:
    """Run ``git credential fill|approve|reject`` for ``url``; fill returns what it found."""
    lines = [f"url={url}"]
    if creds.username:
        lines.append(f"username={creds.username}")
    if creds.password and action != "fill":
        lines.append(f"password={creds.password}")
    env = dict(os.environ)
    if not sys.stdin.isatty():
        env["GIT_TERMINAL_PROMPT"] = "0"  # never hang waiting for a prompt nobody sees
    try:
        proc = subprocess.run(
            ["git", "credential", action],
            input="\n".join(lines) + "\n\n",
            capture_output=True,
            text=True,
            cwd=repo.workdir,
            env=env,
            timeout=120,
        )
    except (OSError, subprocess.TimeoutExpired):
        return Credentials()
    if action != "fill" or proc.returncode != 0:
        return Credentials()
    found = dict(line.partition("=")[::2] for line in proc.stdout.splitlines() if "=" in line)
    if not found.get("password"):
        return Credentials()
    return Credentials(found.get("username"), found["password"], "helper")
