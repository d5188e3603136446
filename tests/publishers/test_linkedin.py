"""LinkedInPublisher against the LinkedIn fake: versioned headers, image upload, posts."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from pipeline.posts import Post
from pipeline.publishers.base import (
    AmbiguousError,
    AuthError,
    DuplicateError,
    PermanentError,
    PublishError,
    RateLimitedError,
    TargetContext,
    TransientError,
)
from pipeline.publishers.linkedin import DEFAULT_VERSION, LinkedInPublisher, little
from tests.fakes import CANARY, Fault
from tests.fakes.linkedin_api import ORGANIZATION, PERSON, FakeLinkedIn
from tests.publishers.meta_helpers import ALT, TOKEN, card_post

INIT = "POST /rest/images"
UPLOAD = "PUT /dms-uploads/:upload"
IMAGE = "GET /rest/images/:urn"
POSTS = "POST /rest/posts"
FIND = "GET /rest/posts"
CAPTION = (
    "“Stay curious.” (Ada Lovelace, 1843) — read more: "
    "https://example.com/q/stay_curious?utm_source=linkedin&utm_medium=social\n\n"
    "#quotes #ada_lovelace"
)


@pytest.fixture
def fake() -> Iterator[FakeLinkedIn]:
    with FakeLinkedIn(token=TOKEN) as server:
        yield server


def make(fake: FakeLinkedIn, *, author: str = ORGANIZATION, **options: Any) -> LinkedInPublisher:
    ctx = TargetContext(
        name="li",
        network="linkedin",
        options={
            "api_base": fake.url,
            "author": author,
            "request_timeout": 2.0,
            "poll_interval": 0.01,
            **options,
        },
        secrets={"access_token": SecretStr(TOKEN)},
        data_dir=Path("unused"),
    )
    return LinkedInPublisher(ctx)


def post(**kw: Any) -> Post:
    kw.setdefault("caption", CAPTION)
    return card_post(target="li", network="linkedin", fmt="PNG", size=(160, 90), **kw)


@pytest.mark.parametrize("author", [ORGANIZATION, PERSON])
def test_image_post_with_alt_text_and_versioned_headers(fake: FakeLinkedIn, author: str) -> None:
    fake.processing_polls = 2
    p = post()

    receipt = make(fake, author=author).publish(p)

    assert len(fake.posts) == 1
    made = fake.posts[0]
    assert made.author == author and made.data == p.card.data and made.alt_text == ALT
    assert made.commentary == little(CAPTION)
    assert made.body["visibility"] == "PUBLIC" and made.body["lifecycleState"] == "PUBLISHED"
    assert receipt.remote_id == made.urn
    assert receipt.url == f"https://www.linkedin.com/feed/update/{made.urn}/"
    routes = [r.route for r in fake.requests]
    assert routes == [INIT, UPLOAD, IMAGE, IMAGE, IMAGE, POSTS]
    for request in fake.requests:
        assert request.header("Authorization") == f"Bearer {TOKEN}"
        if request.route != UPLOAD:
            assert request.header("LinkedIn-Version") == DEFAULT_VERSION
            assert request.header("X-Restli-Protocol-Version") == "2.0.0"


def test_little_format_escapes_markup_but_keeps_links_and_hashtags() -> None:
    text = little(CAPTION)

    assert "\\(Ada Lovelace, 1843\\)" in text
    assert "https://example.com/q/stay_curious?utm_source=linkedin&utm_medium=social" in text
    assert text.endswith("#quotes #ada_lovelace")
    assert little("(see https://x.example/a_b?c=1).") == "\\(see https://x.example/a_b?c=1\\)."
    assert little("a_b *c* [d] {e} <f> @g ~h | \\ x#y") == (
        "a\\_b \\*c\\* \\[d\\] \\{e\\} \\<f\\> \\@g \\~h \\| \\\\ x\\#y"
    )


def test_revoked_token_is_an_auth_error_naming_the_variable(fake: FakeLinkedIn) -> None:
    fake.token_revoked = True

    with pytest.raises(AuthError) as info:
        make(fake).publish(post())

    assert info.value.credential == "QUOTECAST_LI_ACCESS_TOKEN"
    assert "QUOTECAST_LI_ACCESS_TOKEN" in str(info.value) and "REVOKED_ACCESS_TOKEN" in str(
        info.value
    )


def test_5xx_is_transient_and_429_waits(fake: FakeLinkedIn) -> None:
    pub = make(fake)
    fake.inject(POSTS, Fault.error(503, {"status": 503, "message": "Service Unavailable"}))
    with pytest.raises(TransientError) as info:
        pub.publish(post())
    assert not isinstance(info.value, RateLimitedError)

    fake.inject(
        INIT,
        Fault.error(429, {"status": 429, "message": "Too Many Requests"}, {"Retry-After": "60"}),
    )
    with pytest.raises(RateLimitedError) as limited:
        pub.publish(post())
    assert limited.value.retry_after == 60.0

    receipt = pub.publish(post())
    assert [x.urn for x in fake.posts] == [receipt.remote_id]


def test_duplicate_is_reported_and_find_settles_it(fake: FakeLinkedIn) -> None:
    pub = make(fake)
    p = post()
    first = pub.publish(p)

    with pytest.raises(DuplicateError):
        pub.publish(p)
    found = pub.find(p)

    assert found is not None and found.remote_id == first.remote_id
    assert len(fake.posts) == 1


def test_lost_answer_is_ambiguous_and_find_finds_it(fake: FakeLinkedIn) -> None:
    pub = make(fake, author=PERSON)
    other = post(slug="other", caption="Another quote #quotes")
    pub.publish(other)
    p = post()
    fake.inject(POSTS, Fault.reset_after_commit())

    with pytest.raises(AmbiguousError):
        pub.publish(p)
    found = pub.find(p)

    assert found is not None and found.remote_id == fake.posts[1].urn
    assert fake.requests_to(FIND)[-1].header("X-RestLi-Method") == "FINDER"
    assert pub.find(post(slug="none", caption="Never posted")) is None


def test_author_must_be_a_person_or_organisation_urn(fake: FakeLinkedIn) -> None:
    with pytest.raises(PermanentError, match="urn:li:person"):
        make(fake, author="12345").publish(post())
    assert fake.requests == []


def test_token_goes_only_to_linkedin_hosts(fake: FakeLinkedIn) -> None:
    pub = make(fake)

    assert pub._trusted(f"{fake.url}/dms-uploads/x")
    assert pub._trusted("https://www.linkedin.com/dms-uploads/sp/abc")
    assert not pub._trusted("https://uploads.example.net/abc")
    assert not pub._trusted("https://evil-linkedin.com/abc")


def test_canary_token_never_in_errors_or_debug_logs(
    fake: FakeLinkedIn, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    pub = make(fake)
    errors: list[PublishError] = []
    for n, (route, fault) in enumerate(
        [
            (POSTS, Fault.error(500, {"status": 500, "message": f"oops {TOKEN}"})),
            (INIT, Fault.error(429, {"status": 429, "message": "slow"})),
            (POSTS, Fault.reset_after_commit()),
            (UPLOAD, Fault.error(401, {"status": 401, "message": f"Invalid token {TOKEN}"})),
        ]
    ):
        fake.inject(route, fault)
        with pytest.raises(PublishError) as info:
            pub.publish(post(slug=f"n{n}", caption=f"Quote {n}"))
        errors.append(info.value)

    assert "/rest/posts" in caplog.text
    assert CANARY not in caplog.text
    assert all(CANARY not in str(e) and CANARY not in repr(e) for e in errors)
