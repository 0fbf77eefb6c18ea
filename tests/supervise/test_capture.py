"""Tests for gitxp.supervise.capture with real processes, pipes and pseudo-terminals."""

from __future__ import annotations

import errno
import os
import pty
import select
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from gitxp.errors import GitxpError, UsageError
from gitxp.supervise.capture import FdTee
from gitxp.supervise.child import ChildResult, CommandStartError, run_command

PY = sys.executable


def run_py(code: str, log: Path, mode: str = "fd", cwd: str | None = None) -> ChildResult:
    return run_command(
        [PY, "-c", textwrap.dedent(code)],
        env=dict(os.environ),
        cwd=cwd or os.getcwd(),
        log_path=log,
        mode=mode,
    )


def run_in_pty(
    code: str, on_output: Callable[[bytes, int], None] | None = None, timeout: float = 15
) -> tuple[bytes, int]:
    """Run ``python -c code`` as session leader of a new pty (its controlling terminal)."""
    pid, master = pty.fork()
    if pid == 0:  # child: stdin/stdout/stderr are the pty slave
        try:
            os.execv(PY, [PY, "-c", textwrap.dedent(code)])
        finally:
            os._exit(127)
    out = b""
    deadline = time.monotonic() + timeout
    try:
        while True:
            ready, _, _ = select.select([master], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                os.kill(pid, signal.SIGKILL)
                raise AssertionError(f"timed out; output so far: {out!r}")
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the session ended
                break
            if not data:
                break
            out += data
            if on_output is not None:
                on_output(out, master)
        _, status = os.waitpid(pid, 0)
    finally:
        os.close(master)
    return out, status


def test_tees_stdout_and_stderr_to_terminal_and_log(
    tmp_path: Path, capfdbinary: pytest.CaptureFixture[bytes]
) -> None:
    log = tmp_path / "logs" / "out.log"
    result = run_py(
        """
        import os, sys
        os.write(1, b"to stdout\\n")
        os.write(2, b"to stderr\\n")
        os.write(1, b"bytes \\xff\\xfe\\r50%\\r100% no newline")
        sys.exit(3)
        """,
        log,
    )
    assert result == ChildResult(returncode=3, signal=None, interrupted=False)
    seen = capfdbinary.readouterr()
    assert seen.out == b"to stdout\nbytes \xff\xfe\r50%\r100% no newline"
    assert seen.err == b"to stderr\n"
    data = log.read_bytes()
    assert b"to stdout\n" in data and b"to stderr\n" in data
    assert b"bytes \xff\xfe\r50%\r100% no newline" in data
    assert len(data) == len(seen.out) + len(seen.err)


def test_log_is_appended_not_truncated(tmp_path: Path) -> None:
    log = tmp_path / "out.log"
    log.write_bytes(b"earlier\n")
    run_py("print('later')", log)
    assert log.read_bytes() == b"earlier\nlater\n"


def test_interleaving_order_is_kept(tmp_path: Path) -> None:
    log = tmp_path / "out.log"
    run_py(
        """
        import os, time
        for i in range(5):
            os.write(1, b"out%d\\n" % i); time.sleep(0.02)
            os.write(2, b"err%d\\n" % i); time.sleep(0.02)
        """,
        log,
    )
    expected = "".join(f"out{i}\nerr{i}\n" for i in range(5))
    assert log.read_text() == expected


def test_output_reaches_the_log_while_the_child_runs(tmp_path: Path) -> None:
    log, marker = tmp_path / "out.log", tmp_path / "go-on"
    code = f"""
        import os, sys, time
        sys.stdout.write("tick"); sys.stdout.flush()   # no newline: no line buffering
        deadline = time.time() + 10
        while not os.path.exists({str(marker)!r}) and time.time() < deadline:
            time.sleep(0.01)
        print(" tock")
        """
    results: list[ChildResult] = []
    worker = threading.Thread(target=lambda: results.append(run_py(code, log)))
    worker.start()  # not the main thread: no signal handlers, still works
    deadline = time.monotonic() + 10
    while (not log.exists() or b"tick" not in log.read_bytes()) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert log.read_bytes() == b"tick"  # appended as it arrived, before the child ended
    marker.touch()
    worker.join(10)
    assert results == [ChildResult(0, None, False)]
    assert log.read_bytes() == b"tick tock\n"


def test_child_killed_by_signal(tmp_path: Path) -> None:
    result = run_py("import os, signal; os.kill(os.getpid(), signal.SIGKILL)", tmp_path / "l")
    assert result == ChildResult(returncode=128 + 9, signal=9, interrupted=False)


def test_handlers_are_restored(tmp_path: Path) -> None:
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGWINCH)}
    run_py("pass", tmp_path / "l")
    after = {s: signal.getsignal(s) for s in before}
    assert after == before


def test_mode_no_inherits_fds_and_logs_nothing(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "out.log"
    result = run_py("import sys; print('hi'); sys.exit(4)", log, mode="no")
    assert result.returncode == 4
    assert capfd.readouterr().out == "hi\n"
    assert not log.exists()


def test_mode_sys_is_fd_for_a_child(tmp_path: Path) -> None:
    log = tmp_path / "out.log"
    run_py("import os; os.write(1, b'raw fd write\\n')", log, mode="sys")
    assert log.read_bytes() == b"raw fd write\n"


def test_user_errors(tmp_path: Path) -> None:
    log = tmp_path / "l"
    with pytest.raises(UsageError, match="capture mode"):
        run_py("pass", log, mode="tee")
    with pytest.raises(CommandStartError, match="cannot run") as info:
        run_command(["no-such-program-gitxp"], env=dict(os.environ), cwd=".", log_path=log)
    assert isinstance(info.value, GitxpError) and isinstance(info.value, OSError)
    assert info.value.errno == errno.ENOENT and info.value.strerror
    with pytest.raises(CommandStartError, match="does-not-exist"):
        run_command(["true"], env=dict(os.environ), cwd=str(tmp_path / "does-not-exist"),
                    log_path=log)  # fmt: skip
    with pytest.raises(UsageError, match="list of arguments"):
        run_command("echo hi", env=dict(os.environ), cwd=".", log_path=log)
    with pytest.raises(GitxpError, match="no command"):
        run_command([], env=dict(os.environ), cwd=".", log_path=log)


def test_background_grandchild_does_not_block_return(tmp_path: Path) -> None:
    log = tmp_path / "out.log"
    start = time.monotonic()
    result = run_command(
        ["sh", "-c", "sleep 3 & echo parent-done"],
        env=dict(os.environ),
        cwd=str(tmp_path),
        log_path=log,
    )
    assert time.monotonic() - start < 2
    assert result.returncode == 0
    assert log.read_bytes() == b"parent-done\n"


PARENT = """
    import os, signal, sys
    from pathlib import Path
    from gitxp.supervise.child import run_command
    CHILD = '''
    import signal, sys, time
    count = 0
    def on_int(signum, frame):
        global count
        count += 1
    signal.signal(signal.SIGINT, on_int)
    print("ready", flush=True)
    deadline = time.time() + 8
    while count == 0 and time.time() < deadline:
        time.sleep(0.01)
    time.sleep(0.4)  # a second, duplicate SIGINT would arrive here
    print(f"child saw {{count}} SIGINT tty={{sys.stdout.isatty()}},{{sys.stderr.isatty()}}")
    '''
    result = run_command([sys.executable, "-c", CHILD], env=dict(os.environ), cwd=".",
                         log_path=Path({log!r}))
    print("RESULT", result.returncode, result.signal, result.interrupted, flush=True)
    print("HANDLER", signal.getsignal(signal.SIGINT) is signal.default_int_handler, flush=True)
"""


def test_sigint_to_parent_is_forwarded_once(tmp_path: Path) -> None:
    log = tmp_path / "out.log"
    parent = subprocess.Popen(
        [PY, "-c", textwrap.dedent(PARENT.format(log=str(log)))],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # no controlling terminal: only a kill can interrupt it
    )
    assert parent.stdout is not None
    assert parent.stdout.readline() == b"ready\n"
    parent.send_signal(signal.SIGINT)
    out, err = parent.communicate(timeout=15)
    assert b"child saw 1 SIGINT tty=False,False\n" in out, err
    assert b"RESULT 0 None True\n" in out  # no KeyboardInterrupt in the parent
    assert b"HANDLER True\n" in out
    assert b"child saw 1 SIGINT" in log.read_bytes()


def test_sigterm_to_parent_is_forwarded(tmp_path: Path) -> None:
    code = PARENT.format(log=str(tmp_path / "out.log")).replace(
        "signal.signal(signal.SIGINT, on_int)", "pass"
    )
    parent = subprocess.Popen(
        [PY, "-c", textwrap.dedent(code)], stdout=subprocess.PIPE, start_new_session=True
    )
    assert parent.stdout is not None
    assert parent.stdout.readline() == b"ready\n"
    parent.send_signal(signal.SIGTERM)
    out, _ = parent.communicate(timeout=15)
    assert b"RESULT 143 15 True\n" in out  # child died of SIGTERM; the parent carried on


def test_sigint_to_the_whole_group_without_a_terminal_reaches_the_child_once(
    tmp_path: Path,
) -> None:
    log = tmp_path / "out.log"
    parent = subprocess.Popen(
        [PY, "-c", textwrap.dedent(PARENT.format(log=str(log)))],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # no terminal: a process manager signals the whole group
    )
    assert parent.stdout is not None
    assert parent.stdout.readline() == b"ready\n"
    os.killpg(parent.pid, signal.SIGINT)
    out, err = parent.communicate(timeout=15)
    assert b"child saw 1 SIGINT tty=False,False\n" in out, err
    assert b"RESULT 0 None True\n" in out


def test_pty_when_stdout_is_a_terminal_and_ctrl_c_is_delivered_once(tmp_path: Path) -> None:
    log = tmp_path / "out.log"
    sent: list[bool] = []

    def press_ctrl_c(out: bytes, master: int) -> None:
        if b"ready" in out and not sent:
            sent.append(True)
            os.write(master, b"\x03")  # the terminal sends SIGINT to the foreground group

    out, status = run_in_pty(PARENT.format(log=str(log)), press_ctrl_c)
    assert os.waitstatus_to_exitcode(status) == 0, out
    assert b"child saw 1 SIGINT tty=True,True" in out  # not 2: no forwarded duplicate
    assert b"RESULT 0 None True" in out
    assert b"HANDLER True" in out
    data = log.read_bytes()
    assert data.startswith(b"ready\n")  # exact bytes: the pty does not turn \n into \r\n
    assert b"child saw 1 SIGINT tty=True,True\n" in data


def test_pty_keeps_colours_and_window_size(tmp_path: Path) -> None:
    log = tmp_path / "out.log"
    code = f"""
        import os, sys, fcntl, termios, struct
        from pathlib import Path
        from gitxp.supervise.child import run_command
        fcntl.ioctl(1, termios.TIOCSWINSZ, struct.pack("HHHH", 33, 77, 0, 0))
        child = ("import os, shutil, sys; c = shutil.get_terminal_size(); "
                 "colour = '\\x1b[32m' if sys.stdout.isatty() else ''; "
                 "print(colour + f'size={{c.columns}}x{{c.lines}}' + '\\x1b[0m'); "
                 "print('err', file=sys.stderr)")
        env = {{k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}}
        r = run_command([sys.executable, "-c", child], env=env, cwd=".",
                        log_path=Path({str(log)!r}))
        print("RC", r.returncode)
        """
    out, status = run_in_pty(code)
    assert os.waitstatus_to_exitcode(status) == 0, out
    assert b"RC 0" in out
    # stdout and stderr share one pty (same terminal): one stream, exact order
    assert log.read_bytes() == b"\x1b[32msize=77x33\x1b[0m\nerr\n"


def test_fdtee_fd_captures_python_c_level_and_children(tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    code = f"""
        import os, sys
        from gitxp.supervise.capture import FdTee
        print("before")
        with FdTee({str(log)!r}, mode="fd"):
            print("from print")
            os.write(1, b"from os.write\\n")
            os.system("echo from a child process; echo child err >&2")
            print("to stderr", file=sys.stderr)
            sys.stdout.write("unflushed at exit")
        print("after")
        """
    proc = subprocess.run([PY, "-c", textwrap.dedent(code)], capture_output=True, timeout=15)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == (
        b"before\nfrom print\nfrom os.write\nfrom a child process\nunflushed at exitafter\n"
    )
    assert proc.stderr == b"child err\nto stderr\n"
    data = log.read_bytes()
    # each stream keeps its order; between two pipes the order is only as good as polling
    out_parts = [b"from print\n", b"from os.write\n", b"from a child process\n", b"unflushed"]
    assert [data.find(p) for p in out_parts] == sorted(data.find(p) for p in out_parts)
    assert -1 < data.find(b"child err\n") < data.find(b"to stderr\n")
    assert len(data) == len(proc.stdout) + len(proc.stderr) - len(b"before\nafter\n")


def test_fdtee_fd_inside_pytest_capture(
    tmp_path: Path, capfdbinary: pytest.CaptureFixture[bytes]
) -> None:
    log = tmp_path / "run.log"
    with FdTee(log, mode="fd"):
        os.write(1, b"out\n")
        os.system("echo err >&2")
    seen = capfdbinary.readouterr()
    assert (seen.out, seen.err) == (b"out\n", b"err\n")
    assert sorted(log.read_bytes().splitlines()) == [b"err", b"out"]


def test_fdtee_sys_mode_wraps_python_streams_only(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "run.log"
    before = (sys.stdout, sys.stderr)
    with FdTee(log, mode="sys"):
        print("hello", end="")
        print(" world")
        print("oops", file=sys.stderr)
        sys.stdout.buffer.write(b"binary\n")
        os.write(1, b"bypasses sys\n")
    assert (sys.stdout, sys.stderr) == before
    assert log.read_bytes() == b"hello world\noops\nbinary\n"
    seen = capfd.readouterr()
    assert "hello world\n" in seen.out and "bypasses sys\n" in seen.out


def test_fdtee_no_mode_does_nothing(tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    with FdTee(log, mode="no"):
        print("x")
    assert not log.exists()


def test_fdtee_in_a_loop_leaks_no_fds_or_threads(tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    fds_before = len(os.listdir("/proc/self/fd"))
    threads_before = threading.active_count()
    for i in range(100):
        with FdTee(log):
            os.write(1, b"%d\n" % i)
    assert len(os.listdir("/proc/self/fd")) == fds_before
    assert threading.active_count() == threads_before
    assert log.read_bytes() == b"".join(b"%d\n" % i for i in range(100))


def test_fdtee_nested_and_not_reentered(tmp_path: Path) -> None:
    outer, inner = tmp_path / "outer.log", tmp_path / "inner.log"
    tee = FdTee(outer)
    with tee:
        os.write(1, b"a\n")
        with FdTee(inner):
            os.write(1, b"b\n")
        with pytest.raises(UsageError):
            tee.__enter__()
        os.write(1, b"c\n")
    assert outer.read_bytes() == b"a\nb\nc\n"
    assert inner.read_bytes() == b"b\n"
    with tee:  # reusable after exit
        os.write(1, b"d\n")
    assert outer.read_bytes() == b"a\nb\nc\nd\n"


def test_fdtee_uses_a_pty_for_a_terminal(tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    code = f"""
        import os, sys
        from gitxp.supervise.capture import FdTee
        with FdTee({str(log)!r}):
            print("isatty", sys.stdout.isatty(), os.isatty(2))
            os.system("test -t 1 && echo child-sees-tty")
        print("after")
        """
    out, status = run_in_pty(code)
    assert os.waitstatus_to_exitcode(status) == 0, out
    assert b"child-sees-tty" in out and b"after" in out
    assert log.read_bytes() == b"isatty True True\nchild-sees-tty\n"


def test_fdtee_with_closed_stdout(tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    code = f"""
        import os
        from gitxp.supervise.capture import FdTee
        os.close(1)
        with FdTee({str(log)!r}):
            os.write(1, b"still logged\\n")
        os.write(2, b"survived\\n")
        """
    proc = subprocess.run([PY, "-c", textwrap.dedent(code)], capture_output=True, timeout=15)
    assert (proc.returncode, proc.stderr) == (0, b"survived\n")
    assert log.read_bytes() == b"still logged\n"


def test_run_command_with_closed_stdout(tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    code = f"""
        import os, sys
        from pathlib import Path
        from gitxp.supervise.child import run_command
        os.close(1)
        r = run_command([sys.executable, "-c", "print('child output')"], env=dict(os.environ),
                        cwd=".", log_path=Path({str(log)!r}))
        os.write(2, b"rc=%d\\n" % r.returncode)
        """
    proc = subprocess.run([PY, "-c", textwrap.dedent(code)], capture_output=True, timeout=15)
    assert (proc.returncode, proc.stderr) == (0, b"rc=0\n")
    assert log.read_bytes() == b"child output\n"
