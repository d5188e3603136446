"""Issue 5, per adapter through the Runner: every injected fault ends in the promised state.

Runner + real adapter + real client library (tweepy, Mastodon.py, atproto, requests) against
the fake of its network on 127.0.0.1. Each test asserts the ledger's final state, the posts
the fake holds (exactly one, or none) and the attempts recorded.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from pipeline.ledger import utcnow
from pipeline.runner import Runner
from tests.conftest import Project
from tests.fakes import CANARY, Fault, make_post, noise_png
from tests.fakes.x_api import DUPLICATE_DETAIL, problem
from tests.integration.harness import (
    NETWORKS,
    Net,
    add_items,
    attempts,
    configure,
    item_of,
    row,
    runner,
    start_net,
)

#: an error body each network really sends with a 5xx
SERVER_ERROR: dict[str, Any] = {
    "x": problem(500, "Internal Server Error", "Something went wrong").body,
    "mastodon": {"error": "Internal server error"},
    "bluesky": {"error": "InternalServerError", "message": "Internal Server Error"},
    "webhook": {"error": "internal"},
}

#: the variable each adapter must name when its credential is refused
CREDENTIAL_VAR = {
    "x": "QUOTECAST_X_API_SECRET",
    "mastodon": "QUOTECAST_MASTODON_ACCESS_TOKEN",
    "bluesky": "QUOTECAST_BLUESKY_APP_PASSWORD",
    "webhook": "QUOTECAST_WEBHOOK_SIGNING_SECRET",
}


@pytest.fixture(params=NETWORKS)
def net(request: pytest.FixtureRequest) -> Iterator[Net]:
    started = start_net(request.param)
    yield started
    started.fake.stop()


@pytest.fixture
def project(bare_project: Project, net: Net, monkeypatch: pytest.MonkeyPatch) -> Project:
    """One target on `net` plus the outbox, one item `alpha`, the right secrets."""
    configure(bare_project, [net], outbox=True)
    add_items(bare_project, "alpha")
    for key, value in net.env.items():
        monkeypatch.setenv(key, value)
    return bare_project


def outcomes(report: Any, target: str) -> list[str]:
    return [o.result for o in report.outcomes if o.target == target]


def tries(project: Project, slug: str, target: str) -> list[tuple[int, str]]:
    return [(a.attempt, a.outcome) for a in attempts(project, slug, target)]


def rate_limit(network: str, seconds: int) -> Fault:
    """A 429 carrying the reset time the way `network` sends it."""
    epoch = int(time.time()) + seconds
    if network == "x":
        headers = {
            "x-rate-limit-limit": "200",
            "x-rate-limit-remaining": "0",
            "x-rate-limit-reset": str(epoch),
        }
        return Fault.error(
            429, problem(429, "Too Many Requests", "Too Many Requests").body, headers
        )
    if network == "mastodon":
        reset = datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        headers = {
            "X-RateLimit-Limit": "300",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": reset,
        }
        return Fault.error(429, {"error": "Too many requests"}, headers)
    if network == "bluesky":
        headers = {
            "ratelimit-limit": "3000",
            "ratelimit-remaining": "0",
            "ratelimit-reset": str(epoch),
            "ratelimit-policy": "3000;w=300",
        }
        return Fault.error(429, {"error": "RateLimitExceeded", "message": "slow down"}, headers)
    return Fault.error(429, {"error": "slow down"}, {"Retry-After": str(seconds)})


# -- 500 then success ---------------------------------------------------------------------------


def test_500_then_success_posts_once_with_two_attempts(project: Project, net: Net) -> None:
    net.fake.inject(net.create, Fault.error(500, SERVER_ERROR[net.network]))
    sleeps: list[float] = []
    with runner(project, sleep=sleeps.append) as r:
        report = r.run(targets=[net.network])

    assert outcomes(report, net.network) == ["posted"]
    got = row(project, "alpha", net.network)
    assert got is not None and got.state == "posted" and got.attempts == 2
    assert net.held_for("alpha") == [got.remote_id]
    assert len(net.held()) == 1
    assert net.create_requests() == 2
    history = attempts(project, "alpha", net.network)
    assert [(a.attempt, a.outcome) for a in history] == [(1, "transient"), (2, "posted")]
    assert history[0].error is not None and "500" in history[0].error
    assert history[1].remote_id == got.remote_id
    assert len(sleeps) == 1 and 0 <= sleeps[0] <= 0.05  # the configured backoff, not more


# -- 429 with a reset time ----------------------------------------------------------------------


def test_429_waits_for_the_reset_time_then_posts(project: Project, net: Net) -> None:
    reset_in = 30
    net.fake.inject(net.create, rate_limit(net.network, reset_in))
    sleeps: list[float] = []
    lease_left: list[float] = []
    stolen: list[int] = []

    with runner(project) as r:
        assert r.ledger is not None
        ledger = r.ledger

        def sleep(seconds: float) -> None:
            # the wait is injected; meanwhile the row must stay ours for the whole wait, or
            # another process would "reconcile" a post that is only waiting for its turn
            sleeps.append(seconds)
            current = ledger.get("alpha", net.network)
            assert current is not None and current.lease_until is not None
            lease_left.append((current.lease_until - utcnow()).total_seconds())
            later = utcnow() + timedelta(seconds=seconds)
            stolen.append(len(ledger.take_expired_sending("someone-else", 5, now=later)))

        r.sleep = sleep
        report = r.run(targets=[net.network])

    assert outcomes(report, net.network) == ["posted"]
    assert len(sleeps) == 1
    assert reset_in - 1.5 <= sleeps[0] <= reset_in + 0.5, sleeps  # the network's time, honoured
    assert lease_left[0] > sleeps[0], "the lease ran out while waiting for the rate limit"
    assert stolen == [0]
    got = row(project, "alpha", net.network)
    assert got is not None and got.state == "posted" and got.attempts == 2
    assert net.held_for("alpha") == [got.remote_id] and len(net.held()) == 1
    assert tries(project, "alpha", net.network) == [(1, "rate_limited"), (2, "posted")]


def test_429_short_real_wait(bare_project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without an injected sleep the runner really waits the 1 s Retry-After (webhook)."""
    net = start_net("webhook")
    try:
        configure(bare_project, [net])
        add_items(bare_project, "alpha")
        for key, value in net.env.items():
            monkeypatch.setenv(key, value)
        net.fake.inject(net.create, Fault.error(429, {"error": "slow"}, {"Retry-After": "1"}))
        with runner(bare_project) as r:
            started = time.monotonic()
            report = r.run()
            waited = time.monotonic() - started
        assert outcomes(report, "webhook") == ["posted"]
        assert 1.0 <= waited < 3.0
        assert len(net.held()) == 1
        assert net.create_requests() == 2
        assert tries(bare_project, "alpha", "webhook") == [(1, "rate_limited"), (2, "posted")]
    finally:
        net.fake.stop()


# -- timeout ------------------------------------------------------------------------------------


def test_timeout_on_the_create_request(project: Project, net: Net) -> None:
    """The client gives up after request_timeout (1 s); the server then answers 503 and stores
    nothing. Idempotent adapters (Mastodon's Idempotency-Key, Bluesky's record key) retry and
    post once; X and the webhook cannot prove absence, so the post is `unknown` until a person
    resolves it — after which it goes out once."""
    fault = net.fake.inject(net.create, Fault(delay=1.6, status=503, body={"error": "late"}))
    with runner(project, sleep=lambda s: None) as r:
        report = r.run(targets=[net.network])
    assert fault.done.wait(5)

    got = row(project, "alpha", net.network)
    assert got is not None
    history = attempts(project, "alpha", net.network)
    if net.network in ("mastodon", "bluesky"):
        assert outcomes(report, net.network) == ["posted"]
        assert got.state == "posted" and got.attempts == 2
        assert [(a.attempt, a.outcome) for a in history] == [(1, "transient"), (2, "posted")]
        assert history[0].error is not None and "not found on the network" in history[0].error
        assert net.held_for("alpha") == [got.remote_id] and len(net.held()) == 1
        return

    assert outcomes(report, net.network) == ["unknown"]
    assert got.state == "unknown" and got.last_error is not None
    assert "Timeout" in got.last_error
    assert [(a.attempt, a.outcome) for a in history] == [(1, "unknown")]
    assert net.held() == []
    # a person checks the account, says it did not go out; the next pass posts it once
    r1 = project.cli("resolve", "alpha", net.network, "--not-posted")
    assert r1.exit_code == 0, r1.output
    with runner(project) as r:
        again = r.run(targets=[net.network])
    assert outcomes(again, net.network) == ["posted"]
    got = row(project, "alpha", net.network)
    assert got is not None and got.state == "posted"
    assert net.held_for("alpha") == [got.remote_id] and len(net.held()) == 1
    assert tries(project, "alpha", net.network) == [(1, "unknown"), (1, "resolved"), (2, "posted")]


# -- connection reset after the network stored the post ------------------------------------------


def test_reset_after_commit_never_duplicates(project: Project, net: Net) -> None:
    net.fake.inject(net.create, Fault.reset_after_commit())
    with runner(project, sleep=lambda s: None) as r:
        report = r.run(targets=[net.network])

    held = net.held_for("alpha")
    assert len(held) == 1 and len(net.held()) == 1  # the network did post, once
    assert net.create_requests() == 1  # and nobody sent it again
    got = row(project, "alpha", net.network)
    assert got is not None
    if net.has_find:
        assert outcomes(report, net.network) == ["posted"]
        assert got.state == "posted" and got.remote_id == held[0]
        assert tries(project, "alpha", net.network) == [(1, "posted")]
    else:
        assert outcomes(report, net.network) == ["unknown"]
        assert got.state == "unknown"
        assert got.last_error is not None and "may have received it" in got.last_error
        assert tries(project, "alpha", net.network) == [(1, "unknown")]


# -- 401 ----------------------------------------------------------------------------------------


def test_401_fails_the_target_skips_its_other_posts_and_spares_other_targets(
    bare_project: Project, net: Net, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(bare_project, [net], outbox=True)
    add_items(bare_project, "alpha", "beta")
    for key, value in net.bad_env.items():
        monkeypatch.setenv(key, value)
    with runner(bare_project) as r:
        report = r.run()

    mine = [o for o in report.outcomes if o.target == net.network]
    assert sorted(o.result for o in mine) == ["failed", "skipped"]
    failed = next(o for o in mine if o.result == "failed")
    skipped = next(o for o in mine if o.result == "skipped")
    assert failed.error is not None and failed.error.startswith("auth:")
    assert CREDENTIAL_VAR[net.network] in failed.error
    assert CANARY not in failed.error
    assert skipped.error == failed.error  # says why it was not tried

    failed_row = row(bare_project, failed.slug, net.network)
    assert failed_row is not None and failed_row.state == "failed"
    assert failed_row.error_kind == "auth" and failed_row.last_error == failed.error
    skipped_row = row(bare_project, skipped.slug, net.network)
    assert skipped_row is None or skipped_row.state == "pending"  # not failed: still to do
    assert tries(bare_project, failed.slug, net.network) == [(1, "auth")]
    assert tries(bare_project, skipped.slug, net.network) == []
    assert net.held() == []
    # one refused request in the whole pass: the webhook's delivery, the others' first call
    assert net.create_requests() == (1 if net.network == "webhook" else 0)
    refused = [r for r in net.fake.requests if r.route]
    assert len(refused) == 1, [r.route for r in refused]

    assert sorted(outcomes(report, "outbox")) == ["posted", "posted"]  # the other target
    for slug in ("alpha", "beta"):
        other = row(bare_project, slug, "outbox")
        assert other is not None and other.state == "posted"


# -- duplicate ----------------------------------------------------------------------------------


def test_duplicate_is_reconciled_through_find(project: Project, net: Net) -> None:
    """The network already holds this exact post (sent by a run whose ledger row was lost):
    X answers 403 duplicate, Bluesky refuses the taken record key, Mastodon and the webhook
    sink answer the repeated Idempotency-Key with the post they have — all end `posted` with
    the existing post's id, and nothing is posted twice."""
    with runner(project, sleep=lambda s: None) as r:
        post, _ = r.build_post(item_of(r, "alpha"), net.network, r.publisher(net.network).limits)
        seeded = r.publisher(net.network).publish(post)
        assert len(net.held()) == 1
        report = r.run(targets=[net.network])

    assert outcomes(report, net.network) == ["posted"]
    got = row(project, "alpha", net.network)
    assert got is not None and got.state == "posted"
    assert got.remote_id == seeded.remote_id
    assert net.held_for("alpha") == [seeded.remote_id] and len(net.held()) == 1
    assert tries(project, "alpha", net.network) == [(1, "posted")]
    if net.network == "x":
        refused = net.fake.requests_to(net.create)
        assert len(refused) == 2  # the seed, then the duplicate X refused


@pytest.mark.parametrize("network", ["x", "webhook"])
def test_duplicate_that_cannot_be_found_is_unknown(
    bare_project: Project, network: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A duplicate refusal without the post in sight is not claimed as posted: unknown."""
    net = start_net(network)
    try:
        configure(bare_project, [net])
        add_items(bare_project, "alpha")
        for key, value in net.env.items():
            monkeypatch.setenv(key, value)
        if network == "x":
            fault = Fault.error(403, problem(403, "Forbidden", DUPLICATE_DETAIL).body)
        else:
            fault = Fault.error(409, {"error": "duplicate"})
        net.fake.inject(net.create, fault)
        with runner(bare_project, sleep=lambda s: None) as r:
            report = r.run()
        assert outcomes(report, network) == ["unknown"]
        got = row(bare_project, "alpha", network)
        assert got is not None and got.state == "unknown"
        assert got.last_error is not None and "duplicate" in got.last_error
        assert net.held() == [] and net.create_requests() == 1
        assert tries(bare_project, "alpha", network) == [(1, "unknown")]
    finally:
        net.fake.stop()


# -- 6 MB image ---------------------------------------------------------------------------------


def test_6mb_image(bare_project: Project, net: Net, monkeypatch: pytest.MonkeyPatch) -> None:
    """Cards are rendered within each network's byte limit, so a 6 MB card can only come from
    elsewhere: Runner.send gets it directly. X (5 MB) and Bluesky (1 MB) refuse it as permanent
    before any request. Mastodon (16 MB) and the webhook (25 MB) accept it and deliver it byte
    for byte; over their limit (17 MB for Mastodon; a webhook target with image_max_bytes) they
    refuse it the same way."""
    extra: dict[str, tuple[str, dict[str, Any]]] = {}
    if net.network == "webhook":
        extra["webhook_small"] = ("webhook", {**net.options, "image_max_bytes": 5_000_000})
    if net.network == "mastodon":
        extra["mastodon_too"] = ("mastodon", net.options)
        monkeypatch.setenv(
            "QUOTECAST_MASTODON_TOO_ACCESS_TOKEN", net.env["QUOTECAST_MASTODON_ACCESS_TOKEN"]
        )
    configure(bare_project, [net], extra_targets=extra)
    for key, value in net.env.items():
        monkeypatch.setenv(key, value)
    six_mb = noise_png(6_000_000)

    def send(r: Runner, target: str, image: bytes) -> Any:
        post = make_post(slug="big", target=target, network=net.network, image=image)
        assert r.ledger is not None and r.ledger.claim("big", target, net.network, r.owner, 5)
        return r.send(r.publisher(target), post, Path("big.png"))

    with runner(bare_project, sleep=lambda s: None) as r:
        outcome = send(r, net.network, six_mb)
        before = len(net.fake.requests)
        if net.network == "webhook":
            over = send(r, "webhook_small", six_mb)
        elif net.network == "mastodon":
            over = send(r, "mastodon_too", noise_png(17 * 1024 * 1024))
        else:
            over = outcome
        requests_for_over = len(net.fake.requests) - before

    got = row(bare_project, "big", net.network)
    assert got is not None
    over_target = net.network if over is outcome else over.target
    assert over.result == "failed", over
    assert over.error is not None and over.error.startswith("permanent:")
    assert "bytes" in over.error
    over_row = row(bare_project, "big", over_target)
    assert over_row is not None and over_row.state == "failed"
    assert over_row.error_kind == "permanent"
    assert tries(bare_project, "big", over_target) == [(1, "permanent")]
    assert requests_for_over == 0 or over is outcome

    if net.network in ("x", "bluesky"):
        assert f"{len(six_mb):,} bytes" in over.error
        assert net.fake.requests == []  # not even a login
        assert net.held() == []
        return
    assert outcome.result == "posted" and got.state == "posted"
    assert len(net.held()) == 1 and net.create_requests() == 1
    if net.network == "webhook":
        assert net.fake.posts[0].image == six_mb  # type: ignore[attr-defined]
    else:
        media = list(net.fake.media.values())  # type: ignore[attr-defined]
        assert [m.data for m in media] == [six_mb]
