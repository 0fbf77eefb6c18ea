"""The board's web server: the standard library's ``ThreadingHTTPServer``, no framework.

Routes (all GET unless said otherwise; ``RUN`` is a run id or unique prefix)::

    /                                  the page (static/index.html)
    /static/NAME                       the page's scripts and styles (shipped in the package)
    /api/runs?where=&sort=-COL&status=A,B&offset=&limit=&known=
                                       one window of the run list, sorted and filtered here
    /api/runs/RUN                      one run: info, config and docs, host, env, artifacts…
    /api/runs/RUN/output?known=KEY     captured output ({"unchanged": true} if still KEY)
    /api/runs/RUN/files                the snapshot's source files
    /api/runs/RUN/file?path=P          one source file, as text for the page
    /api/runs/RUN/changes              the snapshot against its base commit
    /api/runs/RUN/artifact?name=N      an artifact's bytes (&download=1: as an attachment)
    /api/runs/RUN/source?path=P        a source file's bytes (&download=1 likewise)
    /api/metrics?runs=A,B&points=&x=step|time&lo=&hi=
                                       metric series of runs, min/max-downsampled to points
    /api/columns?names=C,D&where=      a few columns of every run the filter keeps
    /api/groups?by=C,D&metric=M&where= runs grouped by config: mean ± std of a metric
    /api/sweeps, /api/sweep?id=S       the sweeps; one sweep's progress, best run, failures
    /api/compare?runs=A,B,…            runs side by side (config table)
    /api/diff?a=A&b=B                  run A against run B (config, code, env, output…)
    POST /api/runs/RUN/note            {"tags": [...], "note": "..."}: a git note
    POST /api/delete                   {"runs": [...], "force": false}

Safety: on a loopback address the server answers only requests whose ``Host`` header
names that address (a web page cannot reach it by DNS rebinding); on any other address
every request must carry the token (``?token=`` once, then a cookie, or the
``X-Gitxp-Token`` header). POSTs need the page's per-server CSRF token in
``X-Gitxp-CSRF``, a JSON body, and no foreign ``Origin``. Files of a run are sent with a
sandboxing Content-Security-Policy and never as HTML.
"""

from __future__ import annotations

import gzip
import hmac
import ipaddress
import json
import math
import mimetypes
import re
import secrets
import socket
import threading
import time
from http import HTTPStatus
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from gitxp.board import analysis, views
from gitxp.board.listing import RunList, parse_query
from gitxp.board.series import parse_window
from gitxp.board.statics import StaticFiles
from gitxp.errors import GitxpError, RunNotFoundError, UsageError
from gitxp.git.repo import GitRepo
from gitxp.store.notes import NotesIndex

SEAL_EVERY = 30.0  # seconds between looks for runs whose process died
MAX_BODY = 1_000_000
PREVIEW_TYPES = {
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "image/bmp",
    "image/svg+xml",
    "image/x-icon",
}
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
FILE_CSP = "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; sandbox"
_RUN_ROUTE = re.compile(r"^/api/runs/([^/]+)(?:/([a-z]+))?$")


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address) is this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def to_json(data: Any) -> bytes:
    """JSON bytes for the page; NaN and infinities (metrics may hold them) become strings."""
    try:
        text = json.dumps(data, allow_nan=False, ensure_ascii=False, separators=(",", ":"))
    except ValueError:
        text = json.dumps(_finite(data), allow_nan=False, ensure_ascii=False, separators=(",", ":"))
    return text.encode()


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if value != value else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


class BoardServer(ThreadingHTTPServer):
    """The board of the repository at ``path``, listening on ``host``:``port`` (0: any).

    A token is required on a non-loopback ``host``, or when ``require_token`` (a machine
    shared with other users) or ``token`` is given; it is generated unless given.
    """

    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        path: str | Path,
        host: str = "127.0.0.1",
        port: int = 0,
        token: str | None = None,
        require_token: bool = False,
    ) -> None:
        self.workdir = GitRepo(path).workdir
        self.local = is_loopback(host)
        needed = require_token or token is not None or not self.local
        self.token = (token or secrets.token_urlsafe(24)) if needed else None
        self.csrf = secrets.token_urlsafe(24)
        self.notes = NotesIndex()
        self.runs = RunList()
        self.static = StaticFiles()
        self._repos = threading.local()
        self._sealed_at = 0.0
        self._seal_lock = threading.Lock()
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        super().__init__((host.strip("[]"), port), BoardHandler)
        self.host = host
        self.port = int(self.server_address[1])

    @property
    def url(self) -> str:
        """The address to open (with the token when one is needed)."""
        host = self.host
        if host in ("0.0.0.0", "::", ""):
            host = socket.getfqdn() or "localhost"
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        tail = f"?token={quote(self.token)}" if self.token else ""
        return f"http://{host}:{self.port}/{tail}"

    def repo(self) -> GitRepo:
        """This thread's own handle on the repository (libgit2 objects stay per thread)."""
        repo: GitRepo | None = getattr(self._repos, "repo", None)
        if repo is None:
            repo = self._repos.repo = GitRepo(self.workdir)
        return repo

    def seal_dead_runs(self) -> None:
        """Now and then, seal runs whose process died, as every gitxp command does."""
        now = time.monotonic()
        if now - self._sealed_at < SEAL_EVERY or not self._seal_lock.acquire(blocking=False):
            return
        try:
            self._sealed_at = now
            from gitxp.store.sealing import seal_dead_runs

            seal_dead_runs(self.repo())
        except GitxpError:
            pass  # the list still shows the run as RUNNING (probably dead)
        finally:
            self._seal_lock.release()

    def allowed_hosts(self) -> set[str]:
        """``Host`` header values accepted on a loopback address."""
        port = self.port
        return {f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}", f"{self.host}:{port}"}


class HttpError(Exception):
    """An answer other than 200: status and a one-line message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class BoardHandler(BaseHTTPRequestHandler):
    """One request: checks first, then the route."""

    server: BoardServer
    protocol_version = "HTTP/1.1"
    server_version = "gitxp-board"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the board prints its URL, not every request."""

    # -- entry points ---------------------------------------------------------------------

    def do_GET(self) -> None:
        """Serve a page, a file or JSON."""
        self._handle("GET")

    def do_HEAD(self) -> None:
        """As GET, without the body."""
        self._handle("HEAD")

    def do_POST(self) -> None:
        """Tags, notes and deletions."""
        self._handle("POST")

    def _handle(self, method: str) -> None:
        try:
            parts = urlsplit(self.path)
            self.query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
            self._check_host()
            if self._check_token(parts.path):
                return
            if method == "POST":
                self._check_post()
                self._post(parts.path)
            else:
                self._get(parts.path)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as err:
            if method == "POST":  # the body may be unread: do not reuse the connection
                self.close_connection = True
            status, message = _error_status(err)
            self._send_json({"error": message}, status)

    # -- checks -----------------------------------------------------------------------------

    def _check_host(self) -> None:
        if self.server.local and self.headers.get("Host", "") not in self.server.allowed_hosts():
            raise HttpError(HTTPStatus.FORBIDDEN, "unexpected Host header")

    def _check_token(self, path: str) -> bool:
        """Refuse requests without the token; True when a redirect was sent instead."""
        token = self.server.token
        if token is None:
            return False
        given = self.query.get("token")
        if given is not None and hmac.compare_digest(given.encode(), token.encode()):
            if path == "/" and self.command == "GET":  # keep it in a cookie, not in the URL
                self.send_response(HTTPStatus.SEE_OTHER)
                self.send_header("Location", "/")
                self.send_header("Set-Cookie", self._cookie(token))
                self.send_header("Content-Length", "0")
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                return True
            return False
        for candidate in (self.headers.get("X-Gitxp-Token"), self._cookie_token()):
            if candidate and hmac.compare_digest(candidate.encode(), token.encode()):
                return False
        raise HttpError(
            HTTPStatus.UNAUTHORIZED,
            "this board needs its token: open the URL that 'gitxp board' printed",
        )

    def _cookie(self, token: str) -> str:
        return f"{self._cookie_name()}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age=2592000"

    def _cookie_name(self) -> str:
        return f"gitxp_board_{self.server.port}"

    def _cookie_token(self) -> str | None:
        cookie = SimpleCookie()
        try:
            cookie.load(self.headers.get("Cookie", ""))
        except Exception:
            return None
        morsel = cookie.get(self._cookie_name())
        return None if morsel is None else morsel.value

    def _check_post(self) -> None:
        csrf = self.headers.get("X-Gitxp-CSRF", "")
        if not hmac.compare_digest(csrf.encode(), self.server.csrf.encode()):
            raise HttpError(HTTPStatus.FORBIDDEN, "missing or wrong CSRF token; reload the page")
        origin = self.headers.get("Origin")
        host = self.headers.get("Host", "")
        if origin is not None and origin != f"http://{host}":
            raise HttpError(HTTPStatus.FORBIDDEN, "cross-origin request refused")
        if self.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none"):
            raise HttpError(HTTPStatus.FORBIDDEN, "cross-site request refused")
        if self.headers.get_content_type() != "application/json":
            raise HttpError(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "send JSON")

    def _body(self) -> dict[str, Any]:
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            raise HttpError(HTTPStatus.BAD_REQUEST, "bad Content-Length") from None
        if length > MAX_BODY:
            raise HttpError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "request too large")
        try:
            data = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            raise HttpError(HTTPStatus.BAD_REQUEST, "the body is not JSON") from None
        if not isinstance(data, dict):
            raise HttpError(HTTPStatus.BAD_REQUEST, "send a JSON object")
        return data

    # -- routes -------------------------------------------------------------------------------

    def _get(self, path: str) -> None:
        server = self.server
        if path in ("/", "/index.html"):
            page = server.static.files["index.html"].replace(b"{{CSRF}}", server.csrf.encode())
            self._send(page, "text/html; charset=utf-8", csp=PAGE_CSP)
            return
        if path.startswith("/static/"):
            name = path[len("/static/") :]
            if name not in server.static.files or name == "index.html":
                raise HttpError(HTTPStatus.NOT_FOUND, "no such file")
            self._send_static(name)
            return
        repo = server.repo()
        q = self.query
        if path == "/api/runs":
            server.seal_dead_runs()
            data = server.runs.page(repo, parse_query(q))
            if q.get("known") == data["version"]:
                data = {k: data[k] for k in ("version", "now", "matched", "total", "counts")}
                data["unchanged"] = True
            self._send_json(data)
            return
        if path == "/api/metrics":
            window = parse_window(q)
            self._send_json(views.metrics_of(repo, _split(q.get("runs")), window))
            return
        if path == "/api/compare":
            self._send_json(views.compare(repo, _split(q.get("runs"))))
            return
        if path == "/api/diff":
            self._send_json(views.pair_diff(repo, _need(q, "a"), _need(q, "b")))
            return
        if path == "/api/columns":
            names = _split(_need(q, "names"))
            self._send_json(analysis.columns_of(server.runs, repo, names, q.get("where")))
            return
        if path == "/api/groups":
            by, metric = _split(_need(q, "by")), _need(q, "metric")
            self._send_json(analysis.groups(server.runs, repo, by, metric, q.get("where")))
            return
        if path == "/api/sweeps":
            self._send_json(analysis.sweep_list(server.runs, repo))
            return
        if path == "/api/sweep":
            data = analysis.sweep(server.runs, repo, _need(q, "id"), q.get("metric") or None)
            self._send_json(data)
            return
        match = _RUN_ROUTE.match(path)
        if match is None:
            raise HttpError(HTTPStatus.NOT_FOUND, f"no such page: {path}")
        spec, what = match.group(1), match.group(2)
        if what is None:
            self._send_json(views.run_page(repo, server.notes, spec))
        elif what == "output":
            out = views.output_of(repo, spec)
            if q.get("known") == out.key:
                self._send_json({"key": out.key, "unchanged": True})
            else:
                self._send_json(
                    {"key": out.key, "text": out.text, "length": out.length, "live": out.live}
                )
        elif what == "files":
            self._send_json(views.source_files(repo, spec))
        elif what == "file":
            name, blob = views.source_blob(repo, spec, _need(q, "path"))
            self._send_json({"path": q["path"], **views.file_view(name, blob)})
        elif what == "changes":
            self._send_json(views.code_changes(repo, spec))
        elif what == "artifact":
            self._send_file(*views.artifact_blob(repo, spec, _need(q, "name")))
        elif what == "source":
            self._send_file(*views.source_blob(repo, spec, _need(q, "path")))
        else:
            raise HttpError(HTTPStatus.NOT_FOUND, f"no such page: {path}")

    def _post(self, path: str) -> None:
        server = self.server
        body = self._body()
        repo = server.repo()
        if path == "/api/delete":
            runs = body.get("runs")
            if not isinstance(runs, list) or not all(isinstance(r, str) for r in runs):
                raise UsageError("'runs' must be a list of run ids")
            self._send_json(views.delete(repo, runs, force=bool(body.get("force"))))
            return
        match = _RUN_ROUTE.match(path)
        if match is not None and match.group(2) == "note":
            tags = body.get("tags", [])
            note = body.get("note", "")
            if not isinstance(tags, list) or not isinstance(note, str):
                raise UsageError("send tags as a list and the note as text")
            self._send_json(views.save_note(repo, server.notes, match.group(1), tags, note))
            return
        raise HttpError(HTTPStatus.NOT_FOUND, f"no such action: {path}")

    # -- answers ----------------------------------------------------------------------------

    def _send_json(self, data: Any, status: int = HTTPStatus.OK) -> None:
        self._send(to_json(data), "application/json", status)

    def _send_static(self, name: str) -> None:
        """A file of the page: revalidated by its ETag, compressed once."""
        static = self.server.static
        etag = static.etags[name]
        if self.headers.get("If-None-Match") == etag:
            self.send_response(HTTPStatus.NOT_MODIFIED)
            for key, value in (("ETag", etag), ("Cache-Control", "no-cache")):
                self.send_header(key, value)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body, extra = static.files[name], {"ETag": etag}
        if len(body) > 8_000 and "gzip" in self.headers.get("Accept-Encoding", ""):
            body, extra["Content-Encoding"] = static.gzipped(name), "gzip"
        kind = static.kind(name)
        self._send(body, kind, cache="no-cache", csp=PAGE_CSP, extra=extra, compress=False)

    def _send_file(self, name: str, data: bytes) -> None:
        """A run's file: images inline (for previews), anything else as bytes to save."""
        kind = mimetypes.guess_type(name)[0] or ""
        download = self.query.get("download") == "1" or kind not in PREVIEW_TYPES
        if kind not in PREVIEW_TYPES:
            kind = "text/plain; charset=utf-8" if views.as_text(data) is not None else ""
            kind = kind or "application/octet-stream"
        if self.query.get("view") == "text" and views.as_text(data) is not None:
            kind, download = "text/plain; charset=utf-8", False
        disposition = "attachment" if download else "inline"
        safe = re.sub(r"[^A-Za-z0-9._-]", "_", name) or "file"
        self._send(
            data,
            kind,
            csp=FILE_CSP,
            extra={
                "Content-Disposition": f'{disposition}; filename="{safe}"; '
                f"filename*=UTF-8''{quote(name)}"
            },
        )

    def _send(
        self,
        body: bytes,
        kind: str,
        status: int = HTTPStatus.OK,
        cache: str = "no-store",
        csp: str = "default-src 'none'; frame-ancestors 'none'",
        extra: dict[str, str] | None = None,
        compress: bool = True,
    ) -> None:
        gzip_ok = compress and "gzip" in self.headers.get("Accept-Encoding", "")
        if len(body) > 8_000 and gzip_ok and kind.startswith(("application/json", "text/")):
            body = gzip.compress(body, compresslevel=1)
            extra = {**(extra or {}), "Content-Encoding": "gzip"}
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", cache)
        self.send_header("Content-Security-Policy", csp)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("X-Frame-Options", "DENY")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("Cross-Origin-Resource-Policy", "same-origin")
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


def _error_status(err: Exception) -> tuple[int, str]:
    """The HTTP status and one-line message for an error raised while answering."""
    if isinstance(err, HttpError):
        return err.status, err.message
    if isinstance(err, RunNotFoundError):
        return HTTPStatus.NOT_FOUND, str(err)
    if isinstance(err, GitxpError):
        return HTTPStatus.BAD_REQUEST, str(err)
    return HTTPStatus.INTERNAL_SERVER_ERROR, f"internal error: {type(err).__name__}: {err}"


def _split(text: str | None) -> list[str]:
    return [s.strip() for s in (text or "").split(",") if s.strip()]


def _need(query: dict[str, str], key: str) -> str:
    value = query.get(key)
    if not value:
        raise HttpError(HTTPStatus.BAD_REQUEST, f"missing parameter {key!r}")
    return value
