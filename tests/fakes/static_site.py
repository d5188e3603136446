"""A folder served on 127.0.0.1 like a public web host: the bio site as Meta would fetch it.

Tests point `[site] base_url` (or `options.media_base_url`) at `StaticSite.url`; the Graph
and Threads fakes then really download `image_url` from it, as Meta does.
"""

from __future__ import annotations

import functools
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self


class _Quiet(SimpleHTTPRequestHandler):
    site: StaticSite

    def log_message(self, format: str, *args: Any) -> None:
        with self.site.lock:
            self.site.requests.append((self.command, self.path))
            self.site.agents.append(self.headers.get("User-Agent", ""))


class StaticSite:
    """Serve `root` read-only; `.requests` lists (method, path) of what was asked."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.lock = threading.Lock()
        self.requests: list[tuple[str, str]] = []
        self.agents: list[str] = []  # User-Agent of each request, in order
        self._httpd: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._httpd is not None
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> Self:
        self.root.mkdir(parents=True, exist_ok=True)
        handler = type("SiteHandler", (_Quiet,), {"site": self})
        factory = functools.partial(handler, directory=str(self.root))
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), factory)
        self._httpd.daemon_threads = True
        httpd = self._httpd
        threading.Thread(
            target=lambda: httpd.serve_forever(poll_interval=0.05), daemon=True
        ).start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def fetched(self, name: str) -> int:
        """How many GETs asked for a path ending in `name`."""
        with self.lock:
            return sum(
                1 for method, path in self.requests if method == "GET" and path.endswith(name)
            )
