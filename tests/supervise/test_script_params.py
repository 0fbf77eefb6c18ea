"""A plain script's own parameters are recorded (issue 18, point 2).

``gitxp.config(defaults)`` merges a dict, an argparse Namespace, click's params or a Hydra
DictConfig with the ``with`` values and records the result; under ``gitxp run`` a script
that only uses argparse has its values recorded without a change to its code. Real git
reads the recorded ``config.yaml``.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import yaml
from runstore_helpers import git, gitxp, run_refs

import gitxp as gx

ARGPARSE_ONLY = textwrap.dedent(
    """\
    import argparse, subprocess, sys
    parser = argparse.ArgumentParser()
    parser.add_argument("--alpha", type=float, default=1e-4)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--out", type=__import__("pathlib").Path, default="out")
    args = parser.parse_args()
    # A helper process of the script parses its own arguments: not the run's config.
    subprocess.run([sys.executable, "-c", "import argparse; p = argparse.ArgumentParser();"
                    "p.add_argument('--alpha'); p.parse_args(['--alpha', '9'])"], check=True)
    print("alpha", args.alpha)
    """
)
DEFAULTS = textwrap.dedent(
    """\
    import argparse, click, gitxp
    from omegaconf import OmegaConf
    kind = gitxp.config().get("kind")
    if kind == "dict":
        cfg = gitxp.config({"alpha": 1e-4, "epochs": 10, "opt": {"name": "adam"}})
    elif kind == "namespace":
        parser = argparse.ArgumentParser()
        parser.add_argument("--alpha", type=float, default=1e-4)
        parser.add_argument("--epochs", type=int, default=10)
        cfg = gitxp.config(parser.parse_args(["--epochs", "7"]))
    elif kind == "click":
        @click.command()
        @click.option("--alpha", default=1e-4)
        @click.option("--epochs", default=10)
        def main(alpha, epochs):
            return gitxp.config(click.get_current_context().params)
        cfg = main.main(["--epochs", "5"], standalone_mode=False)
    else:
        cfg = gitxp.config(OmegaConf.create({"alpha": 1e-4, "model": {"depth": "${epochs}"},
                                             "epochs": 2}))
    print("got", cfg)
    """
)


def recorded(path: Path) -> dict[str, Any]:
    (ref,) = run_refs(path)
    config = yaml.safe_load(git(path, "show", f"{ref}:.gitxp/config.yaml"))
    git(path, "update-ref", "-d", ref)  # one run at a time
    return dict(config or {})


def test_config_merges_and_records_the_scripts_defaults(repo: Path) -> None:
    (repo / "defaults.py").write_text(DEFAULTS)
    gitxp(repo, "run", "-b", "0", "defaults.py", "with", "kind=dict", "opt.name=sgd")
    assert recorded(repo) == {"kind": "dict", "alpha": 1e-4, "epochs": 10, "opt": {"name": "sgd"}}
    proc = gitxp(repo, "run", "-b", "0", "defaults.py", "with", "kind=namespace", "alpha=0.5")
    assert "the script's parameters have no 'kind'" in proc.stderr  # kept, with a warning
    assert recorded(repo) == {"kind": "namespace", "alpha": 0.5, "epochs": 7}
    gitxp(repo, "run", "-b", "0", "defaults.py", "with", "kind=click")
    assert recorded(repo) == {"kind": "click", "alpha": 1e-4, "epochs": 5}
    gitxp(repo, "run", "-b", "0", "defaults.py", "with", "kind=hydra")
    assert recorded(repo) == {"kind": "hydra", "alpha": 1e-4, "epochs": 2, "model": {"depth": 2}}


def test_argparse_values_are_recorded_under_gitxp_run(repo: Path) -> None:
    (repo / "ap.py").write_text(ARGPARSE_ONLY)
    (repo / "site").mkdir()
    (repo / "site" / "sitecustomize.py").write_text("print('own sitecustomize')\n")
    env = {"PYTHONPATH": str(repo / "site")}
    proc = gitxp(repo, "run", "-b", "0", "ap.py", "--epochs", "3", env=env)
    assert "alpha 0.0001" in proc.stdout
    assert "own sitecustomize" in proc.stdout  # the environment's own still runs
    assert recorded(repo) == {"alpha": 1e-4, "epochs": 3, "out": "out"}
    proc = gitxp(repo, "run", "-b", "0", "ap.py", "with", "alpha=5")
    assert "with alpha=5 is not what the script's argparse gave (0.0001)" in proc.stderr
    assert recorded(repo) == {"alpha": 1e-4, "epochs": 10, "out": "out"}
    gitxp(repo, "run", "-b", "0", "ap.py", env={"GITXP_ARGPARSE": "0"})
    assert recorded(repo) == {}


def test_outside_a_run_config_returns_the_defaults(repo: Path) -> None:
    assert gx.config({"alpha": 1e-4}) == {"alpha": 1e-4}
    assert run_refs(repo) == {}
