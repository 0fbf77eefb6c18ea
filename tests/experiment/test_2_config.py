"""Issue point 2: config scopes, add_config (dict, kwargs, files), named configs, config
hooks, the root seed, and non-serialisable values."""

# ruff: noqa: F841  (config scopes define their entries as unused locals)

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from exp_helpers import latest, run_py, run_refs, show_json, show_text, write

from gitxp import Experiment
from gitxp.errors import ConfigError, UsageError

NO_COLOR = {"NO_COLOR": "1"}  # print_config marks entries instead of colouring them


def _ex(repo: Path, name: str = "cfg") -> Experiment:
    return Experiment(name, base_dir=repo)


def test_scopes_chain_and_fixed_values_win(exrepo: Path) -> None:
    ex = _ex(exrepo)

    @ex.config
    def first() -> None:
        a = 10  # the a
        b = a * 2

    @ex.config
    def second(a: int) -> None:
        c = a + 1  # builds on the first scope

    @ex.main
    def main(a: int, b: int, c: int) -> list[int]:
        return [a, b, c]

    assert ex.run().result == [10, 20, 11]
    run = ex.run(config_updates={"a": 1})
    assert run.result == [1, 2, 2]  # derived values follow the fixed a
    recorded = latest(exrepo)
    assert recorded.config == {"a": 1, "b": 2, "c": 2, "seed": run.config["seed"]}
    assert recorded.info["config_docs"]["a"] == "the a"
    assert recorded.info["config_docs"]["c"] == "builds on the first scope"
    assert recorded.info["config_docs"]["seed"] == "the random seed for this experiment"


def test_comments_are_docs_shown_by_print_config(exrepo: Path) -> None:
    write(
        exrepo,
        "docs.py",
        """
        from gitxp import Experiment
        ex = Experiment()

        @ex.config
        def cfg():
            lr = 0.01  # learning rate
            # number of epochs
            epochs = 3

        @ex.automain
        def main(lr, epochs):
            pass
    """,
    )
    out = run_py(exrepo, "docs.py", "print_config", "with", "epochs=4", env=NO_COLOR).stdout
    assert "lr = 0.01" in out and "# learning rate" in out
    assert "* epochs = 4" in out and "# number of epochs" in out
    assert run_refs(exrepo) == []  # print_config is unobserved


def test_add_config_dict_kwargs_and_files(exrepo: Path) -> None:
    (exrepo / "base.yaml").write_text("optimizer:\n  name: adam\n  lr: 0.001\n")
    (exrepo / "extra.json").write_text(json.dumps({"layers": [64, 32]}))
    (exrepo / "more.yml").write_text("dropout: 0.5\n")
    ex = _ex(exrepo)
    ex.add_config({"batch": 32})
    ex.add_config(epochs=5)
    ex.add_config("base.yaml")
    ex.add_config(str(exrepo / "extra.json"))
    ex.add_config("more.yml")

    @ex.main
    def main(_config: Any) -> dict[str, Any]:
        return dict(_config)

    run = ex.run(config_updates={"optimizer": {"lr": 0.1}})
    config = latest(exrepo).config
    assert config["batch"] == 32 and config["epochs"] == 5
    assert config["optimizer"] == {"name": "adam", "lr": 0.1}
    assert config["layers"] == [64, 32] and config["dropout"] == 0.5
    assert run.result["optimizer"]["lr"] == 0.1


def test_add_config_errors(exrepo: Path) -> None:
    ex = _ex(exrepo)
    with pytest.raises(ConfigError, match=r"not valid YAML|cannot read config file"):
        (exrepo / "bad.yaml").write_text("a: [1,\n")
        ex.add_config("bad.yaml")
    with pytest.raises(ValueError, match="not both"):
        ex.add_config({"a": 1}, b=2)


def test_named_configs_and_add_named_config(exrepo: Path) -> None:
    ex = _ex(exrepo)

    @ex.config
    def cfg() -> None:
        a = 1
        b = a * 100

    @ex.named_config
    def big() -> None:
        a = 50

    ex.add_named_config("huge", a=1000)
    (exrepo / "preset.yaml").write_text("a: 7\n")
    ex.add_named_config("from_file", "preset.yaml")

    @ex.main
    def main(a: int, b: int) -> list[int]:
        return [a, b]

    assert ex.run(named_configs=["big"]).result == [50, 5000]
    assert ex.run(named_configs=["big", "huge"]).result == [1000, 100000]  # later wins
    assert ex.run(named_configs=["from_file"]).result == [7, 700]
    assert ex.run(named_configs=["huge"], config_updates={"a": 2}).result == [2, 200]
    assert latest(exrepo).info["named_configs"] == ["huge"]


def test_config_hook_updates_but_updates_still_win(exrepo: Path) -> None:
    ex = _ex(exrepo)
    seen: list[tuple[str, Any]] = []

    @ex.config
    def cfg() -> None:
        a = 1
        b = 2

    @ex.config_hook
    def hook(config: dict[str, Any], command_name: str, logger: Any) -> dict[str, Any]:
        seen.append((command_name, dict(config)))
        return {"a": config["a"] + 100, "b": 99}

    @ex.main
    def main(a: int, b: int) -> list[int]:
        return [a, b]

    run = ex.run(config_updates={"b": 5})
    assert run.result == [101, 5]
    assert seen[0][0] == "main" and seen[0][1]["a"] == 1
    assert latest(exrepo).config["a"] == 101


def test_config_hook_signature_is_enforced(exrepo: Path) -> None:
    ex = _ex(exrepo)
    with pytest.raises(UsageError, match=r"\(config, command_name, logger\)"):

        @ex.config_hook
        def hook(config: dict[str, Any]) -> dict[str, Any]:
            return {}


def test_a_root_seed_always_exists(exrepo: Path) -> None:
    ex = _ex(exrepo)

    @ex.main
    def main(seed: int) -> int:
        return seed

    run = ex.run()
    assert isinstance(run.config["seed"], int) and run.result == run.config["seed"]
    rec = latest(exrepo)
    assert rec.config == {"seed": run.result}
    assert rec.info["seed"] == run.result
    assert ex.run(config_updates={"seed": 7}).result == 7


def test_non_serialisable_values_are_rejected_with_their_key(exrepo: Path) -> None:
    ex = _ex(exrepo)

    @ex.config
    def cfg() -> None:
        model = {"layers": {1, 2}}

    @ex.main
    def main() -> None:
        pass

    with pytest.raises(ConfigError, match=r"model\.layers"):
        ex.run()
    with pytest.raises(ConfigError, match="'thing'"):
        _ex(exrepo, "other").add_config(thing=object())
    assert run_refs(exrepo) == []


def test_config_yaml_and_snapshot_commit_hold_the_resolved_config(exrepo: Path) -> None:
    ex = _ex(exrepo)

    @ex.config
    def cfg() -> None:
        opt = {"lr": 0.1, "momentum": 0.9}

    @ex.main
    def main() -> None:
        pass

    run = ex.run(config_updates={"opt.lr": 0.5})
    assert run.ref is not None
    snapshot = show_text(exrepo, run.ref + "^", ".gitxp/config.yaml")
    final = show_text(exrepo, run.ref, ".gitxp/config.yaml")
    assert "lr: 0.5" in snapshot and "momentum: 0.9" in snapshot
    assert snapshot == final
    assert show_json(exrepo, run.ref + "^")["status"] == "RUNNING"
