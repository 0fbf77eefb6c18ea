"""Turning config scopes, named configs, hooks and ``with`` updates into the final config.

Precedence (Sacred's, see ``resolve_config``): updates > named configs (later ones first) >
config hooks > config scopes (later ones first). Derived values follow: named configs run
with the updates fixed, and the normal scopes run with the updates and the named configs'
values fixed, so ``b = a * 2`` in a scope sees the final ``a``.

Ingredients: resolve each ingredient (and then the experiment) with :func:`resolve_config`
on its own share of the updates and named-config tokens, then mount the results at their
dotted paths. :func:`gitxp.configuration.ingredients.resolve_units` does all of that in one call.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitxp.configuration.dicts import (
    ResolvedConfig,
    copy_tree,
    expand_dotted_keys,
    get_by_dotted_path,
    iterate_flattened,
    nearest_key,
    normalize_config,
    recursive_update,
    type_changed,
    type_name,
)
from gitxp.configuration.printing import format_config
from gitxp.configuration.scope import (
    CONFIG_FILE_EXTENSIONS,
    ConfigDict,
    ScopeResult,
    load_config_file,
)
from gitxp.errors import (
    ConfigAddedError,
    ConfigError,
    ConfigFileNotFoundError,
    NamedConfigNotFoundError,
)

__all__ = [
    "SEED_DOC",
    "HookFn",
    "NamedOutcome",
    "ResolvedConfig",
    "ScopeFn",
    "check_unknown_keys",
    "evaluate_scope",
    "format_config",
    "named_source",
    "new_seed",
    "resolve_config",
    "type_changed",
]

ScopeFn = Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]]
HookFn = Callable[[dict[str, Any]], Mapping[str, Any] | None]

SEED_DOC = "the random seed for this experiment"
SEED_LOW, SEED_HIGH = 1, 10**9  # generated seeds are in [SEED_LOW, SEED_HIGH)
SEED_MAX = 2**32 - 1  # the largest seed numpy accepts

_SEED_RNG = random.SystemRandom()  # private: never affected by random.seed()


def new_seed() -> int:
    """A fresh random seed in [1, 1e9), independent of the global ``random`` state."""
    return _SEED_RNG.randrange(SEED_LOW, SEED_HIGH)


def _label(scope: object) -> str:
    name = getattr(scope, "name", None) or getattr(scope, "__qualname__", None)
    return f"config scope '{name}'" if name else f"config scope {scope!r}"


@dataclass
class NamedOutcome:
    """What named configs set (keys relative to one unit), evaluated before the scopes."""

    config: dict[str, Any] = field(default_factory=dict)
    produced: set[str] = field(default_factory=set)
    shadowed: dict[str, Any] = field(default_factory=dict)
    docs: dict[str, str] = field(default_factory=dict)


def evaluate_scope(
    scope: Any, fixed: dict[str, Any], preset: dict[str, Any], fallback: Mapping[str, Any]
) -> ScopeResult:
    """Run one scope; plain callables ``f(fixed, preset) -> dict`` are supported too.

    For plain callables every key they return counts as defined by them, and nothing is
    known about the values the fixed ones replaced.
    """
    evaluate = getattr(scope, "evaluate", None)
    if callable(evaluate):
        result = evaluate(fixed, preset, fallback)
        if isinstance(result, ScopeResult):
            return result
    out = scope(copy_tree(fixed), copy_tree(preset))
    if not isinstance(out, Mapping):
        raise ConfigError(
            f"{_label(scope)} returned a value of type {type_name(out)}; return a dict"
        )
    try:
        own = normalize_config(expand_dotted_keys(out))
    except ConfigError as exc:
        raise exc.prefixed(_label(scope)) from exc
    config = recursive_update(recursive_update(preset, own), fixed)
    return ScopeResult(config, frozenset(k for k, _ in iterate_flattened(own)), {})


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:
        return False


def named_source(token: str, named: Mapping[str, Any], base: Path) -> Any:
    """The scope selected by a named-config token: a config file or a named config."""
    path = Path(token) if Path(token).is_absolute() else base / token
    looks_like_file = path.suffix.lower() in CONFIG_FILE_EXTENSIONS
    if looks_like_file and _is_file(path):
        return ConfigDict(load_config_file(path), label=f"config file '{token}'")
    if token in named:
        return named[token]
    if _is_file(path):
        load_config_file(path)  # raises: unsupported extension
    if looks_like_file:
        raise ConfigFileNotFoundError(f"config file '{token}' not found in {base}; check the path")
    if not named:
        raise NamedConfigNotFoundError(
            f'Named config not found: "{token}". Available config values are: []; '
            f"unknown named config '{token}': there are no named configs; to load a config "
            f"file give its path ({', '.join(CONFIG_FILE_EXTENSIONS)})"
        )
    guess = nearest_key(token, named)
    hint = f" (did you mean '{guess}'?)" if guess else ""
    raise NamedConfigNotFoundError(
        f'Named config not found: "{token}". Available config values are: {sorted(named)}; '
        f"unknown named config '{token}'{hint}; available named configs: {', '.join(sorted(named))}"
    )


def _is_defined(key: str, produced: set[str]) -> bool:
    prefix = key + "."
    return key in produced or any(p.startswith(prefix) for p in produced)


def _related(path: str, key: str) -> bool:
    return path == key or key.startswith(path + ".") or path.startswith(key + ".")


def _check_seed(seed: Any) -> None:
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= SEED_MAX:
        raise ConfigError(
            f"config key 'seed': {seed!r} is not a valid seed; use an integer between 0 "
            f"and {SEED_MAX}, e.g. seed=42"
        )


def _run_hooks(
    hooks: Sequence[HookFn], config: dict[str, Any], produced: set[str]
) -> dict[str, Any]:
    """Merge what the hooks return (each gets a copy of ``config``); note the keys they set."""
    merged: dict[str, Any] = {}
    for hook in hooks:
        out = hook(copy_tree(config))
        if out is None:
            continue
        label = f"config hook '{getattr(hook, '__qualname__', repr(hook))}'"
        if not isinstance(out, Mapping):
            raise ConfigError(
                f"{label} returned a value of type {type_name(out)}; return a dict or None"
            )
        try:
            merged = recursive_update(merged, normalize_config(expand_dotted_keys(out)))
        except ConfigError as exc:
            raise exc.prefixed(label) from exc
    marker = object()
    for key, value in iterate_flattened(merged):
        if get_by_dotted_path(config, key, marker) != value:
            produced.add(key)
    return merged


def resolve_config(
    scopes: Sequence[ScopeFn],
    named: Mapping[str, ScopeFn],
    hooks: Sequence[HookFn],
    updates: Mapping[str, Any],
    selected_named: Sequence[str],
    *,
    base_dir: Path | None = None,
    fallback: Mapping[str, Any] | None = None,
    add_seed: bool = True,
    named_done: NamedOutcome | None = None,
) -> ResolvedConfig:
    """Build the final config with Sacred's precedence.

    1. ``updates`` (nested or dotted keys) are fixed first.
    2. ``selected_named`` tokens run in order with the updates fixed; each sees the earlier
       ones' results as presets and may override them. A token naming an existing
       .json/.yaml/.yml file (relative to ``base_dir``, default the cwd) loads that file
       instead, even if a named config has the same name. Their results become fixed.
    3. ``scopes`` run in order, each seeing the config so far, with all fixed values fixed.
    4. ``hooks`` get a copy of that config; what they return is merged in, then the fixed
       values are applied again, so updates and named configs still win.
    5. With ``add_seed``, a root ``seed`` entry is added if missing (a random int in
       [1, 1e9)). Pass ``add_seed=False`` when resolving an ingredient.

    ``fallback`` values are readable by name in ConfigScope bodies but are not entries (used
    for the configs of sub-ingredients). ``named_done``: named configs already evaluated
    (by :func:`gitxp.configuration.ingredients.resolve_units`, which runs the named configs
    of all units in the order given), applied before ``selected_named``.
    """
    base = Path(base_dir) if base_dir is not None else Path.cwd()
    fallback = fallback or {}
    fixed_updates = normalize_config(expand_dotted_keys(updates))
    produced: set[str] = set()
    named_shadow: dict[str, Any] = {}
    scope_shadow: dict[str, Any] = {}
    docs: dict[str, str] = {}

    presets: dict[str, Any] = {}
    if named_done is not None:
        presets = recursive_update(presets, named_done.config)
        produced |= named_done.produced
        named_shadow.update(named_done.shadowed)
        docs.update(named_done.docs)
    for token in selected_named:
        source = named_source(token, named, base)
        result = evaluate_scope(source, fixed_updates, presets, fallback)
        presets = recursive_update(presets, result.config)
        produced |= result.produced
        named_shadow.update(result.shadowed)
        docs.update(getattr(source, "docs", None) or {})
    fixed = recursive_update(presets, fixed_updates)

    config: dict[str, Any] = {}
    for scope in scopes:
        result = evaluate_scope(scope, fixed, config, fallback)
        config = recursive_update(result.config, config)  # nested keys in the scope's order
        config = recursive_update(config, result.config)
        produced |= result.produced
        scope_shadow.update(result.shadowed)
        docs.update(getattr(scope, "docs", None) or {})
    config = recursive_update(config, fixed)

    if hooks:
        hook_updates = _run_hooks(hooks, config, produced)
        config = recursive_update(recursive_update(config, hook_updates), fixed)

    update_keys = [key for key, _ in iterate_flattened(fixed_updates)]
    modified: set[str] = set()
    if add_seed:
        if "seed" not in config:
            config["seed"] = new_seed()
        _check_seed(config["seed"])
        if "seed" in fixed_updates and "seed" not in produced:
            modified.add("seed")  # the default seed is random: setting it is a modification
        produced.add("seed")
        docs.setdefault("seed", SEED_DOC)

    added = {key for key in update_keys if not _is_defined(key, produced)}
    for key in added:  # as in Sacred, a dict that gains an entry counts as modified
        parts = key.split(".")
        modified.update(
            parent
            for parent in (".".join(parts[:i]) for i in range(1, len(parts)))
            if parent in produced or _is_defined(parent, produced)
        )
    typechanged: dict[str, tuple[type, type]] = {}
    for path, old in {**scope_shadow, **named_shadow}.items():
        if not any(_related(path, key) for key in update_keys):
            continue
        new = get_by_dotted_path(config, path)
        if type(old) is not type(new) or old != new:
            modified.add(path)
        if type_changed(old, new):
            typechanged[path] = (type(old), type(new))
    return ResolvedConfig(config, added, modified, typechanged, docs)


def _prefixes(key: str) -> list[str]:
    parts = key.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def _all_paths(config: Mapping[str, Any], prefix: str = "") -> list[str]:
    paths: list[str] = []
    for key, value in config.items():
        path = f"{prefix}.{key}" if prefix else key
        paths.append(path)
        if isinstance(value, Mapping):
            paths.extend(_all_paths(value, path))
    return paths


def check_unknown_keys(
    resolved: ResolvedConfig, used_keys: Iterable[str], force: bool
) -> list[str]:
    """Refuse added keys that no captured function uses; return warnings for the rest.

    A key counts as used if it or one of its parents is in ``used_keys`` (the dotted paths
    of captured-function parameters, prefix included). Raises ConfigError naming the
    unknown keys with the nearest existing key. With ``force`` nothing is checked and no
    warnings are returned.
    """
    if force:
        return []
    used = set(used_keys)
    unknown = sorted(k for k in resolved.added if not used.intersection(_prefixes(k)))
    warnings = [f"added new config entry '{k}'" for k in sorted(resolved.added - set(unknown))]
    for key, (old, new) in sorted(resolved.typechanged.items()):
        warnings.append(
            f"changed type of config entry '{key}' from {old.__name__} to {new.__name__}"
        )
    if not unknown:
        return warnings
    candidates = [p for p in _all_paths(resolved.config) if p not in resolved.added]
    candidates += sorted(used - resolved.added)
    described = []
    for key in unknown:
        guess = nearest_key(key, candidates)
        described.append(f"'{key}' (did you mean '{guess}'?)" if guess else f"'{key}'")
    pronoun = "it" if len(unknown) == 1 else "them"
    raise ConfigAddedError(
        f"Added new config entry that is not used anywhere: {', '.join(described)}; "
        f"pass -f/--force to add {pronoun} anyway"
    )
