"""The Slurm executor: one job array per sweep, each task one ``gitxp worker`` in a clone.

``submit`` writes a batch script and hands it to ``sbatch --array=0-(N-1)``: Slurm
schedules; gitxp never does. Each task makes a fresh repository in a node-local temporary
folder, and a job step (``srun``) runs ``gitxp worker --remote URL --sweep ID --max-runs 1``
there: the worker fetches the queued runs from the shared remote, claims one (exactly one
task wins each run), runs it and pushes the result. No shared file system is assumed.

A task that Slurm stops (``scancel``, a time limit, preemption) gets SIGTERM in its step:
the worker records its run INTERRUPTED and pushes it, and the batch shell waits for that
(Slurm's ``KillWait`` gives it 30 s by default). ``gitxp sweep --continue SWEEP`` queues
such runs again.

Settings, each from an option or ``git config gitxp.slurm.<name>``: ``partition``,
``time``, ``gres``, ``cpus-per-task``, ``mem`` (passed to ``sbatch`` as they are),
``sbatch-file`` (a file of extra ``#SBATCH`` lines) and ``gitxp`` (the command that starts
gitxp on a node; default: this interpreter's ``python -m gitxp``). Slurm is driven
through its own clients, ``sbatch``, ``squeue``, ``sacct`` (``scontrol`` when accounting
is off) and ``scancel``; ``pip install 'gitxp[slurm]'`` adds no Python package.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from gitxp.errors import ExecutorError
from gitxp.git.repo import GitRepo
from gitxp.share.remotes import local_path, mask_url
from gitxp.sweep.executors import Handle, HandleStatus
from gitxp.sweep.plan import PlannedRun, Sweep
from gitxp.sweep.queue import TASK_ENV
from gitxp.sweep.worker import worker_command

NAME = "slurm"
SBATCH_OPTIONS = ("partition", "time", "gres", "cpus-per-task", "mem")
JOBS_FILE = "slurm.json"
JOBS_FORMAT = 1
# Each task's own messages, on its node: /tmp is there on every node, a folder of this
# repository may not be (Slurm fails a task whose output folder is missing). An --output
# line in the sbatch file comes later in the script, so it wins.
TASK_OUTPUT = "/tmp/%x-%A_%a.out"
CLIENT_TIMEOUT = 60.0
CANCEL_TIMEOUT = 120.0  # Slurm's KillWait (30 s by default) and then some
STATUS_INTERVAL = 3.0  # seconds between two squeue calls: slurmctld serves many users

# Slurm's job states (squeue, sacct, scontrol) → the executor states.
_STATES = {
    "PENDING": "pending",
    "REQUEUED": "pending",
    "REQUEUE_HOLD": "pending",
    "CONFIGURING": "running",
    "RUNNING": "running",
    "COMPLETING": "running",
    "SUSPENDED": "running",
    "STAGE_OUT": "running",
    "RESIZING": "running",
    "COMPLETED": "done",
    "CANCELLED": "cancelled",
    "PREEMPTED": "cancelled",
    "DEADLINE": "cancelled",
    "REVOKED": "cancelled",
}
_TASK_ID = re.compile(r"^(\d+)_(\d+)$")
_KEY_VALUE = re.compile(r"(\w+)=(\S*)")

# mktemp's template: a name whose last six characters it replaces by random ones.
_WORK_TEMPLATE = "gitxp-task." + "X" * 6

_SCRIPT = """\
#!/bin/bash
#SBATCH --job-name={job_name}
#SBATCH --output={output}
{extra}
# A task of gitxp sweep {sweep}.
# It runs one of the sweep's queued runs with gitxp worker, in a new repository in a
# node-local temporary folder: git fetch brings the inputs, git push takes the result.
set -u
work=$(mktemp -d "${{TMPDIR:-/tmp}}/{work_template}") || exit 1
trap 'rm -rf "$work"' EXIT
# SIGTERM (scancel, time limit) reaches the worker's step: it records its run INTERRUPTED
# and pushes it. This shell only waits for that.
trap 'echo "gitxp: SIGTERM: waiting for the worker to record its run" >&2' TERM
git init --quiet "$work/repo" || exit 1
cd "$work/repo" || exit 1
export {task_env}="${{SLURM_ARRAY_JOB_ID}}_${{SLURM_ARRAY_TASK_ID}}"
srun --ntasks=1 {worker} &
pid=$!
wait "$pid"
while kill -0 "$pid" 2>/dev/null; do wait "$pid"; done
wait "$pid"
"""


def _program(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise ExecutorError(
            f"{name} is not on PATH: the slurm executor submits through Slurm's own "
            "clients; run gitxp where sbatch works (a login node)"
        )
    return path


def _client(args: list[str], what: str) -> subprocess.CompletedProcess[str]:
    """Run a Slurm client; ExecutorError when it cannot be started or hangs."""
    try:
        return subprocess.run(
            args, capture_output=True, text=True, timeout=CLIENT_TIMEOUT, stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired:
        raise ExecutorError(
            f"{what}: {Path(args[0]).name} did not answer in {CLIENT_TIMEOUT:.0f} s; "
            "is slurmctld up?"
        ) from None
    except OSError as err:
        raise ExecutorError(f"{what}: cannot run {args[0]}: {err.strerror}") from None


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0] if lines else "no message"


def _checked(value: str, name: str) -> str:
    if not value or any(ord(c) < 32 for c in value):
        raise ExecutorError(f"slurm option {name}={value!r} must be one non-empty line")
    return value


def extra_lines(path: Path) -> list[str]:
    """The ``#SBATCH`` lines of a file: ``#SBATCH --x`` or bare ``--x`` lines; ``#`` comments
    and blank lines are left out; ``--array`` is gitxp's to set."""
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as err:
        raise ExecutorError(f"cannot read the sbatch file {path}: {err}") from None
    lines = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if line.startswith("#SBATCH"):
            line = line.removeprefix("#SBATCH").strip()
        elif not line or line.startswith("#"):
            continue
        if not line.startswith("-"):
            raise ExecutorError(
                f"{path}:{number}: not an sbatch option: {raw.strip()!r} "
                "(write '#SBATCH --option=value' or '--option=value')"
            )
        if re.match(r"^(-a\b|--array\b)", line):
            raise ExecutorError(f"{path}:{number}: gitxp sets --array itself; remove that line")
        lines.append(f"#SBATCH {line}")
    return lines


class SlurmExecutor:
    """A sweep's workers as the tasks of one Slurm job array."""

    def __init__(self, options: Mapping[str, str]) -> None:
        self.repo = GitRepo(options.get("repo") or os.getcwd())
        self.log_dir = Path(options["log_dir"]) if options.get("log_dir") else None
        self.env = options.get("env") or "current"
        self.python = options.get("python") or None
        self.remote_url = self._remote_url(options)
        self.settings = {
            name: _checked(value, name)
            for name in SBATCH_OPTIONS
            if (value := self._setting(options, name)) is not None
        }
        sbatch_file = self._setting(options, "sbatch-file")
        self.extra = extra_lines(Path(sbatch_file).expanduser()) if sbatch_file else []
        gitxp = self._setting(options, "gitxp")
        self.gitxp = shlex.split(gitxp) if gitxp else None
        self.sbatch = _program("sbatch")
        self._test_submission()
        self._seen: tuple[float, tuple[Handle, ...], list[HandleStatus]] | None = None

    def _setting(self, options: Mapping[str, str], name: str) -> str | None:
        value = options.get(name) or options.get(name.replace("-", "_"))
        return value or self.repo.config_value(f"gitxp.slurm.{name}")

    def _remote_url(self, options: Mapping[str, str]) -> str:
        url = options.get("remote_url")
        if not url:
            raise ExecutorError(
                "the slurm executor needs --remote: its tasks fetch the queued runs from a "
                "shared remote and push their results there"
            )
        if mask_url(url) != url:
            raise ExecutorError(
                f"the remote {mask_url(url)} carries a password, and Slurm keeps job scripts: "
                "give the nodes ssh keys or a git credential helper instead"
            )
        path = local_path(url)
        if path is not None and not os.path.isabs(path):
            url = str((self.repo.workdir / path).resolve())
        return url

    def _sbatch_args(self) -> list[str]:
        return [f"--{name}={value}" for name, value in self.settings.items()]

    def _test_submission(self) -> None:
        """``sbatch --test-only``: Slurm is reachable and takes these options and the sbatch
        file's; submits nothing."""
        extra = [arg for line in self.extra for arg in shlex.split(line.removeprefix("#SBATCH"))]
        proc = _client(
            [
                self.sbatch,
                "--test-only",
                "--array=0-0",
                *extra,
                *self._sbatch_args(),
                "--wrap=true",
            ],
            "checking the Slurm options",
        )
        if proc.returncode != 0:
            raise ExecutorError(f"Slurm refuses the job: {_first_line(proc.stderr)}")

    def script(self, sweep: Sweep) -> str:
        """The batch script of ``sweep``'s job array."""
        command = worker_command(self.remote_url, sweep.id, 1, self.env, self.python)
        if self.gitxp:
            command = [*self.gitxp, *command[3:]]  # replaces "python -m gitxp"
        return _SCRIPT.format(
            job_name=f"gitxp-{sweep.id[:10]}",
            output=TASK_OUTPUT,
            extra="\n".join(self.extra),
            sweep=sweep.id,
            worker=shlex.join(command),
            task_env=TASK_ENV,
            work_template=_WORK_TEMPLATE,
        )

    def submit(self, sweep: Sweep, planned: Sequence[PlannedRun]) -> list[Handle]:
        """One ``sbatch --array`` with a task per planned run; a handle per task."""
        if not planned:
            return []
        folder = self.log_dir or jobs_folder(self.repo, sweep.id)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"slurm-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}.sh"
        path.write_text(self.script(sweep))
        path.chmod(0o755)
        proc = _client(
            [
                self.sbatch,
                "--parsable",
                f"--array=0-{len(planned) - 1}",
                *self._sbatch_args(),
                str(path),
            ],
            "submitting the job array",
        )
        job = proc.stdout.strip().split(";")[0]
        if proc.returncode != 0 or not job.isdigit():
            raise ExecutorError(
                f"sbatch did not submit the sweep: {_first_line(proc.stderr or proc.stdout)}"
            )
        record_job(folder, job, len(planned), path)
        return _task_handles(job, len(planned))

    def status(self, handles: Sequence[Handle]) -> list[HandleStatus]:
        """Slurm's state of each task: squeue while it lives, then sacct or scontrol.

        Asked at most every :data:`STATUS_INTERVAL` seconds; in between, the last answer.
        """
        now, key = time.monotonic(), tuple(handles)
        if self._seen is None or self._seen[1] != key or now - self._seen[0] > STATUS_INTERVAL:
            self._seen = (now, key, task_states(handles))
        return self._seen[2]

    def cancel(self, handles: Sequence[Handle]) -> None:
        """``scancel`` the tasks: running ones get SIGTERM (their runs end INTERRUPTED),
        pending ones leave the queue (their runs stay QUEUED). Returns once Slurm says
        every task ended, so the interrupted runs have been pushed."""
        ids = [h.id for h in handles if _TASK_ID.match(h.id)]
        if not ids:
            return
        proc = _client([_program("scancel"), *ids], "cancelling the tasks")
        if proc.returncode != 0:
            raise ExecutorError(f"scancel failed: {_first_line(proc.stderr)}")
        deadline = time.monotonic() + CANCEL_TIMEOUT
        while not all(s.finished for s in task_states(handles)):
            if time.monotonic() > deadline:
                raise ExecutorError(
                    f"Slurm tasks still run {CANCEL_TIMEOUT:.0f} s after scancel; "
                    "'gitxp sweep --status' shows them"
                )
            time.sleep(STATUS_INTERVAL)


# -- what Slurm says about tasks ---------------------------------------------------------------


def _squeue(job: str) -> dict[str, tuple[str, str]]:
    proc = _client(
        [_program("squeue"), "--noheader", "--array", f"--jobs={job}", "--format=%F_%K|%T|%R"],
        "asking squeue",
    )
    found = {}
    for line in proc.stdout.splitlines() if proc.returncode == 0 else []:
        task, _, rest = line.partition("|")
        state, _, reason = rest.partition("|")
        found[task.strip()] = (state.strip(), reason.strip())
    return found


def _ended(job: str) -> dict[str, tuple[str, str]]:
    """The tasks of ``job`` that left the queue, from sacct, or scontrol without accounting."""
    sacct = shutil.which("sacct")
    if sacct is not None:
        proc = _client(
            [sacct, "--noheader", "--parsable2", "--allocations", f"--jobs={job}",
             "--format=JobID,State,ExitCode"],
            "asking sacct",
        )  # fmt: skip
        if proc.returncode == 0 and proc.stdout.strip():
            found = {}
            for line in proc.stdout.splitlines():
                task, state, code = [*line.split("|"), "", ""][:3]
                found[task] = (state.split(" ")[0], f"exit {code}")
            return found
    proc = _client([_program("scontrol"), "--oneliner", "show", "job", job], "asking scontrol")
    found = {}
    for line in proc.stdout.splitlines() if proc.returncode == 0 else []:
        fields = dict(_KEY_VALUE.findall(line))
        if "ArrayTaskId" in fields:
            task = f"{fields.get('ArrayJobId')}_{fields['ArrayTaskId']}"
            found[task] = (fields.get("JobState", ""), f"exit {fields.get('ExitCode', '?')}")
    return found


def task_states(handles: Sequence[Handle]) -> list[HandleStatus]:
    """How each Slurm task stands; a task Slurm no longer knows has ended."""
    jobs = sorted({m.group(1) for h in handles if (m := _TASK_ID.match(h.id))})
    live: dict[str, tuple[str, str]] = {}
    ended: dict[str, tuple[str, str]] = {}
    for job in jobs:
        live.update(_squeue(job))
    for job in jobs:
        if any(h.id.startswith(f"{job}_") and h.id not in live for h in handles):
            ended.update(_ended(job))
    out = []
    for handle in handles:
        state, detail = live.get(handle.id) or ended.get(handle.id) or ("", "")
        if not state:
            out.append(HandleStatus(handle, "done", "ended; Slurm keeps no record of it"))
            continue
        mapped = _STATES.get(state, "failed" if handle.id in ended else "running")
        if mapped == "done" and detail not in ("", "exit 0:0"):
            mapped = "failed"
        out.append(HandleStatus(handle, mapped, f"{state} {detail}".strip()))
    return out


# -- the submissions of a sweep, kept in its local state folder -------------------------------


def jobs_folder(repo: GitRepo, sweep_id: str) -> Path:
    """Where a sweep's job scripts and ``slurm.json`` are kept (its local state folder)."""
    return repo.state_dir / "sweeps" / sweep_id


def record_job(log_dir: Path, job: str, tasks: int, script: Path) -> None:
    """Add a submitted job array to ``log_dir/slurm.json`` (machine-local, never pushed)."""
    jobs = recorded_jobs(log_dir)
    jobs.append({"job": job, "tasks": tasks, "script": str(script), "submitted": time.time()})
    tmp = log_dir / f".{JOBS_FILE}.{os.getpid()}"
    tmp.write_text(json.dumps({"format": JOBS_FORMAT, "jobs": jobs}, indent=1) + "\n")
    tmp.replace(log_dir / JOBS_FILE)


def recorded_jobs(log_dir: Path) -> list[dict[str, Any]]:
    """The job arrays submitted for a sweep, oldest first (empty when none or unreadable)."""
    try:
        data = json.loads((log_dir / JOBS_FILE).read_text())
    except (OSError, ValueError):
        return []
    jobs = data.get("jobs") if isinstance(data, dict) else None
    return [
        job
        for job in jobs or []
        if isinstance(job, dict)
        and str(job.get("job", "")).isdigit()
        and isinstance(job.get("tasks"), int)
    ]


def _task_handles(job: str, tasks: int) -> list[Handle]:
    return [Handle(NAME, f"{job}_{i}", f"array job {job} task {i}") for i in range(tasks)]


def recorded_handles(log_dir: Path) -> list[Handle]:
    """A handle per task of every job array submitted for a sweep."""
    return [h for j in recorded_jobs(log_dir) for h in _task_handles(str(j["job"]), j["tasks"])]


def create(options: Mapping[str, str]) -> SlurmExecutor:
    """The registry's constructor (see :func:`gitxp.sweep.executors.get_executor`)."""
    return SlurmExecutor(options)
