"""``gitxp diff``: config, code, environment, metrics and result of two real runs."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from runstore_helpers import git, gitxp, gitxp_run

from gitxp.git.repo import GitRepo
from gitxp.query.diff import config_diff, host_summary, metric_summary, package_diff
from gitxp.store.ids import new_run_id

OLD_LINE = "    gitxp.log_scalar('loss', 1.0 / (step + 1))"
NEW_LINE = "    gitxp.log_scalar('loss', 2.0 / (step + 1))"


def record(cwd: Path, *args: str) -> str:
    _, ref = gitxp_run(cwd, "-b", "0", *args)
    return ref.rsplit("/", 1)[-1]


def variant(cwd: Path, run_id: str, files: dict[str, bytes]) -> str:
    """A copy of run ``run_id`` under a new id with some ``.gitxp/`` files replaced."""
    repo = GitRepo(cwd)
    commit = repo.ref_target(f"refs/gitxp/runs/{run_id}")
    assert commit is not None
    new_id = new_run_id()
    info = json.loads(repo.read_path(commit, ".gitxp/run.json") or b"{}")
    info["id"] = new_id
    files = {"run.json": json.dumps(info).encode(), **files}
    tree = repo.write_tree({".gitxp": files}, base=repo.commit_tree(commit))
    repo.create_ref(
        f"refs/gitxp/runs/{new_id}", repo.write_commit(tree, repo.commit_parents(commit), "v")
    )
    return new_id


def test_diff_names_config_code_metrics_and_result(repo: Path) -> None:
    a = record(repo, "train.py", "with", "lr=0.1", "model.depth=2", "dropout=0.5")
    train = repo / "train.py"
    train.write_text(train.read_text().replace(OLD_LINE, NEW_LINE))
    (repo / "util.py").write_text("def helper():\n    return 1\n")
    (repo / "README.md").unlink()
    b = record(repo, "train.py", "with", "lr=0.2", "model.depth=2", "model.width=8")
    data = json.loads(gitxp(repo, "diff", a, b, "--json").stdout)
    assert data["a"]["id"] == a and data["b"]["id"] == b
    assert data["config"] == {
        "added": {"model.width": 8},
        "removed": {"dropout": 0.5},
        "changed": {"lr": [0.1, 0.2]},
    }
    files = {
        f["path"]: (f["status"], f["additions"], f["deletions"]) for f in data["code"]["files"]
    }
    assert files == {"README.md": ("D", 0, 1), "train.py": ("M", 1, 1), "util.py": ("A", 2, 0)}
    patch = data["code"]["patch"]
    assert f"-{OLD_LINE}\n+{NEW_LINE}\n" in patch and ".gitxp" not in patch
    # The oracle: real git between the two snapshot commits, .gitxp/ excluded.
    numstat = git(
        repo, "diff", "--numstat", f"refs/gitxp/runs/{a}~1", f"refs/gitxp/runs/{b}~1",
        "--", ".", ":(exclude).gitxp",
    )  # fmt: skip
    rows = [line.split("\t") for line in numstat.splitlines()]
    real = {row[2]: (int(row[0]), int(row[1])) for row in rows}
    assert real == {path: (adds, dels) for path, (_, adds, dels) in files.items()}
    loss = data["metrics"]["loss"]
    assert loss["a"] == {"last": 1 / 3, "min": 1 / 3, "max": 1.0, "count": 3}
    assert loss["b"] == {"last": 2 / 3, "min": 2 / 3, "max": 2.0, "count": 3}
    assert data["result"] == {"a": 0.2, "b": 0.4, "equal": False}
    assert data["environment"] == {
        "python": None,
        "packages": {"added": {}, "removed": {}, "changed": {}},
        "host": {},
    }
    text = gitxp(repo, "diff", "latest~1", "latest").stdout
    for expected in (
        "config: 3 differences",
        "  ~ lr: 0.1 → 0.2",
        "  + model.width: 8",
        "  - dropout: 0.5",
        "code: 3 files changed, 3 insertions(+), 2 deletions(-)",
        "  M train.py  +1 -1",
        f"-{OLD_LINE}",
        f"+{NEW_LINE}",
        "environment: identical",
        "result: 0.2 → 0.4 (differs)",
    ):
        assert expected in text.splitlines(), (expected, text)
    assert any(line.split()[:3] == ["loss", "0.333333", "0.666667"] for line in text.splitlines())
    stat = gitxp(repo, "diff", a, b, "--stat").stdout
    assert "  A util.py  +2 -0" in stat and "@@" not in stat
    assert "patch" not in json.loads(gitxp(repo, "diff", a, b, "--stat", "--json").stdout)["code"]


def test_diff_environment_packages_python_and_host(repo: Path) -> None:
    a = record(repo, "train.py")
    lock_a = git(repo, "show", f"refs/gitxp/runs/{a}:.gitxp/env.lock")
    host = json.loads(git(repo, "show", f"refs/gitxp/runs/{a}:.gitxp/host.json"))
    lock_b = (
        "# gitxp env lock v1\n# python: 3.99.1 (CPython) /opt/py/bin/python\n"
        "# platform: linux x86_64\nnumpy==1.26.4\nscipy==1.11.0\n"
    )
    lock_a2 = (
        "# gitxp env lock v1\n# python: 3.11.7 (CPython) /usr/bin/python3\n"
        "# platform: linux x86_64\nnumpy==1.24.0\npandas==2.0.0\n"
    )
    host_b = json.loads(json.dumps(host))
    host_b["cpu"]["model"] = "Imaginary CPU 9000"
    host_b["gpus"] = [{"name": "Tesla T4", "memory_bytes": 1}]
    host_b["python"]["version"] = "3.99.1"
    host_b["os"]["distro"] = "Other OS 1"
    b = variant(
        repo,
        a,
        {"env.lock": lock_b.encode(), "host.json": json.dumps(host_b).encode()},
    )
    a2 = variant(repo, a, {"env.lock": lock_a2.encode()})
    data = json.loads(gitxp(repo, "diff", a2, b, "--json").stdout)
    env = data["environment"]
    assert env["packages"] == {
        "added": {"scipy": "1.11.0"},
        "removed": {"pandas": "2.0.0"},
        "changed": {"numpy": ["1.24.0", "1.26.4"]},
    }
    assert env["python"] == [host["python"]["version"], "3.99.1"]
    assert set(env["host"]) == {"cpu", "gpu", "os"}
    assert env["host"]["gpu"] == ["none" if not host["gpus"] else env["host"]["gpu"][0], "Tesla T4"]
    assert env["host"]["cpu"][1].startswith("Imaginary CPU 9000")
    assert data["code"]["files"] == [] and data["config"]["changed"] == {}
    text = gitxp(repo, "diff", a2, b).stdout
    assert "  packages: 1 package changed, 1 package added, 1 package removed" in text
    assert "    ~ numpy 1.24.0 → 1.26.4" in text and "    + scipy 1.11.0" in text
    assert "    - pandas 2.0.0" in text
    assert f"  python: {host['python']['version']} → 3.99.1" in text
    assert lock_a  # the real lock of the run exists


def test_diff_of_a_reproduction_is_identical(repo: Path) -> None:
    a = record(repo, "train.py", "with", "lr=0.3")
    proc = gitxp(repo, "reproduce", a)
    assert proc.returncode == 0
    refs = git(repo, "for-each-ref", "--format=%(refname:lstrip=3)", "refs/gitxp/runs/").split()
    (b,) = [r for r in refs if r != a]
    text = gitxp(repo, "diff", a, b).stdout
    for expected in ("config: identical", "code: identical", "environment: identical"):
        assert expected in text.splitlines()
    assert "result: 0.6 (same)" in text


def test_diff_unknown_run_is_a_one_line_error(repo: Path) -> None:
    a = record(repo, "train.py")
    proc = gitxp(repo, "diff", a, "ZZZZ", check=False)
    assert proc.returncode == 2
    assert proc.stderr.startswith("gitxp: error: no run matches 'ZZZZ'")


def test_sections() -> None:
    assert config_diff({"a": {"b": 1, "c": [1]}, "d": 1}, {"a": {"b": 1.0, "c": [1]}}) == {
        "added": {},
        "removed": {"d": 1},
        "changed": {"a.b": [1, 1.0]},
    }
    assert not package_diff("x==1\n", "X==1\n")
    assert package_diff("x==1\n", "x==2\n").changed == {"x": ["1", "2"]}
    summary = metric_summary({"m": {"values": [3, float("nan"), 1, 2]}})
    assert summary["m"] == {"last": 2, "min": 1, "max": 3, "count": 4}
    assert host_summary({})["gpu"] == "none"
    assert host_summary({"cpu": "odd"})["cpu"] == "?"


def test_diff_from_python(repo: Path) -> None:
    from gitxp.query.diff import run_diff
    from gitxp.store.runs import RunRecord, resolve

    a = record(repo, "train.py")
    b = record(repo, "train.py", "with", "lr=1")
    gitrepo = GitRepo(repo)
    ra, rb = (RunRecord.load(gitrepo, resolve(gitrepo, x)) for x in (a, b))
    data = run_diff(gitrepo, ra, rb, patch=False)
    assert data["config"]["added"] == {"lr": 1}
    assert "patch" not in data["code"]
    assert subprocess.run(["git", "fsck"], cwd=repo, capture_output=True).returncode == 0
