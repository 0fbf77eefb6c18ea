"""The Run object: what ``_run`` and ``ex.run()`` give the user.

A :class:`Run` is one execution of a command. While it runs, it writes to the spool of its
git run (metrics, artifacts, resources, info, result); the supervisor folds the spool into
the run's commits. An unobserved run (``-u``, or a command marked ``unobserved``) has no
spool and records nothing.
"""

from __future__ import annotations

import datetime
import json
import logging
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from gitxp.errors import UsageError
from gitxp.experiment.expinfo import file_md5
from gitxp.store.spool import to_jsonable

if TYPE_CHECKING:
    from gitxp.configuration.resolve import ResolvedConfig
    from gitxp.experiment.captured import CapturedFunction
    from gitxp.experiment.observing import Observing
    from gitxp.store.spool import Spool

__all__ = ["Run"]


class Run:
    """One run of an experiment command (Sacred's ``Run``, recorded in git).

    ``id`` and ``ref`` name the git run (None when unobserved); ``status`` is None before
    the start, then RUNNING, and finally COMPLETED, FAILED, INTERRUPTED or QUEUED.
    """

    def __init__(
        self,
        *,
        config: Mapping[str, Any],
        config_modifications: ResolvedConfig,
        main_function: CapturedFunction,
        command_name: str,
        experiment_info: dict[str, Any],
        meta_info: dict[str, Any],
        run_logger: logging.Logger,
        base_dir: str,
        info: Mapping[str, Any] | None = None,
    ) -> None:
        from gitxp.configuration.dicts import make_read_only

        self.config = make_read_only(config)
        self.config_modifications = config_modifications
        self.main_function = main_function
        self.command_name = command_name
        self.experiment_info = experiment_info
        self.meta_info = meta_info
        self.run_logger = run_logger
        self.info: dict[str, Any] = dict(info or {})
        self.id: str | None = None
        self.ref: str | None = None
        self.status: str | None = None
        self.start_time: datetime.datetime | None = None  # naive UTC, as in Sacred
        self.stop_time: datetime.datetime | None = None
        self.host_info: dict[str, Any] = {}
        self.observers: list[Any] = []  # Sacred observers (ex.observers, -F, -m, …)
        self.observing: Observing | None = None  # feeds them the run's events
        self.requested_id: str | None = None  # -i/--id, passed to the observers as _id
        self.repositories: list[dict[str, Any]] = []
        self.captured_out_filter: Any = None
        self._captured_out = ""
        self.fail_trace: str | None = None
        self.unobserved = False
        self.queue_only = False
        self.debug = False
        self.pdb = False
        self.force = False
        self.capture_mode = "no"
        self.beat_interval = 10.0
        self._base_dir = base_dir
        self._spool: Spool | None = None
        self._result: Any = None
        self._result_set = False
        self._flushed: dict[str, str] = {}
        self._resources: dict[str, str] = {}

    # -- identity --------------------------------------------------------------------

    @property
    def _id(self) -> str | None:
        """Sacred's name for :attr:`id`."""
        return self.id

    @property
    def spool(self) -> Spool | None:
        """Where this run writes (None when nothing is recorded)."""
        return self._spool

    def attach(self, spool: Spool | None) -> None:
        """Start writing to ``spool`` (called by the supervisor of the run)."""
        self._spool = spool

    # -- what Sacred's Run also has --------------------------------------------------------

    @property
    def captured_out(self) -> str:
        """The output captured so far (filtered by ``ex.captured_out_filter``)."""
        self.keep_output()
        return self._captured_out

    def keep_output(self) -> None:
        """Read the captured output from the spool (which goes when the run is sealed)."""
        if self._spool is not None and self._spool.output_path.exists():
            from gitxp.experiment.observing import read_output

            self._captured_out = read_output(self._spool.output_path, self.captured_out_filter)

    def sacred_experiment_info(self) -> dict[str, Any]:
        """The experiment info in the shape Sacred's observers read."""
        from gitxp.experiment.observing import sacred_experiment_info

        return sacred_experiment_info(self.experiment_info, self.repositories)

    def observe_beat(self) -> None:
        """Send the observers a heartbeat (the metrics since the last one first)."""
        if self.observing is not None:
            self.observing.beat(self.info, self.captured_out, self._result)

    # -- result and info ----------------------------------------------------------------

    @property
    def result(self) -> Any:
        """The run's result: main's return value, or what was set while it ran."""
        return self._result

    @result.setter
    def result(self, value: Any) -> None:
        self._result = value
        self._result_set = True

    @property
    def result_was_set(self) -> bool:
        """Whether the result was set during the run."""
        return self._result_set

    def flush(self) -> None:
        """Write ``info`` and ``result`` to the spool if they changed since the last flush."""
        spool = self._spool
        if spool is None:
            return
        if self.info:
            self._write_if_changed(spool, "info", self.info)
        if self._result_set:
            self._write_if_changed(spool, "result", self._result)

    def _write_if_changed(self, spool: Spool, kind: str, value: Any) -> None:
        data = to_jsonable(value)
        text = json.dumps(data, sort_keys=True)
        if self._flushed.get(kind) != text:
            spool.event(kind, value=data)
            self._flushed[kind] = text

    # -- metrics, artifacts, resources ------------------------------------------------------

    def log_scalar(self, metric_name: str, value: Any, step: int | None = None) -> int | None:
        """Record ``value`` of ``metric_name`` at ``step`` (default: last step + 1)."""
        if self._spool is None:
            return None
        used = self._spool.log_scalar(metric_name, value, step)
        if self.observing is not None:
            self.observing.metric(metric_name, to_jsonable(value), used)
        return used

    def add_artifact(
        self,
        filename: str | os.PathLike[str],
        name: str | None = None,
        metadata: dict[str, Any] | None = None,
        content_type: str | None = None,
    ) -> str | None:
        """Store a copy of ``filename`` in the run as ``.gitxp/artifacts/<name>``."""
        if self._spool is None:
            if not Path(filename).is_file():
                raise UsageError(f"add_artifact: {filename} is not a file")
            return None
        if content_type is None:
            import mimetypes

            content_type = mimetypes.guess_type(os.fspath(filename))[0]
        stored = self._spool.add_artifact(filename, name, metadata, content_type)
        if self.observing is not None:
            artifact = name or os.path.basename(filename)
            self.observing.artifact(artifact, os.fspath(filename), metadata, content_type)
        return stored

    def open_resource(self, filename: str | os.PathLike[str], mode: str = "r") -> IO[Any]:
        """Open an input file and store its content in the run (``.gitxp/resources/``).

        ``gitxp://RUN/ARTIFACT`` opens another run's artifact and records that this run
        used it (``gitxp lineage``), as :func:`gitxp.use_artifact` does.
        """
        if str(filename).startswith("gitxp://"):
            from gitxp import api
            from gitxp.store.uses import split_url

            return open(api.use_artifact(*split_url(str(filename))), mode)
        self.add_resource(filename)
        return open(filename, mode)

    def add_resource(self, filename: str | os.PathLike[str], name: str | None = None) -> str | None:
        """Store the content of input file ``filename`` in the run; returns its stored name.

        The name is the path relative to the experiment's folder, or the base name for files
        outside it (with an md5 suffix if two different files would share a name). Git
        stores equal contents once, across all runs.
        """
        path = Path(filename).resolve()
        if not path.is_file():
            raise UsageError(f"add_resource: {filename} is not a file")
        spool = self._spool
        if spool is None:
            return None
        source = str(path)
        if self.observing is not None:
            self.observing.resource(source)
        if name is None:
            name = self._resource_name(path)
        if self._resources.get(name) == source + file_md5(path):
            return name
        target = spool.path / "resources" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        self._resources[name] = source + file_md5(path)
        spool.event("resource", name=name, metadata={"source": source, "md5": file_md5(path)})
        return name

    def _resource_name(self, path: Path) -> str:
        try:
            rel = path.relative_to(Path(self._base_dir).resolve())
            return rel.as_posix()
        except ValueError:
            pass
        name = path.name
        owner = self._resources.get(name)
        if owner is not None and not owner.startswith(str(path)):
            name = f"{path.stem}_{file_md5(path)[:8]}{path.suffix}"
        return name

    # -- timing ------------------------------------------------------------------------

    def elapsed(self) -> float:
        """Seconds since the start (until the stop, once stopped)."""
        if self.start_time is None:
            return 0.0
        from gitxp.experiment.observing import utcnow

        return ((self.stop_time or utcnow()) - self.start_time).total_seconds()

    def elapsed_text(self) -> str:
        """The elapsed time as Sacred logs it: whole seconds, ``0:00:03``."""
        return str(datetime.timedelta(seconds=round(self.elapsed())))

    def __repr__(self) -> str:
        return f"<Run {self.id or '(unobserved)'} {self.command_name} {self.status}>"
