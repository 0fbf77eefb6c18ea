"""The one user-facing exception family of gitxp.

Every failure a user can cause or fix (bad input, a repository in the wrong state, an
unknown run id, a remote that refuses) is raised as a :class:`GitxpError` subclass whose
message is one line that says what went wrong and what to do. The command line prints
that line and exits with :attr:`GitxpError.exit_code`; anything else is a bug.
"""

from __future__ import annotations


class GitxpError(Exception):
    """Base class: ``str(err)`` is the one-line message shown to the user."""

    exit_code = 2

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class RepoError(GitxpError):
    """The repository is missing or in a state gitxp cannot work with."""


class RefConflictError(RepoError):
    """A compare-and-swap ref update found another value than the one expected."""


class RunNotFoundError(GitxpError):
    """A run id, prefix or ref names no run (or more than one)."""


class ConfigError(GitxpError):
    """A config value, key, file or ``with`` token is invalid."""


class UsageError(GitxpError):
    """The command line or an API call was used the wrong way."""


class RemoteError(GitxpError):
    """A git remote could not be reached or refused an operation."""


class GitxpWarning(UserWarning):
    """Something the user should know that does not stop the command (``gitxp: warning:``)."""
