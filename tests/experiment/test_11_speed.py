"""Issue point 11: what keeps ``import gitxp`` + ``Experiment()`` cheap.

Timings belong to ``benchmarks/experiment_speed.py`` (medians and ratios against Sacred);
this test checks the correctness property behind them: creating an Experiment imports
none of the heavy modules (git bindings, pandas, matplotlib, numpy).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from exp_helpers import subprocess_env

CHILD = """
import sys, time
t = time.perf_counter()
import gitxp
ex = gitxp.Experiment("speed", base_dir=".")
elapsed = time.perf_counter() - t
heavy = sorted(m for m in ("pygit2", "pandas", "matplotlib", "dulwich", "numpy")
               if m in sys.modules)
print(elapsed, ",".join(heavy))
"""


def test_import_and_experiment_creation_load_no_heavy_module(tmp_path: Path) -> None:
    (tmp_path / "child.py").write_text(CHILD)
    env = subprocess_env(None)  # compiled modules cached, as on a user's machine
    for _ in range(2):
        out = subprocess.run(
            [sys.executable, "child.py"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=True,
            env=env,
        ).stdout.split()
        assert len(out) == 1, f"heavy modules imported: {out[1]}"
