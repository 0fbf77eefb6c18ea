"""Feeding Sacred observers: ``ex.observers.append(obs)`` receives the events Sacred sends.

Any object with Sacred's observer methods works (Sacred's own ``FileStorageObserver``,
``SqlObserver``, ``TinyDbObserver``, ``MongoObserver``, or a subclass of
:class:`RunObserver`); gitxp records the run to git as always. An observer that raises is
logged once and gets no further events; the run goes on (Sacred's ``_safe_call``, applied
to the start event too, because the run is recorded in git either way).

Events and their arguments are Sacred's: ``started_event`` / ``queued_event`` with the
experiment info, command, host info, time, config, meta info and ``_id``;
``log_metrics`` then ``heartbeat_event`` at every beat (and once at the end);
``resource_event``, ``artifact_event``; ``completed_event``, ``interrupted_event`` or
``failed_event``; then ``join``. Times are naive UTC datetimes, as in Sacred.
"""

from __future__ import annotations

import datetime
import logging
import os
import platform
import threading
import traceback
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from gitxp.configuration.dicts import copy_tree

__all__ = [
    "HostInfoGetter",
    "Observing",
    "RunObserver",
    "host_info_gatherer",
    "sacred_experiment_info",
    "sacred_host_info",
]


class RunObserver:
    """Sacred's observer interface with every event a no-op: subclass it and override."""

    priority = 0

    def queued_event(
        self,
        ex_info: Any,
        command: Any,
        host_info: Any,
        queue_time: Any,
        config: Any,
        meta_info: Any,
        _id: Any,
    ) -> Any:
        """Sacred's ``queued_event``: does nothing here."""
        return None

    def started_event(
        self,
        ex_info: Any,
        command: Any,
        host_info: Any,
        start_time: Any,
        config: Any,
        meta_info: Any,
        _id: Any,
    ) -> Any:
        """Sacred's ``started_event``: does nothing here."""
        return None

    def heartbeat_event(self, info: Any, captured_out: Any, beat_time: Any, result: Any) -> Any:
        """Sacred's ``heartbeat_event``: does nothing here."""
        return None

    def completed_event(self, stop_time: Any, result: Any) -> Any:
        """Sacred's ``completed_event``: does nothing here."""
        return None

    def interrupted_event(self, interrupt_time: Any, status: Any) -> Any:
        """Sacred's ``interrupted_event``: does nothing here."""
        return None

    def failed_event(self, fail_time: Any, fail_trace: Any) -> Any:
        """Sacred's ``failed_event``: does nothing here."""
        return None

    def resource_event(self, filename: Any) -> Any:
        """Sacred's ``resource_event``: does nothing here."""
        return None

    def artifact_event(
        self, name: Any, filename: Any, metadata: Any = None, content_type: Any = None
    ) -> Any:
        """Sacred's ``artifact_event``: does nothing here."""
        return None

    def log_metrics(self, metrics_by_name: Any, info: Any) -> Any:
        """Sacred's ``log_metrics``: does nothing here."""
        return None

    def join(self) -> None:
        """Sacred's ``join``: does nothing here."""


class HostInfoGetter:
    """An extra host fact (Sacred's ``HostInfoGetter``): ``name`` and ``get_info()``."""

    def __init__(self, getter: Callable[[], Any], name: str) -> None:
        self.getter = getter
        self.name = name

    def __call__(self) -> Any:
        return self.getter()

    def get_info(self) -> Any:
        """The fact's value."""
        return self.getter()


def host_info_gatherer(name: str) -> Callable[[Callable[[], Any]], HostInfoGetter]:
    """Decorator: ``@host_info_gatherer("gpu_count")`` on a function of no arguments makes
    an extra host fact; pass it to ``Experiment(additional_host_info=[...])``."""

    def decorate(getter: Callable[[], Any]) -> HostInfoGetter:
        return HostInfoGetter(getter, name)

    return decorate


def utcnow() -> datetime.datetime:
    """Naive UTC now, the time type Sacred's observers expect."""
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None)


def sacred_host_info(gatherers: Sequence[Any], captured_env: Sequence[str]) -> dict[str, Any]:
    """The host info Sacred records: hostname, os, python_version, cpu, ENV, custom ones."""
    from gitxp.machine.host import host_facts

    facts = host_facts()
    info: dict[str, Any] = {
        "hostname": platform.node(),
        "os": [platform.system(), platform.platform()],
        "python_version": platform.python_version(),
        "cpu": (facts.get("cpu") or {}).get("model") or platform.processor(),
        "ENV": {name: os.environ[name] for name in captured_env if name in os.environ},
    }
    for gatherer in gatherers:
        name = str(getattr(gatherer, "name", None) or getattr(gatherer, "__name__", gatherer))
        info[name] = gatherer.get_info() if hasattr(gatherer, "get_info") else gatherer()
    return info


def sacred_experiment_info(info: Mapping[str, Any], repositories: list[Any]) -> dict[str, Any]:
    """gitxp's experiment info in Sacred's shape (``sources`` as ``[path, md5]`` pairs)."""
    return {
        "name": info["name"],
        "base_dir": info["base_dir"],
        "sources": [[s["path"], s["md5"]] for s in info["sources"]],
        "dependencies": list(info["dependencies"]),
        "repositories": repositories,
        "mainfile": info.get("mainfile"),
    }


class Observing:
    """The observers of one run, called in Sacred's order (highest ``priority`` first)."""

    def __init__(self, observers: Sequence[Any], logger: logging.Logger) -> None:
        self.observers = sorted(observers, key=lambda o: -getattr(o, "priority", 0))
        self.logger = logger
        self.failed: list[Any] = []
        self.observer_id: Any = None
        self._metrics: list[tuple[str, Any, Any, datetime.datetime]] = []
        self._lock = threading.Lock()

    def _call(self, observer: Any, method: str, **kwargs: Any) -> Any:
        if observer in self.failed:
            return None
        function = getattr(observer, method, None)
        if function is None:
            return None
        try:
            return function(**kwargs)
        except Exception as err:
            self.failed.append(observer)
            self.logger.warning("An error ocurred in the '%s' observer: %s", observer, err)
            self.logger.warning(
                "gitxp: that observer gets no further events; the run goes on and is "
                "recorded in git"
            )
            return None

    def _each(self, method: str, **kwargs: Any) -> None:
        for observer in self.observers:
            self._call(observer, method, **kwargs)

    def start(self, queued: bool, **kwargs: Any) -> None:
        """``started_event`` (or ``queued_event``); the first id an observer gives is kept."""
        kwargs["config"] = copy_tree(dict(kwargs["config"]))
        method = "queued_event" if queued else "started_event"
        for observer in self.observers:
            given = self._call(observer, method, **kwargs)
            if self.observer_id is None:
                self.observer_id = given
                kwargs["_id"] = kwargs["_id"] if kwargs["_id"] is not None else given

    def metric(self, name: str, value: Any, step: Any) -> None:
        """Remember a measurement for the next ``log_metrics``."""
        with self._lock:
            self._metrics.append((name, value, step, utcnow()))

    def beat(self, info: dict[str, Any], captured_out: str, result: Any) -> None:
        """``log_metrics`` with what was logged since the last beat, then ``heartbeat_event``."""
        with self._lock:
            pending, self._metrics = self._metrics, []
        by_name: dict[str, dict[str, Any]] = {}
        for name, value, step, when in pending:
            entry = by_name.setdefault(
                name, {"steps": [], "values": [], "timestamps": [], "name": name}
            )
            entry["steps"].append(step)
            entry["values"].append(value)
            entry["timestamps"].append(when)
        beat_time = utcnow()
        for observer in self.observers:
            self._call(observer, "log_metrics", metrics_by_name=by_name, info=info)
            self._call(
                observer,
                "heartbeat_event",
                info=info,
                captured_out=captured_out,
                beat_time=beat_time,
                result=result,
            )

    def resource(self, filename: str) -> None:
        """``resource_event``."""
        self._each("resource_event", filename=filename)

    def artifact(
        self, name: str, filename: str, metadata: Any = None, content_type: Any = None
    ) -> None:
        """``artifact_event``."""
        self._each(
            "artifact_event",
            name=name,
            filename=filename,
            metadata=metadata,
            content_type=content_type,
        )

    def finish(self, status: str, stop_time: datetime.datetime, result: Any, exc: Any) -> None:
        """The final event for ``status``, then ``join``; errors are logged, never raised."""
        for observer in self.observers:
            if status == "COMPLETED":
                self._final(observer, "completed_event", stop_time=stop_time, result=result)
            elif status == "FAILED":
                trace = traceback.format_exception(type(exc), exc, exc.__traceback__)
                self._final(observer, "failed_event", fail_time=stop_time, fail_trace=trace)
            else:
                self._final(observer, "interrupted_event", interrupt_time=stop_time, status=status)
        self._each("join")

    def _final(self, observer: Any, method: str, **kwargs: Any) -> None:
        function: Callable[..., Any] | None = getattr(observer, method, None)
        if function is None:
            return
        try:
            function(**kwargs)
        except Exception:
            self.logger.error("%s", traceback.format_exc())


def read_output(path: Path | None, output_filter: Callable[[str], str] | None) -> str:
    """The run's captured output so far (filtered like Sacred's ``captured_out_filter``)."""
    if path is None:
        return ""
    try:
        text = path.read_bytes().decode("utf-8", "replace")
    except OSError:
        return ""
    return output_filter(text) if output_filter is not None else text
