"""The ledger: atomic claims, state transitions, attempts, operator actions."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pipeline.ledger import Ledger, LedgerError


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    return Ledger.open(tmp_path / "var")


def test_sqlite_is_in_wal_mode_with_a_schema_version(ledger: Ledger) -> None:
    with ledger.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        version = conn.exec_driver_sql("SELECT value FROM meta WHERE key='schema_version'")
        assert version.scalar() == "1"


def test_only_one_of_many_threads_wins_a_claim(tmp_path: Path) -> None:
    winners: list[str] = []
    barrier = threading.Barrier(8)

    def worker(n: int) -> None:
        ledger = Ledger.open(tmp_path / "var")  # own engine, like a separate process
        barrier.wait(timeout=30)
        if ledger.claim("item", "x", "x", f"owner-{n}", 60):
            winners.append(f"owner-{n}")
        ledger.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(winners) == 1
    row = Ledger.open(tmp_path / "var").get("item", "x")
    assert row is not None and row.state == "claimed" and row.owner == winners[0]


def test_full_lifecycle_records_every_attempt(ledger: Ledger) -> None:
    assert ledger.claim("a", "x", "x", "me", 60)
    assert not ledger.claim("a", "x", "x", "other", 60)
    assert ledger.mark_sending("a", "x", "me", "key1", "hash1", 60) == 1
    ledger.record_attempt("a", "x", 1, "transient", "HTTP 503", "me")
    assert ledger.mark_sending("a", "x", "me", "key1", "hash1", 60) == 2
    now = datetime.now(UTC)
    assert ledger.record_posted("a", "x", "me", "123", "https://x.com/s/123", now)
    row = ledger.get("a", "x")
    assert row is not None
    assert (row.state, row.attempts, row.remote_id, row.owner) == ("posted", 2, "123", None)
    assert not ledger.claim("a", "x", "x", "me", 60)  # posted is final
    outcomes = [(h.attempt, h.outcome, h.error) for h in reversed(ledger.history("a"))]
    assert outcomes == [(1, "transient", "HTTP 503"), (2, "posted", None)]


def test_expired_claim_can_be_taken_over_but_sending_is_reconciled(ledger: Ledger) -> None:
    past = datetime.now(UTC) - timedelta(hours=1)
    assert ledger.claim("a", "x", "x", "dead", 60, now=past)
    assert ledger.claim("a", "x", "x", "alive", 60)  # claimed but never sent: safe
    ledger.mark_sending("a", "x", "alive", "k", "h", 60, now=past)
    assert not ledger.claim("a", "x", "x", "third", 60)  # sending is never re-claimed
    taken = ledger.take_expired_sending("reconciler", 60)
    assert [(r.slug, r.owner) for r in taken] == [("a", "reconciler")]
    assert ledger.take_expired_sending("someone-else", 60) == []


def test_a_lost_claim_cannot_be_sent(ledger: Ledger) -> None:
    ledger.claim("a", "x", "x", "me", 60)
    with pytest.raises(LedgerError, match="claim lost"):
        ledger.mark_sending("a", "x", "not-me", "k", "h", 60)


def test_resolve_and_retry(ledger: Ledger) -> None:
    ledger.claim("a", "x", "x", "me", 60)
    ledger.mark_sending("a", "x", "me", "k", "h", 60)
    ledger.record_unknown("a", "x", "me", "unknown: died")
    ledger.claim("b", "x", "x", "me", 60)
    with pytest.raises(LedgerError, match="is claimed, not unknown"):
        ledger.resolve("b", "x", None)
    with pytest.raises(LedgerError, match="no post nope"):
        ledger.resolve("nope", "x", None)
    assert ledger.resolve("a", "x", "https://x.com/s/1").state == "posted"

    ledger.claim("c", "x", "x", "me", 60)
    ledger.claim("c", "y", "y", "me", 60)
    ledger.mark_sending("c", "x", "me", "k", "h", 60)
    ledger.record_failed("c", "x", "me", "permanent: HTTP 400", "permanent")
    ledger.mark_sending("c", "y", "me", "k", "h", 60)
    ledger.record_posted("c", "y", "me", "9", None, datetime.now(UTC))
    again = ledger.retry_failed("c")
    assert [(r.slug, r.target) for r in again] == [("c", "x")]
    states = {r.target: r.state for r in ledger.rows(slug="c")}
    assert states == {"x": "pending", "y": "posted"}


def test_naive_datetimes_never_reach_the_ledger(ledger: Ledger) -> None:
    with pytest.raises(ValueError, match="naive"):
        ledger.claim("a", "x", "x", "me", 60, now=datetime(2026, 1, 1))


def test_heartbeat(ledger: Ledger) -> None:
    assert ledger.heartbeat("daemon") is None
    ledger.beat("daemon", "host:1", {"pid": 1})
    ledger.beat("daemon", "host:2", {"pid": 2})
    beat = ledger.heartbeat("daemon")
    assert beat is not None and beat[0] == "host:2" and beat[2] == {"pid": 2}
