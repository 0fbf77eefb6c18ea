"""print_named_configs shows a named config's own doc, never a docstring of gitxp's."""

from __future__ import annotations

from pathlib import Path

from exp_helpers import run_py, write

SCRIPT = '''\
from gitxp import Experiment
ex = Experiment("nc")
ex.add_named_config("tiny", hidden=8)

@ex.named_config
def big():
    """A big one."""
    hidden = 512

@ex.config
def cfg():
    hidden = 1

@ex.automain
def main(hidden):
    pass
'''


def test_add_named_config_has_no_doc(exrepo: Path) -> None:
    write(exrepo, "nc.py", SCRIPT)
    out = run_py(exrepo, "nc.py", "print_named_configs").stdout
    assert out.splitlines() == [
        "Named Configurations (# doc):",
        "  tiny",
        "  big                   # A big one.",
    ]
