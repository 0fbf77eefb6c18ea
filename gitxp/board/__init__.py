"""``gitxp board``: the runs of a repository in a web browser.

A small web app served by the standard library's HTTP server: the run list (paged,
sorted and filtered on the server with ``--where`` expressions, status, columns,
auto-refresh), a page per run (config with docs, metrics charts, live output, artifacts,
the snapshot's files and what was uncommitted), compare, analysis across runs, sweeps,
tags and notes (git notes), and deleting runs. The page is HTML, CSS and JavaScript in
``static/`` with Apache ECharts vendored in ``static/vendor/``: nothing is loaded from
elsewhere.

- :mod:`gitxp.board.server`: HTTP, routes and the safety checks.
- :mod:`gitxp.board.views`: the JSON of each run's routes; :mod:`gitxp.board.listing`
  the run list, :mod:`gitxp.board.series` metric series, :mod:`gitxp.board.analysis`
  analysis across runs and sweeps.
"""

from __future__ import annotations

import webbrowser
from collections.abc import Callable
from pathlib import Path

from gitxp.errors import UsageError

DEFAULT_PORT = 7070


def serve(
    path: str | Path,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    open_browser: bool = False,
    echo: Callable[[str], None] = print,
    require_token: bool = False,
) -> None:
    """Serve the board of the repository at ``path`` until interrupted (Ctrl-C)."""
    from gitxp.board.server import BoardServer

    try:
        server = BoardServer(path, host, port, require_token=require_token)
    except OSError as err:
        why = err.strerror or str(err)
        raise UsageError(
            f"cannot listen on {host}:{port}: {why}; choose another --port (0: any free port)"
        ) from None
    echo(f"gitxp board: {server.url}")
    if not server.local:
        echo(
            "  listening beyond this machine: only the token in that URL keeps others out; "
            "share it with care (plain http: use it on trusted networks or through ssh -L)"
        )
    echo("  press Ctrl-C to stop")
    if open_browser:
        webbrowser.open(server.url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        echo("gitxp board: stopped")
    finally:
        server.server_close()
