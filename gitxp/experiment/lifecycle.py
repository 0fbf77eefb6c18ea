"""Where an Experiment's run is recorded: the sinks, failure traces, the run environment.

Three sinks:

* :class:`RecorderSink`: the script records itself (``python train.py with …``). It is the
  supervisor: it starts a :class:`gitxp.store.recorder.Recorder` (snapshot commit with the
  resolved config) before any user code runs, captures output and writes heartbeats.
* :class:`SupervisedSink`: the script runs under ``gitxp run`` (``GITXP_SPOOL`` is set).
  The supervisor owns the ref, the output and the final status; the experiment adds the
  resolved config, its facts, the result and the failure trace as spool events.
* :class:`UnobservedSink`: ``-u`` or an unobserved command; nothing is recorded.

Both recording sinks write the same ``run.json`` fields, so a run started either way is
recorded the same.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import sys
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gitxp.errors import RepoError, UsageError
from gitxp.store.spool import RUN_ID_ENV, SPOOL_ENV, USAGE_ERROR, Spool

if TYPE_CHECKING:
    from gitxp.share.hooks import RunHookContext
    from gitxp.store.recorder import Recorder

__all__ = [
    "RecorderSink",
    "Sink",
    "StartFacts",
    "SupervisedSink",
    "UnobservedSink",
    "claim_supervised",
    "format_failure",
    "report_usage_error",
]

CLAIM_FILE = "experiment.claim"
_GITXP_DIR = os.path.dirname(os.path.abspath(__file__))
_log = logging.getLogger("gitxp")


@dataclass
class StartFacts:
    """What a sink needs to record the start of a run."""

    command: list[str]
    experiment: str
    base_dir: str
    config: dict[str, Any]
    docs: dict[str, str]
    seed: int
    capture: str
    meta: dict[str, Any]
    name: str | None = None
    comment: str | None = None
    run_id: str | None = None
    queued: bool = False
    enforce_clean: bool = False
    outside_sources: list[str] = field(default_factory=list)
    extra_resources: dict[str, bytes] = field(default_factory=dict)
    output_filter: Callable[[str], str] | None = None
    env_allow: list[str] = field(default_factory=list)


class Sink:
    """Records nothing: the base of the recording sinks and the unobserved sink."""

    captures = False
    spool: Spool | None = None
    run_id: str | None = None
    ref: str | None = None

    def start(self, facts: StartFacts) -> None:
        """Record the start of the run (raise GitxpError to refuse it)."""

    def beat(self) -> None:
        """Save what the run gathered so far."""

    def finish(
        self,
        status: str,
        *,
        result: Any,
        has_result: bool,
        fail_trace: str | None,
        exit_code: int | None,
    ) -> None:
        """Record the end of the run."""

    def close_queued(self) -> None:
        """Release a run that was only queued."""


class UnobservedSink(Sink):
    """``-u`` or an unobserved command: nothing is written anywhere."""


def _store_files(spool: Spool, facts: StartFacts) -> None:
    """Sources outside the snapshot and generated files go to ``.gitxp/resources/``."""
    for file in facts.outside_sources:
        name = f"sources/{Path(file).name}"
        target = spool.path / "resources" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(file, target)
        spool.event("resource", name=name, metadata={"source": file, "kind": "source"})
    for name, data in facts.extra_resources.items():
        target = spool.path / "resources" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        spool.event("resource", name=name, metadata={"kind": "generated"})


class RecorderSink(Sink):
    """The script records itself: snapshot commit first, record commits until the end."""

    captures = True

    def __init__(
        self, repo_for: Callable[[str], Any], snapshot_of: Callable[[Any], Any] | None = None
    ) -> None:
        self._repo_for = repo_for
        self._snapshot_of = snapshot_of
        self.recorder: Recorder | None = None
        self.hooks: RunHookContext | None = None

    def start(self, facts: StartFacts) -> None:
        from gitxp.share.hooks import start_hooks
        from gitxp.store.recorder import Recorder, RunSpec

        try:
            repo = self._repo_for(facts.base_dir)
        except RepoError as err:
            if not str(err).startswith("not a git repository"):
                raise RepoError(
                    f"cannot record this run: {err}; or run it unrecorded with -u "
                    "(options={'--unobserved': True} from Python)"
                ) from None
            repo = create_beside(facts.base_dir)
        from gitxp.git.snapshot import take_snapshot, warn_left_out

        snapshot = (self._snapshot_of or take_snapshot)(repo)
        if facts.enforce_clean and snapshot.dirty:
            raise UsageError(
                f"--enforce-clean: {repo.workdir} has uncommitted changes or untracked "
                "files; commit or stash them, or run without -e"
            )
        spec = RunSpec(
            command=facts.command,
            experiment=facts.experiment,
            name=facts.name,
            comment=facts.comment,
            config=facts.config,
            config_docs=facts.docs,
            seed=facts.seed,
            capture=facts.capture,
            run_id=facts.run_id,
            queued=facts.queued,
            extra={**facts.meta, "supervisor": "experiment"},
            env_allow=list(facts.env_allow),
            snapshot=snapshot,
        )
        warn_left_out(repo, snapshot)
        recorder = self.recorder = Recorder.start(repo, spec)
        if recorder.warning:
            print(recorder.warning, file=sys.stderr, flush=True)
        self.repo = repo
        if not facts.queued:
            self.hooks = start_hooks(repo, recorder, facts.command)
        recorder.output_filter = facts.output_filter
        self.spool, self.run_id, self.ref = recorder.spool, recorder.run_id, recorder.ref
        (recorder.spool.path / CLAIM_FILE).touch()  # a child process must not claim it
        _store_files(recorder.spool, facts)

    def beat(self) -> None:
        if self.recorder is not None:
            self.recorder.heartbeat()

    def finish(
        self,
        status: str,
        *,
        result: Any,
        has_result: bool,
        fail_trace: str | None,
        exit_code: int | None,
    ) -> None:
        if self.recorder is not None:
            commit = self.recorder.finish(
                status,
                exit_code=exit_code,
                fail_trace=fail_trace,
                result=result,
                has_result=has_result,
            )
            if self.hooks is not None and commit is not None:
                from gitxp.share.hooks import finish_hooks

                finish_hooks(self.repo, self.hooks, status, exit_code, commit)

    def close_queued(self) -> None:
        if self.recorder is not None:
            self.recorder.close_queued()


class SupervisedSink(Sink):
    """Under ``gitxp run``: add the experiment's part to the supervisor's spool."""

    def __init__(self, spool: Spool) -> None:
        self.spool = spool
        self.run_id = os.environ.get(RUN_ID_ENV) or spool.path.name
        self.ref = f"refs/gitxp/runs/{self.run_id}"

    def start(self, facts: StartFacts) -> None:
        if facts.queued:
            raise UsageError(
                "-q/--queue cannot be used under 'gitxp run' (the run has already started); "
                "queue it with 'python SCRIPT.py -q …'"
            )
        if facts.run_id:
            raise UsageError(
                "-i/--id under 'gitxp run': give the id to gitxp instead: "
                "'gitxp run -i ID SCRIPT.py …'"
            )
        if facts.enforce_clean and self._dirty():
            raise UsageError(
                "--enforce-clean: the working tree has uncommitted changes or untracked "
                "files; commit or stash them, or run without -e"
            )
        spool = self.spool
        assert spool is not None
        spool.event("config", config=facts.config, docs=facts.docs, seed=facts.seed)
        meta = dict(facts.meta)
        if facts.name is not None:
            meta["name"] = facts.name
        if facts.comment is not None:
            meta["comment"] = facts.comment
        meta["experiment"] = facts.experiment
        spool.event("meta", value=meta)
        _store_files(spool, facts)
        if facts.output_filter is not None:
            _log.warning(
                "gitxp: captured_out_filter is not applied under 'gitxp run' (the "
                "supervisor captures the output); run the script with python to apply it"
            )

    def _dirty(self) -> bool:
        from gitxp.store.spool import read_meta

        try:
            return bool(read_meta(self.spool.path)["run"].get("dirty")) if self.spool else False
        except (OSError, ValueError, KeyError):
            return False

    def finish(
        self,
        status: str,
        *,
        result: Any,
        has_result: bool,
        fail_trace: str | None,
        exit_code: int | None,
    ) -> None:
        spool = self.spool
        assert spool is not None
        if has_result:
            spool.event("result", value=result)
        if fail_trace is not None:
            spool.event("failure", trace=fail_trace)
        spool.close()


def create_beside(base_dir: str) -> Any:
    """Sacred runs anywhere: outside a repository, make one in the experiment's folder.

    Nothing is committed or staged (the run's snapshot is taken from the working tree as
    always); one line on stderr says where the runs went. A home folder or the file system
    root is refused: a snapshot of it would take everything in it.
    """
    from gitxp.git.repo import GitRepo

    folder = os.path.realpath(base_dir)
    if folder in (os.path.realpath(os.path.expanduser("~")), os.path.realpath(os.sep)):
        raise RepoError(
            f"cannot record this run: {folder} is not in a git repository and is your home "
            "folder or the root; put the script in a project folder, run 'git init' there, "
            "or run it unrecorded with -u"
        )
    repo = GitRepo.init(folder)
    print(
        f"gitxp: {folder} was not in a git repository; created one there to record runs "
        "(see them with 'gitxp ls' in that folder)",
        file=sys.stderr,
    )
    return repo


def claim_supervised() -> SupervisedSink | None:
    """The supervisor's spool if this process runs under ``gitxp run`` and no other
    experiment of the process tree claimed it yet; else None (the experiment records itself).
    """
    path = os.environ.get(SPOOL_ENV)
    if not path or not os.path.isdir(path):
        return None
    try:
        fd = os.open(os.path.join(path, CLAIM_FILE), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return None
    except OSError:
        return None
    os.write(fd, str(os.getpid()).encode())
    os.close(fd)
    from gitxp import api

    spool = api.current_spool()  # the same Spool object gitxp.log_scalar writes to
    return SupervisedSink(spool if spool is not None else Spool(path))


def report_usage_error(message: str) -> None:
    """Under ``gitxp run``, tell the supervisor the command line was wrong (it then records
    nothing), unless another experiment of the process tree owns the run."""
    path = os.environ.get(SPOOL_ENV)
    if not path or not os.path.isdir(path):
        return
    try:
        owner = Path(path, CLAIM_FILE).read_text().strip()
    except FileNotFoundError:
        owner = ""
    except OSError:
        return
    if owner in ("", str(os.getpid())):
        Spool(path).event(USAGE_ERROR, message=message)


def _internal(filename: str) -> bool:
    return os.path.abspath(filename).startswith(_GITXP_DIR + os.sep)


def _filter(te: traceback.TracebackException) -> None:
    te.stack = traceback.StackSummary.from_list([f for f in te.stack if not _internal(f.filename)])
    for chained in (te.__cause__, te.__context__):
        if chained is not None:
            _filter(chained)


def format_failure(exc: BaseException, debug: bool = False) -> str:
    """The traceback of ``exc``; gitxp's own frames are left out unless ``debug``."""
    te = traceback.TracebackException(type(exc), exc, exc.__traceback__)
    if debug:
        return "".join(te.format())
    _filter(te)
    text = "".join(te.format())
    return text.replace(
        "Traceback (most recent call last):",
        "Traceback (most recent calls WITHOUT gitxp internals):",
    )


@contextlib.contextmanager
def run_environment(sink: Sink) -> Iterator[None]:
    """Make ``sink``'s run the one ``gitxp.log_scalar`` & co. (and child processes) log to."""
    from gitxp import api

    if not isinstance(sink, RecorderSink) or sink.spool is None:
        yield
        return
    saved_env = {k: os.environ.get(k) for k in (SPOOL_ENV, RUN_ID_ENV)}
    previous = api._state["active"]
    api.activate(sink.spool)
    os.environ[SPOOL_ENV] = str(sink.spool.path)
    os.environ[RUN_ID_ENV] = sink.run_id or ""
    try:
        yield
    finally:
        api.activate(previous)
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
