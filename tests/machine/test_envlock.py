"""Tests for gitxp.machine.lock: the running interpreter and a real venv made in the test."""

from __future__ import annotations

import importlib.util
import json
import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from gitxp.errors import GitxpError
from gitxp.machine.lock import (
    LOCK_HEADER,
    clear_env_lock_cache,
    env_lock,
    normalize_name,
    parse_env_lock,
    python_version_of_lock,
)


def pins(lock: str) -> list[str]:
    return [line for line in lock.splitlines() if line and not line.startswith("#")]


def write_dist(site: Path, name: str, version: str, direct_url: dict | None = None) -> None:
    """Write the dist-info folder pip would have written (minus the files we do not need)."""
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nSummary: a fake\n"
        "License: multi\n  line: with a colon\n\nName: not-the-name\nVersion: 0\n"
    )
    if direct_url is not None:
        (info / "direct_url.json").write_text(json.dumps(direct_url))


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A real venv (without pip) with hand-written installed distributions."""
    root = tmp_path_factory.mktemp("venv") / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True)
    python = root / "bin" / "python"
    site = Path(
        subprocess.run(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()
    )  # fmt: skip
    project = root.parent / "my project"
    write_dist(site, "Fake_Pkg", "1.2.3")
    write_dist(site, "zeta", "0.1")
    write_dist(
        site,
        "mylocal",
        "0.1.0",
        {"url": project.as_uri(), "dir_info": {"editable": True}},
    )
    write_dist(site, "fromdir", "2.0", {"url": "file:///srv/src/fromdir", "dir_info": {}})
    write_dist(
        site,
        "tool",
        "2.0",
        {
            "url": "https://github.com/example/tool",
            "vcs_info": {"vcs": "git", "commit_id": "3f2a9c0d", "requested_revision": "main"},
        },
    )
    write_dist(
        site,
        "remote",
        "1.0",
        {
            "url": "https://example.org/remote-1.0.tar.gz",
            "archive_info": {"hashes": {"sha256": "ab12"}},
        },
    )
    legacy = root.parent / "legacy-src"
    (legacy / "legacy.egg-info").mkdir(parents=True)
    (legacy / "legacy.egg-info" / "PKG-INFO").write_text("Name: legacy\nVersion: 0.9\n")
    (site / "legacy.pth").write_text(f"{legacy}\n")  # what `setup.py develop` does
    return python, project


def test_lock_of_running_interpreter() -> None:
    lock = env_lock()
    lines = lock.splitlines()
    assert lines[0] == LOCK_HEADER
    assert lines[1] == (
        f"# python: {platform.python_version()} ({platform.python_implementation()}) "
        f"{sys.executable}"
    )
    assert lines[2].startswith(f"# platform: {sys.platform} {platform.machine()}")
    assert f"pytest=={metadata.version('pytest')}" in lines
    assert parse_env_lock(lock)["pytest"] == metadata.version("pytest")
    names = [Requirement(line).name for line in pins(lock)]
    assert names == sorted(names, key=str.lower)
    assert len({normalize_name(n) for n in names}) == len(names)
    assert env_lock(sys.executable) is env_lock()  # same interpreter: the cached lock


def test_running_interpreter_is_read_once_and_cached() -> None:
    clear_env_lock_cache()
    first = env_lock()
    assert env_lock() is first  # the second call reads nothing
    clear_env_lock_cache()
    assert env_lock() == first and env_lock() is not first


def test_other_interpreter_same_environment_gives_same_packages() -> None:
    other = Path(sys.executable).with_name("python3")
    if not other.exists() or other.samefile(sys.executable) is False:
        pytest.skip("no second name for this interpreter")
    assert parse_env_lock(env_lock(str(other))) == parse_env_lock(env_lock())


def test_lock_of_a_venv(venv: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYTHONPATH")  # else a source checkout on it shows up as editable
    python, project = venv
    lock = env_lock(str(python))
    lines = lock.splitlines()
    assert lines[0] == LOCK_HEADER
    assert lines[1] == (
        f"# python: {platform.python_version()} ({platform.python_implementation()}) {python}"
    )
    assert python_version_of_lock(lock) == platform.python_version()
    assert lines[3:] == [
        "Fake_Pkg==1.2.3",
        "# local: fromdir==2.0 from file:///srv/src/fromdir",
        "# fromdir==2.0",
        f"# editable: legacy==0.9 from {(project.parent / 'legacy-src').as_uri()}",
        "# legacy==0.9",
        f"# editable: mylocal==0.1.0 from {project.as_uri()}",
        "# mylocal==0.1.0",
        "# url: remote==1.0 from https://example.org/remote-1.0.tar.gz#sha256=ab12",
        "remote @ https://example.org/remote-1.0.tar.gz#sha256=ab12",
        "# vcs: tool==2.0 from git+https://github.com/example/tool@3f2a9c0d",
        "tool @ git+https://github.com/example/tool@3f2a9c0d",
        "zeta==0.1",
    ]
    assert "pytest==" not in lock  # the venv's packages, not ours
    assert parse_env_lock(lock) == {
        "fake-pkg": "1.2.3",
        "fromdir": "2.0",
        "legacy": "0.9",
        "mylocal": "0.1.0",
        "remote": "1.0",
        "tool": "2.0",
        "zeta": "0.1",
    }


def test_lock_is_a_valid_requirements_file(venv: tuple[Path, Path]) -> None:
    for lock in (env_lock(), env_lock(str(venv[0]))):
        for line in pins(lock):
            req = Requirement(line)  # pip accepts exactly these forms
            assert req.url or str(req.specifier).startswith("==")


def test_parse_round_trip() -> None:
    wanted = {"numpy": "1.26.4", "PyYAML": "6.0.1", "typing_extensions": "4.12.2"}
    text = "\n".join(
        ["# gitxp env lock v1", "# python: 3.12.1 (CPython) /x/python", "# platform: linux"]
        + [f"{name}=={version}" for name, version in sorted(wanted.items())]
    )
    parsed = parse_env_lock(text)
    assert parsed == {normalize_name(k): v for k, v in wanted.items()}
    assert parsed["pyyaml"] == "6.0.1" and parsed["typing-extensions"] == "4.12.2"
    assert python_version_of_lock(text) == "3.12.1"
    assert python_version_of_lock("numpy==1\n") is None
    own = env_lock()
    assert parse_env_lock(own) == parse_env_lock("\n".join(reversed(own.splitlines())))


def test_editable_install_made_by_pip(tmp_path: Path) -> None:
    """The real thing: pip install -e of a tiny project into a venv (skipped offline)."""
    try:
        metadata.version("pip")
        setuptools = tuple(int(p) for p in metadata.version("setuptools").split(".")[:2])
    except (metadata.PackageNotFoundError, ValueError):
        pytest.skip("pip or setuptools is not installed")
    if setuptools < (70, 1) and importlib.util.find_spec("wheel") is None:
        pytest.skip("setuptools < 70.1 needs the wheel package to build editables")
    project = tmp_path / "tinypkg"
    (project / "tinypkg").mkdir(parents=True)
    (project / "tinypkg" / "__init__.py").write_text("")
    (project / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=64"]\nbuild-backend = "setuptools.build_meta"\n'
        '[project]\nname = "tinypkg"\nversion = "0.0.1"\n'
    )
    env = tmp_path / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)], check=True)
    # pip and setuptools come from the interpreter running the tests, through PYTHONPATH:
    # the install itself goes into the new venv.
    ours = os.pathsep.join(p for p in sys.path if p.endswith("site-packages"))
    target = subprocess.run(
        [env / "bin" / "python", "-m", "pip", "install", "-q", "--no-deps",
         "--no-build-isolation", "--no-index", "-e", str(project)],
        capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHONPATH": ours},
    )  # fmt: skip
    if target.returncode != 0:
        pytest.skip(f"pip could not make an editable install here: {target.stderr[-200:]}")
    lock = env_lock(str(env / "bin" / "python"))
    assert f"# editable: tinypkg==0.0.1 from {project.as_uri()}" in lock.splitlines()
    assert "tinypkg==0.0.1" not in pins(lock)


def test_interpreter_errors(tmp_path: Path) -> None:
    with pytest.raises(GitxpError, match="not found"):
        env_lock(str(tmp_path / "no-python"))
    with pytest.raises(GitxpError, match="not found"):
        env_lock("no-such-python-gitxp")
    broken = tmp_path / "python"
    broken.write_text("#!/bin/sh\necho 'boom: no site module' >&2\nexit 3\n")
    broken.chmod(0o755)
    with pytest.raises(GitxpError, match="could not list its packages: boom"):
        env_lock(str(broken))
    chatty = tmp_path / "chatty"
    chatty.write_text("#!/bin/sh\necho hello\n")
    chatty.chmod(0o755)
    with pytest.raises(GitxpError, match="no usable package listing"):
        env_lock(str(chatty))


def test_disk_cache_is_reused_and_dropped_when_a_path_folder_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gitxp.machine import lock as envlock

    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.setattr(sys, "path", [*sys.path, str(site)])
    cache = tmp_path / "cache"
    envlock.clear_env_lock_cache()
    first = envlock.env_lock(cache_dir=cache)
    (entry,) = cache.glob("envlock-*.txt")
    entry.write_text(first + "# marker: served from the disk cache\n")
    envlock.clear_env_lock_cache()
    assert envlock.env_lock(cache_dir=cache).endswith("served from the disk cache\n")
    (site / "newpkg-1.0.dist-info").mkdir()  # an install changes the folder
    os.utime(site, ns=(1, 1))
    envlock.clear_env_lock_cache()
    assert "served from the disk cache" not in envlock.env_lock(cache_dir=cache)
    envlock.clear_env_lock_cache()


def test_packages_vendored_inside_site_packages_are_not_in_the_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "lib" / "site-packages"
    vendored = site / "sometool" / "_vendor"
    (vendored / "hidden_dep-1.0.dist-info").mkdir(parents=True)
    (vendored / "hidden_dep-1.0.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: hidden-dep\nVersion: 1.0\n"
    )
    monkeypatch.setattr(sys, "path", [*sys.path, str(vendored)])
    clear_env_lock_cache()
    assert "hidden-dep" not in parse_env_lock(env_lock())
    clear_env_lock_cache()
