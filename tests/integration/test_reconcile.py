"""Reconciliation at the start of a pass, and the operator commands that settle the rest.

A `sending` row whose owner died (lease expired) is looked up on the network: found ->
posted; not found and provably not sent (Bluesky: authoritative; Mastodon: idempotent) ->
sent again, once; cannot tell (X miss, webhook) -> unknown. `quotecast status` shows unknown
and failed posts with their reasons; `resolve` and `retry` settle them without touching the
targets that already succeeded.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import pytest

from pipeline.ledger import Ledger, utcnow
from pipeline.posts import Post
from pipeline.publishers.bluesky import BlueskyPublisher
from tests.conftest import Project
from tests.fakes import Fault
from tests.fakes.bluesky_api import GET_RECORD
from tests.integration.harness import (
    NETWORKS,
    Net,
    add_items,
    attempts,
    configure,
    env_of,
    item_of,
    row,
    runner,
    running,
    start_net,
)

DEAD_OWNER = "crashed-host:4242:dead00"


def leave_sending(ledger: Ledger, post: Post) -> None:
    """What a process killed mid-request leaves: `sending`, its lease long expired."""
    past = utcnow() - timedelta(minutes=10)
    assert ledger.claim(post.slug, post.target, post.network, DEAD_OWNER, 5, now=past)
    ledger.mark_sending(
        post.slug, post.target, DEAD_OWNER, post.idempotency_key, post.content_hash, 5, now=past
    )


@pytest.fixture(params=NETWORKS)
def net(request: pytest.FixtureRequest) -> Iterator[Net]:
    started = start_net(request.param)
    yield started
    started.fake.stop()


@pytest.mark.parametrize("on_network", [True, False], ids=["sent", "not-sent"])
def test_expired_sending_row_is_reconciled(
    bare_project: Project, net: Net, on_network: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(bare_project, [net])
    add_items(bare_project, "alpha")
    for key, value in net.env.items():
        monkeypatch.setenv(key, value)
    target = net.network
    with runner(bare_project, sleep=lambda s: None) as r:
        assert r.ledger is not None
        post, _ = r.build_post(item_of(r, "alpha"), target, r.publisher(target).limits)
        seeded = r.publisher(target).publish(post) if on_network else None
        leave_sending(r.ledger, post)
        sent_before = net.create_requests()
        report = r.run()
        results = [o.result for o in report.outcomes]
        again = r.run()  # a later pass changes nothing

    got = row(bare_project, "alpha", target)
    assert got is not None
    assert [o.result for o in again.outcomes] == []
    assert again.already_posted == (1 if got.state == "posted" else 0)
    history = [(a.attempt, a.outcome) for a in attempts(bare_project, "alpha", target)]
    if on_network and net.has_find:  # found -> posted, with the network's id
        assert seeded is not None
        assert results == ["posted"]
        assert got.state == "posted" and got.remote_id == seeded.remote_id
        assert history == [(1, "reconciled")]
        assert net.held_for("alpha") == [seeded.remote_id]
        assert net.create_requests() == sent_before  # nothing sent again
    elif on_network:  # the webhook cannot look: a person decides
        assert results == ["unknown"]
        assert got.state == "unknown" and got.last_error is not None
        assert "quotecast resolve" in got.last_error
        assert history == [(1, "unknown")]
        assert len(net.held()) == 1 and net.create_requests() == sent_before
    elif target in ("bluesky", "mastodon"):  # proven absent / idempotent -> sent again, once
        assert results == ["skipped", "posted"]
        assert got.state == "posted" and got.attempts == 2
        assert history == [(2, "posted")]
        assert net.held_for("alpha") == [got.remote_id] and len(net.held()) == 1
        assert net.create_requests() == 1
    else:  # X's timeline miss and the webhook prove nothing: unknown, nothing sent
        assert results == ["unknown"]
        assert got.state == "unknown"
        assert history == [(1, "unknown")]
        assert net.held() == [] and net.create_requests() == 0


def test_status_resolve_and_retry_settle_without_touching_posted_targets(
    bare_project: Project,
) -> None:
    project = bare_project
    with running(*NETWORKS) as nets:
        configure(project, nets.values(), outbox=True)
        add_items(project, "alpha")
        good = env_of(nets.values())
        bad = {**good, **nets["x"].bad_env}  # X refuses its credential
        nets["webhook"].fake.inject("POST /hook", Fault.reset_after_commit())

        first = project.cli("publish", "--now", "--all", "--yes", env=bad)
        assert first.exit_code == 1, first.output  # a failed and an unknown post
        states = {t: row(project, "alpha", t) for t in (*NETWORKS, "outbox")}
        assert {t: r.state for t, r in states.items() if r} == {
            "x": "failed",
            "mastodon": "posted",
            "bluesky": "posted",
            "webhook": "unknown",
            "outbox": "posted",
        }

        # status names both, with their reasons and the command that settles each
        status = project.cli("status", env=good)
        assert status.exit_code == 0, status.output
        text = status.output
        assert "needs you: alpha → x is failed: auth:" in text
        assert "QUOTECAST_X_API_SECRET" in text
        assert "then: quotecast retry alpha --target x" in text
        assert "needs you: alpha → webhook is unknown: unknown:" in text
        assert "may have received it" in text
        assert "then: quotecast resolve alpha webhook --posted URL | --not-posted" in text
        data = json.loads(project.cli("status", "--json", env=good).output)
        attention = {(e["target"], e["state"]): e["error"] for e in data["needs_attention"]}
        assert set(attention) == {("x", "failed"), ("webhook", "unknown")}
        assert attention[("x", "failed")].startswith("auth:")
        assert attention[("webhook", "unknown")].startswith("unknown:")

        settled = {t: states[t] for t in ("mastodon", "bluesky", "outbox")}
        sent = {n: net.create_requests() for n, net in nets.items()}

        # the webhook did receive it (the sink holds it): a person says so
        delivered = nets["webhook"].held()
        assert len(delivered) == 1
        url = f"https://hooks.example.com/messages/{delivered[0][0]}"
        r1 = project.cli("resolve", "alpha", "webhook", "--posted", url, env=good)
        assert r1.exit_code == 0 and "now posted" in r1.output, r1.output
        r2 = project.cli("resolve", "alpha", "mastodon", "--not-posted", env=good)
        assert r2.exit_code == 1 and "is posted, not unknown" in r2.output

        # the credential is fixed: retry re-queues only the failed post
        r3 = project.cli("retry", "alpha", env=good)
        assert r3.exit_code == 0, r3.output
        assert "alpha → x: pending again" in r3.output and "1 post re-queued" in r3.output
        nets["x"].fake.inject("POST /2/tweets", Fault.error(500, {"title": "Internal Error"}))
        second = project.cli("publish", "--now", "--all", "--yes", env=good)
        assert second.exit_code == 0, second.output

        final = {t: row(project, "alpha", t) for t in (*NETWORKS, "outbox")}
        assert all(r is not None and r.state == "posted" for r in final.values()), final
        for t, before in settled.items():
            assert final[t] == before, f"{t} was touched"
        webhook_row = final["webhook"]
        assert webhook_row is not None and webhook_row.url == url
        # exactly one post on every network; only X sent anything in the second pass
        for n, net in nets.items():
            assert len(net.held()) == 1, n
            expected = sent[n] + (2 if n == "x" else 0)  # X: a 500, then the post
            assert net.create_requests() == expected, n
        x_row = final["x"]
        assert x_row is not None and nets["x"].held_for("alpha") == [x_row.remote_id]
        # the ledger numbers tries across passes: refused, then a 500, then the one that went out
        assert [(a.attempt, a.outcome) for a in attempts(project, "alpha", "x")] == [
            (1, "auth"),
            (2, "transient"),
            (3, "posted"),
        ]
        assert [(a.attempt, a.outcome) for a in attempts(project, "alpha", "webhook")] == [
            (1, "unknown"),
            (1, "resolved"),
        ]


@pytest.mark.parametrize("find_fails", [True, False], ids=["find-fails", "find-misses"])
@pytest.mark.parametrize("where", ["reconcile", "send"])
def test_a_failed_find_is_no_proof_of_absence(
    bare_project: Project, find_fails: bool, where: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """For an adapter whose find() is authoritative but whose send is not idempotent (Bluesky
    with that flag turned off), only a find() that looked and missed allows sending again. A
    find() that fails (the PDS answers 500) proves nothing: the post is unknown, not resent —
    both when reconciling a dead process's row and right after an ambiguous send."""
    monkeypatch.setattr(BlueskyPublisher, "retry_is_idempotent", False)
    net = start_net("bluesky")
    try:
        configure(bare_project, [net])
        add_items(bare_project, "alpha")
        for key, value in net.env.items():
            monkeypatch.setenv(key, value)
        with runner(bare_project, sleep=lambda s: None) as r:
            assert r.ledger is not None
            post, _ = r.build_post(item_of(r, "alpha"), "bluesky", r.publisher("bluesky").limits)
            if where == "reconcile":
                leave_sending(r.ledger, post)
            else:
                net.fake.inject(net.create, Fault.reset_before_commit())
            if find_fails:
                net.fake.inject(GET_RECORD, Fault.error(500, {"error": "InternalServerError"}))
            report = r.run()
        got = row(bare_project, "alpha", "bluesky")
        assert got is not None
        sent_at_first = 1 if where == "send" else 0
        if find_fails:
            assert [o.result for o in report.outcomes] == ["unknown"]
            assert got.state == "unknown"
            assert net.held() == [] and net.create_requests() == sent_at_first
        else:
            assert report.outcomes[-1].result == "posted"
            assert got.state == "posted" and net.held_for("alpha") == [got.remote_id]
            assert net.create_requests() == sent_at_first + 1
    finally:
        net.fake.stop()
