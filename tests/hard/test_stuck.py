"""Issue 17 case 5: a post left `sending` by a killed daemon is seen and settled.

A real `quotecast run` is SIGKILLed while the Mastodon fake holds its status request; the fake
then stores the status. `status` must call the dead daemon stale at once, list the stuck post
under "needs you" once its lease is over (advising a pass, never `retry`), and a restarted
daemon settles it: found on the network, `posted`, and never sent twice. A daemon that keeps
running beside a SIGKILLed `publish --now` settles that one on its timer, with nothing due and
no restart (the row is made after the daemon started, so only the timer can reach it).
"""

from __future__ import annotations

import json
import signal
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import Project
from tests.daemon.helpers import config_text, write_item
from tests.daemon.test_daemon_e2e import Daemon
from tests.fakes import Fault
from tests.integration.harness import Net, row, start_net, wait_for, wait_until_leases_expire

pytestmark = pytest.mark.slow


def _settled_once(net: Net, daemon: Daemon) -> None:
    """The daemon found the post on the network: `posted` by reconciliation, sent once."""
    assert len(net.held()) == 1 and net.create_requests() == 1  # never sent twice
    assert any(line.get("outcome") == "reconciled-posted" for line in daemon.lines), daemon.output()


def _configure(project: Project, net: Net, slot: str) -> None:
    """One Mastodon target on the fake, 5-second leases, one daily slot."""
    (project.root / "queue").mkdir(parents=True)
    targets = (
        '[targets.mastodon]\nnetwork = "mastodon"\nformat = "square"\n'
        f"options = {{ api_base = {json.dumps(net.options['api_base'])}, "
        "media_poll_interval = 0.05 }\n"
    )
    text = config_text("UTC", (slot,), targets=targets)
    text = text.replace("[publish]\n", "[publish]\nlease_seconds = 5\nrequest_timeout = 30\n")
    project.write_config(text)


def test_a_killed_daemons_stuck_post_is_seen_and_settled_without_a_due_pass(
    tmp_path: Path,
) -> None:
    root = tmp_path / "proj"
    project = Project(root)
    net = start_net("mastodon")
    try:
        _configure(project, net, "daily 03:00")
        write_item(project.queue, "alpha", publish_at=datetime.now(UTC) + timedelta(seconds=1))
        held = net.fake.inject(net.create, Fault.held())

        first = Daemon(root, net.env)
        try:
            assert held.arrived.wait(30), first.output()
        finally:
            first.kill()  # SIGKILL, and reaped: the pid is gone
        assert held.hold is not None
        held.hold.set()
        assert held.done.wait(10)
        assert len(net.held()) == 1  # the network has it; the ledger says `sending`
        got = row(project, "alpha", "mastodon")
        assert got is not None and got.state == "sending"

        status = project.run("status")
        assert status.returncode == 0, status.stderr
        assert "daemon: stale" in status.stdout, status.stdout
        early = project.run(
            "publish", "--now", "--all", "--yes", env=net.env
        )  # within the lease: said, not sent
        assert "still sending alpha → mastodon" in early.stdout, early.stdout
        assert net.create_requests() == 1

        wait_until_leases_expire(project)
        status = project.run("status", "--json")
        data = json.loads(status.stdout)
        assert [(e["item"], e["state"]) for e in data["needs_attention"]] == [("alpha", "sending")]
        assert data["daemon"]["status"] == "stale"
        status = project.run("status")
        assert "needs you: alpha → mastodon is sending" in status.stdout, status.stdout
        assert "quotecast publish --now" in status.stdout
        assert "quotecast retry" not in status.stdout

        second = Daemon(root, net.env)  # nothing is due; its start-up reconciliation settles alpha
        try:
            wait_for(
                lambda: getattr(row(project, "alpha", "mastodon"), "state", "") == "posted",
                30,
                "the restarted daemon to settle alpha",
            )
            assert second.terminate() == 0
        finally:
            second.kill()
        _settled_once(net, second)
        settled = project.run("status", "--json")
        assert json.loads(settled.stdout)["needs_attention"] == []
    finally:
        net.fake.stop()


def test_a_running_daemon_settles_a_killed_publish_on_its_timer(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    project = Project(root)
    net = start_net("mastodon")
    try:
        later = (datetime.now(UTC) + timedelta(hours=12)).strftime("%H:%M")
        _configure(project, net, f"daily {later}")
        write_item(project.queue, "alpha", publish_at=datetime.now(UTC) + timedelta(days=2))

        daemon = Daemon(root, net.env)  # watchfiles mode (the default): its timer is `_tick`
        try:
            daemon.wait_for(
                lambda: any("daemon started" in str(x.get("message", "")) for x in daemon.lines)
            )
            time.sleep(1.5)  # past start-up: its reconciliation has run and found nothing
            held = net.fake.inject(net.create, Fault.held())
            publish = project.popen("publish", "--now", "alpha", env=net.env)
            assert held.arrived.wait(30), daemon.output()
            publish.send_signal(signal.SIGKILL)
            publish.communicate(timeout=10)
            assert held.hold is not None
            held.hold.set()
            assert held.done.wait(10)
            got = row(project, "alpha", "mastodon")
            assert got is not None and got.state == "sending"

            wait_until_leases_expire(project)  # from here only the daemon's timer can settle it
            wait_for(
                lambda: getattr(row(project, "alpha", "mastodon"), "state", "") == "posted",
                15,
                "the running daemon's timer to settle alpha",
            )
            assert daemon.proc.poll() is None  # the same daemon, never restarted
            assert daemon.terminate() == 0
        finally:
            daemon.kill()
        _settled_once(net, daemon)
    finally:
        net.fake.stop()
