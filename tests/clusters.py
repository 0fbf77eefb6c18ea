"""Real cluster engines on this machine for the executor tests, started by fixtures.

- :class:`SlurmCluster`: a single-node Slurm (Debian's ``slurm-wlm``) with its own
  ``munged``, ``slurmctld`` and ``slurmd``, everything in one temporary folder. It needs
  root (slurmd runs the jobs) and the packages ``scripts/check`` installs; it writes
  nothing outside its folder, not even munge's key.
- :class:`DaskCluster`: a ``distributed`` scheduler and two single-threaded worker
  processes on 127.0.0.1.

Neither is skipped when it cannot start: :class:`EngineError` says why, and the tests
that need the engine fail with that line. The processes run in the foreground as children
of the test session and are stopped with :func:`servers.stop_process`.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from servers import free_port, stop_process, wait_for_port

SLURM_PROGRAMS = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "scancel", "sinfo")
START_TIMEOUT = 60.0


class EngineError(Exception):
    """A cluster engine cannot start here; the message says what to install or fix."""


def _find(program: str) -> str:
    path = shutil.which(program) or next(
        (p for p in (f"/usr/sbin/{program}", f"/usr/bin/{program}") if os.access(p, os.X_OK)),
        None,
    )
    if path is None:
        raise EngineError(
            f"{program} is not installed: run scripts/check as root, which installs "
            "Debian's slurm-wlm and munge"
        )
    return path


def _tail(path: Path) -> str:
    lines = path.read_text(errors="replace").strip().splitlines() if path.exists() else []
    return lines[-1] if lines else "(no log)"


def _wait_until(ready: object, what: str, procs: list[subprocess.Popen[bytes]]) -> None:
    """Poll ``ready()`` until it is true; fail early when one of ``procs`` has died."""
    assert callable(ready)
    deadline = time.monotonic() + START_TIMEOUT
    while not ready():
        for proc in procs:
            if proc.poll() is not None:
                raise EngineError(f"{what}: {proc.args[0]} exited with {proc.returncode}")
        if time.monotonic() > deadline:
            raise EngineError(f"{what}: not ready after {START_TIMEOUT:.0f} s")
        time.sleep(0.2)


class SlurmCluster:
    """A one-node Slurm cluster: partition ``debug`` on this host, 2 CPUs.

    Clients find it through :attr:`env` (``SLURM_CONF``). :meth:`stop` ends the daemons.
    """

    def __init__(self) -> None:
        if os.geteuid() != 0:
            raise EngineError("the Slurm tests run slurmd, which needs root: run them as root")
        programs = {name: _find(name) for name in SLURM_PROGRAMS}
        self.sinfo = programs["sinfo"]
        # munged refuses sockets in folders others cannot enter, and keys others can read:
        # the folder is world-readable, its ``priv`` part only munge's.
        self.root = Path(tempfile.mkdtemp(prefix="gitxp-slurm-"))
        self.root.chmod(0o755)
        self.procs: list[subprocess.Popen[bytes]] = []
        try:
            self._start(programs)
        except BaseException:
            self.stop()
            raise

    @property
    def env(self) -> dict[str, str]:
        """The variables every Slurm client needs to reach this cluster."""
        return {"SLURM_CONF": str(self.conf)}

    def _start(self, programs: dict[str, str]) -> None:
        self._start_munge(programs["munged"])
        host = socket.gethostname().split(".")[0]
        state, spool, log = self.root / "state", self.root / "spool", self.root / "log"
        for folder in (state, spool, log):
            folder.mkdir()
        self.conf = self.root / "slurm.conf"
        self.conf.write_text(
            "ClusterName=gxtest\n"
            f"SlurmctldHost={host}\n"
            "SlurmUser=root\nSlurmdUser=root\n"
            "AuthType=auth/munge\nCredType=cred/munge\n"
            f"AuthInfo=socket={self.munge_socket}\n"
            f"StateSaveLocation={state}\nSlurmdSpoolDir={spool}\n"
            f"SlurmctldPidFile={self.root / 'slurmctld.pid'}\n"
            f"SlurmdPidFile={self.root / 'slurmd.pid'}\n"
            f"SlurmctldLogFile={log / 'ctld.log'}\nSlurmdLogFile={log / 'd.log'}\n"
            f"SlurmctldPort={free_port()}\nSlurmdPort={free_port()}\n"
            "ProctrackType=proctrack/linuxproc\nTaskPlugin=task/none\n"
            "SelectType=select/cons_tres\nSelectTypeParameters=CR_Core\n"
            "JobAcctGatherType=jobacct_gather/none\nMpiDefault=none\n"
            "ReturnToService=2\nKillWait=30\nMinJobAge=300\n"
            f"NodeName={host} CPUs=2 RealMemory=2048 State=UNKNOWN\n"
            f"PartitionName=debug Nodes={host} Default=YES MaxTime=INFINITE State=UP\n"
        )
        env = {**os.environ, "SLURM_CONF": str(self.conf)}
        for daemon, logfile in (("slurmctld", "ctld.log"), ("slurmd", "d.log")):
            with open(log / f"{daemon}.out", "wb") as out:
                self.procs.append(
                    subprocess.Popen(
                        [programs[daemon], "-D", "-f", str(self.conf)],
                        env=env,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                    )
                )
            if daemon == "slurmctld":
                try:
                    _wait_until(self._ctld_answers, "slurmctld", self.procs)
                except EngineError as err:
                    raise EngineError(f"{err}; its log says: {_tail(log / logfile)}") from None
        try:
            _wait_until(self._node_idle, "slurmd", self.procs)
        except EngineError as err:
            raise EngineError(f"{err}; its log says: {_tail(log / 'd.log')}") from None

    def _start_munge(self, munged: str) -> None:
        run, priv = self.root / "munge", self.root / "munge-priv"
        run.mkdir(mode=0o755)
        priv.mkdir(mode=0o700)
        key = priv / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o400)
        for path in (run, priv, key):
            shutil.chown(path, "munge", "munge")
        self.munge_socket = run / "munge.socket"
        self.procs.append(
            subprocess.Popen(
                [
                    munged,
                    "--foreground",
                    f"--socket={self.munge_socket}",
                    f"--key-file={key}",
                    f"--pid-file={run / 'munged.pid'}",
                    f"--log-file={priv / 'munged.log'}",
                    f"--seed-file={priv / 'munged.seed'}",
                ],
                user="munge",
                group="munge",
                extra_groups=[],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        _wait_until(self.munge_socket.exists, "munged", self.procs)

    def _sinfo(self, *args: str) -> str:
        proc = subprocess.run(
            [self.sinfo, *args], env={**os.environ, **self.env}, capture_output=True, text=True
        )
        return proc.stdout if proc.returncode == 0 else ""

    def _ctld_answers(self) -> bool:
        return bool(self._sinfo("--noheader", "--format=%P"))

    def _node_idle(self) -> bool:
        return self._sinfo("--noheader", "--format=%T").strip() == "idle"

    def stop(self) -> None:
        """Stop slurmd, slurmctld and munged (in that order) and remove the folder."""
        for proc in reversed(self.procs):
            stop_process(proc)
        self.procs.clear()
        shutil.rmtree(self.root, ignore_errors=True)


class DaskCluster:
    """A Dask scheduler and two worker processes (one thread each) on 127.0.0.1.

    ``env`` is the environment of every process: the tasks the workers run inherit it.
    """

    def __init__(self, root: Path, env: dict[str, str], workers: int = 2) -> None:
        from distributed import Client

        self.root = root
        self.port = free_port()
        self.address = f"tcp://127.0.0.1:{self.port}"
        dask = [sys.executable, "-m", "distributed.cli.dask_scheduler"]
        self.procs: list[subprocess.Popen[bytes]] = []
        self.log = root / "dask.log"
        with open(self.log, "wb") as out:
            self.procs.append(
                subprocess.Popen(
                    [*dask, "--host", "127.0.0.1", "--port", str(self.port), "--no-dashboard"],
                    cwd=root,
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            )
            try:
                wait_for_port(self.port, timeout=START_TIMEOUT)
                for index in range(workers):
                    self.procs.append(
                        subprocess.Popen(
                            [
                                sys.executable,
                                "-m",
                                "distributed.cli.dask_worker",
                                self.address,
                                "--name",
                                f"w{index}",
                                "--nthreads",
                                "1",
                                "--no-dashboard",
                                "--no-nanny",
                                "--local-directory",
                                str(root / f"w{index}"),
                                "--host",
                                "127.0.0.1",
                            ],
                            cwd=root,
                            env=env,
                            stdout=out,
                            stderr=subprocess.STDOUT,
                        )
                    )
                with Client(self.address, timeout=START_TIMEOUT) as client:
                    client.wait_for_workers(workers, timeout=START_TIMEOUT)
            except (TimeoutError, OSError) as err:
                self.stop()
                raise EngineError(f"the Dask cluster did not start: {err}") from None

    def stop(self) -> None:
        """Stop the workers, then the scheduler."""
        for proc in reversed(self.procs):
            stop_process(proc)
        self.procs.clear()
