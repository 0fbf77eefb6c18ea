"""Ingredients: reusable parts of an experiment with their own config, functions and commands.

An :class:`Ingredient` owns the config subtree at its dotted ``path`` (``dataset``, or a
nested ``dataset.paths``). It has config scopes, named configs (selected on the command line
as ``dataset.variant``), config hooks, captured functions, commands (``dataset.stats``) and
pre-/post-run hooks. :class:`gitxp.experiment.experiment.Experiment` is the root ingredient.
"""

from __future__ import annotations

import inspect
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from gitxp.configuration.dicts import join_path
from gitxp.configuration.scope import ConfigDict, ConfigScope, load_config_file
from gitxp.errors import (
    ConfigFileNotFoundError,
    ConfigTypeError,
    ConfigValueError,
    UsageError,
    UsageKeyError,
    UsageValueError,
)
from gitxp.experiment.captured import CapturedFunction
from gitxp.experiment.expinfo import check_version

__all__ = ["Ingredient"]

Scope = ConfigScope | ConfigDict


def caller_globals(skip_package: str = "gitxp") -> dict[str, Any]:
    """The globals of the first frame outside the gitxp package (the user's module)."""
    frame = sys._getframe(1)
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if module != skip_package and not module.startswith(skip_package + "."):
            return frame.f_globals
        frame = frame.f_back  # type: ignore[assignment]
    return {}


class Ingredient:
    """A unit with its own config at ``path`` (Sacred's ``Ingredient``)."""

    def __init__(
        self,
        path: str,
        ingredients: Sequence[Ingredient] = (),
        interactive: bool = False,
        base_dir: str | os.PathLike[str] | None = None,
        save_git_info: bool = True,
        _caller_globals: Mapping[str, Any] | None = None,
    ) -> None:
        if not isinstance(path, str) or not path or path.startswith(".") or ".." in path:
            raise UsageError(f"ingredient path {path!r} must be a name like 'dataset' or 'a.b'")
        caller = _caller_globals if _caller_globals is not None else caller_globals()
        self.path = path
        self.ingredients: list[Ingredient] = list(ingredients)
        self.configurations: list[Scope] = []
        self.named_configs: dict[str, Scope] = {}
        self.config_hooks: list[Callable[..., Any]] = []
        self.captured_functions: list[CapturedFunction] = []
        self.commands: dict[str, CapturedFunction] = {}
        self.pre_run_hooks: list[CapturedFunction] = []
        self.post_run_hooks: list[CapturedFunction] = []
        self.sources: dict[str, None] = {}
        self.dependencies: dict[str, str] = {}
        self.save_git_info = save_git_info
        self.doc: str | None = caller.get("__doc__")
        file = caller.get("__file__")
        self.mainfile: str | None = os.path.abspath(file) if isinstance(file, str) else None
        self.interactive = interactive or self.mainfile is None
        if self.mainfile is not None:
            self.sources[self.mainfile] = None
        if base_dir is not None:
            self.base_dir = os.path.abspath(base_dir)
        elif self.mainfile is not None:
            self.base_dir = os.path.dirname(self.mainfile)
        else:
            self.base_dir = os.getcwd()

    @property
    def config_path(self) -> str:
        """Where this unit's config lives in the run's config (``""`` for an experiment)."""
        return self.path

    # -- config ------------------------------------------------------------------------

    def config(self, function: Callable[..., Any]) -> ConfigScope:
        """Decorator: the function's local variables become config entries."""
        scope = ConfigScope(function)
        self.configurations.append(scope)
        return scope

    def named_config(self, func: Callable[..., Any]) -> ConfigScope:
        """Decorator: a config scope applied only when selected (``with NAME``)."""
        scope = ConfigScope(func)
        self._add_named(func.__name__, scope)
        return scope

    def config_hook(self, func: Callable[..., Any]) -> Callable[..., Any]:
        """Decorator: ``hook(config, command_name, logger) -> dict`` of config updates."""
        params = list(inspect.signature(func).parameters)
        if params != ["config", "command_name", "logger"]:
            raise UsageValueError(
                "Wrong signature for config_hook. Expected: (config, command_name, logger); "
                f"config hook {func.__qualname__}{inspect.signature(func)} must take exactly "
                "(config, command_name, logger)"
            )
        self.config_hooks.append(func)
        return func

    def add_config(
        self, cfg_or_file: Mapping[str, Any] | str | os.PathLike[str] | None = None, **kw: Any
    ) -> None:
        """Add config entries from a dict, keyword arguments, or a .json/.yaml/.yml file."""
        self.configurations.append(self._config_dict(cfg_or_file, kw, "add_config"))

    def add_named_config(
        self,
        name: str,
        cfg_or_file: Mapping[str, Any] | str | os.PathLike[str] | None = None,
        **kw: Any,
    ) -> None:
        """Add a named config from a dict, keyword arguments or a config file."""
        self._add_named(name, self._config_dict(cfg_or_file, kw, f"named config '{name}'"))

    def _add_named(self, name: str, scope: Scope) -> None:
        if not name.isidentifier():
            raise UsageError(f"named config name {name!r} must be an identifier")
        if name in self.named_configs:
            raise UsageKeyError(
                f'Configuration name "{name}" already in use! {self.path}: a named config '
                f"'{name}' is already defined"
            )
        self.named_configs[name] = scope

    def _config_dict(self, cfg_or_file: Any, kw: Mapping[str, Any], label: str) -> ConfigDict:
        if cfg_or_file is not None and kw:
            raise ConfigValueError(
                f"cannot combine keyword config with positional argument: {label}: pass a "
                "dict/file or keyword arguments, not both"
            )
        if cfg_or_file is None:
            if not kw:
                raise ConfigValueError(
                    f"attempted to add empty config: {label}: nothing to add; pass a dict, "
                    "a file or key=value"
                )
            return ConfigDict(kw, label=label)
        if isinstance(cfg_or_file, (str, os.PathLike)):
            file = Path(cfg_or_file)
            if not file.is_absolute() and not file.exists():
                file = Path(self.base_dir) / file
            if not file.exists():
                raise ConfigFileNotFoundError(
                    f"{label}: config file {cfg_or_file} not found; check the path"
                )
            return ConfigDict(load_config_file(file), label=f"config file '{cfg_or_file}'")
        if isinstance(cfg_or_file, Mapping):
            return ConfigDict(cfg_or_file, label=label)
        raise ConfigTypeError(
            f"Invalid argument type {type(cfg_or_file)}: {label}: expected a dict or a "
            "config file path, got {type(cfg_or_file).__name__}"
        )

    # -- captured functions, commands and hooks -------------------------------------------

    def _capture(self, function: Callable[..., Any], prefix: str | None) -> CapturedFunction:
        if isinstance(function, CapturedFunction) and function in self.captured_functions:
            return function
        captured = CapturedFunction(function, prefix=prefix, owner_path=self.config_path)
        self.captured_functions.append(captured)
        return captured

    def capture(self, function: Callable[..., Any] | None = None, prefix: str | None = None) -> Any:
        """Decorator: missing arguments of the function are filled from the config."""
        if function is None:
            return lambda f: self._capture(f, prefix)
        return self._capture(function, prefix)

    def pre_run_hook(
        self, func: Callable[..., Any] | None = None, prefix: str | None = None
    ) -> Any:
        """Decorator: a captured function run just before the main function."""
        if func is None:
            return lambda f: self.pre_run_hook(f, prefix)
        captured = self._capture(func, prefix)
        self.pre_run_hooks.append(captured)
        return captured

    def post_run_hook(
        self, func: Callable[..., Any] | None = None, prefix: str | None = None
    ) -> Any:
        """Decorator: a captured function run right after the main function returned."""
        if func is None:
            return lambda f: self.post_run_hook(f, prefix)
        captured = self._capture(func, prefix)
        self.post_run_hooks.append(captured)
        return captured

    def command(
        self,
        function: Callable[..., Any] | None = None,
        prefix: str | None = None,
        unobserved: bool = False,
    ) -> Any:
        """Decorator: a command run as ``python script.py NAME`` (``ing.NAME`` for ingredients)."""
        if function is None:
            return lambda f: self.command(f, prefix=prefix, unobserved=unobserved)
        captured = self._capture(function, prefix)
        captured.unobserved = unobserved
        self.commands[captured.name] = captured
        return captured

    # -- code facts ---------------------------------------------------------------------

    def add_source_file(self, filename: str | os.PathLike[str]) -> None:
        """List ``filename`` among the run's sources (stored in the run if outside the repo)."""
        path = Path(filename)
        if not path.is_absolute() and not path.exists():
            path = Path(self.base_dir) / path
        if not path.is_file():
            raise UsageError(f"add_source_file: {filename} is not a file")
        self.sources[str(path.resolve())] = None

    def add_package_dependency(self, package_name: str, version: str) -> None:
        """Record that the experiment depends on ``package_name`` at ``version`` (PEP 440)."""
        check_version(package_name, version)
        self.dependencies[package_name] = version

    # -- gathering over the ingredient tree ----------------------------------------------

    def post_process_name(self, name: str, ingredient: Ingredient) -> str:
        """The dotted name of ``name`` of ``ingredient``: prefixed by its path (an experiment
        leaves its own names bare)."""
        return join_path(ingredient.path, name)

    def traverse_ingredients(self) -> Iterator[tuple[Ingredient, int]]:
        """Yield ``(ingredient, depth)`` in preorder, this unit first; cycles are an error."""
        yield from self._traverse(0, ())

    def _traverse(
        self, depth: int, stack: tuple[Ingredient, ...]
    ) -> Iterator[tuple[Ingredient, int]]:
        if self in stack:
            chain = " -> ".join(i.path for i in (*stack, self))
            raise UsageError(f"circular ingredient dependency: {chain}")
        yield self, depth
        for ingredient in self.ingredients:
            yield from ingredient._traverse(depth + 1, (*stack, self))

    def gather_commands(self) -> Iterator[tuple[str, CapturedFunction]]:
        """``(dotted name, command)`` of this unit and every sub-ingredient."""
        seen: set[int] = set()
        for ingredient, _ in self.traverse_ingredients():
            if id(ingredient) in seen:
                continue
            seen.add(id(ingredient))
            for name, cmd in ingredient.commands.items():
                yield self.post_process_name(name, ingredient), cmd

    def gather_named_configs(self) -> Iterator[tuple[str, Scope]]:
        """``(dotted name, named config)`` of this unit and every sub-ingredient."""
        seen: set[int] = set()
        for ingredient, _ in self.traverse_ingredients():
            if id(ingredient) in seen:
                continue
            seen.add(id(ingredient))
            for name, scope in ingredient.named_configs.items():
                yield self.post_process_name(name, ingredient), scope

    def sorted_ingredients(self) -> list[Ingredient]:
        """All units, deepest first and this unit last (the order configs resolve in)."""
        depth: dict[int, int] = {}
        units: dict[int, Ingredient] = {}
        for ingredient, level in self.traverse_ingredients():
            units[id(ingredient)] = ingredient
            depth[id(ingredient)] = max(depth.get(id(ingredient), 0), level)
        order = sorted(units, key=lambda key: -depth[key])
        return [units[key] for key in order]

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.path!r}>"
