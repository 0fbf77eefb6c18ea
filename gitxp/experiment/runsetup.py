"""Setting up a run: the config of the experiment and its ingredients, seeds, bindings.

This is Sacred's ``initialize.create_run`` in gitxp terms:

1. The root seed is fixed first (from ``with seed=N`` or a fresh random one) and the
   global generators are seeded with it *before* any named config or config scope runs.
2. Each unit (ingredients deepest first, the experiment last) is resolved with
   :func:`gitxp.configuration.resolve.resolve_config`: its share of the ``with`` updates and
   named-config tokens, its scopes, then its config hooks. Hooks get the whole config so
   far (Sacred's ``config_hook(config, command_name, logger)``).
3. If a named config, scope or hook sets ``seed`` itself, everything is resolved once more
   with the generators seeded from that value, so the same seed gives the same config.
4. Unknown keys are refused unless a captured function uses them (``-f`` skips this).
5. :func:`bind_functions` hands every captured function its read-only config subtree,
   logger and seed stream for the run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gitxp.configuration.dicts import (
    copy_tree,
    get_by_dotted_path,
    make_read_only,
    recursive_update,
)
from gitxp.configuration.ingredients import (
    ConfigUnit,
    combine_resolved,
    distribute_updates,
    run_named_configs,
)
from gitxp.configuration.resolve import (
    ResolvedConfig,
    check_unknown_keys,
    new_seed,
    resolve_config,
)
from gitxp.configuration.scope import ConfigDict
from gitxp.errors import ConfigError, UsageKeyError, UsageValueError
from gitxp.experiment.captured import Binding, CapturedFunction
from gitxp.experiment.randomness import SeedStream, derive_seed, set_global_seed
from gitxp.experiment.settings import SETTINGS

if TYPE_CHECKING:
    from gitxp.experiment.ingredient import Ingredient

__all__ = ["Setup", "bind_functions", "find_command", "prepare_config"]


@dataclass
class Setup:
    """The resolved config of a run and what was learned while resolving it."""

    resolved: ResolvedConfig
    seed: int
    units: list[Ingredient]
    warnings: list[str] = field(default_factory=list)

    @property
    def config(self) -> dict[str, Any]:
        """The final config (plain dicts)."""
        return self.resolved.config


def find_command(root: Ingredient, name: str) -> CapturedFunction:
    """The command ``name`` (``stats`` or ``dataset.stats``) or a UsageError naming the choices."""
    commands = dict(root.gather_commands())
    if name in commands:
        return commands[name]
    from gitxp.configuration.dicts import nearest_key

    guess = nearest_key(name, commands)
    hint = f" (did you mean '{guess}'?)" if guess else ""
    raise UsageKeyError(
        f"Command \"{name}\" not found: unknown command '{name}'{hint}; "
        f"available commands: {', '.join(sorted(commands))}"
    )


def _seed_from(updates: Mapping[str, Any]) -> int | None:
    seed = updates.get("seed")
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"config key 'seed': {seed!r} is not a valid seed; use e.g. seed=42")
    return seed


def _fallback(path: str, done: Mapping[str, ResolvedConfig]) -> dict[str, Any]:
    """Configs of the units resolved so far (readable in scopes), relative when nested."""
    view: dict[str, Any] = {}
    for other, part in sorted(done.items(), key=lambda item: item[0].count(".")):
        rel = other[len(path) + 1 :] if path and other.startswith(path + ".") else other
        existing = get_by_dotted_path(view, rel)
        merged = recursive_update(existing if isinstance(existing, dict) else {}, part.config)
        _set(view, rel, merged)
    return view


def _set(d: dict[str, Any], path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    for part in parents:
        nxt = d.get(part)
        if not isinstance(nxt, dict):
            nxt = d[part] = {}
        d = nxt
    d[leaf] = value


def _hook(
    hook: Callable[..., Any],
    path: str,
    done: Mapping[str, ResolvedConfig],
    command_name: str,
    logger: logging.Logger,
) -> Callable[[dict[str, Any]], Any]:
    def call(own: dict[str, Any]) -> Any:
        parts = dict(done)
        parts[path] = ResolvedConfig(own)
        return hook(combine_resolved(parts).config, command_name, logger)

    call.__qualname__ = getattr(hook, "__qualname__", repr(hook))
    return call


def _resolve_once(
    units: Sequence[Ingredient],
    updates: Mapping[str, Any],
    named: Sequence[str],
    seed: int,
    command_name: str,
    logger: logging.Logger,
) -> ResolvedConfig:
    paths = [unit.config_path for unit in units]
    if len(set(paths)) != len(paths):
        raise UsageValueError(
            "The paths of the ingredients are not unique: ingredient paths must be unique, "
            f"got {', '.join(repr(p) for p in paths)}; rename one of the ingredients"
        )
    shares = distribute_updates(updates, paths)
    config_units = [ConfigUnit(u.config_path, named=dict(u.named_configs)) for u in units]
    named_done = run_named_configs(config_units, updates, named, base_dir=Path.cwd())
    done: dict[str, ResolvedConfig] = {}
    for unit in units:
        path = unit.config_path
        scopes: list[Any] = list(unit.configurations)
        if not path:
            scopes.insert(0, ConfigDict({"seed": seed}, label="seed"))
        done[path] = resolve_config(
            scopes,
            {},
            [_hook(h, path, done, command_name, logger) for h in unit.config_hooks],
            shares[path],
            (),
            base_dir=Path.cwd(),
            fallback={**_fallback(path, done), "_log": logger},
            add_seed=not path,
            named_done=named_done[path],
        )
    resolved = combine_resolved(done)
    config = dict(resolved.config)
    config["seed"] = config.pop("seed")  # Sacred lists the seed last
    modified = set(resolved.modified)
    if "seed" in updates:
        modified.add("seed")
    return ResolvedConfig(config, resolved.added, modified, resolved.typechanged, resolved.docs)


def _used_keys(units: Sequence[Ingredient]) -> set[str]:
    """Config keys captured functions take values from, each counted for its own unit only.

    As in Sacred, ``main(dataset)`` of the experiment does not make ``dataset.typo`` a known
    key: keys below an ingredient's path are checked against that ingredient's functions.
    """
    paths = [unit.config_path for unit in units if unit.config_path]

    def owner(key: str) -> str:
        found = [p for p in paths if key == p or key.startswith(p + ".")]
        return max(found, key=len) if found else ""

    return {
        key
        for unit in units
        for cf in unit.captured_functions
        for key in cf.config_keys()
        if owner(key) == unit.config_path
    }


def prepare_config(
    root: Ingredient,
    command_name: str,
    updates: Mapping[str, Any],
    named: Sequence[str],
    force: bool,
    logger: logging.Logger,
) -> Setup:
    """Resolve the config of ``root`` and its ingredients for ``command_name``."""
    units = root.sorted_ingredients()
    seed = _seed_from(updates)
    seed = new_seed() if seed is None else seed
    for _ in range(3):
        set_global_seed(seed)
        resolved = _resolve_once(units, updates, named, seed, command_name, logger)
        final = resolved.config["seed"]
        if final == seed:
            break
        seed = final  # a named config, scope or hook chose the seed: use it from the start
    warnings = check_unknown_keys(resolved, _used_keys(units), force)
    return Setup(resolved, int(resolved.config["seed"]), list(units), warnings)


def _fixture(unit: Ingredient, config: Mapping[str, Any]) -> dict[str, Any]:
    """What the functions of ``unit`` see: its subtree plus the configs of all ingredients
    below it, each at its own path (relative to ``unit`` when nested in it), listed flat as
    Sacred does."""
    if not unit.config_path:
        return dict(config)
    own = get_by_dotted_path(config, unit.config_path, {})
    view = dict(own) if isinstance(own, Mapping) else {}
    for sub, depth in unit.traverse_ingredients():
        if depth == 0 or sub.config_path.startswith(unit.config_path + "."):
            continue
        sub_own = get_by_dotted_path(config, sub.config_path, {})
        _set(view, sub.config_path, dict(sub_own) if isinstance(sub_own, Mapping) else {})
    return view


def bind_functions(
    setup: Setup, run: Any, base_logger: logging.Logger
) -> list[tuple[CapturedFunction, Binding | None]]:
    """Bind every captured function to ``run``; returns what to restore afterwards."""
    config = setup.config
    restore: list[tuple[CapturedFunction, Binding | None]] = []
    views: dict[tuple[int, str | None], Any] = {}
    for unit in setup.units:
        fixture: dict[str, Any] | None = None
        unit_logger = base_logger.getChild(unit.config_path) if unit.config_path else base_logger
        for cf in unit.captured_functions:
            key = (id(unit), cf.prefix)
            view = views.get(key)
            if view is None:
                if fixture is None:
                    fixture = _fixture(unit, config)
                sub = get_by_dotted_path(fixture, cf.prefix, {}) if cf.prefix else fixture
                sub = sub if isinstance(sub, Mapping) else {}
                view = views[key] = (
                    make_read_only(sub) if SETTINGS.CONFIG.READ_ONLY_CONFIG else copy_tree(sub)
                )
            seeds = None
            if cf.uses_randomness:
                seeds = SeedStream(derive_seed(setup.seed, f"{cf.owner_path}:{cf.qualname}"))
            binding = Binding(view, run, unit_logger.getChild(cf.name), seeds)
            restore.append((cf, cf.bind(binding)))
    return restore


def unbind_functions(restore: Sequence[tuple[CapturedFunction, Binding | None]]) -> None:
    """Undo :func:`bind_functions`."""
    for cf, previous in reversed(restore):
        cf.bind(previous)
