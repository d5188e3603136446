"""A real `quotecast run` subprocess posting to the outbox and to the fake X API.

The post appears once; SIGTERM while a post is in flight lets it finish and be recorded, then
exits 0; restarting posts nothing twice; a file dropped while the daemon runs is posted.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from pipeline.ledger import Ledger
from tests.daemon.helpers import config_text, outbox_posts, write_item
from tests.fakes.server import Fault
from tests.fakes.x_api import FakeX

pytestmark = pytest.mark.slow

CREATE = "POST /2/tweets"


class Daemon:
    """`python -m pipeline run` in a folder; collects its JSON log lines as they come."""

    def __init__(self, root: Path, env: dict[str, str]) -> None:
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("QUOTECAST_")}
        full_env.update(env)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "pipeline", "-c", "config.toml", "run", "--log-format", "json"],
            cwd=root,
            env=full_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[dict[str, Any]] = []
        self.raw: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.raw.append(line)
            self.lines.append(json.loads(line))  # every stdout line is one JSON event

    def wait_for(self, what: Callable[[], bool], timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not what():
            if self.proc.poll() is not None:
                pytest.fail(f"daemon exited early: {self.proc.returncode}\n{self.output()}")
            if time.monotonic() > deadline:
                pytest.fail(f"timed out waiting\n{self.output()}")
            time.sleep(0.05)

    def logged(self, message: str) -> bool:
        return any(message in line["message"] for line in self.lines)

    def terminate(self, timeout: float = 15, sig: int = signal.SIGTERM) -> int:
        self.proc.send_signal(sig)
        code = self.proc.wait(timeout)
        self._reader.join(5)
        return code

    def output(self) -> str:
        err = self.proc.stderr.read() if self.proc.poll() is not None and self.proc.stderr else ""
        return "".join(self.raw) + (err or "")

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)


@pytest.fixture
def fake_x() -> Iterator[FakeX]:
    with FakeX() as fake:
        yield fake


def test_daemon_posts_once_stops_cleanly_and_restarts_without_doubles(
    tmp_path: Path, fake_x: FakeX
) -> None:
    root = tmp_path / "proj"
    (root / "queue").mkdir(parents=True)
    targets = (
        '[targets.outbox]\nnetwork = "outbox"\nformat = "square"\n\n'
        '[targets.x]\nnetwork = "x"\nformat = "landscape"\n'
        f'[targets.x.options]\napi_base = "{fake_x.url}"\nrequest_timeout = 10.0\n'
    )
    (root / "config.toml").write_text(
        config_text("Europe/London", ("mon-fri 07:30",), targets=targets, misfire_grace=60)
    )
    creds = fake_x.credentials
    env = {
        "QUOTECAST_X_API_KEY": creds.consumer_key,
        "QUOTECAST_X_API_SECRET": creds.consumer_secret,
        "QUOTECAST_X_ACCESS_TOKEN": creds.access_token,
        "QUOTECAST_X_ACCESS_TOKEN_SECRET": creds.access_token_secret,
    }
    write_item(root / "queue", "first", publish_at=datetime.now(UTC) + timedelta(seconds=3))
    started = time.monotonic()

    # 1. the post appears once, at its time, on both targets
    d = Daemon(root, env)
    try:
        d.wait_for(lambda: outbox_posts(root) == ["first"] and len(fake_x.posts) == 1)
        assert d.terminate() == 0
    finally:
        d.kill()
    events = [(e.get("item"), e.get("target"), e.get("outcome")) for e in d.lines]
    assert events.count(("first", "outbox", "posted")) == 1
    assert events.count(("first", "x", "posted")) == 1
    x_line = next(e for e in d.lines if e.get("target") == "x" and e.get("outcome") == "posted")
    assert x_line["url"].endswith(f"/status/{fake_x.posts[0].id}")
    assert d.lines[-1]["message"] == "daemon stopped"

    # 2. restart; a file dropped while running is posted; SIGTERM while its X post is in flight
    release = threading.Event()
    held = fake_x.inject(CREATE, Fault.held(release))
    d = Daemon(root, env)
    try:
        d.wait_for(lambda: d.logged("daemon started"))
        write_item(root / "queue", "second", publish_at=datetime.now(UTC) + timedelta(seconds=1))
        assert held.arrived.wait(30), d.output()
        stop_sent = time.monotonic()
        d.proc.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        assert d.proc.poll() is None  # still finishing the post in flight
        release.set()
        assert d.proc.wait(15) == 0
        assert time.monotonic() - stop_sent < 10
    finally:
        release.set()
        d.kill()
    assert outbox_posts(root) == ["first", "second"]
    assert [p.submitted_text.count("second") > 0 for p in fake_x.posts] == [False, True]

    # 3. restart again: nothing is posted twice; Ctrl-C (SIGINT) stops it as cleanly
    d = Daemon(root, env)
    try:
        d.wait_for(lambda: d.logged("daemon started"))
        time.sleep(1.5)  # several watch/rescan rounds
        assert d.terminate(sig=signal.SIGINT) == 0
    finally:
        d.kill()
    assert not any(e.get("outcome") == "posted" for e in d.lines)
    assert outbox_posts(root) == ["first", "second"]
    assert len(fake_x.posts) == 2
    ledger = Ledger.open(root / "var")
    rows = {(r.slug, r.target): r.state for r in ledger.rows()}
    assert rows == {(s, t): "posted" for s in ("first", "second") for t in ("outbox", "x")}
    assert [h.outcome for h in ledger.history()].count("posted") == 4
    beat = ledger.heartbeat("daemon")
    assert beat is not None and beat[2]["state"] == "stopped"
    assert time.monotonic() - started < 45
