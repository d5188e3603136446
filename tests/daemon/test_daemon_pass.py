"""The daemon's passes and wiring, in-process: clock travel, reservations, concurrency, stop."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import ClassVar

import pytest
import time_machine

from pipeline.config import Settings
from pipeline.daemon import PASS_PREFIX, Daemon
from pipeline.ledger import Ledger
from pipeline.posts import Post, Receipt
from pipeline.publishers import REGISTRY
from pipeline.publishers.base import Limits, Publisher, TransientError
from pipeline.report import daemon_status, status_data
from pipeline.runner import run_pass
from tests.daemon.helpers import config_text, make_project, outbox_posts, write_item


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "proj"


def _daemon(s: Settings) -> Daemon:
    return Daemon(s, Ledger.open(s.data_path))


def test_spring_forward_through_real_passes_with_a_travelling_clock(root: Path) -> None:
    s = make_project(root, config_text("Europe/London", ("daily 01:30",), misfire_grace=600))
    for slug in ("a", "b", "c"):
        write_item(s.queue_path, slug)
    # 01:30 does not exist on 2026-03-29 in London: the slot is 02:30 BST = 01:30 UTC
    ticks = [
        (datetime(2026, 3, 29, 0, 59, tzinfo=UTC), []),  # 01:59 GMT... not yet
        (datetime(2026, 3, 29, 1, 29, 50, tzinfo=UTC), []),
        (datetime(2026, 3, 29, 1, 30, 5, tzinfo=UTC), ["a"]),  # 02:30:05 BST
        (datetime(2026, 3, 29, 1, 35, tzinfo=UTC), ["a"]),  # a fresh daemon: nothing twice
        (datetime(2026, 3, 29, 2, 30, tzinfo=UTC), ["a"]),  # an hour on: nothing doubled
        (datetime(2026, 3, 30, 0, 30, 1, tzinfo=UTC), ["a", "b"]),  # 01:30 BST next day
    ]
    for at, expected in ticks:
        with time_machine.travel(at, tick=False):
            d = _daemon(s)  # a new daemon per tick: every tick is also a restart
            d.run_pass()
            d.ledger.close()
        assert outbox_posts(root) == expected, at
    row = Ledger.open(s.data_path).get("a", "outbox")
    assert row is not None and row.state == "posted"
    assert row.scheduled_for == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    assert row.scheduled_tz == "Europe/London"


def test_fall_back_repeated_hour_posts_once_with_a_travelling_clock(root: Path) -> None:
    s = make_project(root, config_text("America/New_York", ("daily 01:30",), misfire_grace=7200))
    for slug in ("a", "b"):
        write_item(s.queue_path, slug)
    first = datetime(2026, 11, 1, 5, 30, 1, tzinfo=UTC)  # 01:30 EDT
    second = datetime(2026, 11, 1, 6, 30, 1, tzinfo=UTC)  # 01:30 EST, an hour later
    for at in (first, second, second + timedelta(minutes=20)):
        with time_machine.travel(at, tick=False):
            d = _daemon(s)
            d.run_pass()
            d.ledger.close()
    assert outbox_posts(root) == ["a"]


def test_publish_now_and_the_daemon_at_once_post_each_thing_once(root: Path) -> None:
    s = make_project(root, config_text("UTC", ("daily 00:00",), misfire_grace=86400))
    past = datetime.now(UTC) - timedelta(seconds=5)
    for n in range(4):
        write_item(s.queue_path, f"q{n}", publish_at=past)
    d = _daemon(s)
    barrier = threading.Barrier(2)
    reports = {}

    def daemon_side() -> None:
        barrier.wait()
        reports["daemon"] = d.run_pass()

    def cli_side() -> None:
        barrier.wait()
        reports["cli"] = run_pass(s)

    threads = [threading.Thread(target=daemon_side), threading.Thread(target=cli_side)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    posted = [o.slug for r in reports.values() if r for o in r.posted]
    assert sorted(posted) == ["q0", "q1", "q2", "q3"]
    assert all(r is None or r.ok for r in reports.values())
    assert outbox_posts(root) == ["q0", "q1", "q2", "q3"]


def test_an_item_that_cannot_be_prepared_is_failed_and_does_not_hold_the_queue(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = make_project(root, config_text("UTC", ("daily 00:00",), misfire_grace=86400))
    # a private-use character that no shipped font covers: the renderer refuses it
    s.queue_path.mkdir(parents=True, exist_ok=True)
    (s.queue_path / "a-broken.toml").write_text(
        'quote = "Unrenderable \ue000 glyph"\nauthor = "Tester"\npriority = 1\n', encoding="utf-8"
    )
    write_item(s.queue_path, "b-fine")
    d = _daemon(s)
    d.run_pass()  # today's 00:00 slot (within grace) goes to the higher-priority item
    row = d.ledger.get("a-broken", "outbox")
    assert row is not None and row.state == "failed" and row.error_kind == "prepare"
    assert "U+E000" in (row.last_error or "")
    plan = d.rescan("test")
    assert plan is not None
    assert [e.slug for e in plan.upcoming()][:1] == ["b-fine"]  # the next slot is b's


class _Flaky(Publisher):
    """Always fails transiently; counts calls."""

    network: ClassVar[str] = "flaky"
    limits: ClassVar[Limits] = Limits(caption_max=10_000)
    calls: ClassVar[threading.Event] = threading.Event()

    def publish(self, post: Post) -> Receipt:
        _Flaky.calls.set()
        raise TransientError("503 from the network")


@pytest.fixture
def flaky(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[_Flaky]]:
    monkeypatch.setitem(REGISTRY, "flaky", f"{__name__}:_Flaky")
    _Flaky.calls = threading.Event()
    yield _Flaky


def test_stop_during_a_retry_wait_ends_the_pass_fast_and_puts_the_post_back(
    root: Path, flaky: type[_Flaky]
) -> None:
    targets = '[targets.flaky]\nnetwork = "flaky"\nformat = "square"\n'
    s = make_project(root, config_text("UTC", ("daily 00:00",), targets=targets))
    s.publish.backoff_initial = s.publish.backoff_max = 60.0  # a long back-off to cut short
    write_item(s.queue_path, "a", publish_at=datetime.now(UTC))
    d = _daemon(s)
    t = threading.Thread(target=d.run_pass)
    t.start()
    assert flaky.calls.wait(20)
    time.sleep(0.2)  # now in the 30–60 s back-off
    started = time.monotonic()
    d.request_stop("test")
    t.join(10)
    assert not t.is_alive() and time.monotonic() - started < 3
    row = d.ledger.get("a", "outbox") or d.ledger.get("a", "flaky")
    assert row is not None and row.state == "pending"  # nothing sent; retried after restart
    # newest first: the cut-short wait, then the one real attempt
    assert [h.outcome for h in d.ledger.history("a")] == ["interrupted", "transient"]


def test_jobs_follow_the_plan_with_jitter_and_catch_up_at_start(root: Path) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    slot = (now + timedelta(hours=2)).strftime("%H:%M")
    s = make_project(root, config_text("UTC", (f"daily {slot}",), jitter=600, misfire_grace=60))
    write_item(s.queue_path, "floating")
    write_item(s.queue_path, "fixed", publish_at=now + timedelta(hours=1))
    write_item(s.queue_path, "due", publish_at=now - timedelta(seconds=10))
    d = _daemon(s)
    d.rescan("start")
    jobs = {j.id: j for j in d.scheduler.get_jobs()}
    fixed_at = (now + timedelta(hours=1)).isoformat()
    assert "catch-up" in jobs  # "due" is within grace at start: posted at once
    assert jobs[PASS_PREFIX + fixed_at].trigger.run_date == now + timedelta(hours=1)  # no jitter
    [slot_id] = [j for j in jobs if j.startswith(PASS_PREFIX) and j != PASS_PREFIX + fixed_at]
    slot_at = datetime.fromisoformat(slot_id.removeprefix(PASS_PREFIX))
    delay = (jobs[slot_id].trigger.run_date - slot_at).total_seconds()
    assert 0 <= delay <= 600  # random jitter within the configured bound
    (s.queue_path / "fixed.toml").unlink()
    d.rescan("queue changed")
    assert PASS_PREFIX + fixed_at not in {j.id for j in d.scheduler.get_jobs()}


def test_the_daemon_runs_posts_on_time_beats_and_stops_with_status_zero(root: Path) -> None:
    s = make_project(root, config_text("UTC", ("daily 00:00",), misfire_grace=5))
    write_item(s.queue_path, "soon", publish_at=datetime.now(UTC) + timedelta(seconds=1.5))
    d = _daemon(s)
    result: dict[str, int] = {}
    t = threading.Thread(target=lambda: result.setdefault("code", d.run(install_signals=False)))
    t.start()
    deadline = time.monotonic() + 20
    while outbox_posts(root) != ["soon"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert outbox_posts(root) == ["soon"]
    beat = d.ledger.heartbeat("daemon")
    assert beat is not None
    assert daemon_status(beat[1], beat[2], datetime.now(UTC)) == "alive"
    # a file dropped while running is noticed by the watcher and posted at its time
    write_item(s.queue_path, "dropped", publish_at=datetime.now(UTC) + timedelta(seconds=1))
    deadline = time.monotonic() + 20
    while outbox_posts(root) != ["dropped", "soon"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert outbox_posts(root) == ["dropped", "soon"]
    d.request_stop("test")
    t.join(15)
    assert not t.is_alive() and result["code"] == 0
    info = status_data(s)["daemon"]
    assert info["status"] == "stopped" and info["alive"] is False
    assert info["last_pass"]["posted"] == 1 and info["passes"] == 2


def test_a_silent_daemon_is_reported_stale() -> None:
    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    info = {"state": "running", "stale_after": 90}
    assert daemon_status(now - timedelta(seconds=89), info, now) == "alive"
    assert daemon_status(now - timedelta(seconds=91), info, now) == "stale"
    assert daemon_status(now - timedelta(days=3), {"state": "stopped"}, now) == "stopped"
