"""Captured functions: ``@ex.capture`` fills missing arguments from the run's config.

Precedence for each parameter: an argument the caller passes > the config entry of the same
name (below the function's ``prefix``) > the parameter's default. Special parameters:

* ``_config``: the function's config (its subtree), read-only;
* ``_run``: the running :class:`gitxp.experiment.runobj.Run`;
* ``_log``: a logger named after the function (``<experiment>.<ingredient>.<function>``);
* ``_seed``: a new int on every call, from the function's own seed stream;
* ``_rnd``: a generator seeded with such a seed (numpy ``Generator`` or ``random.Random``).

Config values handed to the function are read-only views: changing them raises an error
that names the key. A parameter that gets no value is an error naming the function and the
parameter (and the nearest config key when there is one).
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from gitxp.configuration.dicts import join_path, nearest_key
from gitxp.errors import ConfigError, MissingConfigError, UsageError
from gitxp.experiment.randomness import SeedStream, create_rnd

__all__ = ["SPECIAL_ARGS", "Binding", "CapturedFunction", "capture"]

SPECIAL_ARGS = frozenset({"_config", "_run", "_log", "_seed", "_rnd"})
_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


@dataclass
class Binding:
    """What a captured function sees during one run."""

    config: Mapping[str, Any]
    run: Any
    logger: logging.Logger
    seeds: SeedStream | None = None


class CapturedFunction:
    """A function whose missing arguments come from the config of the current run.

    ``owner_path`` is the dotted path of the ingredient that captured it (``""`` for the
    experiment); ``prefix`` restricts it to a subtree of that ingredient's config.
    """

    def __init__(
        self, func: Callable[..., Any], prefix: str | None = None, owner_path: str = ""
    ) -> None:
        inner: Callable[..., Any] = getattr(func, "func", func)
        func = inner if isinstance(func, CapturedFunction) else func
        if not callable(func):
            raise UsageError(f"@capture needs a function, got {type(func).__name__}")
        functools.update_wrapper(self, func)
        self.func: Callable[..., Any] = func
        self.prefix = prefix  # None when not given, as in Sacred
        self.owner_path = owner_path
        self.name: str = getattr(func, "__name__", repr(func))
        self.qualname: str = getattr(func, "__qualname__", self.name)
        try:
            self.signature = inspect.signature(func)
        except (TypeError, ValueError) as err:
            raise UsageError(f"cannot capture {self.name}: {err}") from None
        params = list(self.signature.parameters.values())
        self._params = params
        self._names = [p.name for p in params if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
        self._positional = [p.name for p in params if p.kind in _POSITIONAL]
        self._var_positional = any(p.kind == p.VAR_POSITIONAL for p in params)
        self._var_keyword = any(p.kind == p.VAR_KEYWORD for p in params)
        self.uses_randomness = bool({"_seed", "_rnd"} & set(self._names))
        self.unobserved = False
        self._binding: Binding | None = None

    # -- facts ---------------------------------------------------------------------

    @property
    def full_name(self) -> str:
        """The dotted name: ingredient path and function name (``dataset.load``)."""
        return join_path(self.owner_path, self.name)

    @property
    def config_path(self) -> str:
        """The dotted path of this function's config subtree (ingredient path + prefix)."""
        return join_path(self.owner_path, self.prefix or "")

    def config_keys(self) -> list[str]:
        """Dotted config keys (relative to the root) this function can take values from."""
        return [join_path(self.config_path, n) for n in self._names if n not in SPECIAL_ARGS]

    @property
    def arg_names(self) -> list[str]:
        """The names of the function's parameters (without ``*args``/``**kwargs``)."""
        return list(self._names)

    # -- run binding -----------------------------------------------------------------

    def bind(self, binding: Binding | None) -> Binding | None:
        """Use ``binding`` for calls from now on; returns the previous one."""
        previous, self._binding = self._binding, binding
        return previous

    @property
    def binding(self) -> Binding | None:
        """The run binding in effect (None outside runs)."""
        return self._binding

    # -- calling ---------------------------------------------------------------------

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.func(*args, **self._fill(args, kwargs, 0))

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return self

        @functools.wraps(self.func)
        def bound(*args: Any, **kwargs: Any) -> Any:
            return self.func(instance, *args, **self._fill((instance, *args), kwargs, 1))

        return bound

    def _fill(self, args: tuple[Any, ...], kwargs: dict[str, Any], skip: int) -> dict[str, Any]:
        """``kwargs`` plus values for every parameter the call leaves open."""
        label = f"{self.full_name}()"
        if len(args) > len(self._positional) and not self._var_positional:
            raise TypeError(
                f"{label} takes {len(self._positional) - skip} positional arguments but "
                f"{len(args) - skip} were given"
            )
        given = set(self._positional[: len(args)])
        for key in kwargs:
            if key in given:
                raise TypeError(f"{label} got multiple values for argument '{key}'")
            if key not in self._names and not self._var_keyword:
                raise TypeError(f"{label} got an unexpected keyword argument '{key}'")
        binding = self._binding
        filled = dict(kwargs)
        open_names = [n for n in self._names if n not in given and n not in kwargs]
        if not open_names:
            return filled
        config: Mapping[str, Any] = binding.config if binding is not None else {}
        seed: int | None = None
        for name in open_names:
            if name in SPECIAL_ARGS:
                if name == "_config":
                    filled[name] = config
                elif name == "_run":
                    filled[name] = binding.run if binding is not None else None
                elif name == "_log":
                    filled[name] = self._logger()
                else:
                    if seed is None:
                        seed = self._next_seed()
                    filled[name] = seed if name == "_seed" else create_rnd(seed)
            elif name in config:
                filled[name] = config[name]
        missing = [
            n
            for n in open_names
            if n not in filled and self.signature.parameters[n].default is inspect.Parameter.empty
        ]
        if missing:
            raise self._missing_error(missing[0], config)
        return filled

    def _logger(self) -> logging.Logger:
        if self._binding is not None:
            return self._binding.logger
        return logging.getLogger(self.full_name)

    def _next_seed(self) -> int:
        binding = self._binding
        if binding is None or binding.seeds is None:
            from gitxp.configuration.resolve import new_seed

            return new_seed()
        return binding.seeds.next_seed()

    def _missing_error(self, name: str, config: Mapping[str, Any]) -> ConfigError:
        where = f"captured function {self.full_name}()"
        key = join_path(self.config_path, name)
        if self._binding is None:
            return MissingConfigError(
                f"{self.full_name} is missing value(s): ['{name}']; "
                f"{where}: missing value for parameter '{name}'; it was called outside a "
                f"run, so there is no config: pass {name}=... explicitly"
            )
        guess = nearest_key(name, [k for k in config if isinstance(k, str)])
        hint = f" (did you mean '{join_path(self.config_path, guess)}'?)" if guess else ""
        return MissingConfigError(
            f"{self.full_name} is missing value(s): ['{name}']; "
            f"{where}: missing value for parameter '{name}': it was not passed and the "
            f"config has no entry '{key}'{hint}; pass it, add it to a config scope, or give "
            "the parameter a default"
        )

    def __repr__(self) -> str:
        return f"<captured function {self.full_name}>"


def capture(
    func: Callable[..., Any] | None = None, prefix: str | None = None, owner_path: str = ""
) -> Any:
    """``@capture`` or ``@capture(prefix="a.b")``: make a :class:`CapturedFunction`."""
    if func is None:
        return functools.partial(capture, prefix=prefix, owner_path=owner_path)
    return CapturedFunction(func, prefix=prefix, owner_path=owner_path)
