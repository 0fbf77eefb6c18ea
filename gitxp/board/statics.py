"""The page's own files (``static/``, the vendored charting library in ``static/vendor/``),
read once from the package, each with an ETag and compressed once when first asked."""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
import re
import threading
from importlib import resources

STATIC_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]*\.(?:html|js|css|svg|png|ico)$")


class StaticFiles:
    """``files``: name → bytes (``vendor/NAME`` for the library); ``etags`` likewise."""

    def __init__(self) -> None:
        root = resources.files("gitxp.board").joinpath("static")
        self.files: dict[str, bytes] = {}
        for folder, prefix in ((root, ""), (root.joinpath("vendor"), "vendor/")):
            for item in folder.iterdir():
                if item.is_file() and STATIC_NAME.match(item.name):
                    self.files[prefix + item.name] = item.read_bytes()
        self.etags = {
            name: '"' + hashlib.blake2b(data, digest_size=10).hexdigest() + '"'
            for name, data in self.files.items()
        }
        self._lock = threading.Lock()
        self._gzipped: dict[str, bytes] = {}

    def gzipped(self, name: str) -> bytes:
        """The file ``name`` compressed (once: the charting library is 1 MB)."""
        with self._lock:
            found = self._gzipped.get(name)
            if found is None:
                found = self._gzipped[name] = gzip.compress(self.files[name], compresslevel=9)
            return found

    @staticmethod
    def kind(name: str) -> str:
        """The Content-Type of ``name``."""
        kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
        if kind.startswith("text/") or kind.endswith("javascript"):
            kind += "; charset=utf-8"
        return kind
