"""``python train.py with …`` and ``gitxp run train.py with …`` record the same run."""

from __future__ import annotations

import json
from pathlib import Path

from exp_helpers import commit_all, git, gitxp_run, run_py, run_refs, show_json, show_text, write

SCRIPT = """
    import random
    import numpy as np
    from gitxp import Experiment
    ex = Experiment("equal")

    @ex.config
    def cfg():
        lr = 0.1  # learning rate
        steps = 4
        jitter = random.random()  # drawn in the scope
        fail = False

    @ex.named_config
    def fast():
        steps = 2

    @ex.automain
    def main(lr, steps, jitter, fail, _run, _seed):
        print("training", lr)
        for i in range(steps):
            _run.log_scalar("loss", np.float32(lr / (i + 1)))
        _run.info["draw"] = random.random()
        _run.info["fn_seed"] = _seed
        if fail:
            raise ValueError("failing on purpose")
        return {"final": lr * steps, "jitter": jitter}
"""

SAME_FIELDS = (
    "experiment",
    "status",
    "result",
    "seed",
    "config_docs",
    "named_configs",
    "config_updates",
    "command_name",
    "info",
    "name",
    "comment",
)


def _pair(repo: Path, *args: str, check: bool = True) -> tuple[str, str]:
    run_py(repo, "train.py", *args, check=check)
    gitxp_run(repo, "train.py", *args, check=check)
    first, second = run_refs(repo)[-2:]
    return first, second


def test_both_ways_record_the_same_run(exrepo: Path) -> None:
    write(exrepo, "train.py", SCRIPT)
    commit_all(exrepo)
    args = ("-n", "same", "-c", "note", "with", "seed=1", "fast", "lr=0.5")
    direct, supervised = _pair(exrepo, *args)
    a, b = show_json(exrepo, direct), show_json(exrepo, supervised)
    assert (a["supervisor"], b["supervisor"]) == ("experiment", "gitxp run")
    for key in SAME_FIELDS:
        assert a[key] == b[key], key
    assert a["result"]["final"] == 1.0 and a["name"] == "same"
    ea, eb = a["experiment_info"], b["experiment_info"]
    assert (ea["name"], ea["mainfile"], ea["sources"]) == (
        eb["name"],
        eb["mainfile"],
        eb["sources"],
    )
    assert show_text(exrepo, direct, ".gitxp/config.yaml") == show_text(
        exrepo, supervised, ".gitxp/config.yaml"
    )
    ma, mb = (show_json(exrepo, r, ".gitxp/metrics.json") for r in (direct, supervised))
    assert ma["loss"]["steps"] == mb["loss"]["steps"] == [0, 1]
    assert ma["loss"]["values"] == mb["loss"]["values"] == [0.5, 0.25]
    for ref in (direct, supervised):
        assert "training 0.5" in show_text(exrepo, ref, ".gitxp/output.log")
        assert show_json(exrepo, ref)["exit_code"] == 0
    assert git(exrepo, "rev-parse", f"{direct}^{{tree}}:train.py") == git(
        exrepo, "rev-parse", f"{supervised}^{{tree}}:train.py"
    )


def test_both_ways_record_the_same_failure(exrepo: Path) -> None:
    write(exrepo, "train.py", SCRIPT)
    direct, supervised = _pair(exrepo, "with", "fail=True", "seed=3", check=False)
    a, b = show_json(exrepo, direct), show_json(exrepo, supervised)
    assert a["status"] == b["status"] == "FAILED"
    assert a["exit_code"] == b["exit_code"] == 1
    assert a["fail_trace"] == b["fail_trace"]
    assert a["fail_trace"].startswith("Traceback (most recent calls WITHOUT gitxp internals)")
    assert a["fail_trace"].rstrip().endswith("ValueError: failing on purpose")


def test_a_child_experiment_under_gitxp_run_records_its_own_run(exrepo: Path) -> None:
    write(
        exrepo,
        "child.py",
        """
        from gitxp import Experiment
        ex = Experiment("child")

        @ex.config
        def cfg():
            who = "child"

        @ex.automain
        def main(who):
            return who
    """,
    )
    write(
        exrepo,
        "parent.py",
        """
        import subprocess, sys
        from gitxp import Experiment
        ex = Experiment("parent")

        @ex.config
        def cfg():
            who = "parent"

        @ex.automain
        def main(who):
            subprocess.run([sys.executable, "child.py"], check=True)
            return who
    """,
    )
    gitxp_run(exrepo, "parent.py", "with", "who=boss")
    infos = {show_json(exrepo, r)["experiment"]: show_json(exrepo, r) for r in run_refs(exrepo)}
    assert infos["parent"]["result"] == "boss" and infos["parent"]["supervisor"] == "gitxp run"
    assert infos["child"]["result"] == "child" and infos["child"]["supervisor"] == "experiment"
    parent_config = show_text(
        exrepo, f"refs/gitxp/runs/{infos['parent']['id']}", ".gitxp/config.yaml"
    )
    assert "who: boss" in parent_config
    assert json.dumps(infos["child"]["config_updates"]) == "{}"
