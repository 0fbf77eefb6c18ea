"""Real git servers on 127.0.0.1 for the sharing tests, started and stopped by fixtures.

- :class:`GitDaemon`: ``git daemon --enable=receive-pack --export-all`` on a free port.
- :class:`SmartHttp`: git's own ``git http-backend`` behind a small threaded
  ``http.server`` CGI bridge, optionally with HTTP basic auth that refuses a wrong
  password (401), as a hosted git server does.
- :class:`Sshd`: OpenSSH's ``sshd`` on a free port, logging in as the current user
  with a throw-away key (only where ``sshd`` is installed).

Every server process gets its own environment: an empty HOME and no system git config,
so the user's settings never leak in.
"""

from __future__ import annotations

import base64
import getpass
import os
import shutil
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote, urlsplit


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    """Return once something accepts connections on ``port``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listens on 127.0.0.1:{port}") from None
            time.sleep(0.05)


def server_env(home: Path) -> dict[str, str]:
    """The environment of a server process: isolated HOME, no system git config."""
    home.mkdir(parents=True, exist_ok=True)
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": str(home / ".gitconfig"),
        "LANG": "C",
    }


def bare_repo(root: Path, name: str) -> Path:
    """A new bare repository ``root/name``."""
    path = root / name
    subprocess.run(["git", "init", "-q", "--bare", str(path)], check=True)
    return path


class GitDaemon:
    """``git daemon`` serving every repository below ``root``, pushes allowed."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.proc = subprocess.Popen(
            [
                "git",
                "daemon",
                "--reuseaddr",
                "--export-all",
                "--enable=receive-pack",
                "--informative-errors",
                f"--base-path={root}",
                "--listen=127.0.0.1",
                f"--port={self.port}",
                str(root),
            ],
            env=server_env(root.parent / "daemon-home"),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_for_port(self.port)
        except TimeoutError:
            self.stop()
            raise

    def url(self, name: str) -> str:
        """The ``git://`` URL of repository ``name``."""
        return f"git://127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        """Stop the daemon."""
        stop_process(self.proc)


class _CgiHandler(BaseHTTPRequestHandler):
    """One request → one ``git http-backend`` process (RFC 3875 CGI)."""

    server: _HttpServer

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the tests read results, not access logs."""

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _user(self) -> str | None:
        """The authenticated user; None (after answering 401) when auth fails."""
        expected = self.server.credentials
        if expected is None:
            return "anonymous"
        header = self.headers.get("Authorization", "")
        if header.startswith("Basic "):
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
            if (user, password) == expected:
                return user
            self.server.refused += 1
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Basic realm="gitxp test server"')
        self.send_header("Content-Length", "0")
        self.end_headers()
        return None

    def _serve(self) -> None:
        user = self._user()
        if user is None:
            return
        body = self._body() if self.command == "POST" else b""
        parts = urlsplit(self.path)
        env = dict(self.server.env)
        env.update(
            GIT_PROJECT_ROOT=str(self.server.root),
            GIT_HTTP_EXPORT_ALL="1",
            REQUEST_METHOD=self.command,
            PATH_INFO=parts.path,
            QUERY_STRING=parts.query,
            CONTENT_TYPE=self.headers.get("Content-Type", ""),
            CONTENT_LENGTH=str(len(body)),
            REMOTE_USER=user,  # http-backend allows pushes from authenticated users
            REMOTE_ADDR=self.client_address[0],
            GATEWAY_INTERFACE="CGI/1.1",
        )
        if self.headers.get("Content-Encoding"):
            env["HTTP_CONTENT_ENCODING"] = self.headers["Content-Encoding"]
        if self.headers.get("Git-Protocol"):
            env["GIT_PROTOCOL"] = self.headers["Git-Protocol"]
        proc = subprocess.run(
            ["git", "http-backend"], input=body, capture_output=True, env=env, check=False
        )
        head, _, payload = proc.stdout.partition(b"\r\n\r\n")
        if not _:
            head, _, payload = proc.stdout.partition(b"\n\n")
        status = 200
        headers = []
        for line in head.decode("latin-1").splitlines():
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = int(value.strip().split()[0])
            elif name:
                headers.append((name, value.strip()))
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    root: Path
    env: dict[str, str]
    credentials: tuple[str, str] | None
    refused: int


class SmartHttp:
    """Smart HTTP git on 127.0.0.1 via ``git http-backend``; basic auth if ``credentials``."""

    def __init__(self, root: Path, credentials: tuple[str, str] | None = None) -> None:
        self.server = _HttpServer(("127.0.0.1", 0), _CgiHandler)
        self.server.root = root
        self.server.env = server_env(root.parent / "http-home")
        self.server.credentials = credentials
        self.server.refused = 0
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def refused(self) -> int:
        """How many requests carried wrong credentials."""
        return self.server.refused

    def url(self, name: str, user: str | None = None, password: str | None = None) -> str:
        """The ``http://`` URL of repository ``name`` (with credentials if given)."""
        auth = ""
        if user is not None:
            auth = quote(user, safe="")
            if password is not None:
                auth += ":" + quote(password, safe="")
            auth += "@"
        return f"http://{auth}127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


def sshd_path() -> str | None:
    """The ``sshd`` binary, if this machine has one."""
    return shutil.which("sshd") or next(
        (p for p in ("/usr/sbin/sshd", "/usr/local/sbin/sshd") if os.access(p, os.X_OK)), None
    )


class ServerUnavailable(Exception):
    """A server this machine has but cannot run (the tests skip with the reason)."""


class Sshd:
    """OpenSSH's sshd on a free port accepting a fresh key for the current user."""

    def __init__(self, home: Path) -> None:
        binary = sshd_path()
        assert binary is not None
        home.mkdir(parents=True, exist_ok=True)
        self.home = home
        self.key = home / "id_ed25519"
        host_key = home / "host_ed25519"
        for path in (self.key, host_key):
            subprocess.run(
                ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True
            )
        authorized = home / "authorized_keys"
        authorized.write_text(self.key.with_suffix(".pub").read_text())
        authorized.chmod(0o600)
        self.port = free_port()
        config = home / "sshd_config"
        config.write_text(
            f"Port {self.port}\nListenAddress 127.0.0.1\nHostKey {host_key}\n"
            f"AuthorizedKeysFile {authorized}\nPidFile {home / 'sshd.pid'}\n"
            "StrictModes no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
            "UsePAM no\nPermitRootLogin yes\nLogLevel ERROR\n"
        )
        log = home / "sshd.log"
        with open(log, "wb") as out:
            self.proc = subprocess.Popen(
                [binary, "-D", "-e", "-f", str(config)], stdout=out, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 10
        while True:
            if self.proc.poll() is not None:  # e.g. no /run/sshd, no host key permissions
                why = log.read_text(errors="replace").strip().splitlines()
                raise ServerUnavailable(f"sshd cannot start here: {why[-1] if why else '?'}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise TimeoutError(f"sshd does not listen on 127.0.0.1:{self.port}") from None
                time.sleep(0.05)
        self.user = getpass.getuser()

    @property
    def ssh_command(self) -> str:
        """A GIT_SSH_COMMAND that logs in with the test key and trusts the test host."""
        return (
            f"ssh -i {self.key} -o IdentitiesOnly=yes -o BatchMode=yes "
            "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR"
        )

    def url(self, path: Path) -> str:
        """The ``ssh://`` URL of the repository at ``path``."""
        return f"ssh://{self.user}@127.0.0.1:{self.port}{path}"

    def stop(self) -> None:
        """Stop sshd."""
        stop_process(self.proc)


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    """Terminate ``proc``, and kill it if it has not ended after 10 s."""
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
