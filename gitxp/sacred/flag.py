"""``-g/--gitxp`` for a Sacred command line: ``Experiment(additional_cli_options=[git_option])``.

Made with Sacred's own ``cli_option``, the way Sacred's ``-F``/``-m`` add their observers;
importing this module needs Sacred.
"""

from __future__ import annotations

from typing import Any

from sacred import cli_option

from gitxp.sacred.observer import GitObserver

__all__ = ["git_option"]


@cli_option("-g", "--gitxp", is_flag=True)
def git_option(args: Any, run: Any) -> None:
    """Record this run in git (gitxp's GitObserver)."""
    run.observers.append(GitObserver())
