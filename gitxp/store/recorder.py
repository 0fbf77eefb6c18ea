"""A run's life on its ref: snapshot commit first, then record commits until it ends.

The :class:`Recorder` is the one writer of a run's ref. It is driven by a supervisor:
``gitxp run`` (a separate process around the user's command) or an ``Experiment`` when a
script records itself. Everything the run's code produces goes to the spool first; each
heartbeat and the end fold the spool into a new record commit whose parent is the
snapshot commit, and move the ref there with a compare-and-swap.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gitxp.errors import DiskFullError, UsageError
from gitxp.git.repo import RUNS_PREFIX, GitRepo, RefConflictError, TreeValue
from gitxp.git.secrets import secrets_warning
from gitxp.git.signing import wants_signing
from gitxp.git.snapshot import Snapshot, take_snapshot, warn_left_out
from gitxp.machine.host import host_facts
from gitxp.machine.lock import env_lock, interpreter_of_lock
from gitxp.store import record
from gitxp.store.ids import is_run_id, new_run_id
from gitxp.store.live import LIVE, chunk_entry, merge_entries
from gitxp.store.metricfile import ArraySeries, MetricsReader
from gitxp.store.spool import (
    USAGE_ERROR,
    Spool,
    SpoolState,
    folder_entries,
    new_locked_spool,
    read_events,
    spool_root,
)
from gitxp.store.textlog import LogCleaner, utf8_boundary

DEFAULT_BEAT_INTERVAL = 10.0


@dataclass
class RunSpec:
    """What is known about a run before it starts."""

    command: list[str]
    experiment: str | None = None
    name: str | None = None
    comment: str | None = None
    tags: list[str] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    config_docs: dict[str, str] = field(default_factory=dict)
    seed: int | None = None
    capture: str = "fd"
    run_id: str | None = None
    queued: bool = False
    python: str | None = None
    env_lock: str | None = None  # the lock of ``python``, when the caller has it already
    sign: bool | None = None  # sign the run's commits (None: the gitxp.sign setting)
    extra: dict[str, Any] = field(default_factory=dict)
    extra_files: dict[str, bytes] = field(default_factory=dict)
    env_allow: list[str] = field(default_factory=list)  # more variables for host.json
    # Sources to record instead of a snapshot of the working tree (reproduce, --resume),
    # and the run's directory relative to the top of those sources (default: os.getcwd()).
    snapshot: Snapshot | None = None
    cwd: str | None = None


def run_ref(run_id: str) -> str:
    """The ref name of run ``run_id``."""
    return RUNS_PREFIX + run_id


class Recorder:
    """Writes one run's snapshot and record commits; the only writer of its ref."""

    def __init__(
        self,
        repo: GitRepo,
        spool: Spool,
        meta: dict[str, Any],
        head: str,
        lock_fd: int | None = None,
    ) -> None:
        self.repo = repo
        self.spool = spool
        self.meta = meta
        self.run_id: str = meta["run"]["id"]
        self.ref = run_ref(self.run_id)
        self.snapshot_commit: str = meta["snapshot_commit"]
        self.head = head
        self.output_filter: Callable[[str], str] | None = None
        # Read a batch at a time, only what is new at each beat; its ``records_read``
        # counts what it parsed.
        self.metrics_reader = MetricsReader(spool.path / "metrics")
        self._cleaner = LogCleaner()
        self._log_offset = 0
        self._log_text: list[str] = []
        # What the heartbeat commits hold already (format 2 chunks, gitxp.store.live).
        self._beats = 0
        self._beat_text = 0
        self._beat_metrics: dict[str, int] = {}  # records per metric file in chunks already
        self._blobs: dict[tuple[str, int, int], str] = {}
        self._write_lock = threading.Lock()
        self._beat_stop = threading.Event()
        self._beat_thread: threading.Thread | None = None
        self._lock_fd = lock_fd
        self._beat_warned: set[str] = set()
        self.fixed_files: dict[str, TreeValue] = {}  # written into every record commit
        self.claim_commit = ""
        self._claim_beat: tuple[dict[str, TreeValue], dict[str, int]] = ({}, {})

    @property
    def warning(self) -> str | None:
        """The one line to show on the terminal about files the snapshot left out as
        secrets (:func:`gitxp.git.secrets.secrets_warning`), or None."""
        return secrets_warning(list(self.meta["run"].get("skipped_files") or []))

    # -- start -------------------------------------------------------------------

    @classmethod
    def start(cls, repo: GitRepo, spec: RunSpec) -> Recorder:
        """The built-in pre-run hook: snapshot, config, env lock, host → snapshot commit."""
        run_id = spec.run_id or new_run_id()
        if not is_run_id(run_id):
            raise UsageError(f"--id {run_id!r} is not a run id (26 characters of base32)")
        taken = UsageError(f"run {run_id} already exists; choose another --id")
        if repo.ref_target(run_ref(run_id)) is not None:
            raise taken
        started = time.time()
        spool, lock_fd = new_locked_spool(spool_root(repo), run_id, taken)
        try:
            return cls._start(repo, spec, run_id, started, spool, lock_fd)
        except BaseException:
            os.close(lock_fd)
            shutil.rmtree(spool.path, ignore_errors=True)
            raise

    @classmethod
    def take_over(
        cls, repo: GitRepo, queued: str, lock: str, extra: dict[str, Any] | None = None
    ) -> Recorder:
        """Prepare to run the QUEUED run whose ref points at commit ``queued``.

        The spool is made and the first RUNNING record commit (this machine's host facts
        and env lock ``lock``, ``extra`` in run.json) is written, but the ref is not
        moved: :meth:`take` does that locally, after the caller has won the claim on a
        shared remote if there is one; :meth:`abandon` gives up a lost claim.
        """
        info = json.loads(repo.read_path(queued, f"{record.RECORD_DIR}/run.json") or b"{}")
        run_id = str(info.get("id"))
        spool, lock_fd = new_locked_spool(
            spool_root(repo), run_id, UsageError(f"run {run_id} is being taken")
        )
        now = time.time()
        run = {**info, **(extra or {}), "status": "RUNNING"}
        run.update(start_time=record.iso(now), heartbeat=record.iso(now))
        run["queued_at"] = info.get("start_time")
        config = record.load_yaml(repo.read_path(queued, f"{record.RECORD_DIR}/config.yaml"))
        meta = {
            "run": run,
            "snapshot_commit": queued,
            "config": config,
            "claimed_from": queued,
            "sign": wants_signing(repo, None),
        }
        recorder = cls(repo, spool, meta, queued, lock_fd)
        host = host_facts()
        host["python"] = interpreter_of_lock(lock) or host["python"]
        recorder.fixed_files = {"env.lock": lock.encode(), "host.json": record.dump_json(host)}
        try:
            spool.write_meta(meta)
            commit, files, sent = recorder._record_commit("RUNNING", final=False)
            recorder.claim_commit, recorder._claim_beat = commit, (files, sent)
        except BaseException:
            recorder.abandon()
            raise
        return recorder

    def take(self) -> None:
        """Move the ref from the queued commit to the claim; RefConflictError: lost."""
        with self._write_lock:
            self.repo.update_ref(self.ref, self.claim_commit, self.head, "gitxp: claimed")
            self.head = self.claim_commit
            self._beat_done(*self._claim_beat)

    def abandon(self) -> None:
        """Give up a claim that was not won: remove the spool, leave the ref alone."""
        self._release(remove_spool=True)

    @classmethod
    def _start(
        cls, repo: GitRepo, spec: RunSpec, run_id: str, started: float, spool: Spool, lock_fd: int
    ) -> Recorder:
        snap = spec.snapshot or take_snapshot(repo)
        if spec.snapshot is None:
            warn_left_out(repo, snap)
        cwd = spec.cwd if spec.cwd is not None else os.path.relpath(os.getcwd(), repo.workdir)
        run: dict[str, Any] = {
            "id": run_id,
            "experiment": spec.experiment,
            "name": spec.name,
            "command": list(spec.command),
            "cwd": "." if cwd.startswith("..") else cwd.replace(os.sep, "/"),
            "status": "QUEUED" if spec.queued else "RUNNING",
            "start_time": record.iso(started),
            "stop_time": None,
            "heartbeat": record.iso(started),
            "exit_code": None,
            "result": None,
            "fail_trace": None,
            "base_commit": snap.base,
            "branch": snap.branch,
            "detached": snap.detached,
            "dirty": snap.dirty,
            "skipped_files": snap.skipped,
            "dirty_submodules": snap.dirty_submodules,
            "seed": spec.seed,
            "comment": spec.comment,
            "tags": list(spec.tags),
            "capture": spec.capture,
            "config_docs": spec.config_docs,
            **spec.extra,
        }
        lock = spec.env_lock
        if lock is None:
            lock = env_lock(spec.python, repo.state_dir / "cache", repo.workdir)
        host = host_facts(spec.env_allow)
        host["python"] = interpreter_of_lock(lock) or host["python"]
        named = list(spec.extra.get("named_configs") or [])
        inputs = record.input_identity(snap.tree, spec.config, lock, spec.command, named)
        run.setdefault("inputs", inputs)
        files: dict[str, TreeValue] = {
            "format": record.FORMAT_TEXT.encode(),
            "run.json": record.dump_json(run),
            "config.yaml": record.dump_yaml(spec.config),
            "env.lock": lock.encode(),
            "host.json": record.dump_json(host),
            **spec.extra_files,
        }
        tree = repo.write_tree({record.RECORD_DIR: files}, base=snap.tree)
        parents = [snap.base] if snap.base else []
        sign = wants_signing(repo, spec.sign)
        commit = repo.write_commit(tree, parents, record.commit_message(run), sign=sign)
        meta = {"run": run, "snapshot_commit": commit, "config": spec.config, "sign": sign}
        spool.write_meta(meta)
        try:
            repo.create_ref(run_ref(run_id), commit)
        except RefConflictError:
            raise UsageError(f"run {run_id} already exists; choose another --id") from None
        return cls(repo, spool, meta, commit, lock_fd)

    # -- heartbeats ----------------------------------------------------------------

    def start_heartbeat(self, interval: float = DEFAULT_BEAT_INTERVAL) -> None:
        """Write a record commit every ``interval`` seconds (≤ 0: never) until the end."""
        if interval <= 0:
            return

        def beat() -> None:
            while not self._beat_stop.wait(interval):
                self._safe_beat()

        self._beat_thread = threading.Thread(target=beat, name="gitxp-heartbeat", daemon=True)
        self._beat_thread.start()

    def heartbeat(self) -> None:
        """Record what the run gathered so far, status RUNNING."""
        self._write("RUNNING", final=False)

    def _safe_beat(self) -> None:
        """A heartbeat that never raises: the next one tries again (one warning a kind)."""
        try:
            self.heartbeat()
        except Exception as err:  # the thread must outlive a busy lock or a full disk
            kind = type(err).__name__
            if kind not in self._beat_warned:
                self._beat_warned.add(kind)
                print(
                    f"gitxp: warning: heartbeat of run {self.run_id} failed ({err}); "
                    "the run goes on and the next heartbeat tries again",
                    file=sys.stderr,
                    flush=True,
                )

    @property
    def lock_fd(self) -> int | None:
        """The fd holding the spool's lock: a child process given it keeps the run open."""
        return self._lock_fd

    # -- end -----------------------------------------------------------------------

    def finish(
        self,
        status: str,
        *,
        exit_code: int | None = None,
        fail_trace: str | None = None,
        result: Any = None,
        has_result: bool = False,
    ) -> str | None:
        """Write the final record commit, release the run and remove its spool.

        On a full disk the outcome stays in the spool (its ``outcome`` slot needs no new
        space) and None is returned: the next gitxp command once there is space (or
        ``gitxp recover``) records it.
        """
        self._beat_stop.set()
        if self._beat_thread is not None:
            self._beat_thread.join()
        self.spool.close()
        fields: dict[str, Any] = {"status": status, "exit_code": exit_code}
        if fail_trace is not None:
            fields["fail_trace"] = fail_trace
        if has_result:
            fields["result"] = result
        self.spool.event("end", **fields)
        try:
            commit = self._write(status, final=True)
        except DiskFullError:
            self._release(remove_spool=False)
            print(
                f"gitxp: warning: the disk is full: run {self.run_id} ended {status}; its "
                "outcome is kept and recorded by the next gitxp command once there is space",
                file=sys.stderr,
                flush=True,
            )
            return None
        self._release(remove_spool=True)
        return commit

    def seal(self) -> str:
        """Finish a run whose supervisor died, from what its spool holds; its final status.

        Raises :class:`DiskFullError` (the spool kept, the lock released) on a full disk.
        """
        state = SpoolState(meta=self.meta)
        read_events(self.spool.path, state)
        end = state.events.get("end")
        status = str(end.get("status") or "DIED") if end else "DIED"
        try:
            if end is None:
                self.spool.event(
                    "end",
                    status="DIED",
                    exit_code=None,
                    fail_trace="the process recording this run stopped before the run ended",
                )
            self._write(status, final=True)
        except BaseException:
            self._release(remove_spool=False)
            raise
        self._release(remove_spool=True)
        return status

    def usage_error(self) -> str | None:
        """The message of a usage error the run's code reported (``usage_error`` event)."""
        state = SpoolState(meta=self.meta)
        read_events(self.spool.path, state)
        event = state.events.get(USAGE_ERROR)
        return None if event is None else str(event.get("message") or "usage error")

    def discard(self) -> None:
        """Take the run back: its command line was wrong, so nothing is recorded.

        The ref is deleted (only if no one else moved it) and the spool removed; the
        commits written so far are unreachable and go at the next ``git gc``.
        """
        self._beat_stop.set()
        if self._beat_thread is not None:
            self._beat_thread.join()
        self.spool.close()
        with self._write_lock:
            self.repo.delete_ref(self.ref, old=self.head)
        self._release(remove_spool=True)

    def close_queued(self) -> None:
        """A queued run is only recorded: release it without running anything."""
        self._release(remove_spool=True)

    def _release(self, remove_spool: bool) -> None:
        if remove_spool:
            # Moved aside while still locked, so no other gitxp command can open it and
            # take a finished run for a dead one.
            trash = self.spool.path.with_name(f".done-{self.spool.path.name}")
            try:
                os.rename(self.spool.path, trash)
            except OSError:
                trash = self.spool.path
            shutil.rmtree(trash, ignore_errors=True)
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    # -- the record commit -----------------------------------------------------------

    def _write(self, status: str, final: bool) -> str:
        with self._write_lock:
            commit, files, sent = self._record_commit(status, final)
            self.repo.update_ref(self.ref, commit, self.head, f"gitxp: {status}")
            self.head = commit
            if not final:
                self._beat_done(files, sent)
            return commit

    def _beat_done(self, files: dict[str, TreeValue], sent: dict[str, int]) -> None:
        """The chunks are in the ref now: the next beat starts after them."""
        if LIVE in files:
            self._beats += 1
        self._beat_text = len(self._log_text)
        self._beat_metrics = sent

    def _record_commit(
        self, status: str, final: bool
    ) -> tuple[str, dict[str, TreeValue], dict[str, int]]:
        """A record commit of the run now (not on the ref yet), its files, and how far
        into the metric files its chunks reach (records read per file)."""
        state = SpoolState(meta=self.meta)
        read_events(self.spool.path, state)
        run = dict(self.meta["run"])
        status = record.fold_end(run, state.events, status, final)
        files: dict[str, TreeValue] = {**self.fixed_files, "run.json": b""}
        self._read_output(final)
        if final:
            # The whole series, read once (lists for a small run, compact arrays for a
            # large one; steps, values, timestamps by name): a blob written in chunks.
            metrics = self.metrics_reader.read({})[0]
            files["metrics.json"] = self._metrics_blob(metrics)
            files["output.log"] = self._final_output().encode()
            base = self.snapshot_commit
        else:
            sent = self._beat_chunk(files)
            base = self.head
        files.update(record.fold_events(run, state.events))
        if final:  # beside the series, so a query reads the run without them
            run["metrics_summary"] = record.summarize_metrics(metrics)
        run["artifacts"] = folder_entries(
            self.repo, self.spool.path, state.artifacts, "artifacts", files, self._blobs
        )
        run["resources"] = folder_entries(
            self.repo, self.spool.path, state.resources, "resources", files, self._blobs
        )
        if state.uses:
            run["uses"] = list(state.uses.values())
        files["run.json"] = record.dump_json(run)
        tree = self.repo.write_tree({record.RECORD_DIR: files}, base=self.repo.commit_tree(base))
        producers = [u["commit"] for u in run.get("uses", ()) if self.repo.has_commit(u["commit"])]
        commit = self.repo.write_commit(
            tree,
            [self.snapshot_commit, *dict.fromkeys(producers)],
            record.commit_message(run),
            sign=bool(self.meta.get("sign")),
        )
        return commit, files, ({} if final else sent)

    def _beat_chunk(self, files: dict[str, TreeValue]) -> dict[str, int]:
        """Add this beat's chunks to ``files``; returns how far into the metric files
        they reach (records per file)."""
        live: dict[str, Any] = {}
        text = "".join(self._log_text[self._beat_text :])
        if self.output_filter is not None and text:
            text = self.output_filter(text)
        if text:
            merge_entries(live, chunk_entry(self._beats, "output", text.encode()))
        series, reached = self.metrics_reader.read(self._beat_metrics)
        if series:
            merge_entries(live, chunk_entry(self._beats, "metrics", self._metrics_blob(series)))
        if live:
            files[LIVE] = live
        return reached

    def _metrics_blob(self, series: dict[str, ArraySeries]) -> tuple[str, int]:
        """``series`` as a blob in ``metrics.json`` form, written from their arrays in
        chunks: a million scalars never become a million Python floats or one string."""
        # A temporary file a killed process leaves in the spool goes with the spool.
        blob = self.repo.blob_from_chunks(record.metrics_chunks(series), self.spool.path)
        return blob, 0o100644

    def _read_output(self, final: bool) -> None:
        """Clean what the spool's output log gained; completed lines go to ``_log_text``."""
        path = self.spool.output_path
        with open(path, "rb") as handle:
            handle.seek(self._log_offset)
            data = handle.read()
        # Keep an incomplete UTF-8 sequence at the end for the next read.
        cut = len(data) if final else utf8_boundary(data)
        self._log_offset += cut
        self._log_text.append(self._cleaner.feed(data[:cut].decode("utf-8", "replace")))

    def _final_output(self) -> str:
        text = "".join(self._log_text) + self._cleaner.close()
        self._log_text = [text]
        if self.output_filter is not None:
            text = self.output_filter(text)
        return text
