"""Issue 14, points 1-5: what Sacred code relies on behaves as in Sacred.

Every test that takes ``lib`` runs against gitxp and against Sacred itself.
"""

# ruff: noqa: F841

from __future__ import annotations

import copy
import datetime
import math
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from exp_helpers import ROOT, latest, show_text, subprocess_env
from sacred_flavours import QUIET

import gitxp
from gitxp.errors import GitxpError

# -- 1. import paths -------------------------------------------------------------------


def test_every_sacred_name_has_the_same_path_under_gitxp(lib: SimpleNamespace) -> None:
    for name in (
        "SacredInterrupt",
        "TimeoutInterrupt",
        "ConfigAddedError",
        "MissingConfigError",
        "NamedConfigNotFoundError",
        "SacredError",
        "apply_backspaces_and_linefeeds",
    ):
        assert hasattr(lib.utils, name), name
    for name in ("ConfigScope", "ConfigDict", "load_config_file"):
        assert hasattr(lib.config, name), name
    for name in ("FileStorageObserver", "SqlObserver", "TinyDbObserver", "RunObserver"):
        assert hasattr(lib.observers, name), name
    assert lib.utils.TimeoutInterrupt.STATUS == "TIMEOUT"
    assert issubclass(lib.utils.TimeoutInterrupt, lib.utils.SacredInterrupt)
    assert lib.SETTINGS.CONFIG.READ_ONLY_CONFIG is True
    assert lib.SETTINGS.CAPTURE_MODE == "fd"
    assert lib.SETTINGS.DISCOVER_SOURCES == "imported"
    assert lib.SETTINGS.HOST_INFO.CAPTURED_ENV == []
    with pytest.raises(Exception, match="NO_SUCH_SETTING"):  # Sacred: SettingError
        lib.SETTINGS.CONFIG["NO_SUCH_SETTING"] = 1


def test_apply_backspaces_and_linefeeds(lib: SimpleNamespace) -> None:
    apply = lib.utils.apply_backspaces_and_linefeeds
    assert apply(" 10%|#   |\r 50%|##  |\r100%|####|\n") == "100%|####|\n"
    assert apply("abc\b\bX\n") == "aXc\n"
    assert apply("x\n\ry") == "x\ny"
    assert apply("step 1\r") == "step 1\r"  # kept, so the next chunk overwrites the line


@pytest.mark.parametrize("first", ["function", "module"])
def test_gitxp_config_is_function_and_module_in_either_order(first: str) -> None:
    calls = {
        "function": "assert gitxp.config() == {}",
        "module": "from gitxp.config import ConfigScope, ConfigDict, load_config_file",
    }
    second = "module" if first == "function" else "function"
    code = "\n".join(
        [
            "import gitxp",
            calls[first],
            calls[second],
            "import gitxp.config",
            "assert gitxp.config() == {} and gitxp.config.ConfigDict is ConfigDict",
            "print('ok')",
        ]
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=subprocess_env(None),
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "ok\n"


def test_gitxp_config_function_reads_the_with_values(monkeypatch: pytest.MonkeyPatch) -> None:
    from gitxp.store.spool import CONFIG_ENV

    monkeypatch.setenv(CONFIG_ENV, '{"lr": 0.5}')
    assert gitxp.config() == {"lr": 0.5}


# -- 2. exception types and messages ----------------------------------------------------


def test_builtin_exception_bases(lib: SimpleNamespace, exrepo: Path) -> None:
    ex = lib.Experiment("errs")
    with pytest.raises(ValueError):
        ex.add_config({"a": 1}, b=2)
    with pytest.raises(ValueError):
        ex.add_config()
    with pytest.raises(TypeError):
        ex.add_config(42)
    with pytest.raises(OSError):
        ex.add_config(str(exrepo / "missing.json"))
    with pytest.raises(ValueError):
        lib.config.load_config_file(str(exrepo / "conf.txt"))
    with pytest.raises(KeyError):
        ex.add_config({"a.b": 1})
    ex.add_named_config("fast", a=1)
    with pytest.raises(KeyError):
        ex.add_named_config("fast", a=2)
    with pytest.raises(ValueError):
        ex.add_package_dependency("pkg", "not-a-version")
    with pytest.raises(ValueError):

        @ex.config_hook
        def hook(config: Any) -> None:
            pass

    with pytest.raises(KeyError):  # checked when decorating, not at run time

        @ex.option_hook
        def opt_hook(opts: Any) -> None:
            pass

    def needs(a: int) -> None:
        b = a

    with pytest.raises(KeyError, match="'a' not in preset for ConfigScope"):
        lib.config.ConfigScope(needs)(preset={})

    def reads(a: int) -> None:
        c = undeclared * 2  # noqa: F821 - a preset it did not declare

    with pytest.raises(NameError):
        lib.config.ConfigScope(reads)(preset={"a": 1, "undeclared": 3})


def test_sacreds_error_classes_and_messages(lib: SimpleNamespace) -> None:
    ex = lib.Experiment("msgs")

    @ex.config
    def cfg() -> None:
        lr = 0.1

    @ex.named_config
    def fast() -> None:
        lr = 1.0

    @ex.main
    def main(lr: float) -> float:
        return lr

    with pytest.raises(lib.utils.ConfigAddedError, match="Added new config entry that is not"):
        ex.run(config_updates={"lrr": 0.5}, options=QUIET)
    with pytest.raises(lib.utils.NamedConfigNotFoundError, match='Named config not found: "fas"'):
        ex.run(named_configs=["fas"], options=QUIET)
    with pytest.raises(KeyError, match='Command "nope" not found'):
        ex.run("nope", options=QUIET)

    @ex.capture
    def needs_missing(missing_value: int) -> int:
        return missing_value

    @ex.command
    def calls() -> None:
        needs_missing()

    with pytest.raises(lib.utils.MissingConfigError, match="is missing value"):
        ex.run("calls", options=QUIET)
    assert issubclass(lib.utils.ConfigAddedError, lib.utils.SacredError)


def test_gitxp_errors_keep_their_hierarchy() -> None:
    from gitxp.errors import ConfigAddedError, ConfigError, NamedConfigNotFoundError

    assert issubclass(ConfigAddedError, ConfigError) and issubclass(ConfigError, GitxpError)
    assert issubclass(NamedConfigNotFoundError, KeyError)
    assert str(NamedConfigNotFoundError("one line")) == "one line"  # not KeyError's quotes


# -- 3. config values that are not data ---------------------------------------------------


def test_functions_classes_modules_reach_captured_functions(lib: SimpleNamespace) -> None:
    ex = lib.Experiment("code")

    @ex.config
    def cfg() -> None:
        act = math.sqrt
        kind = datetime.timedelta
        mod = math
        n = 16

    @ex.main
    def main(act: Any, kind: Any, mod: Any, n: int) -> Any:
        return act(n), kind(seconds=1).total_seconds(), mod.pi

    run = ex.run(options=QUIET)
    assert run.result == (4.0, 1.0, math.pi)
    assert run.config["act"] is math.sqrt


def test_code_values_are_recorded_by_import_path(exrepo: Path) -> None:
    """gitxp only: Sacred records code values with jsonpickle, gitxp by import path."""
    from gitxp import Experiment

    ex = Experiment("code", base_dir=exrepo)
    ex.add_config(act=math.sqrt, kind=datetime.timedelta)

    @ex.main
    def main(act: Any) -> float:
        return float(act(9))

    run = ex.run()
    assert run.result == 3.0
    config = show_text(exrepo, run.ref, ".gitxp/config.yaml")
    assert "act: math.sqrt" in config and "kind: datetime.timedelta" in config
    assert latest(exrepo).config["act"] == "math.sqrt"


# -- 4. named-config order ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("order", "size", "a"),
    [
        (["big", "data.small"], 1, 1),
        (["data.small", "big"], 100, 1),
        (["big", "big2"], 100, 2),
        (["big2", "big"], 100, 1),
    ],
)
def test_named_configs_apply_in_the_order_given(
    lib: SimpleNamespace, order: list[str], size: int, a: int
) -> None:
    data = lib.Ingredient("data")

    @data.config
    def data_cfg() -> None:
        size = 10

    @data.named_config
    def small() -> None:
        size = 1

    ex = lib.Experiment("order", ingredients=[data])

    @ex.config
    def cfg() -> None:
        a = 0

    @ex.named_config
    def big() -> None:
        data = {"size": 100}
        a = 1

    @ex.named_config
    def big2() -> None:
        a = 2

    @ex.main
    def main(_config: Any) -> Any:
        return _config["data"]["size"], _config["a"]

    assert ex.run(named_configs=order, options=QUIET).result == (size, a)


# -- 5. objects users inspect -------------------------------------------------------------


def test_current_run_and_run_attributes(lib: SimpleNamespace) -> None:
    ex = lib.Experiment("inspect")

    @ex.main
    def main() -> int:
        print("hello from main")
        return 3

    @ex.command
    def boom() -> None:
        raise RuntimeError("boom")

    run = ex.run(options={**QUIET, "--capture": "sys"})
    assert ex.current_run is run
    assert "hello from main" in run.captured_out
    assert {"hostname", "os", "python_version", "cpu"} <= set(run.host_info)
    assert run.experiment_info["name"] == "inspect"
    assert isinstance(run.start_time, datetime.datetime) and run.start_time.tzinfo is None
    assert run.stop_time >= run.start_time
    with pytest.raises(RuntimeError):
        ex.run("boom", options=QUIET)
    assert ex.current_run is not run and ex.current_run.status == "FAILED"


def test_config_scope_and_dict_called_directly(lib: SimpleNamespace) -> None:
    def cfg() -> None:
        a = 1  # doc a
        b = 2.0
        s = "x"
        d = {"x": 1}

    summary = lib.config.ConfigScope(cfg)(
        fixed={"a": 2, "s": 3, "new": 1, "d": {"y": 2}}, preset={"p": 1}
    )
    assert dict(summary) == {"a": 2, "b": 2.0, "s": 3, "d": {"x": 1, "y": 2}, "new": 1, "p": 1}
    assert summary.added == {"new", "d.y"}
    assert summary.modified == {"a", "d"}
    assert summary.typechanged == {"s": (str, int)}
    assert summary.docs["a"] == "doc a"
    as_dict = lib.config.ConfigDict({"a": 1, "b": {"c": 2}})(fixed={"a": 5, "z": 1})
    assert dict(as_dict) == {"a": 5, "b": {"c": 2}, "z": 1}
    assert as_dict.added == {"z"} and as_dict.modified == {"a"} and as_dict.typechanged == {}


def test_prefix_gather_and_flat_ingredient_config(lib: SimpleNamespace) -> None:
    tok = lib.Ingredient("tok")
    tok.add_config(vocab=5)
    data = lib.Ingredient("data", ingredients=[tok])
    data.add_config(n=2)

    @data.command
    def stats() -> None:
        pass

    data.add_named_config("tiny", n=1)

    @data.capture
    def fixture(_config: Any) -> Any:
        return copy.deepcopy(_config)

    ex = lib.Experiment("flat", ingredients=[data])

    @ex.capture
    def plain() -> None:
        pass

    @ex.main
    def main() -> Any:
        return fixture()

    assert plain.prefix is None
    assert dict(data.gather_commands()).keys() == {"data.stats"}
    assert dict(data.gather_named_configs()).keys() == {"data.tiny"}
    assert "data.stats" in dict(ex.gather_commands())
    assert ex.run(options=QUIET).result == {"n": 2, "tok": {"vocab": 5}}


def test_read_only_config_and_copies(lib: SimpleNamespace) -> None:
    ex = lib.Experiment("ro")
    ex.add_config(opt={"lr": 0.1}, n=1)

    @ex.main
    def main(_config: Any, opt: Any) -> Any:
        with pytest.raises(Exception) as err:
            opt["lr"] = 1.0
        shallow = copy.copy(_config)
        shallow["n"] = 2  # the top of a shallow copy is a plain dict
        with pytest.raises(Exception) as below:
            shallow["opt"]["lr"] = 1.0  # what is below stays read-only
        deep = copy.deepcopy(_config)
        deep["opt"]["lr"] = 1.0
        return type(err.value).__name__, isinstance(below.value, lib.utils.SacredError)

    _, sacred_error = ex.run(options=QUIET).result
    assert sacred_error or lib.flavour == "gitxp"
    lib.SETTINGS.CONFIG.READ_ONLY_CONFIG = False
    try:

        @ex.command
        def writes(opt: Any) -> float:
            opt["lr"] = 2.0
            return float(opt["lr"])

        assert ex.run("writes", options=QUIET).result == 2.0
    finally:
        lib.SETTINGS.CONFIG.READ_ONLY_CONFIG = True


def test_host_info_gatherer_and_captured_env(
    lib: SimpleNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    @lib.host_info_gatherer("answer")
    def answer() -> int:
        return 42

    monkeypatch.setenv("GITXP_TEST_ENV", "seen")
    monkeypatch.setitem(lib.SETTINGS.HOST_INFO, "CAPTURED_ENV", ["GITXP_TEST_ENV"])
    ex = lib.Experiment("hosts", additional_host_info=[answer])

    @ex.main
    def main() -> None:
        pass

    run = ex.run(options=QUIET)
    assert run.host_info["answer"] == 42
    assert run.host_info["ENV"] == {"GITXP_TEST_ENV": "seen"}


def test_sacred_interrupt_statuses(lib: SimpleNamespace) -> None:
    ex = lib.Experiment("interrupts")

    class Custom(lib.utils.SacredInterrupt):
        STATUS = "CUSTOM_STOP"

    @ex.command
    def timeout() -> None:
        raise lib.utils.TimeoutInterrupt()

    @ex.command
    def custom() -> None:
        raise Custom()

    for command, status in (("timeout", "TIMEOUT"), ("custom", "CUSTOM_STOP")):
        with pytest.raises(lib.utils.SacredInterrupt):
            ex.run(command, options=QUIET)
        assert ex.current_run.status == status


def test_discover_sources_none_lists_only_the_main_file(
    lib: SimpleNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(lib.SETTINGS, "DISCOVER_SOURCES", "none")
    ex = lib.Experiment("sources")

    @ex.main
    def main() -> None:
        pass

    run = ex.run(options=QUIET)
    assert len(run.experiment_info["sources"]) == 1


def test_capture_mode_setting_no_captures_nothing(
    lib: SimpleNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(lib.SETTINGS, "CAPTURE_MODE", "no")
    ex = lib.Experiment("nocapture")
    ex.observers.append(lib.observers.RunObserver())

    @ex.main
    def main() -> None:
        print("not captured")

    run = ex.run(options=QUIET)
    assert not run.captured_out
