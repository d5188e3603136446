"""Issue 17 case 1: a post that may be out is never `failed`, and following the advice never
posts it twice.

Real `quotecast` subprocesses against the Mastodon fake: every try of the status request is
stored by the network and then the connection resets; every look-up (find) gets a 503. The
retries run out on that lost connection. The row must be `unknown`, `retry` must refuse it and
point to `resolve`, `status` must advise `resolve`, and after the network forgets the
idempotency key a further pass must not send it again.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from pipeline.ledger import utcnow
from tests.conftest import Project
from tests.fakes import Fault
from tests.integration.harness import (
    PUBLISH,
    add_items,
    configure,
    item_of,
    row,
    runner,
    running,
)

STATUSES = "GET /api/v1/accounts/:id/statuses"


def test_retries_exhausted_on_a_lost_connection_end_unknown_and_retry_refuses(
    bare_project: Project,
) -> None:
    project = bare_project
    tries = int(PUBLISH["max_attempts"])
    with running("mastodon") as nets:
        net = nets["mastodon"]
        configure(project, [net])
        add_items(project, "alpha")
        net.fake.inject(net.create, *[Fault.reset_after_commit() for _ in range(tries)])
        net.fake.inject(STATUSES, *[Fault.error(503, {"error": "busy"}) for _ in range(tries)])

        first = project.run("publish", "--now", "--all", "--yes", env=net.env)
        assert "Traceback" not in first.stderr
        assert first.returncode == 1, first.stdout + first.stderr
        assert len(net.held_for("alpha")) == 1  # the network did post it
        got = row(project, "alpha", "mastodon")
        assert got is not None and got.state == "unknown", (got, first.stdout)
        assert "quotecast resolve" in (got.last_error or "")
        assert "unknown" in first.stdout and "alpha → mastodon" in first.stdout

        # `retry` refuses it and says what to do instead
        again = project.run("retry", "alpha", env=net.env)
        assert again.returncode == 1, again.stdout + again.stderr
        assert "quotecast resolve alpha mastodon" in again.stderr
        assert "0 posts re-queued" in again.stdout
        assert row(project, "alpha", "mastodon").state == "unknown"  # type: ignore[union-attr]

        # `status` advises resolve, never retry, for this post
        status = project.run("status", env=net.env)
        assert status.returncode == 0, status.stderr
        assert "quotecast resolve alpha mastodon" in status.stdout
        assert "quotecast retry" not in status.stdout

        # the network forgets the idempotency key; a further pass must not send it again
        with net.fake.lock:
            net.fake.idempotency.clear()  # type: ignore[attr-defined]
        creates = net.create_requests()
        later = project.run("publish", "--now", "--all", "--yes", env=net.env)
        assert "Traceback" not in later.stderr
        assert net.create_requests() == creates
        assert len(net.held_for("alpha")) == 1


def test_a_stuck_send_older_than_the_idempotency_window_is_unknown_not_sent_again(
    bare_project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reconciliation's retry path: the status went out two hours ago, its process died, the
    network has forgotten the Idempotency-Key and find() gets a 503. Sending again would post
    it twice; the next pass must mark it `unknown` instead."""
    project = bare_project
    with running("mastodon") as nets:
        net = nets["mastodon"]
        configure(project, [net])
        add_items(project, "alpha")
        for key, value in net.env.items():
            monkeypatch.setenv(key, value)
        with runner(project) as r:
            assert r.ledger is not None
            post, _ = r.build_post(item_of(r, "alpha"), "mastodon", r.publisher("mastodon").limits)
            past = utcnow() - timedelta(hours=2)
            assert r.ledger.claim("alpha", "mastodon", "mastodon", "dead:1:00", 5, now=past)
            r.ledger.mark_sending(
                "alpha",
                "mastodon",
                "dead:1:00",
                post.idempotency_key,
                post.content_hash,
                5,
                now=past,
            )
            r.publisher("mastodon").publish(post)  # what the dead process had sent
        with net.fake.lock:
            net.fake.idempotency.clear()  # type: ignore[attr-defined]
        net.fake.inject(STATUSES, Fault.error(503, {"error": "busy"}))

        result = project.run("publish", "--now", "--all", "--yes", env=net.env)
        assert "Traceback" not in result.stderr
        assert result.returncode == 1, result.stdout + result.stderr
        got = row(project, "alpha", "mastodon")
        assert got is not None and got.state == "unknown", got
        assert "quotecast resolve" in (got.last_error or "")
        assert len(net.held_for("alpha")) == 1 and net.create_requests() == 1
