"""The commands every experiment has: print_config, print_dependencies, save_config,
print_named_configs, and the text of ``help COMMAND``.

They are unobserved: running them records nothing (under ``gitxp run`` the supervisor
still records the process, as it does for any command).
"""

from __future__ import annotations

import inspect
import json
import logging
import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gitxp.configuration.dicts import copy_tree, recordable
from gitxp.configuration.printing import format_config
from gitxp.errors import ConfigError

if TYPE_CHECKING:
    from gitxp.experiment.ingredient import Ingredient
    from gitxp.experiment.runobj import Run

__all__ = [
    "format_named_configs",
    "help_for_command",
    "print_config",
    "print_dependencies",
    "print_named_configs",
    "save_config",
]


def _color() -> bool:
    """Sacred colours print_config everywhere; ``NO_COLOR`` asks for markers instead."""
    return not os.environ.get("NO_COLOR")


def print_config(_run: Run) -> None:
    """Print the updated configuration and exit.

    Modified entries are blue, added green, type changed red (with NO_COLOR set: marked
    *, + and ~ in the first column).
    """
    print(format_config(_run.config_modifications, color=_color()))


def print_dependencies(_run: Run) -> None:
    """Print the detected source files and package dependencies and exit."""
    info = _run.experiment_info
    print("Dependencies:")
    for dep in info.get("dependencies", []):
        name, _, version = dep.partition("==")
        print(f"  {name:<20} == {version}")
    print("\nSources:")
    for source in info.get("sources", []):
        print(f"  {source['path']:<43}  {source['md5']}")
    line = _version_control(info.get("base_dir") or ".")
    if line:
        print("\nVersion Control:")
        print(line)
    print("")


def _version_control(base_dir: str) -> str | None:
    """``M <workdir>  <commit> (<branch>)`` for the repository around ``base_dir``."""
    from gitxp.errors import GitxpError
    from gitxp.git.repo import GitRepo
    from gitxp.git.snapshot import take_snapshot

    try:
        repo = GitRepo(base_dir)
        snap = take_snapshot(repo)
    except GitxpError:
        return None
    mark = "M" if snap.dirty else " "
    where = f" ({snap.branch})" if snap.branch else ""
    return f"{mark} {repo.workdir!s:<43}  {snap.base or '(no commits yet)'}{where}"


def save_config(_config: Any, _log: logging.Logger, config_filename: str = "config.json") -> None:
    """Write the final config to a file (config_filename: .json, .yaml or .yml) and exit.

    Set the file name with 'with config_filename=NAME'.
    """
    import yaml

    config = recordable(copy_tree(dict(_config)))
    config.pop("config_filename", None)
    path = Path(config_filename)
    ext = path.suffix.lower()
    if ext == ".json":
        text = json.dumps(config, indent=2) + "\n"
    elif ext in (".yaml", ".yml"):
        text = yaml.safe_dump(config, sort_keys=False)
    else:
        raise ConfigError(
            f"save_config: cannot write '{config_filename}': use a .json, .yaml or .yml name"
        )
    _log.info('Saving config to "%s"', config_filename)
    path.write_text(text)


def format_named_configs(named: Iterable[tuple[str, Any]]) -> str:
    """The text of print_named_configs: one name per line with its doc."""
    lines = ["Named Configurations (# doc):"]
    for name, scope in named:
        # A scope's own doc (its function's docstring); never the docstring of its class.
        own = scope.doc if hasattr(scope, "doc") else getattr(scope, "__doc__", None)
        doc = own.strip() if isinstance(own, str) else ""
        if doc and not any(doc == (k.__doc__ or "").strip() for k in type(scope).__mro__):
            first, *rest = doc.splitlines()
            lines.append(f"  {name:<20}  # {first}" if not rest else f"  {name}")
            if rest:
                lines += ['    """', *(f"    {line}" for line in doc.splitlines()), '    """']
        else:
            lines.append(f"  {name}")
    if len(lines) == 1:
        lines.append("  No named configs")
    return "\n".join(lines)


def print_named_configs(ingredient: Ingredient) -> Any:
    """The print_named_configs command of ``ingredient`` (it lists the sub-ingredients' too)."""

    def print_named_configs() -> None:
        """Print the available named configs and exit."""
        print(format_named_configs(ingredient.gather_named_configs()))

    return print_named_configs


def help_for_command(command: Any, name: str) -> str:
    """Signature and docstring of a command, for ``help COMMAND``."""
    func = getattr(command, "func", command)
    try:
        signature = str(inspect.signature(func))
    except (TypeError, ValueError):
        signature = "(...)"
    doc = inspect.getdoc(func) or "(no documentation)"
    return f"{name}{signature}\n\n{doc}"
