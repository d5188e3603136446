"""`publish --now` by hand while a real `quotecast run` is running: the calendar is kept.

With a queue planned for later, `publish --now` posts nothing and names the next slot;
`publish --now SLUG` posts the urgent item only; an item that is due is posted once,
whichever of the two gets it; the dry run of `--all` still lists the planned posts.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pipeline.ledger import Ledger
from tests.conftest import Project
from tests.daemon.helpers import config_text, outbox_posts, write_item

pytestmark = pytest.mark.slow


def wait_for(what: Callable[[], bool], proc: subprocess.Popen[str], log: Path) -> None:
    """Poll until `what()` holds; fail at once if the daemon died, or after 30 s."""
    deadline = time.monotonic() + 30
    while not what():
        if proc.poll() is not None:
            pytest.fail(f"daemon exited early ({proc.returncode}):\n{log.read_text()}")
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting:\n{log.read_text()}")
        time.sleep(0.05)


def state(root: Path, slug: str) -> str | None:
    if not (root / "var" / "ledger.sqlite3").exists():
        return None
    ledger = Ledger.open(root / "var")
    try:
        row = ledger.get(slug, "outbox")
        return row.state if row else None
    finally:
        ledger.close()


def daemon_running(root: Path) -> bool:
    """The daemon wrote its heartbeat: it has planned from config, queue and ledger."""
    if not (root / "var" / "ledger.sqlite3").exists():
        return False
    ledger = Ledger.open(root / "var")
    try:
        beat = ledger.heartbeat("daemon")
        return beat is not None and beat[2].get("state") == "running"
    finally:
        ledger.close()


def test_publish_now_beside_a_running_daemon_keeps_the_calendar(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    (root / "queue").mkdir(parents=True)
    p = Project(root)
    start = datetime.now(UTC)
    slot = (start + timedelta(hours=3)).strftime("%H:%M")
    p.write_config(config_text("UTC", (f"daily {slot}",), misfire_grace=60))
    write_item(p.queue, "planned")
    write_item(p.queue, "next-week", publish_at=start + timedelta(days=7))

    log = tmp_path / "daemon.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUOTECAST_")}
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "pipeline", "run"],
            cwd=root,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )
    try:
        wait_for(lambda: daemon_running(root), proc, log)

        # nothing is due: the hand-run pass posts nothing and names what comes next
        r = p.run("publish", "--now")
        assert r.returncode == 0, r.stdout + r.stderr
        assert "nothing is due now; next: planned → outbox at " in r.stdout
        assert outbox_posts(root) == []

        # the urgent case: one named item goes out now, and only it
        write_item(p.queue, "urgent")
        r = p.run("publish", "--now", "urgent")
        assert r.returncode == 0, r.stdout + r.stderr
        assert "published 1 post (1 to outbox)" in r.stdout
        assert outbox_posts(root) == ["urgent"]

        # a post that is due: the daemon and the hand-run pass both want it; it goes once
        write_item(p.queue, "due", publish_at=datetime.now(UTC) - timedelta(seconds=5))
        r = p.run("publish", "--now")
        assert r.returncode == 0, r.stdout + r.stderr
        assert not re.search(r"^posted\s+(?!due )", r.stdout, re.MULTILINE), r.stdout
        wait_for(lambda: state(root, "due") == "posted", proc, log)

        dry = p.run("publish", "--dry-run", "--all")
        assert dry.returncode == 0, dry.stdout + dry.stderr
        listed = set(re.findall(r"^would post (\S+) → outbox", dry.stdout, re.MULTILINE))
        assert listed == {"planned", "next-week"}
        assert "would publish 2 posts (2 to outbox)" in dry.stdout

        # --all spends the calendar, beside the daemon too: exactly what the dry run listed
        r = p.run("publish", "--now", "--all", "--yes")
        assert r.returncode == 0, r.stdout + r.stderr
        posted_now = set(re.findall(r"^posted\s+(\S+) → outbox", r.stdout, re.MULTILINE))
        assert posted_now == listed, r.stdout

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0, log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)

    assert outbox_posts(root) == ["due", "next-week", "planned", "urgent"]
    ledger = Ledger.open(root / "var")
    posted = [h.slug for h in ledger.history() if h.outcome == "posted"]
    assert sorted(posted) == ["due", "next-week", "planned", "urgent"]  # each exactly once
