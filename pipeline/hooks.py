"""What follows a pass that posted something: rebuild the bio page (and deploy it)."""

from __future__ import annotations

import logging
import threading

from pipeline.config import Settings
from pipeline.items import QueueScan

log = logging.getLogger("quotecast")


def after_posting(settings: Settings, scan: QueueScan | None = None) -> None:
    """Rebuild the link-in-bio site; a failure here is reported, never fatal.

    The posts are already out and recorded: a site that cannot be built or
    deployed must not turn a good pass into a failed one. `quotecast bio` retries.
    `scan` is the queue the pass just read, so the site shows what was posted
    without statting every queue file again.
    """
    try:
        from pipeline.bio import build_and_deploy

        build_and_deploy(settings, scan=scan)  # logs a failed deploy itself
    except Exception as exc:
        log.error("bio page not rebuilt: %s (run `quotecast bio` to retry)", exc)


class SiteRebuilder:
    """after_posting() on a thread of its own, so a pass never waits for the bio site.

    One build at a time; requests that arrive during a build become one more
    build after it. Failures are logged by after_posting, like a foreground build.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._wanted = False
        self._thread: threading.Thread | None = None
        self.builds = 0

    def request(self) -> None:
        with self._lock:
            self._wanted = True
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="quotecast-bio")
                self._thread.daemon = True
                self._thread.start()

    def _loop(self) -> None:
        while True:
            with self._lock:
                if not self._wanted:
                    self._thread = None
                    return
                self._wanted = False
            after_posting(self.settings)
            self.builds += 1

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the builds asked for so far; False if one is still running."""
        with self._lock:
            thread = self._thread
        if thread is not None:
            thread.join(timeout)
            return not thread.is_alive()
        return True
