"""ThreadsPublisher against the Threads fake, which really fetches image_url from a local site."""

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
    PermanentError,
    PublishError,
    RateLimitedError,
    TargetContext,
    TransientError,
)
from pipeline.publishers.media import MediaHost, media_name
from pipeline.publishers.threads import ThreadsPublisher
from tests.fakes import CANARY, Fault
from tests.fakes.static_site import StaticSite
from tests.fakes.threads_api import FakeThreads
from tests.publishers.meta_helpers import ALT, TOKEN, FixedUrl, card_post, site_media

CREATE = "POST /:version/:user/threads"
PUBLISH = "POST /:version/:user/threads_publish"
NODE = "GET /:version/:node"
QUOTA = "GET /:version/:user/threads_publishing_limit"
CAPTION = (
    "“Stay curious.” — Ada Lovelace https://example.com/q/stay-curious?utm_source=threads #quotes"
)


@pytest.fixture
def fake() -> Iterator[FakeThreads]:
    with FakeThreads(token=TOKEN) as server:
        yield server


@pytest.fixture
def site(tmp_path: Path) -> Iterator[StaticSite]:
    with StaticSite(tmp_path / "data" / "site") as served:
        yield served


def make(
    fake: FakeThreads, tmp_path: Path, media: MediaHost, token: str = TOKEN, **options: Any
) -> ThreadsPublisher:
    ctx = TargetContext(
        name="threads",
        network="threads",
        options={
            "api_base": f"{fake.url}/v1.0",
            "request_timeout": 2.0,
            "poll_interval": 0.01,
            "container_wait": 2.0,
            **options,
        },
        secrets={"access_token": SecretStr(token)},
        data_dir=tmp_path / "data",
    )
    return ThreadsPublisher(ctx, media=media)


@pytest.fixture
def pub(fake: FakeThreads, tmp_path: Path, site: StaticSite) -> ThreadsPublisher:
    return make(fake, tmp_path, site_media(site.root, site.url))


def post(**kw: Any) -> Post:
    return card_post(
        target="threads",
        network="threads",
        caption=CAPTION,
        size=(320, 400),
        fmt="PNG",
        card_format="portrait",
        **kw,
    )


def test_image_post_with_text_and_alt_text_exactly(
    fake: FakeThreads, pub: ThreadsPublisher, site: StaticSite
) -> None:
    fake.processing_polls = 2
    p = post()

    receipt = pub.publish(p)

    assert len(fake.published) == 1
    media = fake.published[0]
    container = fake.containers[media.container]
    assert container.media_type == "IMAGE"
    assert media.text == CAPTION and media.alt_text == ALT
    assert media.image == p.card.data
    assert media.image_url == f"{site.url}/media/{media_name(p.card)}"
    assert receipt.remote_id == media.id
    assert receipt.url == f"https://www.threads.net/@quotecast/post/{media.id}"
    assert [r.route for r in fake.requests] == [QUOTA, CREATE, NODE, NODE, NODE, PUBLISH, NODE]
    assert fake.requests[0].params["user"] == "me"  # the default user


def test_error_container_is_permanent_with_the_reason(
    fake: FakeThreads, pub: ThreadsPublisher
) -> None:
    fake.container_error = "INVALID_ASPEC_RATIO"

    with pytest.raises(PermanentError, match="INVALID_ASPEC_RATIO"):
        pub.publish(post())
    assert fake.published == []


def test_used_up_quota_waits(fake: FakeThreads, pub: ThreadsPublisher) -> None:
    fake.quota_used = 250

    with pytest.raises(RateLimitedError) as info:
        pub.publish(post())

    assert info.value.retry_after is not None and "250/250" in str(info.value)
    assert fake.containers == {}


def test_revoked_token_names_the_variable(fake: FakeThreads, pub: ThreadsPublisher) -> None:
    fake.token_expired = True

    with pytest.raises(AuthError) as info:
        pub.publish(post())

    assert info.value.credential == "QUOTECAST_THREADS_ACCESS_TOKEN"
    assert "QUOTECAST_THREADS_ACCESS_TOKEN" in str(info.value)


def test_unreachable_image_url_is_permanent_naming_it(fake: FakeThreads, tmp_path: Path) -> None:
    url = "http://127.0.0.1:9/media/gone.png"

    with pytest.raises(PermanentError) as info:
        make(fake, tmp_path, FixedUrl(url)).publish(post())

    assert url in str(info.value)


def test_5xx_then_success_posts_once(fake: FakeThreads, pub: ThreadsPublisher) -> None:
    fake.inject(PUBLISH, Fault.error(500, {"error": {"code": 2, "message": "Service unavailable"}}))
    p = post()

    with pytest.raises(TransientError):
        pub.publish(p)
    receipt = pub.publish(p)

    assert [m.id for m in fake.published] == [receipt.remote_id] and len(fake.containers) == 1


def test_429_is_rate_limited(fake: FakeThreads, pub: ThreadsPublisher) -> None:
    fake.inject(CREATE, Fault.error(429, "Too Many Requests", {"Retry-After": "12"}))

    with pytest.raises(RateLimitedError) as info:
        pub.publish(post())

    assert info.value.retry_after == 12.0


def test_lost_answer_is_found_by_text(fake: FakeThreads, pub: ThreadsPublisher) -> None:
    other = post(slug="other", shade=220)
    pub.publish(other)
    p = post()
    fake.inject(PUBLISH, Fault.reset_after_commit())

    with pytest.raises(AmbiguousError):
        pub.publish(p)
    found = pub.find(p)

    assert found is not None and found.remote_id == fake.published[1].id
    assert pub.publish(p).remote_id == found.remote_id
    assert len(fake.published) == 2 and fake.double_publish_attempts == 0


def test_canary_token_never_in_errors_or_debug_logs(
    fake: FakeThreads, pub: ThreadsPublisher, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    errors: list[PublishError] = []
    for n, (route, fault) in enumerate(
        [
            (CREATE, Fault.error(500, {"error": {"code": 1, "message": f"oops {TOKEN}"}})),
            (QUOTA, Fault.error(429)),
            (PUBLISH, Fault.reset_after_commit()),
        ]
    ):
        fake.inject(route, fault)
        with pytest.raises(PublishError) as info:
            pub.publish(post(slug=f"n{n}", shade=n * 30))
        errors.append(info.value)
    fake.token_expired = True
    with pytest.raises(AuthError) as auth:
        pub.publish(post(slug="auth"))
    errors.append(auth.value)

    assert "threads_publish" in caplog.text
    assert CANARY not in caplog.text
    assert all(CANARY not in str(e) and CANARY not in repr(e) for e in errors)
