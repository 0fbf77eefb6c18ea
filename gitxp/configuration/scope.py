"""Config scopes (``@ex.config`` functions), config dicts and config files.

A :class:`ConfigScope` re-executes the body of a function so that its local variables become
config entries, exactly like Sacred's ``@ex.config``:

* ``fixed`` values (from ``with`` updates and named configs) cannot be overwritten by the body:
  an assignment to a fixed name is ignored (a dict assignment is merged under the fixed dict),
  and the body sees the fixed value when it reads the name, so derived values follow it;
* ``preset`` values (earlier scopes) are visible to the body only if it names them as
  parameters (as in Sacred: reading an undeclared one is a ``NameError``), and may be
  overwritten; undeclared presets stay in the result;
* names starting with ``_`` are not entries; modules, classes and functions are kept as they
  are (captured functions receive them; the run records their import path);
* every other value must be storable (see :func:`gitxp.configuration.dicts.normalize_value`).

:func:`load_config_file` (from :mod:`gitxp.configuration.files`) is re-exported here.

Both :class:`ConfigScope` and :class:`ConfigDict` are called as ``scope(fixed, preset)`` and
return the resulting config dict; :meth:`ConfigScope.evaluate` also reports which keys the
scope itself set and which of its values the fixed ones replaced (used by the resolver to
find added and modified keys).
"""

from __future__ import annotations

import abc
import ast
import functools
import inspect
import os
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from gitxp.configuration.comments import collect_docs, iter_top_statements
from gitxp.configuration.dicts import (
    ConfigSummary,
    copy_tree,
    get_by_dotted_path,
    iterate_flattened,
    join_path,
    normalize_config,
    normalize_value,
    recursive_update,
    type_changed,
    type_name,
)
from gitxp.configuration.files import CONFIG_FILE_EXTENSIONS, load_config_file
from gitxp.errors import ConfigError, ConfigKeyError, ConfigNameError

__all__ = [
    "CONFIG_FILE_EXTENSIONS",
    "ConfigDict",
    "ConfigScope",
    "ScopeResult",
    "load_config_file",
]


@dataclass(frozen=True)
class ScopeResult:
    """The outcome of evaluating a config scope.

    ``config``: the entries (fixed values applied). ``produced``: dotted leaf keys the scope
    itself set. ``shadowed``: dotted key -> the value the scope set where a fixed value won.
    """

    config: dict[str, Any]
    produced: frozenset[str] = frozenset()
    shadowed: dict[str, Any] = field(default_factory=dict)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _leaf_keys(key: str, value: Any) -> set[str]:
    if isinstance(value, Mapping) and value:
        return {join_path(key, str(k)) for k, _ in iterate_flattened(value)}
    return {key}


def _shadowed(path: str, own: Any, fixed: Any, out: dict[str, Any]) -> None:
    """Record where the fixed value ``fixed`` replaces the scope's own value ``own``."""
    if isinstance(fixed, Mapping) and isinstance(own, Mapping):
        for key, value in fixed.items():
            if key in own:
                _shadowed(join_path(path, key), own[key], value, out)
        return
    try:
        out[path] = normalize_value(own, path)
    except ConfigError:
        out[path] = own


_DELETED = object()


class _Namespace(dict[str, Any]):
    """The locals of a running config body: assignments to fixed names are overridden."""

    def __init__(self, fixed: Mapping[str, Any], mirror: dict[str, Any]) -> None:
        super().__init__()
        self.fixed = fixed
        self.mirror = mirror  # the body's globals; keeps comprehensions and inner defs working
        self.assigned: dict[str, None] = {}
        self.attempted: dict[str, Any] = {}

    def preset(self, key: str, value: Any) -> None:
        super().__setitem__(key, value)
        self.mirror[key] = value

    def __setitem__(self, key: str, value: Any) -> None:
        if key in self.fixed:
            self.attempted[key] = value
            fixed = self.fixed[key]
            if isinstance(fixed, Mapping) and isinstance(value, Mapping):
                value = recursive_update(value, fixed)
            else:
                value = copy_tree(fixed)
        self.assigned[key] = None
        self.preset(key, value)

    def __delitem__(self, key: str) -> None:
        if key in self.fixed:
            return
        super().__delitem__(key)
        self.mirror.pop(key, None)
        self.assigned.pop(key, None)
        self.attempted.pop(key, None)


class _Forbidden(ast.NodeVisitor):
    """Finds ``return``/``yield``/``await`` at the level of the config body."""

    def __init__(self) -> None:
        self.found: tuple[str, int] | None = None

    def generic_visit(self, node: ast.AST) -> None:
        if self.found is not None:
            return
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            return
        kinds = {ast.Return: "return", ast.Yield: "yield", ast.YieldFrom: "yield from"}
        for kind, word in kinds.items():
            if isinstance(node, kind):
                self.found = (word, getattr(node, "lineno", 0))
                return
        if isinstance(node, ast.Await):
            self.found = ("await", node.lineno)
            return
        super().generic_visit(node)


class _Scope(abc.ABC):
    """What ConfigScope and ConfigDict share: called, they return ``evaluate(...).config``."""

    name: str

    @abc.abstractmethod
    def evaluate(
        self,
        fixed: Mapping[str, Any] | None = None,
        preset: Mapping[str, Any] | None = None,
        fallback: Mapping[str, Any] | None = None,
    ) -> ScopeResult:
        """The entries with ``fixed`` applied, and what this scope set itself."""

    def __call__(
        self,
        fixed: Mapping[str, Any] | None = None,
        preset: Mapping[str, Any] | None = None,
        fallback: Mapping[str, Any] | None = None,
    ) -> ConfigSummary:
        """The config entries with the fixed values applied, and what ``fixed`` changed."""
        result = self.evaluate(fixed, preset, fallback)
        added: set[str] = set()
        for key, _ in iterate_flattened(fixed or {}):
            prefix = key + "."
            if key not in result.produced and not any(
                p.startswith(prefix) for p in result.produced
            ):
                added.add(key)
        modified: set[str] = set()
        typechanged: dict[str, tuple[type, type]] = {}
        for key, own in result.shadowed.items():
            new = get_by_dotted_path(result.config, key)
            if type_changed(own, new):
                typechanged[key] = (type(own), type(new))
            elif type(own) is not type(new) or own != new:
                modified.add(key)
        for key in added:
            parts = key.split(".")
            modified.update(
                ".".join(parts[:i])
                for i in range(1, len(parts))
                if ".".join(parts[:i]) in result.config
            )
        docs = dict(getattr(self, "docs", None) or {})
        return ConfigSummary(result.config, added, modified, typechanged, docs)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


class ConfigScope(_Scope):
    """A function whose body defines config entries (Sacred's ``@ex.config``).

    ``scope(fixed, preset, fallback)`` runs the body and returns the config dict. Parameters of
    the function name entries that must already exist (in ``fixed`` or ``preset``) unless they
    have a default. ``fallback`` values are readable by the body but never become entries.
    """

    __name__: str  # set from the function, like __qualname__, __doc__ and __wrapped__

    def __init__(self, func: Callable[..., Any]) -> None:
        name = getattr(func, "__qualname__", repr(func))
        if not inspect.isfunction(func):
            raise ConfigError(
                f"config scope {name} has type {type_name(func)}, not a function; "
                "use a def function or add_config() with a dict"
            )
        if func.__name__ == "<lambda>":
            raise ConfigError(
                "config scope is a lambda; write a def function whose local variables "
                "are the config entries"
            )
        functools.update_wrapper(self, func)
        self.func = func
        self.name: str = name
        self._filename = func.__code__.co_filename
        self._label = f"config function '{name}'"
        self.doc: str | None = inspect.getdoc(func)
        self._params = self._check_signature(func)
        self._code, self._docs = self._compile(func)

    # ----------------------------------------------------------------- construction

    def _check_signature(self, func: Callable[..., Any]) -> list[inspect.Parameter]:
        params = list(inspect.signature(func).parameters.values())
        for param in params:
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                raise ConfigError(
                    f"{self._label}: parameter '{param.name}' is *args/**kwargs; "
                    "name the config entries it needs one by one"
                )
        return params

    def _compile(self, func: Callable[..., Any]) -> tuple[Any, dict[str, str]]:
        try:
            lines, first_line = inspect.getsourcelines(func)
        except (OSError, TypeError) as exc:
            raise ConfigError(
                f"cannot read the source of {self._label} ({_one_line(str(exc))}); "
                "define it in a .py file, or use add_config() with a dict"
            ) from exc
        source = "".join(lines)
        shift = 0
        if source[:1].isspace():  # a nested function or method: make the block parseable
            source = "if 1:\n" + source
            shift = 1
        self._label = f"config function '{self.name}' ({os.path.basename(self._filename)}"
        self._label += f":{first_line})"
        try:
            tree = ast.parse(source)
        except SyntaxError as exc:
            raise ConfigError(
                f"cannot parse the source of {self._label}: {exc.msg}; "
                "define it as an ordinary def in a .py file"
            ) from exc
        node: ast.stmt = tree.body[0]
        if shift:
            assert isinstance(node, ast.If)
            node = node.body[0]
        if not isinstance(node, ast.FunctionDef):
            raise ConfigError(f"{self._label} must be a plain def (not async def or a lambda)")
        body = list(node.body)
        if (
            body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            body = body[1:]
        finder = _Forbidden()
        for stmt in body:
            finder.visit(stmt)
        if finder.found is not None:
            word, lineno = finder.found
            raise ConfigError(
                f"{self._label}: '{word}' on line {lineno + first_line - 1 - shift} is not "
                "allowed in a config scope; assign the config entries to local variables"
            )
        for stmt in iter_top_statements(body):
            if isinstance(stmt, ast.Nonlocal):
                raise ConfigError(f"{self._label}: 'nonlocal' is not allowed in a config scope")
        docs = collect_docs(source, body)
        if not body:  # only a docstring
            line = node.lineno
            body = [ast.Pass(lineno=line, col_offset=0, end_lineno=line, end_col_offset=0)]
        module = ast.Module(body=body, type_ignores=[])
        ast.increment_lineno(module, first_line - 1 - shift)
        ast.fix_missing_locations(module)
        return compile(module, self._filename, "exec"), docs

    # ----------------------------------------------------------------- properties

    @property
    def docs(self) -> dict[str, str]:
        """Dotted key -> doc text taken from the comments of the body."""
        return dict(self._docs)

    @property
    def arg_names(self) -> list[str]:
        """The names of the function's parameters (entries it reads from earlier scopes)."""
        return [p.name for p in self._params]

    # ----------------------------------------------------------------- evaluation

    def _globals(self, fallback: Mapping[str, Any]) -> dict[str, Any]:
        namespace = dict(self.func.__globals__)
        code = self.func.__code__
        for var, cell in zip(code.co_freevars, self.func.__closure__ or (), strict=True):
            try:
                namespace[var] = cell.cell_contents
            except ValueError:  # an empty cell: the variable is not bound yet
                continue
        namespace.update(fallback)
        return namespace

    def _failure(self, exc: Exception, hidden: Mapping[str, Any]) -> ConfigError:
        name = getattr(exc, "name", None)
        if isinstance(exc, NameError) and isinstance(name, str) and name in hidden:
            return ConfigNameError(
                f"name '{name}' is not defined in {self._label}: it reads the config entry "
                f"'{name}' without declaring it; add it as a parameter: "
                f"def {self.func.__name__}({', '.join([*self.arg_names, name])})"
            )
        lines = [
            frame.lineno
            for frame in traceback.extract_tb(exc.__traceback__)
            if frame.filename == self._filename and frame.name == "<module>"
        ]
        where = f" at line {lines[-1]}" if lines else ""
        return ConfigError(
            f"{self._label} failed{where}: {type(exc).__name__}: {_one_line(str(exc))}; "
            "fix the config function"
        )

    def evaluate(
        self,
        fixed: Mapping[str, Any] | None = None,
        preset: Mapping[str, Any] | None = None,
        fallback: Mapping[str, Any] | None = None,
    ) -> ScopeResult:
        """Run the body and report entries, the keys it set and the values fixed ones replaced."""
        fixed = fixed or {}
        known = recursive_update(preset or {}, fixed)
        ns = _Namespace(fixed, self._globals(fallback or {}))
        for param in self._params:
            if param.name in known:
                ns.preset(param.name, known[param.name])
            elif param.name in (fallback or {}):
                continue  # a fallback (an ingredient's config) is readable, not an entry
            elif param.default is inspect.Parameter.empty:
                available = sorted({*known, *(fallback or {})})
                raise ConfigKeyError(
                    f"'{param.name}' not in preset for ConfigScope. Available options are: "
                    f"{available}; {self._label} needs the config entry '{param.name}', "
                    "which no earlier config scope defines; define it earlier or give the "
                    "parameter a default"
                )
            else:
                ns[param.name] = param.default
        hidden = {k: v for k, v in known.items() if k not in ns}
        try:
            exec(self._code, ns.mirror, ns)
        except ConfigError:
            raise
        except Exception as exc:
            raise self._failure(exc, hidden) from exc

        config: dict[str, Any] = {}
        for key in dict.fromkeys([*(preset or {}), *ns.assigned, *ns, *hidden]):
            value = dict.get(ns, key, _DELETED)
            if value is _DELETED and key in hidden:
                value = hidden[key]
            if value is _DELETED or key.startswith("_"):
                continue
            try:
                config[key] = normalize_value(value, key)
            except ConfigError as exc:
                raise exc.prefixed(self._label) from exc
        produced: set[str] = set()
        shadowed: dict[str, Any] = {}
        for key in ns.assigned:
            if key not in config:
                continue
            if key in ns.attempted:
                own = ns.attempted[key]
                produced |= _leaf_keys(key, own)
                _shadowed(key, own, fixed[key], shadowed)
            else:
                produced |= _leaf_keys(key, config[key])
        return ScopeResult(recursive_update(config, fixed), frozenset(produced), shadowed)


class ConfigDict(_Scope):
    """A fixed dict of config entries (``add_config(dict)``), called like a ConfigScope.

    Its entries are merged (recursively) over ``preset``; ``fixed`` values win.
    """

    def __init__(self, d: Mapping[str, Any], *, label: str = "config dict") -> None:
        try:
            self._conf = normalize_config(d)
        except ConfigError as exc:
            raise exc.prefixed(label) from exc
        self.name = label
        self.doc: str | None = None
        self.docs: dict[str, str] = {}

    def evaluate(
        self,
        fixed: Mapping[str, Any] | None = None,
        preset: Mapping[str, Any] | None = None,
        fallback: Mapping[str, Any] | None = None,
    ) -> ScopeResult:
        """Merge the entries over ``preset``, apply ``fixed``; report as ConfigScope does."""
        fixed = fixed or {}
        produced: set[str] = set()
        shadowed: dict[str, Any] = {}
        for key, value in self._conf.items():
            produced |= _leaf_keys(key, value)
            if key in fixed:
                _shadowed(key, value, fixed[key], shadowed)
        config = recursive_update(recursive_update(preset or {}, self._conf), fixed)
        return ScopeResult(config, frozenset(produced), shadowed)
