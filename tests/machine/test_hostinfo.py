"""Tests for gitxp.machine.host: real /proc reads, fake nvidia-smi executables on PATH."""

from __future__ import annotations

import json
import os
import platform
import shutil
import sys
import time
from pathlib import Path

import pytest

from gitxp.machine import host as hostinfo
from gitxp.machine.host import ENV_ALLOW, HOST_FORMAT_VERSION, host_facts


def fake_tool(bin_dir: Path, name: str, script: str) -> None:
    bin_dir.mkdir(exist_ok=True)
    path = bin_dir / name
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(0o755)


@pytest.fixture(autouse=True)
def fresh_machine_facts() -> None:
    """Each test sees the machine anew (host_facts reads it once per process)."""
    hostinfo._machine.cache_clear()


@pytest.fixture
def no_gpu_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A PATH on which there is certainly no nvidia-smi."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))


def test_facts_describe_this_host(no_gpu_path: None) -> None:
    facts = host_facts()
    assert facts["host_format_version"] == HOST_FORMAT_VERSION
    assert facts["hostname"] == platform.node()
    assert facts["os"]["system"] == platform.system()
    assert facts["os"]["release"] == platform.release()
    assert facts["kernel"].endswith(os.uname().release)
    assert facts["python"] == {
        "implementation": platform.python_implementation(),
        "version": platform.python_version(),
        "executable": sys.executable,
    }
    assert facts["cpu"]["cores"] == os.cpu_count()
    assert 1 <= facts["cpu"]["usable_cores"] <= facts["cpu"]["cores"]
    assert isinstance(facts["cpu"]["model"], str) and facts["cpu"]["model"]
    assert facts["memory"]["total_bytes"] > 64 * 1024**2
    assert facts["gpus"] == [] and facts["gpu_error"] is None
    json.dumps(facts)  # stored as JSON in the run record


@pytest.mark.skipif(not Path("/etc/os-release").exists(), reason="no /etc/os-release")
def test_distro_from_os_release() -> None:
    text = Path("/etc/os-release").read_text()
    pretty = next(line for line in text.splitlines() if line.startswith("PRETTY_NAME="))
    assert host_facts()["os"]["distro"] == pretty.split("=", 1)[1].strip().strip('"')


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux /proc")
def test_memory_and_cpu_model_from_proc() -> None:
    meminfo = Path("/proc/meminfo").read_text().splitlines()
    kib = int(next(line for line in meminfo if line.startswith("MemTotal:")).split()[1])
    facts = host_facts()
    assert facts["memory"]["total_bytes"] == kib * 1024
    models = [
        line.split(":", 1)[1].strip()
        for line in Path("/proc/cpuinfo").read_text().splitlines()
        if line.startswith("model name")
    ]
    if models:
        assert facts["cpu"]["model"] == models[0]


def test_only_allow_listed_environment_is_recorded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITXP_TEST_API_TOKEN", "s3cr3t-value-123")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "another-s3cr3t")
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")
    monkeypatch.delenv("TZ", raising=False)
    facts = host_facts()
    dumped = json.dumps(facts)
    assert "s3cr3t" not in dumped and "GITXP_TEST_API_TOKEN" not in dumped
    assert "PATH" not in facts["env"] and "PATH" not in ENV_ALLOW
    assert facts["env"]["OMP_NUM_THREADS"] == "3"
    assert facts["env"]["CUDA_VISIBLE_DEVICES"] == "0,1"
    assert "TZ" not in facts["env"]  # unset variables are absent, not empty
    assert set(facts["env"]) <= set(ENV_ALLOW)


def test_extra_env_allow(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_EXPERIMENT_TAG", "ablation")
    monkeypatch.setenv("OTHER_VAR", "x")
    assert host_facts(["MY_EXPERIMENT_TAG"])["env"]["MY_EXPERIMENT_TAG"] == "ablation"
    assert host_facts("MY_EXPERIMENT_TAG")["env"]["MY_EXPERIMENT_TAG"] == "ablation"
    assert "OTHER_VAR" not in host_facts(["MY_EXPERIMENT_TAG"])["env"]


def test_machine_facts_are_read_once_per_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_tool(tmp_path / "bin", "nvidia-smi", "echo 'Tesla T4, 15360 MiB, 535.1'\n")
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    first = host_facts()
    (tmp_path / "bin" / "nvidia-smi").unlink()  # a second call would now find no GPU
    assert host_facts()["gpus"] == first["gpus"] != []
    host_facts()["cpu"]["model"] = "changed by a caller"
    assert host_facts()["cpu"]["model"] == first["cpu"]["model"]


def test_gpus_from_nvidia_smi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = tmp_path / "bin"
    fake_tool(
        bin_dir,
        "nvidia-smi",
        'case "$*" in *--query-gpu=name,memory.total,driver_version*--format=csv,noheader*)\n'
        "  echo 'NVIDIA A100-SXM4-40GB, 40960 MiB, 535.104.05'\n"
        "  echo 'NVIDIA A100-SXM4-40GB, 40960 MiB, 535.104.05'; exit 0;;\n"
        "esac\nexit 9\n",
    )
    monkeypatch.setenv("PATH", str(bin_dir))
    facts = host_facts()
    assert facts["gpu_error"] is None
    assert facts["gpus"] == [
        {
            "index": i,
            "name": "NVIDIA A100-SXM4-40GB",
            "memory_total": "40960 MiB",
            "memory_total_bytes": 40960 * 1024**2,
            "driver_version": "535.104.05",
        }
        for i in range(2)
    ]


def test_failing_nvidia_smi_is_reported_not_raised(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = tmp_path / "bin"
    fake_tool(
        bin_dir,
        "nvidia-smi",
        'echo "NVIDIA-SMI has failed because it couldn\'t communicate with the NVIDIA driver"\n'
        "exit 9\n",
    )
    monkeypatch.setenv("PATH", str(bin_dir))
    facts = host_facts()
    assert facts["gpus"] == []
    assert facts["gpu_error"].startswith("nvidia-smi exited with status 9: NVIDIA-SMI has failed")


def test_hanging_nvidia_smi_times_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = tmp_path / "bin"
    fake_tool(bin_dir, "nvidia-smi", f"exec {shutil.which('sleep')} 30\n")
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setattr(hostinfo, "NVIDIA_SMI_TIMEOUT", 0.3)
    start = time.monotonic()
    facts = host_facts()
    assert time.monotonic() - start < 3
    assert facts["gpus"] == [] and facts["gpu_error"] == "nvidia-smi timed out after 0.3 s"


def test_garbled_nvidia_smi_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = tmp_path / "bin"
    fake_tool(bin_dir, "nvidia-smi", "echo 'No devices were found, sorry'\n")
    monkeypatch.setenv("PATH", str(bin_dir))
    facts = host_facts()
    assert facts["gpus"] == [] and "unexpected line" in facts["gpu_error"]
