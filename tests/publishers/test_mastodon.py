"""MastodonPublisher through real Mastodon.py against the Idempotency-Key-honouring fake."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr

from pipeline.posts import Post
from pipeline.publishers.base import (
    AmbiguousError,
    AuthError,
    PermanentError,
    PublishError,
    RateLimitedError,
    TargetContext,
    TransientError,
)
from pipeline.publishers.mastodon import MastodonPublisher
from tests.fakes import CANARY, Fault, make_post, noise_png
from tests.fakes.mastodon_api import FakeMastodon

STATUSES = "POST /api/v1/statuses"
MEDIA = "POST /api/v2/media"
MEDIA_GET = "GET /api/v1/media/:id"
VERIFY = "GET /api/v1/accounts/verify_credentials"
TOKEN = f"{CANARY}-mastodon-token"


def context(fake: FakeMastodon, *, token: str = TOKEN, **options: object) -> TargetContext:
    return TargetContext(
        name="masto",
        network="mastodon",
        options={
            "api_base": fake.url,
            "request_timeout": 2.0,
            "media_poll_interval": 0.01,
            **options,
        },
        secrets={"access_token": SecretStr(token)},
    )


@pytest.fixture
def fake() -> Iterator[FakeMastodon]:
    with FakeMastodon(token=TOKEN) as server:
        yield server


@pytest.fixture
def publisher(fake: FakeMastodon) -> Iterator[MastodonPublisher]:
    pub = MastodonPublisher(context(fake))
    yield pub
    pub.close()


@pytest.fixture
def post() -> Post:
    return make_post(target="masto", network="mastodon")


def test_publish_sends_caption_description_and_image_exactly(
    fake: FakeMastodon, publisher: MastodonPublisher, post: Post
) -> None:
    receipt = publisher.publish(post)

    assert len(fake.posts) == 1
    status = fake.posts[0]
    assert status.text == post.caption
    assert len(status.media) == 1
    assert status.media[0].data == post.card.data
    assert status.media[0].description == post.alt_text
    assert status.media[0].mime == "image/png"
    assert status.idempotency_key == post.idempotency_key
    assert receipt.remote_id == status.id
    assert receipt.url == f"{fake.url}/@{fake.username}/{status.id}"
    assert receipt.posted_at.utcoffset() == timedelta(0)
    # the version is configured, never probed: no silent fall-back to the v1 media endpoint
    assert fake.requests_to("GET /api/v1/instance") == []
    assert [r.route for r in fake.requests] == [MEDIA, STATUSES]


def test_waits_for_media_processing(post: Post) -> None:
    with FakeMastodon(token=TOKEN, processing_polls=2) as fake:
        receipt = MastodonPublisher(context(fake)).publish(post)

        assert len(fake.requests_to(MEDIA_GET)) == 3  # 206, 206, 200
        assert [s.id for s in fake.posts] == [receipt.remote_id]


def test_media_that_never_finishes_processing_is_transient(post: Post) -> None:
    with FakeMastodon(token=TOKEN, processing_polls=10_000) as fake:
        pub = MastodonPublisher(context(fake, media_wait_max=0.2))

        with pytest.raises(TransientError) as info:
            pub.publish(post)

        assert not isinstance(info.value, AmbiguousError)
        assert "processing" in str(info.value)
        assert fake.requests_to(STATUSES) == []


def test_500_is_transient_then_the_next_attempt_posts(
    fake: FakeMastodon, publisher: MastodonPublisher, post: Post
) -> None:
    fake.inject(STATUSES, Fault.error(500, {"error": "Internal Server Error"}))

    with pytest.raises(TransientError) as info:
        publisher.publish(post)
    assert not isinstance(info.value, AmbiguousError)
    assert fake.posts == []

    receipt = publisher.publish(post)
    assert [s.id for s in fake.posts] == [receipt.remote_id]


def test_429_uses_the_rate_limit_reset_header(
    fake: FakeMastodon, publisher: MastodonPublisher, post: Post
) -> None:
    reset = (datetime.now(UTC) + timedelta(seconds=90)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    fake.inject(
        STATUSES,
        Fault.error(
            429,
            {"error": "Too many requests"},
            {"X-RateLimit-Limit": "300", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset},
        ),
    )

    with pytest.raises(RateLimitedError) as info:
        publisher.publish(post)

    assert info.value.retry_after is not None
    assert 80 <= info.value.retry_after <= 91
    assert fake.posts == []


def test_429_prefers_retry_after(fake: FakeMastodon, publisher: MastodonPublisher) -> None:
    fake.inject(MEDIA, Fault.error(429, {"error": "Too many requests"}, {"Retry-After": "30"}))

    with pytest.raises(RateLimitedError) as info:
        publisher.publish(make_post(network="mastodon"))

    assert info.value.retry_after == 30.0


def test_timeout_is_ambiguous_then_find_and_the_same_key_settle_it(
    fake: FakeMastodon, post: Post
) -> None:
    pub = MastodonPublisher(context(fake, request_timeout=0.5))
    fault = fake.inject(STATUSES, Fault.slow(1.5))

    with pytest.raises(AmbiguousError):
        pub.publish(post)
    assert fault.done.wait(5)

    found = pub.find(post)
    assert found is not None and found.remote_id == fake.posts[0].id
    again = pub.publish(post)  # same Idempotency-Key: the instance returns the same status
    assert again.remote_id == found.remote_id
    assert len(fake.posts) == 1


def test_reset_after_commit_is_ambiguous_and_find_finds_it(
    fake: FakeMastodon, publisher: MastodonPublisher, post: Post
) -> None:
    fake.inject(STATUSES, Fault.reset_after_commit())

    with pytest.raises(AmbiguousError) as info:
        publisher.publish(post)

    assert "may have been posted" in str(info.value)
    assert len(fake.posts) == 1
    found = publisher.find(post)
    assert found is not None
    assert found.remote_id == fake.posts[0].id
    assert found.url == f"{fake.url}/@{fake.username}/{fake.posts[0].id}"


def test_reset_during_upload_is_transient(
    fake: FakeMastodon, publisher: MastodonPublisher, post: Post
) -> None:
    fake.inject(MEDIA, Fault.reset_after_commit())

    with pytest.raises(TransientError) as info:
        publisher.publish(post)

    assert not isinstance(info.value, AmbiguousError)
    assert fake.posts == []


def test_idempotency_key_dedupes_a_second_send(
    fake: FakeMastodon, publisher: MastodonPublisher, post: Post
) -> None:
    first = publisher.publish(post)
    second = publisher.publish(post)

    assert first.remote_id == second.remote_id
    assert len(fake.posts) == 1
    keys = [r.header("Idempotency-Key") for r in fake.requests_to(STATUSES)]
    assert keys == [post.idempotency_key, post.idempotency_key]
    assert MastodonPublisher.retry_is_idempotent is True


def test_different_posts_get_different_statuses(
    fake: FakeMastodon, publisher: MastodonPublisher
) -> None:
    a = publisher.publish(make_post(slug="a", caption="Quote A", network="mastodon"))
    b = publisher.publish(make_post(slug="b", caption="Quote B", network="mastodon"))

    assert a.remote_id != b.remote_id
    assert len(fake.posts) == 2


def test_find_tells_statuses_apart(fake: FakeMastodon, publisher: MastodonPublisher) -> None:
    mine = make_post(slug="one", caption="First quote https://example.com/one #q")
    other = make_post(slug="two", caption="Second quote https://example.com/two #q")
    other_alt = make_post(slug="three", caption=mine.caption, alt_text="Another card")

    assert publisher.find(mine) is None
    receipt = publisher.publish(mine)

    assert publisher.find(other) is None
    assert publisher.find(other_alt) is None
    found = publisher.find(mine)
    assert found is not None and found.remote_id == receipt.remote_id


@pytest.mark.parametrize("status", [401, 403])
def test_refused_token_names_the_variable(
    fake: FakeMastodon, publisher: MastodonPublisher, post: Post, status: int
) -> None:
    fake.inject(MEDIA, Fault.error(status, {"error": "The access token is invalid"}))

    with pytest.raises(AuthError) as info:
        publisher.publish(post)

    assert info.value.credential == "QUOTECAST_MASTO_ACCESS_TOKEN"
    assert "QUOTECAST_MASTO_ACCESS_TOKEN" in str(info.value)


def test_wrong_token_is_an_auth_error(fake: FakeMastodon, post: Post) -> None:
    with pytest.raises(AuthError):
        MastodonPublisher(context(fake, token="wrong-token")).publish(post)
    assert fake.posts == []


def test_422_is_permanent(post: Post) -> None:
    with FakeMastodon(token=TOKEN, char_limit=20) as fake:
        with pytest.raises(PermanentError) as info:
            MastodonPublisher(context(fake)).publish(post)

        assert not isinstance(info.value, AuthError)
        assert "422" in str(info.value)
        assert "character limit" in str(info.value)
        assert fake.posts == []


def test_oversized_image_is_refused_without_any_request(
    fake: FakeMastodon, publisher: MastodonPublisher
) -> None:
    big = make_post(image=noise_png(16 * 1024 * 1024 + 1), network="mastodon")

    with pytest.raises(PermanentError) as info:
        publisher.publish(big)

    assert f"{len(big.card.data):,} bytes" in str(info.value)
    assert fake.requests == []


def test_options_are_checked_and_applied(fake: FakeMastodon) -> None:
    missing = TargetContext(
        name="masto", network="mastodon", secrets={"access_token": SecretStr(TOKEN)}
    )
    with pytest.raises(PermanentError, match="api_base"):
        MastodonPublisher(missing).publish(make_post())

    wide = MastodonPublisher(context(fake, caption_max=5000))
    assert wide.limits.caption_max == 5000
    assert MastodonPublisher.limits.caption_max == 500
    limits = MastodonPublisher.limits
    assert (limits.caption_counter, limits.alt_text_max) == ("mastodon", 1500)
    assert limits.image_max_bytes == 16 * 1024 * 1024


def test_canary_token_never_leaks_into_errors_or_debug_logs(
    fake: FakeMastodon, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    pub = MastodonPublisher(context(fake, request_timeout=0.5))
    errors: list[PublishError] = []
    pub.publish(make_post(slug="ok"))
    assert pub.find(make_post(slug="ok")) is not None
    for route, fault in [
        (STATUSES, Fault.error(500, {"error": "boom"})),
        (STATUSES, Fault.error(429, {"error": "slow"}, {"Retry-After": "3"})),
        (MEDIA, Fault.error(401, {"error": "The access token is invalid"})),
        (STATUSES, Fault.reset_after_commit()),
        (STATUSES, Fault.slow(1.0)),
        (STATUSES, Fault.error(422, {"error": "Validation failed"})),
    ]:
        fake.inject(route, fault)
        with pytest.raises(PublishError) as info:
            pub.publish(make_post(slug=f"fail-{len(errors)}", caption=f"Quote {len(errors)}"))
        errors.append(info.value)
    time.sleep(0.6)

    assert "api/v1/statuses" in caplog.text  # requests were logged at DEBUG
    assert CANARY not in caplog.text
    for error in errors:
        assert CANARY not in str(error)
        assert CANARY not in repr(error)
