"""Network edge cases through a whole pass: the runner, the real client library, a strict fake.

Mastodon forgets an Idempotency-Key after an hour, so a resend is only safe within that
time of the first send; LinkedIn member tokens cannot look for their own posts, so an
unclear send ends `unknown`; a retired LinkedIn version stops the target, not every post.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import pytest

from pipeline.alerts import Alerter
from pipeline.ledger import Ledger, utcnow
from pipeline.publishers.base import AmbiguousError
from tests.alerts.test_alerts import Endpoint
from tests.conftest import Project
from tests.fakes import Fault
from tests.fakes.graph_api import FakeGraph
from tests.fakes.linkedin_api import MEMBER_SCOPES, PERSON, FakeLinkedIn
from tests.fakes.mastodon_api import FakeMastodon
from tests.fakes.static_site import StaticSite
from tests.fakes.x_api import FakeX
from tests.integration.harness import (
    MASTODON_CREATE,
    X_CREATE,
    Net,
    add_items,
    configure,
    item_of,
    row,
    runner,
    start_net,
)
from tests.integration.instagram_project import write_story_project

DEAD_OWNER = "crashed-host:4242:dead00"
STATUSES = "GET /api/v1/accounts/:id/statuses"


@pytest.fixture
def mastodon() -> Iterator[Net]:
    net = start_net("mastodon")
    yield net
    net.fake.stop()


@pytest.mark.parametrize(
    ("sent_ago", "expected"),
    [(timedelta(minutes=10), "posted"), (timedelta(hours=2), "unknown")],
    ids=["within-key-lifetime", "after-key-lifetime"],
)
def test_mastodon_resend_is_idempotent_only_within_the_key_lifetime(
    bare_project: Project,
    mastodon: Net,
    monkeypatch: pytest.MonkeyPatch,
    sent_ago: timedelta,
    expected: str,
) -> None:
    """A process sent the status (Mastodon made it), lost the answer and died; the next pass
    cannot list the account's statuses. Within the hour the same key returns that status;
    after it, Mastodon has forgotten the key and a resend would post twice: unknown."""
    fake = mastodon.fake
    assert isinstance(fake, FakeMastodon)
    configure(bare_project, [mastodon])
    add_items(bare_project, "alpha")
    for key, value in mastodon.env.items():
        monkeypatch.setenv(key, value)
    with runner(bare_project, sleep=lambda s: None) as r:
        ledger = r.ledger
        assert isinstance(ledger, Ledger)
        pub = r.publisher("mastodon")
        post, _ = r.build_post(item_of(r, "alpha"), "mastodon", pub.limits)
        then = utcnow() - sent_ago
        assert ledger.claim(post.slug, post.target, post.network, DEAD_OWNER, 5, now=then)
        ledger.mark_sending(
            post.slug, post.target, DEAD_OWNER, post.idempotency_key, post.content_hash, 5, now=then
        )
        fake.inject(MASTODON_CREATE, Fault.reset_after_commit())
        with pytest.raises(AmbiguousError):
            pub.publish(post)
        fake.advance(sent_ago.total_seconds())
        fake.inject(STATUSES, *[Fault.error(500, {"error": "busy"})] * 4)

        report = r.run()

    got = row(bare_project, "alpha", "mastodon")
    assert got is not None and got.state == expected
    assert len(fake.posts) == 1, "the status must exist exactly once"
    assert [o.result for o in report.outcomes] == (
        ["skipped", "posted"] if expected == "posted" else ["unknown"]
    )
    if expected == "unknown":
        assert got.last_error and "quotecast resolve" in got.last_error


def _linkedin_project(project: Project, fake: FakeLinkedIn, **options: object) -> None:
    configure(
        project,
        [],
        extra_targets={
            "li": (
                "linkedin",
                {"api_base": fake.url, "author": PERSON, "poll_interval": 0.01, **options},
            )
        },
    )


def test_linkedin_person_unclear_send_ends_unknown_and_the_target_keeps_posting(
    bare_project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A member token cannot use the author finder: the lost answer cannot be looked up, so
    the post is `unknown` (never sent again), and the 403 of the finder does not stop the
    target — the next item still posts."""
    with FakeLinkedIn(token="li-member-token") as fake:
        fake.scopes = set(MEMBER_SCOPES)
        _linkedin_project(bare_project, fake)
        add_items(bare_project, "alpha", "beta")
        monkeypatch.setenv("QUOTECAST_LI_ACCESS_TOKEN", fake.token)
        fake.inject("POST /rest/posts", Fault.reset_after_commit())
        with runner(bare_project, sleep=lambda s: None) as r:
            report = r.run()

        outcomes = {o.slug: o.result for o in report.outcomes}
        assert outcomes == {"alpha": "unknown", "beta": "posted"}
        assert len(fake.posts) == 2  # alpha's lost post once, beta's once
        assert fake.requests_to("GET /rest/images/:urn") == []
        alpha = row(bare_project, "alpha", "li")
        assert alpha is not None and alpha.state == "unknown"


def test_linkedin_retired_version_stops_the_target_for_the_pass(
    bare_project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeLinkedIn(token="li-member-token") as fake:
        _linkedin_project(bare_project, fake, linkedin_version="202511")
        add_items(bare_project, "alpha", "beta")
        monkeypatch.setenv("QUOTECAST_LI_ACCESS_TOKEN", fake.token)
        with runner(bare_project, sleep=lambda s: None) as r:
            report = r.run()

        results = sorted((o.result, (o.error or "")[:8]) for o in report.outcomes)
        assert results == [("failed", "blocked:"), ("skipped", "blocked:")]
        assert len(fake.requests) == 1, "one refused call, then the target is left alone"
        failed = next(o for o in report.outcomes if o.result == "failed")
        assert failed.error is not None and "options.linkedin_version" in failed.error


def test_x_24_hour_cap_defers_until_its_reset_and_status_names_it(
    bare_project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """X's 429 carries every limit header; the 15-minute window is open but the account's
    24-hour cap is spent: the post waits for the 24-hour reset, and `status` says so."""
    net = start_net("x")
    try:
        fake = net.fake
        assert isinstance(fake, FakeX)
        fake.user_day_limit = 1
        configure(bare_project, [net])
        add_items(bare_project, "alpha", "beta")
        for key, value in net.env.items():
            monkeypatch.setenv(key, value)
        with runner(bare_project, sleep=lambda s: None) as r:
            report = r.run()
        day_reset = int(fake.rate_headers()["x-user-limit-24hour-reset"])
        assert len(fake.requests_to(X_CREATE)) == 2, "no retries into the spent cap"
    finally:
        fake.stop()

    assert sorted(o.result for o in report.outcomes) == ["deferred", "posted"]
    deferred = next(
        row(bare_project, slug, "x")
        for slug in ("alpha", "beta")
        if (got := row(bare_project, slug, "x")) is not None and got.state == "pending"
    )
    assert deferred is not None and deferred.not_before is not None
    assert abs(deferred.not_before.timestamp() - day_reset) < 5
    shown = bare_project.cli("status", "--json")
    entries = json.loads(shown.output)["posts"]
    waiting = next(e for e in entries if e["state"] == "pending")
    assert "24-hour post limit" in waiting["error"] and "x-user-limit-24hour" in waiting["error"]
    text = bare_project.cli("status").output
    assert "24-hour post limit" in " ".join(text.split())


def test_instagram_spam_restriction_stops_the_target_and_alerts_once(
    bare_project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Code 4 / 2207051 is not a rate limit: the first post fails (no retry, no wait), the
    target's other posts are held back for the pass, and the alert goes out once."""
    endpoint = Endpoint()
    try:
        with (
            FakeGraph(token="ig-token") as fake,
            StaticSite(bare_project.var / "site") as site,
        ):
            fake.spam_restricted = True
            write_story_project(bare_project, fake, site, options=[], publish=[])
            bare_project.add_item("second.toml", 'quote = "Keep going."\nauthor = "Ada Lovelace"\n')
            text = bare_project.config.read_text()
            bare_project.write_config(f'notify = ["{endpoint.url}"]\n' + text)
            monkeypatch.setenv("QUOTECAST_IG_ACCESS_TOKEN", fake.token)
            with runner(bare_project, sleep=lambda s: None) as r:
                report = r.run()
                assert r.ledger is not None
                alerts = Alerter(r.settings, r.ledger)
                sent = alerts.check_rows(r.ledger.rows()) + alerts.check_rows(r.ledger.rows())
            publishes = len(fake.requests_to("POST /:version/:owner/media_publish"))
    finally:
        endpoint.server.shutdown()
        endpoint.server.server_close()

    results = sorted((o.result, (o.error or "")[:8]) for o in report.outcomes)
    assert results == [("failed", "blocked:"), ("skipped", "blocked:")]
    assert publishes == 1, "no retry on a flagged account"
    assert fake.published == []
    assert sent == 1 and endpoint.titles() == ["quotecast: ig was stopped by its network"]
    assert "2207051" in endpoint.received[0]["message"]
