"""FacebookPublisher against the Graph fake: Page photo posts and Page photo stories."""

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
from pipeline.publishers.facebook import FacebookPublisher
from tests.fakes import CANARY, Fault
from tests.fakes.graph_api import PAGE_ID, VERSION, FakeGraph
from tests.publishers.meta_helpers import ALT, TOKEN, card_post

PHOTOS = "POST /:version/:owner/photos"
STORIES = "POST /:version/:owner/photo_stories"
POSTS = "GET /:version/:owner/posts"
CAPTION = "“Stay curious.” — Ada Lovelace\n\nhttps://example.com/q/stay-curious?utm_source=facebook"


@pytest.fixture
def fake() -> Iterator[FakeGraph]:
    with FakeGraph(token=TOKEN) as server:
        yield server


def make(
    fake: FakeGraph, tmp_path: Path, *, kind: str = "feed", **options: Any
) -> FacebookPublisher:
    ctx = TargetContext(
        name="fb",
        network="facebook",
        options={
            "api_base": f"{fake.url}/{VERSION}",
            "page_id": PAGE_ID,
            "kind": kind,
            "request_timeout": 2.0,
            **options,
        },
        secrets={"access_token": SecretStr(TOKEN)},
        data_dir=tmp_path / "data",
    )
    return FacebookPublisher(ctx)


def post(**kw: Any) -> Post:
    kw.setdefault("caption", CAPTION)
    return card_post(target="fb", network="facebook", fmt="PNG", **kw)


def test_photo_post_uploads_the_card_with_message_and_alt_text(
    fake: FakeGraph, tmp_path: Path
) -> None:
    p = post()

    receipt = make(fake, tmp_path).publish(p)

    assert len(fake.page_posts) == 1
    made = fake.page_posts[0]
    assert made.kind == "feed" and made.message == CAPTION and made.alt_text == ALT
    assert made.image == p.card.data
    assert receipt.remote_id == made.id and receipt.url == made.permalink
    upload = fake.requests_to(PHOTOS)[0].multipart()
    assert upload["source"].content_type == "image/png"
    assert upload["published"].text == "true"


def test_page_story_is_an_unpublished_photo_then_a_story(fake: FakeGraph, tmp_path: Path) -> None:
    p = post(size=(108, 192), card_format="story")

    receipt = make(fake, tmp_path, kind="story").publish(p)

    story = fake.page_posts[0]
    assert story.kind == "story" and story.image == p.card.data and story.message is None
    assert fake.photos[story.photo_id].published is False
    assert receipt.remote_id == story.id and receipt.url == story.permalink
    assert [r.route for r in fake.requests][:2] == [PHOTOS, STORIES]


def test_lost_answer_to_the_story_is_found_by_its_photo(fake: FakeGraph, tmp_path: Path) -> None:
    pub = make(fake, tmp_path, kind="story")
    p = post()
    fake.inject(STORIES, Fault.reset_after_commit())

    with pytest.raises(AmbiguousError):
        pub.publish(p)
    found = pub.find(p)

    assert found is not None and found.remote_id == fake.page_posts[0].id
    assert found.url == fake.page_posts[0].permalink
    assert make(fake, tmp_path, kind="story").find(post(slug="other", shade=99)) is None


def test_lost_answer_to_the_photo_is_found_by_its_message(fake: FakeGraph, tmp_path: Path) -> None:
    pub = make(fake, tmp_path)
    p = post()
    fake.inject(PHOTOS, Fault.reset_after_commit())

    with pytest.raises(AmbiguousError):
        pub.publish(p)
    found = pub.find(p)

    assert found is not None and found.remote_id == fake.page_posts[0].id
    assert pub.find(post(slug="x", caption="Another quote")) is None
    assert FacebookPublisher.find_is_authoritative is False


def test_after_a_5xx_the_next_attempt_looks_before_sending(fake: FakeGraph, tmp_path: Path) -> None:
    pub = make(fake, tmp_path)
    p = post()
    fake.inject(PHOTOS, Fault.error(500, {"error": {"code": 2, "message": "Service unavailable"}}))

    with pytest.raises(TransientError) as info:
        pub.publish(p)
    assert not isinstance(info.value, RateLimitedError)
    receipt = pub.publish(p)

    assert [r.route for r in fake.requests][-3:-1] == [POSTS, PHOTOS]  # looked first
    assert [x.id for x in fake.page_posts] == [receipt.remote_id]


def test_expired_token_names_the_variable(fake: FakeGraph, tmp_path: Path) -> None:
    fake.token_expired = True

    with pytest.raises(AuthError) as info:
        make(fake, tmp_path).publish(post())

    assert info.value.credential == "QUOTECAST_FB_ACCESS_TOKEN"
    assert "QUOTECAST_FB_ACCESS_TOKEN" in str(info.value)


def test_429_and_page_rate_limit_are_rate_limited(fake: FakeGraph, tmp_path: Path) -> None:
    pub = make(fake, tmp_path)
    fake.inject(PHOTOS, Fault.error(429, "", {"Retry-After": "5"}))
    with pytest.raises(RateLimitedError) as info:
        pub.publish(post())
    assert info.value.retry_after == 5.0

    fake.inject(PHOTOS, Fault.error(400, {"error": {"code": 32, "message": "Page request limit"}}))
    with pytest.raises(RateLimitedError):
        pub.publish(post())
    assert fake.page_posts == []


def test_options_and_limits_are_checked_before_any_request(fake: FakeGraph, tmp_path: Path) -> None:
    with pytest.raises(PermanentError, match="page_id"):
        make(fake, tmp_path, page_id="").publish(post())
    with pytest.raises(PermanentError, match="kind"):
        make(fake, tmp_path, kind="reel").publish(post())
    with pytest.raises(PermanentError, match="4 MB"):
        big = post()
        big = Post(
            **{
                **big.__dict__,
                "card": type(big.card)(b"x" * (4 * 1024 * 1024 + 1), "image/png", 10, 10, "square"),
            }
        )
        make(fake, tmp_path).publish(big)
    assert fake.requests == []


def test_canary_token_never_in_errors_or_debug_logs(
    fake: FakeGraph, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    pub = make(fake, tmp_path)
    errors: list[PublishError] = []
    for n, fault in enumerate(
        [
            Fault.error(500, {"error": {"code": 1, "message": f"bad {TOKEN}"}}),
            Fault.error(429),
            Fault.reset_after_commit(),
        ]
    ):
        fake.inject(PHOTOS, fault)
        with pytest.raises(PublishError) as info:
            pub.publish(post(slug=f"n{n}", caption=f"Quote {n}"))
        errors.append(info.value)
    fake.token_expired = True
    with pytest.raises(AuthError) as auth:
        pub.publish(post(slug="auth"))
    errors.append(auth.value)

    assert "/photos" in caplog.text
    assert CANARY not in caplog.text
    assert all(CANARY not in str(e) and CANARY not in repr(e) for e in errors)
