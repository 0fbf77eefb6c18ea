"""Before a run that used other runs' artifacts is reproduced: its inputs, here and sound.

A run's ``uses`` (see :mod:`gitxp.store.uses`) name the producer runs by id; the re-run
asks for them by id again (``gitxp.use_artifact``). So each producer must be here as a
run: one that is not is fetched by id from the default remote first. Then each artifact
is checked against the blob the run used: a producer recorded again since (resumed, or a
later state fetched) may hold another file under the same name, and that is said before
anything runs.
"""

from __future__ import annotations

from collections.abc import Callable

from gitxp.errors import GitxpError, UsageError
from gitxp.git.repo import GitRepo
from gitxp.query.lineage import uses_of
from gitxp.share.sync import fetch
from gitxp.store import record
from gitxp.store.recorder import run_ref
from gitxp.store.runs import RunRecord


def check_inputs(repo: GitRepo, rec: RunRecord, echo: Callable[[str], None]) -> None:
    """Fetch the producers of ``rec``'s inputs that are not here; say which changed."""
    uses = uses_of(rec.info)
    absent = sorted({u["run"] for u in uses if repo.ref_target(run_ref(u["run"])) is None})
    if absent:
        shown = ", ".join(r[:10] for r in absent)
        echo(f"gitxp: run {rec.ref.id[:10]} used artifacts of runs not here; fetching {shown}")
        try:
            fetch(repo, None, absent)
        except GitxpError as err:
            raise UsageError(
                f"run {rec.ref.id[:10]} used artifacts of {shown}, which are not here and "
                f"could not be fetched ({err}); fetch them, then reproduce again"
            ) from None
    for use in uses:
        commit = repo.ref_target(run_ref(use["run"]))
        if commit is None:
            raise UsageError(f"run {use['run'][:10]} (an input) is not on the remote either")
        path = f"{record.RECORD_DIR}/artifacts/{use['path']}"
        now = dict((p, oid) for p, oid, _ in repo.walk_files(commit, path.rsplit("/", 1)[0]))
        if now.get(path) != use["blob"]:
            echo(
                f"gitxp: warning: {use['path']} of run {use['run'][:10]} is not the file "
                f"this run used (blob {use['blob'][:10]}); the reproduction reads today's"
            )
