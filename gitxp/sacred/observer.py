"""``GitObserver``: a Sacred observer that records each Sacred run as a gitxp run.

``ex.observers.append(GitObserver())`` on a Sacred ``Experiment``: at ``started_event`` the
run's snapshot commit is written (working tree, resolved config, dependency lock, host
facts) on ``refs/gitxp/runs/<id>``; metrics, captured output, info, artifacts and
resources go to the run's spool as Sacred reports them; the final event writes the record
commit with Sacred's status, result and failure trace. Sacred's own facts (experiment
info, host info, meta info) are kept in ``run.json`` under ``sacred``.

A failure of gitxp inside an event is Sacred's business: Sacred logs it and drops the
observer (its ``_safe_call``), except at the start, where Sacred stops the run.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Any

from gitxp.configuration.dicts import recordable
from gitxp.store.spool import to_jsonable

__all__ = ["GitObserver"]


class GitObserver:
    """Records Sacred runs in the git repository around the experiment (or ``repo``)."""

    priority = 10  # below Sacred's storage observers: their run id wins, as with -F

    def __init__(self, repo: str | os.PathLike[str] | None = None) -> None:
        self.repo_path = None if repo is None else os.fspath(repo)
        self.recorder: Any = None
        self.run_id: str | None = None
        self._output_sent = 0
        self._info = ""

    # -- start ------------------------------------------------------------------------

    def _start(
        self, ex_info: Any, command: str, host_info: Any, config: Any, meta_info: Any, queued: bool
    ) -> str:
        from gitxp.git.repo import GitRepo
        from gitxp.store.recorder import Recorder, RunSpec

        repo = GitRepo(self.repo_path or ex_info.get("base_dir") or os.getcwd())
        options = meta_info.get("options") or {}
        plain = to_jsonable(recordable(dict(config)))
        spec = RunSpec(
            command=[sys.executable, *sys.argv],
            experiment=ex_info.get("name"),
            name=options.get("--name"),
            comment=meta_info.get("comment"),
            config=plain,
            seed=plain.get("seed") if isinstance(plain.get("seed"), int) else None,
            capture="sacred",
            queued=queued,
            extra={
                "supervisor": "sacred",
                "command_name": command,
                "sacred": to_jsonable(
                    {"experiment": ex_info, "host": host_info, "meta": recordable(meta_info)}
                ),
            },
        )
        self.recorder = Recorder.start(repo, spec)
        self.run_id = self.recorder.run_id
        self._output_sent = 0
        return str(self.run_id)

    def started_event(
        self,
        ex_info: Any,
        command: str,
        host_info: Any,
        start_time: Any,
        config: Any,
        meta_info: Any,
        _id: Any,
    ) -> Any:
        """Snapshot commit of the run; returns the gitxp run id unless Sacred has one."""
        run_id = self._start(ex_info, command, host_info, config, meta_info, queued=False)
        return _id if _id is not None else run_id

    def queued_event(
        self,
        ex_info: Any,
        command: str,
        host_info: Any,
        queue_time: Any,
        config: Any,
        meta_info: Any,
        _id: Any,
    ) -> Any:
        """A QUEUED gitxp run (snapshot and config; Sacred does not run it)."""
        run_id = self._start(ex_info, command, host_info, config, meta_info, queued=True)
        self.recorder.close_queued()
        self.recorder = None
        return _id if _id is not None else run_id

    # -- while it runs ------------------------------------------------------------------

    def heartbeat_event(self, info: Any, captured_out: Any, beat_time: Any, result: Any) -> None:
        """New output, info and the intermediate result; then a record commit."""
        if self.recorder is None:
            return
        self._save(info, captured_out)
        if result is not None:
            self.recorder.spool.event("result", value=to_jsonable(result))
        self.recorder.heartbeat()

    def _save(self, info: Any, captured_out: Any) -> None:
        spool = self.recorder.spool
        text = captured_out or ""
        if len(text) < self._output_sent:  # a captured_out_filter shortened it: start over
            spool.output_path.write_text("")
            self._output_sent = 0
        if len(text) > self._output_sent:
            with open(spool.output_path, "a", encoding="utf-8", errors="replace") as out:
                out.write(text[self._output_sent :])
            self._output_sent = len(text)
        if info:
            import json

            data = to_jsonable(dict(info))
            dumped = json.dumps(data, sort_keys=True)
            if dumped != self._info:
                spool.event("info", value=data)
                self._info = dumped

    def log_metrics(self, metrics_by_name: Any, info: Any) -> None:
        """Sacred's metrics since the last beat, at their steps."""
        if self.recorder is None:
            return
        for name, entry in metrics_by_name.items():
            for step, value in zip(entry["steps"], entry["values"], strict=False):
                self.recorder.spool.log_scalar(name, to_jsonable(value), step)

    def artifact_event(
        self, name: str, filename: str, metadata: Any = None, content_type: Any = None
    ) -> None:
        """A copy of the artifact in ``.gitxp/artifacts/<name>``."""
        if self.recorder is not None:
            self.recorder.spool.add_artifact(filename, name, metadata, content_type)

    def resource_event(self, filename: str) -> None:
        """A copy of the input file in ``.gitxp/resources/``."""
        if self.recorder is None:
            return
        spool = self.recorder.spool
        name = Path(filename).name
        target = spool.path / "resources" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(filename, target)
        spool.event("resource", name=name, metadata={"source": str(filename)})

    # -- the end ----------------------------------------------------------------------

    def _finish(self, status: str, **fields: Any) -> None:
        if self.recorder is None:
            return
        recorder, self.recorder = self.recorder, None
        recorder.finish(status, **fields)

    def completed_event(self, stop_time: Any, result: Any) -> None:
        """Status COMPLETED with Sacred's result."""
        self._finish("COMPLETED", exit_code=0, result=to_jsonable(result), has_result=True)

    def interrupted_event(self, interrupt_time: Any, status: str) -> None:
        """Sacred's status (INTERRUPTED, TIMEOUT or a custom one)."""
        self._finish(status, exit_code=130 if status == "INTERRUPTED" else None)

    def failed_event(self, fail_time: Any, fail_trace: Any) -> None:
        """Status FAILED with Sacred's traceback."""
        trace = "".join(fail_trace) if isinstance(fail_trace, list) else str(fail_trace)
        self._finish("FAILED", exit_code=1, fail_trace=trace)

    def join(self) -> None:
        """Nothing is left in flight after the final event."""

    def __repr__(self) -> str:
        return f"GitObserver({self.repo_path or ''!s})"
