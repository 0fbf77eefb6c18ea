"""For teams that keep Sacred: record Sacred's runs in git, and bring old runs along.

* :class:`gitxp.sacred.observer.GitObserver` (``ex.observers.append(GitObserver())``, or
  the ``-g/--gitxp`` flag with ``additional_cli_options=[git_option]``) records each run of
  a Sacred ``Experiment`` as a gitxp run;
* :mod:`gitxp.sacred.importer` converts a FileStorageObserver folder into gitxp runs.

This package imports Sacred only where Sacred's own objects are needed.
"""

from __future__ import annotations

from typing import Any

__all__ = ["GitObserver", "git_option"]


def __getattr__(name: str) -> Any:
    if name == "GitObserver":
        from gitxp.sacred.observer import GitObserver

        return GitObserver
    if name == "git_option":
        from gitxp.sacred.flag import git_option

        return git_option
    raise AttributeError(f"module 'gitxp.sacred' has no attribute {name!r}")
