"""Resolving the config of an experiment together with its ingredients.

Each ingredient owns the config subtree at its dotted path (``dataset``, ``dataset.paths``).
The experiment is the unit at path ``""``. Resolution follows Sacred:

* an update ``dataset.n=3`` goes to the unit with the longest path that prefixes the key
  (``dataset`` gets ``n=3``); :func:`distribute_updates` does the split;
* a ``with`` token ``dataset.variant`` selects the named config ``variant`` of ``dataset``;
  config-file tokens always go to the experiment; :func:`distribute_named` does the split;
* named configs of all units run first, in the order given (an experiment's and an
  ingredient's interleaved as on the command line, later ones winning), each with the
  updates fixed; what they set is then split by owning unit (:func:`run_named_configs`);
* units are resolved one by one (sub-ingredients before the units that use them, the
  experiment last) with :func:`gitxp.configuration.resolve.resolve_config`; the configs of the units
  resolved so far are readable (not entries) in the later units' config scopes;
* :func:`combine_resolved` mounts the results at their paths, prefixing the added, modified,
  typechanged and docs keys. Only the experiment gets a ``seed``.

:func:`resolve_units` does all of this in one call.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitxp.configuration.dicts import (
    expand_dotted_keys,
    get_by_dotted_path,
    iterate_flattened,
    join_path,
    recursive_update,
    set_by_dotted_path,
)
from gitxp.configuration.resolve import (
    HookFn,
    NamedOutcome,
    ResolvedConfig,
    ScopeFn,
    evaluate_scope,
    named_source,
    resolve_config,
)
from gitxp.configuration.scope import CONFIG_FILE_EXTENSIONS
from gitxp.errors import ConfigError, ConfigValueError

__all__ = [
    "ConfigUnit",
    "combine_resolved",
    "distribute_named",
    "distribute_updates",
    "resolve_units",
]


@dataclass(frozen=True)
class ConfigUnit:
    """The config sources of the experiment (``path=""``) or of one ingredient.

    ``named`` maps names as the unit declares them (``variant``, not ``dataset.variant``).
    Hooks receive a copy of this unit's own config.
    """

    path: str
    scopes: Sequence[ScopeFn] = ()
    named: Mapping[str, ScopeFn] = field(default_factory=dict)
    hooks: Sequence[HookFn] = ()


def _owner(key: str, paths: Iterable[str]) -> tuple[str, str]:
    """``(unit path, rest of key)`` for the longest unit path that is a dotted prefix of key."""
    best = ""
    for path in paths:
        if path and key.startswith(path + ".") and len(path) > len(best):
            best = path
    return (best, key[len(best) + 1 :]) if best else ("", key)


def distribute_updates(
    updates: Mapping[str, Any], paths: Iterable[str]
) -> dict[str, dict[str, Any]]:
    """Split nested/dotted updates by owning unit; keys are relative to the unit's path.

    The result has an entry (possibly empty) for ``""`` and for every path in ``paths``.
    """
    unit_paths = [p for p in paths if p]
    shares: dict[str, dict[str, Any]] = {p: {} for p in ["", *unit_paths]}
    for key, value in iterate_flattened(expand_dotted_keys(updates)):
        owner, rest = _owner(key, unit_paths)
        set_by_dotted_path(shares[owner], rest, value)
    return shares


def distribute_named(
    tokens: Sequence[str], paths: Iterable[str], *, base_dir: Path | None = None
) -> dict[str, list[str]]:
    """Group named-config tokens by owning unit, keeping each token unchanged and in order.

    A token with a config-file extension goes to the experiment (``""``); ``ing.name`` goes
    to the unit with the longest matching path; anything else to the experiment.
    """
    unit_paths = [p for p in paths if p]
    base = base_dir if base_dir is not None else Path.cwd()
    groups: dict[str, list[str]] = {p: [] for p in ["", *unit_paths]}
    for token in tokens:
        groups[_token_owner(token, unit_paths, base)].append(token)
    return groups


def _token_owner(token: str, paths: Iterable[str], base: Path) -> str:
    """The unit a named-config token belongs to (config files: the experiment)."""
    if Path(base, token).suffix.lower() in CONFIG_FILE_EXTENSIONS:
        return ""
    return _owner(token, [p for p in paths if p])[0]


def _depth(path: str) -> int:
    return path.count(".") + 1 if path else 0


def _mount(configs: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Place each config at its dotted path (shallow paths first, so deeper ones win)."""
    combined: dict[str, Any] = {}
    for path in sorted(configs, key=_depth):
        if not path:
            combined = recursive_update(combined, configs[path])
            continue
        existing = get_by_dotted_path(combined, path)
        merged = recursive_update(existing if isinstance(existing, dict) else {}, configs[path])
        set_by_dotted_path(combined, path, merged)
    return combined


def combine_resolved(parts: Mapping[str, ResolvedConfig]) -> ResolvedConfig:
    """Mount per-unit results (keyed by unit path, ``""`` = experiment) into one result."""
    added: set[str] = set()
    modified: set[str] = set()
    typechanged: dict[str, tuple[type, type]] = {}
    docs: dict[str, str] = {}
    for path in sorted(parts, key=_depth):
        part = parts[path]
        added |= {join_path(path, k) for k in part.added}
        modified |= {join_path(path, k) for k in part.modified}
        typechanged.update({join_path(path, k): v for k, v in part.typechanged.items()})
        docs.update({join_path(path, k): v for k, v in part.docs.items()})
    config = _mount({path: part.config for path, part in parts.items()})
    return ResolvedConfig(config, added, modified, typechanged, docs)


def _fallback_for(path: str, done: Mapping[str, ResolvedConfig]) -> dict[str, Any]:
    """Configs of the units resolved so far: relative to ``path`` if nested below it."""
    view: dict[str, Mapping[str, Any]] = {}
    for other, part in done.items():
        if path and other.startswith(path + "."):
            other = other[len(path) + 1 :]
        view[other] = part.config
    return _mount(view)


def resolve_units(
    units: Sequence[ConfigUnit],
    updates: Mapping[str, Any],
    selected_named: Sequence[str],
    *,
    base_dir: Path | None = None,
) -> ResolvedConfig:
    """Resolve the experiment and its ingredients; ``units`` in dependency order, root last.

    Unknown named configs are reported with their full dotted name (``dataset.variant``).
    """
    paths = [unit.path for unit in units]
    if len(set(paths)) != len(paths):
        raise ConfigValueError(
            f"ingredient paths must be unique, got {', '.join(repr(p) for p in paths)}; "
            "rename one of the ingredients"
        )
    if "" not in paths:
        raise ConfigError("resolve_units needs the experiment itself (a unit with path '')")
    shares = distribute_updates(updates, paths)
    named_done = run_named_configs(units, updates, selected_named, base_dir=base_dir)
    done: dict[str, ResolvedConfig] = {}
    for unit in units:
        done[unit.path] = resolve_config(
            unit.scopes,
            {},
            unit.hooks,
            shares[unit.path],
            (),
            base_dir=base_dir,
            fallback=_fallback_for(unit.path, done),
            add_seed=not unit.path,
            named_done=named_done[unit.path],
        )
    return combine_resolved(done)


def run_named_configs(
    units: Sequence[ConfigUnit],
    updates: Mapping[str, Any],
    selected_named: Sequence[str],
    *,
    base_dir: Path | None = None,
) -> dict[str, NamedOutcome]:
    """Evaluate the selected named configs in the order given; split the result by unit.

    Each runs at its unit with that unit's part of the updates fixed and what earlier named
    configs set there as presets; a later one overrides an earlier one, whichever unit
    either belongs to (Sacred's order).
    """
    paths = [unit.path for unit in units]
    by_path = {unit.path: unit for unit in units}
    base = base_dir if base_dir is not None else Path.cwd()
    fixed_all = expand_dotted_keys(updates)
    tree: dict[str, Any] = {}
    outcome = {path: NamedOutcome() for path in paths}
    for token in selected_named:
        path = _token_owner(token, paths, base)
        unit = by_path[path]
        named = {join_path(path, name): scope for name, scope in unit.named.items()}
        source = named_source(token, named, base)
        fixed = get_by_dotted_path(fixed_all, path) if path else fixed_all
        preset = get_by_dotted_path(tree, path) if path else tree
        result = evaluate_scope(
            source,
            dict(fixed) if isinstance(fixed, Mapping) else {},
            dict(preset) if isinstance(preset, Mapping) else {},
            {},
        )
        tree = (
            _mount({"": tree, path: result.config})
            if path
            else recursive_update(tree, result.config)
        )
        for key in result.produced:
            owner, rest = _owner(join_path(path, key), paths)
            outcome[owner].produced.add(rest)
        for key, value in result.shadowed.items():
            owner, rest = _owner(join_path(path, key), paths)
            outcome[owner].shadowed[rest] = value
        for key, doc in (getattr(source, "docs", None) or {}).items():
            owner, rest = _owner(join_path(path, key), paths)
            outcome[owner].docs[rest] = doc
    for path, share in distribute_updates(tree, paths).items():
        outcome[path].config = share
    return outcome
