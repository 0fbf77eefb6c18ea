"""Helpers for nested config dicts: dotted paths, merging, normalising and read-only views.

A config is a tree of plain ``dict``/``list`` values whose leaves are ``None``, ``bool``,
``int``, ``float`` or ``str``, so that it can be written to YAML and JSON unchanged. Nested
keys are addressed with dotted paths (``"opt.lr"``); list elements have no dotted path and are
only named in messages (``"layers[2]"``).
"""

from __future__ import annotations

import copy
import difflib
import functools
import inspect
import types
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, NoReturn, SupportsIndex

from gitxp.errors import ConfigError, ConfigKeyError, ConfigValueError, ReadOnlyConfigError

__all__ = [
    "ReadOnlyDict",
    "ReadOnlyList",
    "check_key",
    "copy_tree",
    "expand_dotted_keys",
    "get_by_dotted_path",
    "has_dotted_path",
    "import_path",
    "is_code_object",
    "iterate_flattened",
    "join_path",
    "make_read_only",
    "nearest_key",
    "normalize_config",
    "normalize_value",
    "recordable",
    "recursive_update",
    "set_by_dotted_path",
    "type_changed",
    "type_name",
]

_SCALARS = (bool, int, float, str)


def join_path(prefix: str, key: str) -> str:
    """Join two dotted paths, either of which may be empty."""
    if not prefix:
        return key
    if not key:
        return prefix
    return f"{prefix}.{key}"


def type_name(value: Any) -> str:
    """The short type name used in messages (``int``, ``function``, ``numpy.ndarray``)."""
    cls = type(value)
    module = cls.__module__
    if module in ("builtins", "types", None):
        return cls.__name__
    return f"{module.split('.')[0]}.{cls.__name__}"


def type_changed(old: Any, new: Any) -> bool:
    """Whether replacing ``old`` by ``new`` changes the type (int <-> float and None exempt)."""
    if old is None or type(old) is type(new):
        return False
    return not {type(old), type(new)} <= {int, float}


def set_by_dotted_path(d: dict[str, Any], path: str, value: Any) -> None:
    """Set ``d[a][b][c] = value`` for ``path == "a.b.c"``, creating missing dicts on the way.

    Raises ConfigError if an intermediate entry exists and is not a dict.
    """
    parts = path.split(".")
    current = d
    for i, part in enumerate(parts[:-1]):
        nxt = current.get(part)
        if nxt is None and part not in current:
            nxt = {}
            current[part] = nxt
        if not isinstance(nxt, dict):
            where = ".".join(parts[: i + 1])
            raise ConfigError(
                f"cannot set config key '{path}': '{where}' is already set to a value of type "
                f"{type_name(nxt)}, not a dict; set '{where}' itself or drop one of the two"
            )
        current = nxt
    current[parts[-1]] = value


def get_by_dotted_path(d: Mapping[str, Any], path: str, default: Any = None) -> Any:
    """Return ``d[a][b][c]`` for ``path == "a.b.c"``, or ``default`` if it does not exist.

    The empty path returns ``d`` itself.
    """
    if not path:
        return d
    current: Any = d
    for part in path.split("."):
        if not isinstance(current, Mapping) or part not in current:
            return default
        current = current[part]
    return current


def has_dotted_path(d: Mapping[str, Any], path: str) -> bool:
    """Whether ``path`` (dotted) names an entry of ``d``; the empty path always exists."""
    marker = object()
    return get_by_dotted_path(d, path, marker) is not marker


def iterate_flattened(d: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Yield ``(dotted_key, leaf)`` pairs in insertion order.

    Non-empty dicts are descended into; everything else (including an empty dict) is a leaf.
    """
    for key, value in d.items():
        path = join_path(prefix, key)
        if isinstance(value, Mapping) and value:
            yield from iterate_flattened(value, path)
        else:
            yield path, value


def copy_tree(value: Any) -> Any:
    """Copy the dicts, lists and tuples of a nested value; other leaves are shared."""
    if isinstance(value, Mapping):
        return {k: copy_tree(v) for k, v in value.items()}
    if isinstance(value, list):
        return [copy_tree(v) for v in value]
    if isinstance(value, tuple):
        return tuple(copy_tree(v) for v in value)
    return value


def recursive_update(base: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """Return a new dict: ``base`` with ``update`` merged in; nested dicts are merged key by key.

    A dict in ``update`` replaces a non-dict in ``base`` (and vice versa). Neither input is
    modified, and the result shares no dicts or lists with the inputs.
    """
    result: dict[str, Any] = copy_tree(base)
    for key, value in update.items():
        old = result.get(key)
        if isinstance(value, Mapping) and isinstance(old, dict):
            result[key] = recursive_update(old, value)
        else:
            result[key] = copy_tree(value)
    return result


def expand_dotted_keys(d: Mapping[str, Any]) -> dict[str, Any]:
    """Turn ``{"a.b": 1, "c": {"d.e": 2}}`` into ``{"a": {"b": 1}, "c": {"d": {"e": 2}}}``.

    Later keys win; a dict value merges into a dict created by an earlier dotted key.
    """
    result: dict[str, Any] = {}
    for key, value in d.items():
        if isinstance(value, Mapping):
            value = expand_dotted_keys(value)
        if not isinstance(key, str) or "." not in key:
            old = result.get(key)
            if isinstance(old, dict) and isinstance(value, dict):
                value = recursive_update(old, value)
            result[key] = value
            continue
        head, _, rest = key.partition(".")
        sub = result.get(head)
        if not isinstance(sub, dict):
            sub = {}
        result[head] = recursive_update(sub, expand_dotted_keys({rest: value}))
    return result


# --------------------------------------------------------------------------- normalising

_STORABLE = "use a number, string, bool, None, list or dict"


def check_key(key: Any, parent: str) -> str:
    """Validate one config key found under the dotted path ``parent``; return it.

    Keys must be non-empty strings without ``.`` or ``=``, may not start with ``$``, and may
    not look like a jsonpickle tag (``py/...``).
    """
    where = f"config key '{parent}'" if parent else "config"
    if not isinstance(key, str):
        raise ConfigKeyError(
            f"{where}: key {key!r} has type {type_name(key)}; config keys must be strings"
        )
    problem = ""
    if not key:
        problem = "is empty"
    elif "." in key:
        problem = "contains '.'; dots separate nested keys, use a nested dict instead"
    elif "=" in key:
        problem = "contains '='; remove it"
    elif key.startswith("$"):
        problem = "starts with '$'; rename it"
    elif key.startswith("py/"):
        problem = "looks like a jsonpickle tag ('py/...'); rename it"
    if problem:
        raise ConfigKeyError(f"{where}: key '{key}' {problem}")
    return key


def _numpy_item(value: Any, path: str) -> Any:
    """Convert a numpy scalar to the equivalent Python value; reject arrays."""
    if getattr(value, "ndim", 0) != 0:
        raise ConfigValueError(
            f"config key '{path}': value of type {type_name(value)} cannot be stored; "
            "convert it with .tolist() first"
        )
    return value.item()


def normalize_value(value: Any, path: str) -> Any:
    """Return ``value`` as plain YAML/JSON data; ``path`` names it in error messages.

    Numpy scalars become Python scalars, tuples become lists, subclasses of ``bool``, ``int``,
    ``float``, ``str``, ``dict`` and ``list`` become the base type. Modules, classes and
    functions are kept as they are (the run records them by import path, see
    :func:`recordable`). Anything else (sets, bytes, arbitrary objects, non-string keys)
    raises ConfigError naming ``path``.
    """
    if value is None or type(value) in _SCALARS or is_code_object(value):
        return value
    if hasattr(value, "dtype") and hasattr(value, "item") and not isinstance(value, _SCALARS):
        return normalize_value(_numpy_item(value, path), path)
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, Mapping):
        return {
            check_key(k, path): normalize_value(v, join_path(path, k)) for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [normalize_value(v, f"{path}[{i}]") for i, v in enumerate(value)]
    hint = _STORABLE
    if isinstance(value, (set, frozenset)):
        hint = "use a list instead"
    raise ConfigValueError(
        f"config key '{path}': value of type {type_name(value)} cannot be stored; {hint}"
    )


MAX_CONFIG_DEPTH = 100


def check_depth(value: Any, where: str = "the config") -> None:
    """Refuse a config nested deeper than :data:`MAX_CONFIG_DEPTH` (read without recursion)."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_CONFIG_DEPTH:
            raise ConfigError(
                f"{where} is nested more than {MAX_CONFIG_DEPTH} levels deep; "
                "flatten it (dotted keys, or a file path as a value)"
            )
        if isinstance(node, Mapping):
            stack.extend((sub, depth + 1) for sub in node.values())
        elif isinstance(node, (list, tuple)):
            stack.extend((sub, depth + 1) for sub in node)


def normalize_config(d: Mapping[str, Any]) -> dict[str, Any]:
    """Normalise every entry of a config dict (see :func:`normalize_value`); returns a copy."""
    check_depth(d)
    return {check_key(k, ""): normalize_value(v, k) for k, v in d.items()}


def is_code_object(value: Any) -> bool:
    """Whether a config-scope local is code rather than data (module, class or function).

    Such values stay in the live config and are recorded by :func:`import_path`.
    """
    return (
        isinstance(value, (types.ModuleType, type))
        or inspect.isroutine(value)
        or isinstance(value, (staticmethod, classmethod))
    )


def import_path(value: Any) -> str:
    """Where a module, class or function is imported from: ``math.sqrt``, ``torch.optim``."""
    if isinstance(value, types.ModuleType):
        return value.__name__
    func = getattr(value, "__func__", value)  # staticmethod / classmethod
    module = getattr(func, "__module__", None) or "builtins"
    name = getattr(func, "__qualname__", None) or getattr(func, "__name__", repr(func))
    return f"{module}.{name}"


def recordable(value: Any) -> Any:
    """``value`` with every module, class and function replaced by its import path."""
    if isinstance(value, Mapping):
        return {k: recordable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [recordable(v) for v in value]
    return import_path(value) if is_code_object(value) else value


# --------------------------------------------------------------------------- read-only


def _read_only_error(verb: str, path: str) -> NoReturn:
    target = f"'{path}'" if path else "the config"
    raise ReadOnlyConfigError(
        f"config is read-only inside captured functions: cannot {verb} {target}; "
        "make a copy with copy.deepcopy() to change it"
    )


class ReadOnlyDict(dict[str, Any]):
    """A ``dict`` whose entries (recursively) cannot be changed.

    Any mutation raises ConfigError naming the dotted key. ``copy.copy``/``copy.deepcopy``
    return ordinary mutable dicts. It compares, JSON-dumps and YAML-dumps like a dict.
    """

    def __init__(self, data: Mapping[str, Any] | None = None, path: str = "") -> None:
        self._path = path
        super().__init__(
            (k, make_read_only(v, join_path(path, str(k)))) for k, v in (data or {}).items()
        )

    def _child(self, key: Any) -> str:
        return join_path(self._path, str(key))

    def __setitem__(self, key: str, value: Any) -> None:
        _read_only_error("set", self._child(key))

    def __delitem__(self, key: str) -> None:
        _read_only_error("delete", self._child(key))

    def __ior__(self, other: Any) -> NoReturn:  # type: ignore[misc]
        _read_only_error("update", self._path)

    def update(self, *args: Any, **kwargs: Any) -> None:
        """Refused: the config is read-only."""
        keys = list(dict(*args, **kwargs))
        _read_only_error("set", self._child(keys[0]) if keys else self._path)

    def setdefault(self, key: str, default: Any = None) -> Any:
        """Refused: the config is read-only."""
        _read_only_error("set", self._child(key))

    def pop(self, key: str, *default: Any) -> Any:
        """Refused: the config is read-only."""
        _read_only_error("delete", self._child(key))

    def popitem(self) -> tuple[str, Any]:
        """Refused: the config is read-only."""
        _read_only_error("change", self._path)

    def clear(self) -> None:
        """Refused: the config is read-only."""
        _read_only_error("change", self._path)

    def __copy__(self) -> dict[str, Any]:
        return dict(self)  # as in Sacred: the top is a dict, what is below stays read-only

    def __deepcopy__(self, memo: dict[int, Any]) -> dict[str, Any]:
        return {k: copy.deepcopy(v, memo) for k, v in self.items()}

    def __reduce__(self) -> tuple[Any, ...]:
        return (ReadOnlyDict, (dict(self), self._path))


class ReadOnlyList(list[Any]):
    """A ``list`` whose elements (recursively) cannot be changed; see :class:`ReadOnlyDict`."""

    def __init__(self, data: Iterable[Any] = (), path: str = "") -> None:
        self._path = path
        super().__init__(make_read_only(v, f"{path}[{i}]") for i, v in enumerate(data))

    def _refuse(self, *args: Any, **kwargs: Any) -> NoReturn:
        _read_only_error("change", self._path)

    def __setitem__(self, index: SupportsIndex | slice, value: Any) -> None:
        _read_only_error("set", f"{self._path}[{index}]")

    def __delitem__(self, index: SupportsIndex | slice) -> None:
        _read_only_error("delete", f"{self._path}[{index}]")

    append = extend = insert = remove = sort = reverse = clear = _refuse
    __iadd__ = __imul__ = _refuse

    def pop(self, index: SupportsIndex = -1) -> Any:
        """Refused: the config is read-only."""
        _read_only_error("change", self._path)

    def __copy__(self) -> list[Any]:
        return list(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> list[Any]:
        return [copy.deepcopy(v, memo) for v in self]

    def __reduce__(self) -> tuple[Any, ...]:
        return (ReadOnlyList, (list(self), self._path))


def make_read_only(obj: Any, path: str = "") -> Any:
    """Return a read-only view (a deep copy) of dicts and lists in ``obj``; other values as is."""
    _register_yaml_representers()
    if isinstance(obj, Mapping):
        return ReadOnlyDict(obj, path)
    if isinstance(obj, (list, tuple)):
        return ReadOnlyList(obj, path)
    return obj


@functools.cache
def _register_yaml_representers() -> None:
    """Let every PyYAML dumper write the read-only containers as plain maps and sequences.

    Done when the first read-only view is made, not at import: ``gitxp run`` and the
    in-script API import this module and never need PyYAML.
    """
    import yaml

    for name in ("SafeDumper", "Dumper", "CSafeDumper", "CDumper"):
        dumper = getattr(yaml, name, None)
        if dumper is None:
            continue
        dumper.add_representer(ReadOnlyDict, yaml.representer.SafeRepresenter.represent_dict)
        dumper.add_representer(ReadOnlyList, yaml.representer.SafeRepresenter.represent_list)


# --------------------------------------------------------------------------- suggestions


def nearest_key(key: str, candidates: Iterable[str]) -> str | None:
    """The candidate most similar to ``key`` (difflib ratio >= 0.6), or None.

    If no whole key is close, the last dotted parts are compared, so ``lrr`` can suggest
    ``opt.lr``; candidates under the same parent as ``key`` are preferred. Last, a
    candidate that is ``key`` with a ``_word`` more or less (``lr`` for ``lr_rate``).
    """
    pool = list(dict.fromkeys(c for c in candidates if c != key))
    matches = difflib.get_close_matches(key, pool, n=1, cutoff=0.6)
    if matches:
        return matches[0]
    parent, _, last = key.rpartition(".")
    by_last: dict[str, str] = {}
    for cand in sorted(pool, key=lambda c: (c.rpartition(".")[0] != parent, c.count("."))):
        by_last.setdefault(cand.rpartition(".")[2], cand)
    close = difflib.get_close_matches(last, list(by_last), n=1, cutoff=0.6)
    if close:
        return by_last[close[0]]
    # A word added or left out (``lr_rate`` for ``lr``, ``lr`` for ``lr_max``).
    words = [c for c in by_last if last.startswith(c + "_") or c.startswith(last + "_")]
    return by_last[min(words, key=len)] if words else None


class ConfigSummary(dict[str, Any]):
    """What a config scope or config dict returns when called: the entries, plus (as in
    Sacred) ``added`` and ``modified`` keys, ``typechanged`` (key -> (old, new) type) and
    ``docs`` (key -> doc), all keys dotted."""

    def __init__(
        self,
        entries: Mapping[str, Any],
        added: set[str],
        modified: set[str],
        typechanged: dict[str, tuple[type, type]],
        docs: dict[str, str],
    ) -> None:
        super().__init__(entries)
        self.added = added
        self.modified = modified
        self.typechanged = typechanged
        self.docs = docs


@dataclass(frozen=True)
class ResolvedConfig:
    """The final config and how the updates changed it (all keys are dotted paths).

    ``added``: update keys that no scope or named config defines. ``modified``: keys whose
    value the updates changed. ``typechanged``: key -> (old type, new type) where the updates
    changed the type (int <-> float and changes from None do not count). ``docs``: key -> doc.
    """

    config: dict[str, Any]
    added: set[str] = field(default_factory=set)
    modified: set[str] = field(default_factory=set)
    typechanged: dict[str, tuple[type, type]] = field(default_factory=dict)
    docs: dict[str, str] = field(default_factory=dict)
