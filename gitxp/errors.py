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

    def prefixed(self, prefix: str) -> GitxpError:
        """The same kind of error with ``prefix: `` before the message."""
        return type(self)(f"{prefix}: {self.message}")


class RepoError(GitxpError):
    """The repository is missing or in a state gitxp cannot work with."""


class RefConflictError(RepoError):
    """A compare-and-swap ref update found another value than the one expected."""


class BlobTooLargeError(RepoError):
    """A file in git is larger than the reader allows (``size`` bytes)."""

    def __init__(self, path: str, size: int) -> None:
        super().__init__(f"{path} is too large ({size:,} bytes)")
        self.path = path
        self.size = size


class UnsafeNameError(RepoError):
    """A tree holds an entry whose name must not be written to disk (see git/fsck.py)."""

    def __init__(self, path: str, why: str) -> None:
        super().__init__(f"{path[:80]!r} is unsafe to write: it has {why}")
        self.path = path
        self.why = why


class RunNotFoundError(GitxpError):
    """A run id, prefix or ref names no run (or more than one)."""


class SacredError(GitxpError):
    """Sacred's base class of its own errors; gitxp's config errors derive from it."""


class ConfigError(SacredError):
    """A config value, key, file or ``with`` token is invalid (Sacred's ``ConfigError``)."""


class UsageError(GitxpError):
    """The command line or an API call was used the wrong way."""


class RemoteError(GitxpError):
    """A git remote could not be reached or refused an operation."""


class GitxpWarning(UserWarning):
    """Something the user should know that does not stop the command (``gitxp: warning:``)."""


# Sacred's exception names, for code that catches them (``from gitxp.utils import …``
# mirrors ``from sacred.utils import …``). They keep gitxp's one-line messages, start with
# Sacred's wording, and derive from the built-in types Sacred raises in the same places.


class ConfigKeyError(ConfigError, KeyError):
    """A config key is invalid or missing where Sacred raises ``KeyError``."""

    def __str__(self) -> str:  # KeyError would quote the message
        return self.message


class ConfigValueError(ConfigError, ValueError):
    """A config value or file is refused where Sacred raises ``ValueError``."""


class ConfigTypeError(ConfigError, TypeError):
    """A config source has the wrong type where Sacred raises ``TypeError``."""


class ConfigFileNotFoundError(ConfigError, OSError):
    """A config file does not exist (Sacred: ``OSError``)."""

    def __str__(self) -> str:
        return self.message


class ConfigNameError(ConfigError, NameError):
    """A config scope reads a name it did not declare (Sacred: ``NameError``)."""


class UsageKeyError(UsageError, KeyError):
    """A command, ingredient or hook is unknown or ill-formed (Sacred: ``KeyError``)."""

    def __str__(self) -> str:
        return self.message


class UsageValueError(UsageError, ValueError):
    """An API argument has a bad value (Sacred: ``ValueError``)."""


class ReadOnlyConfigError(ConfigError, TypeError):
    """The config was changed inside a captured function (Sacred: ``SacredError``)."""


class ConfigAddedError(ConfigError):
    """An update adds a key that no captured function uses."""


class MissingConfigError(ConfigError, TypeError):
    """A captured function was called without a value for a parameter."""


class NamedConfigNotFoundError(ConfigKeyError):
    """A ``with`` token names no named config and no config file."""


class SacredInterrupt(Exception):
    """Raise it (or a subclass with its own ``STATUS``) to stop a run with that status."""

    STATUS = "INTERRUPTED"


class TimeoutInterrupt(SacredInterrupt):
    """Stops a run with status TIMEOUT."""

    STATUS = "TIMEOUT"


class DiskFullError(GitxpError):
    """The file system holding the repository has no space left (or the quota is used)."""

    exit_code = 4


DISK_FULL_MESSAGE = "the disk is full; free some space and run the command again"


class ExecutorError(GitxpError):
    """An executor (local pool, Slurm, Dask …) is missing, misconfigured or unreachable."""


class UntrustedObjectsError(RemoteError):
    """What a remote sent fails the checks of ``git fsck``; nothing of it was kept.

    ``refused`` maps each commit id asked for that reaches a bad object to the reason.
    """

    def __init__(self, refused: dict[str, str]) -> None:
        self.refused = dict(refused)
        tip, why = next(iter(self.refused.items()))
        more = f" (and {len(refused) - 1} more)" if len(refused) > 1 else ""
        super().__init__(f"refused {tip[:12]}{more} from the remote: {why}; nothing was kept")


class DamagedRunError(GitxpError):
    """A run's record cannot be read: its files are malformed, too large or not a run."""


class UnsafePathError(GitxpError):
    """A run's tree holds a name that must never be written to disk (``..``, ``.git`` …)."""
