"""``gitxp run … with cfg.yaml k=v``: the file is merged in and ``k=v`` beats it."""

from __future__ import annotations

from pathlib import Path

import yaml
from runstore_helpers import git, gitxp, run_refs


def test_with_updates_beat_a_config_file(repo: Path) -> None:
    (repo / "cfg.yaml").write_text("lr: 0.5\nepochs: 3\nopt: {name: adam, beta: 0.9}\n")
    proc = gitxp(repo, "run", "-b", "0", "train.py", "with", "cfg.yaml", "lr=0.1", "opt.name=sgd")
    assert "'lr': 0.1" in proc.stdout  # what gitxp.config() gave the script
    (ref,) = run_refs(repo)
    config = yaml.safe_load(git(repo, "show", f"{ref}:.gitxp/config.yaml"))
    assert config == {"lr": 0.1, "epochs": 3, "opt": {"name": "sgd", "beta": 0.9}}
