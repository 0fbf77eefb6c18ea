"""The sweep syntax: from ``with lr=0.1,0.01 seed=range(3)`` to the list of planned runs.

After ``with``, each ``KEY=VALUE`` word is one dimension of the sweep:

- ``lr=0.001,0.01,0.1``: a grid of values; commas split at the top level only, so
  ``[1,2]``, ``{'a': 1, 'b': 2}`` and quoted strings (``'name="a,b"'``) stay one value;
- ``seed=range(5)``, ``range(2, 10, 2)``: a grid of integers;
- ``lr=loguniform(1e-4,1e-1)``, ``uniform(0,1)``, ``choice(adam,sgd)``: random
  dimensions, drawn ``--trials N`` times with ``--seed S`` (default 0, so the same
  command plans the same runs); every draw is crossed with the grid;
- ``epochs=3``: one value, the same in every run.

Words without ``=`` (named configs, config files) go to every run unchanged. A sweep file
(YAML) says the same: ``sweep: {lr: [0.1, 0.01], seed: range(3), epochs: 3}``, with
optional ``named: [large]``, ``trials: N``, ``seed: S``. See docs/sweeps.md.
"""

from __future__ import annotations

import itertools
import math
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from gitxp.configuration.withargs import parse_value, parse_with_args, split_with
from gitxp.errors import ConfigError, UsageError
from gitxp.git.snapshot import Snapshot

SAMPLERS = ("choice", "uniform", "loguniform")
FUNCTIONS = ("range", *SAMPLERS)
_CALL = re.compile(r"^([A-Za-z_]\w*)\((.*)\)$", re.S)
_OPEN, _CLOSE = "([{", ")]}"


@dataclass(frozen=True)
class PlannedRun:
    """One run of a sweep: its id, its config updates and the ``gitxp run`` arguments."""

    run_id: str
    sweep_id: str
    config: dict[str, Any]
    named_configs: list[str]
    command: list[str]
    inputs: str = ""  # the input identity (gitxp.store.record.input_identity)
    index: int = 0  # the combination's place in the sweep
    resumes: str = ""  # the INTERRUPTED/DIED run this one continues (sweep --continue)


@dataclass(frozen=True)
class Sweep:
    """A sweep: its id, the commit of its one source snapshot, and its planned runs.

    ``snapshot`` is a commit holding exactly the sources (parent: the base commit), taken
    once: every run starts from that tree. ``source`` is the same snapshot as the
    recorder takes it; ``cwd`` the folder the sweep was started in, ``record_cwd`` that
    folder relative to the top of the sources.
    """

    id: str
    snapshot: str
    runs: tuple[PlannedRun, ...]
    skipped: tuple[str, ...] = ()  # COMPLETED runs with the same inputs, not run again
    source: Snapshot | None = field(default=None, compare=False)
    cwd: str = "."
    record_cwd: str = "."
    python: str | None = None
    name: str | None = None
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Dimension:
    """One ``KEY=…`` word: a grid of values, or a random draw."""

    key: str
    values: tuple[Any, ...] = ()
    sampler: str = ""
    arguments: tuple[Any, ...] = ()

    def draw(self, rng: random.Random) -> Any:
        """A random value of a random dimension."""
        if self.sampler == "choice":
            return rng.choice(self.arguments)
        low, high = (float(a) for a in self.arguments)
        if self.sampler == "uniform":
            return float(f"{rng.uniform(low, high):.6g}")
        return float(f"{math.exp(rng.uniform(math.log(low), math.log(high))):.6g}")


@dataclass(frozen=True)
class Combination:
    """The ``with`` words of one run, and its config updates."""

    tokens: list[str]
    config: dict[str, Any]
    named: list[str] = field(default_factory=list)


def split_top_level(text: str) -> list[str]:
    """``text`` split at commas outside brackets and quotes."""
    parts: list[str] = []
    current: list[str] = []
    depth, quote = 0, ""
    for ch in text:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in _OPEN:
            depth += 1
        elif ch in _CLOSE:
            depth = max(depth - 1, 0)
        elif ch == "," and depth == 0:
            parts.append("".join(current))
            current = []
            continue
        current.append(ch)
    parts.append("".join(current))
    return [p.strip() for p in parts]


def render(value: Any) -> str:
    """``value`` as a ``with`` word's value that reads back as the same value."""
    if isinstance(value, str):
        if not value or "," in value or value.strip() != value:
            return repr(value)
        try:
            plain = parse_value(value) == value
        except ConfigError:
            plain = False
        return value if plain else repr(value)
    return repr(value)


def parse_dimension(token: str) -> Dimension | None:
    """The dimension a ``KEY=VALUE`` word makes, or None for one plain value."""
    key, _, text = token.partition("=")
    key, text = key.strip(), text.strip()
    where = f"sweep: {token!r}"
    call = _CALL.match(text)
    if call and parse_value(text) == text:
        name, inner = call.group(1), call.group(2)
        if name not in FUNCTIONS:
            raise ConfigError(
                f"{where}: unknown sweep function {name}(); use {', '.join(FUNCTIONS)}, "
                f"or quote the value ('{key}=\"{text}\"')"
            )
        args = [parse_value(a, key) for a in split_top_level(inner)] if inner.strip() else []
        if name == "range":
            if not args or len(args) > 3 or not all(type(a) is int for a in args):
                raise ConfigError(f"{where}: range() takes 1 to 3 integers, like range(5)")
            return Dimension(key, tuple(range(*args)))
        if name == "choice":
            if not args:
                raise ConfigError(f"{where}: choice() needs at least one value")
            return Dimension(key, sampler=name, arguments=tuple(args))
        if len(args) != 2 or not all(isinstance(a, int | float) for a in args):
            raise ConfigError(f"{where}: {name}() takes two numbers, like {name}(1e-4,1e-1)")
        if not args[0] < args[1] or (name == "loguniform" and args[0] <= 0):
            low = "0 < low < high" if name == "loguniform" else "low < high"
            raise ConfigError(f"{where}: {name}(low,high) needs {low}")
        return Dimension(key, sampler=name, arguments=tuple(args))
    parts = split_top_level(text)
    if len(parts) == 1:
        return None
    if any(not p for p in parts):
        raise ConfigError(f"{where}: an empty value in the list; remove the extra comma")
    return Dimension(key, tuple(parse_value(p, key) for p in parts))


def combinations(
    tokens: Sequence[str], trials: int | None = None, seed: int | None = None
) -> list[Combination]:
    """Every run's ``with`` words for the sweep words ``tokens``."""
    fixed: list[str] = []
    dims: list[Dimension] = []
    parse_with_args(tokens)  # bad keys, bad values: the ordinary `with` errors first
    for token in tokens:
        dim = parse_dimension(token) if "=" in token else None
        if dim is None:
            fixed.append(token)
        else:
            dims.append(dim)
    grid = [d for d in dims if not d.sampler]
    randoms = [d for d in dims if d.sampler]
    if randoms and trials is None:
        raise UsageError(f"{randoms[0].key} is drawn at random: say how many draws with --trials N")
    if trials is not None and not randoms:
        raise UsageError("--trials needs a random dimension (choice, uniform, loguniform)")
    if trials is not None and trials < 1:
        raise UsageError("--trials must be at least 1")
    rng = random.Random(0 if seed is None else seed)
    draws = [[(d.key, d.draw(rng)) for d in randoms] for _ in range(trials or 1)]
    out = []
    for point in itertools.product(*(d.values for d in grid)):
        for draw in draws:
            chosen = [*zip((d.key for d in grid), point, strict=True), *draw]
            words = [*fixed, *(f"{key}={render(value)}" for key, value in chosen)]
            parsed = parse_with_args(words)
            out.append(Combination(words, parsed.updates, list(parsed.named)))
    if not out:
        empty = next((d.key for d in grid if not d.values), "?")
        raise UsageError(f"the sweep has no runs: {empty} has no values")
    return out


def sweep_file_tokens(path: Path) -> tuple[list[str], int | None, int | None]:
    """The ``with`` words, trials and seed a sweep file says."""
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
        raise ConfigError(f"{path}: cannot read this sweep file ({err})") from None
    if not isinstance(data, dict) or not isinstance(data.get("sweep"), dict):
        raise ConfigError(f"{path}: a sweep file holds a mapping 'sweep: {{KEY: VALUES}}'")
    unknown = set(data) - {"sweep", "named", "trials", "seed"}
    if unknown:
        raise ConfigError(
            f"{path}: unknown entries {sorted(unknown)}; use sweep, named, trials, seed"
        )
    words = [str(n) for n in data.get("named") or []]
    for key, value in data["sweep"].items():
        if isinstance(value, list):
            if not value:
                raise UsageError(f"the sweep has no runs: {key} has no values ({path})")
            words.append(f"{key}=" + ",".join(render(v) for v in value))
        elif isinstance(value, str) and _CALL.match(value.strip()):
            words.append(f"{key}={value.strip()}")
        else:
            words.append(f"{key}={render(value)}")
    trials, seed = data.get("trials"), data.get("seed")
    for name, number in (("trials", trials), ("seed", seed)):
        if number is not None and type(number) is not int:
            raise ConfigError(f"{path}: {name} must be an integer")
    return words, trials, seed


def is_sweep_file(path: Path) -> bool:
    """Whether ``path`` is a YAML file with a top-level ``sweep:`` entry."""
    if path.suffix not in (".yaml", ".yml") or not path.is_file():
        return False
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return False
    return isinstance(data, dict) and "sweep" in data


def split_sweep_args(
    args: Sequence[str], here: Path, trials: int | None, seed: int | None
) -> tuple[list[str], list[Combination]]:
    """``gitxp sweep`` arguments → the program part and every run's combination."""
    before, tokens = split_with(args)
    if not before:
        raise UsageError("nothing to sweep: gitxp sweep SCRIPT.py with KEY=V1,V2 … or -- CMD …")
    program = [before[0]]
    for arg in before[1:]:
        if is_sweep_file(here / arg):
            words, file_trials, file_seed = sweep_file_tokens(here / arg)
            tokens = [*words, *tokens]
            trials = trials if trials is not None else file_trials
            seed = seed if seed is not None else file_seed
        else:
            program.append(arg)
    if not tokens:
        raise UsageError("nothing to sweep over: add 'with KEY=V1,V2 …' or a sweep file")
    return program, combinations(tokens, trials, seed)
