"""InstagramPublisher against the Graph fake, which really fetches image_url from a local site."""

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
from pipeline.publishers.instagram import InstagramPublisher
from pipeline.publishers.journal import Attempt
from pipeline.publishers.media import MediaHost, media_name
from tests.fakes import CANARY, Fault
from tests.fakes.graph_api import IG_USER, VERSION, FakeGraph, graph_error
from tests.fakes.static_site import StaticSite
from tests.publishers.meta_helpers import ALT, TOKEN, FixedUrl, card_post, site_media

CREATE = "POST /:version/:owner/media"
PUBLISH = "POST /:version/:owner/media_publish"
NODE = "GET /:version/:node"
QUOTA = "GET /:version/:owner/content_publishing_limit"
FEED_CAPTION = "“Stay curious.” — Ada Lovelace\n\nLink in bio\n\n#quotes #curiosity"


@pytest.fixture
def fake() -> Iterator[FakeGraph]:
    with FakeGraph(token=TOKEN) as server:
        yield server


@pytest.fixture
def site(tmp_path: Path) -> Iterator[StaticSite]:
    with StaticSite(tmp_path / "data" / "site") as served:
        yield served


def publisher(
    fake: FakeGraph,
    tmp_path: Path,
    media: MediaHost,
    *,
    kind: str = "story",
    token: str = TOKEN,
    **options: Any,
) -> InstagramPublisher:
    ctx = TargetContext(
        name="ig",
        network="instagram",
        options={
            "api_base": f"{fake.url}/{VERSION}",
            "user_id": IG_USER,
            "kind": kind,
            "request_timeout": 2.0,
            "poll_interval": 0.01,
            "container_wait": 2.0,
            **options,
        },
        secrets={"access_token": SecretStr(token)},
        data_dir=tmp_path / "data",
    )
    return InstagramPublisher(ctx, media=media)


@pytest.fixture
def story(fake: FakeGraph, tmp_path: Path, site: StaticSite) -> InstagramPublisher:
    return publisher(fake, tmp_path, site_media(site.root, site.url))


def feed_post(**kw: Any) -> Post:
    return card_post(caption=FEED_CAPTION, size=(108, 135), card_format="portrait_jpeg", **kw)


def test_story_goes_out_as_a_story_with_the_exact_card(
    fake: FakeGraph, story: InstagramPublisher, site: StaticSite
) -> None:
    fake.processing_polls = 2
    post = card_post()

    receipt = story.publish(post)

    assert len(fake.published) == 1
    media = fake.published[0]
    assert media.product == "STORY" and media.text is None
    assert media.image == post.card.data  # what Meta downloaded is the card, byte for byte
    assert media.image_url == f"{site.url}/media/{media_name(post.card)}"
    assert (site.root / "media" / media_name(post.card)).read_bytes() == post.card.data
    assert receipt.remote_id == media.id
    assert receipt.url == media.permalink
    container = fake.containers[media.container]
    assert container.media_type == "STORIES" and container.caption is None
    routes = [r.route for r in fake.requests]
    assert routes == [QUOTA, CREATE, NODE, NODE, NODE, PUBLISH, NODE]  # IN_PROGRESS ×2, FINISHED
    assert all(r.header("Authorization") == f"Bearer {TOKEN}" for r in fake.requests)
    assert all(TOKEN not in r.path and TOKEN not in r.raw_query for r in fake.requests)


def test_feed_post_carries_caption_and_alt_text_exactly(
    fake: FakeGraph, tmp_path: Path, site: StaticSite
) -> None:
    pub = publisher(fake, tmp_path, site_media(site.root, site.url), kind="feed")
    post = feed_post()

    receipt = pub.publish(post)

    media = fake.published[0]
    assert media.product == "FEED"
    assert media.text == FEED_CAPTION and media.alt_text == ALT
    assert media.image == post.card.data
    assert (
        receipt.remote_id == media.id and receipt.url == f"https://www.instagram.com/p/{media.id}/"
    )


def test_error_container_is_permanent_with_the_reason(
    fake: FakeGraph, story: InstagramPublisher
) -> None:
    fake.processing_polls = 1
    fake.container_error = "2207009"

    with pytest.raises(PermanentError) as info:
        story.publish(card_post())

    assert "aspect ratio is not supported" in str(info.value)
    assert "/media/" in str(info.value)  # names the image URL
    assert fake.requests_to(PUBLISH) == [] and fake.published == []


def test_container_still_in_progress_is_transient_then_reused(
    fake: FakeGraph, tmp_path: Path, site: StaticSite
) -> None:
    fake.processing_polls = 1000
    pub = publisher(fake, tmp_path, site_media(site.root, site.url), container_wait=0.05)
    post = card_post()

    with pytest.raises(TransientError) as info:
        pub.publish(post)
    assert "still IN_PROGRESS" in str(info.value)

    next(iter(fake.containers.values())).polls_left = 0
    receipt = pub.publish(post)

    assert len(fake.containers) == 1  # the journaled container was reused, not remade
    assert [m.id for m in fake.published] == [receipt.remote_id]


def test_used_up_quota_waits_instead_of_failing(fake: FakeGraph, story: InstagramPublisher) -> None:
    fake.quota_total, fake.quota_used = 25, 25

    with pytest.raises(RateLimitedError) as info:
        story.publish(card_post())

    assert info.value.retry_after is not None and info.value.retry_after >= 60
    assert "25/25" in str(info.value)
    assert fake.requests_to(CREATE) == []


def test_quota_refusal_at_publish_time_is_rate_limited(
    fake: FakeGraph, story: InstagramPublisher
) -> None:
    fake.inject(
        PUBLISH,
        graph_fault(400, 9, "Application request limit reached", subcode=2207042),
    )
    post = card_post()

    with pytest.raises(RateLimitedError):
        story.publish(post)
    receipt = story.publish(post)

    assert len(fake.containers) == 1 and [m.id for m in fake.published] == [receipt.remote_id]


def test_expired_token_is_an_auth_error_naming_the_variable(
    fake: FakeGraph, story: InstagramPublisher
) -> None:
    fake.token_expired = True

    with pytest.raises(AuthError) as info:
        story.publish(card_post())

    assert info.value.credential == "QUOTECAST_IG_ACCESS_TOKEN"
    assert "QUOTECAST_IG_ACCESS_TOKEN" in str(info.value) and "'ig'" in str(info.value)
    assert "190/463" in str(info.value)


def test_unreachable_image_url_is_permanent_naming_the_url(fake: FakeGraph, tmp_path: Path) -> None:
    url = "http://127.0.0.1:9/media/missing.jpg"  # nothing listens on the discard port
    pub = publisher(fake, tmp_path, FixedUrl(url))

    with pytest.raises(PermanentError) as info:
        pub.publish(card_post())

    assert url in str(info.value) and "9004/2207052" in str(info.value)
    assert fake.containers == {}


def test_site_that_does_not_serve_the_card_fails_before_any_api_call(
    fake: FakeGraph, tmp_path: Path, site: StaticSite
) -> None:
    elsewhere = tmp_path / "not-served"  # cards written where the web server does not look
    pub = publisher(fake, tmp_path, site_media(elsewhere, site.url))
    post = card_post()

    with pytest.raises(PermanentError) as info:
        pub.publish(post)

    url = f"{site.url}/media/{media_name(post.card)}"
    assert url in str(info.value) and "HTTP 404" in str(info.value)
    assert fake.requests == []


@pytest.mark.parametrize(
    ("fault", "route"),
    [
        (
            Fault.error(
                500,
                {
                    "error": {
                        "code": 1,
                        "message": "An unknown error occurred",
                        "is_transient": True,
                    }
                },
            ),
            CREATE,
        ),
        (Fault.error(503, "Service Unavailable"), PUBLISH),
        (Fault.error(502), NODE),
    ],
)
def test_5xx_is_transient_and_the_next_attempt_posts_once(
    fake: FakeGraph, story: InstagramPublisher, fault: Fault, route: str
) -> None:
    fake.inject(route, fault)
    post = card_post()

    with pytest.raises(TransientError) as info:
        story.publish(post)
    assert not isinstance(info.value, RateLimitedError)

    receipt = story.publish(post)
    assert [m.id for m in fake.published] == [receipt.remote_id]
    assert fake.double_publish_attempts == 0


@pytest.mark.parametrize("code", [4, 17, 32, 613])
def test_graph_rate_limit_codes_are_rate_limited(
    fake: FakeGraph, story: InstagramPublisher, code: int
) -> None:
    fake.inject(CREATE, graph_fault(400, code, "Application request limit reached"))

    with pytest.raises(RateLimitedError):
        story.publish(card_post())


def test_429_uses_retry_after(fake: FakeGraph, story: InstagramPublisher) -> None:
    fake.inject(QUOTA, Fault.error(429, "Too Many Requests", {"Retry-After": "30"}))

    with pytest.raises(RateLimitedError) as info:
        story.publish(card_post())

    assert info.value.retry_after == 30.0


def test_usage_header_gives_the_wait(fake: FakeGraph, story: InstagramPublisher) -> None:
    usage = (
        '{"1784": [{"type": "instagram", "call_count": 100, "estimated_time_to_regain_access": 3}]}'
    )
    body = {"error": {"code": 80002, "message": "There have been too many calls"}}
    fake.inject(CREATE, Fault.error(400, body, {"X-Business-Use-Case-Usage": usage}))

    with pytest.raises(RateLimitedError) as info:
        story.publish(card_post())

    assert info.value.retry_after == 180.0


def test_lost_answer_to_media_publish_is_settled_by_find_and_never_sent_twice(
    fake: FakeGraph, story: InstagramPublisher
) -> None:
    post = card_post()
    fake.inject(PUBLISH, Fault.reset_after_commit())

    with pytest.raises(AmbiguousError):
        story.publish(post)
    assert len(fake.published) == 1

    found = story.find(post)
    assert found is not None and found.remote_id == fake.published[0].id
    assert found.url == fake.published[0].permalink
    again = story.publish(post)  # the journal says it is out: nothing is sent
    assert again.remote_id == found.remote_id
    assert len(fake.published) == 1 and fake.double_publish_attempts == 0


def test_find_tells_our_story_from_others(fake: FakeGraph, story: InstagramPublisher) -> None:
    first, second = card_post(slug="first", shade=10), card_post(slug="second", shade=200)
    story.publish(first)
    fake.inject(PUBLISH, Fault.reset_after_commit())
    with pytest.raises(AmbiguousError):
        story.publish(second)

    found = story.find(second)

    assert found is not None and found.remote_id == fake.published[1].id
    assert story.find(first) is not None and story.find(first).remote_id == fake.published[0].id  # type: ignore[union-attr]


def test_feed_find_matches_the_caption(fake: FakeGraph, tmp_path: Path, site: StaticSite) -> None:
    pub = publisher(fake, tmp_path, site_media(site.root, site.url), kind="feed")
    post = feed_post()
    fake.inject(PUBLISH, Fault.reset_after_commit())
    with pytest.raises(AmbiguousError):
        pub.publish(post)
    pub.journal.record(  # forget the media id the journal may hold: find must look it up
        post.idempotency_key,
        Attempt(**{**pub.journal.attempts(post.idempotency_key)[0].__dict__, "media_id": None}),
    )

    found = pub.find(post)

    assert found is not None and found.remote_id == fake.published[0].id
    assert fake.requests_to("GET /:version/:owner/media")  # looked among recent media


def test_find_is_authoritative_from_the_journal(fake: FakeGraph, story: InstagramPublisher) -> None:
    post = card_post()
    assert InstagramPublisher.find_is_authoritative and InstagramPublisher.retry_is_idempotent

    assert story.find(post) is None
    assert fake.requests == []  # nothing journaled: nothing can have been published

    story.journal.record(post.idempotency_key, Attempt("1789", 1.0))  # made, never published
    assert story.find(post) is None
    assert fake.requests == []


def test_local_checks_refuse_png_and_wrong_shapes(
    fake: FakeGraph, tmp_path: Path, site: StaticSite
) -> None:
    with pytest.raises(PermanentError, match='encoding = "jpeg"'):
        publisher(fake, tmp_path, site_media(site.root, site.url)).publish(card_post(fmt="PNG"))
    with pytest.raises(PermanentError, match="between 4:5 and 1.91:1"):
        publisher(fake, tmp_path, site_media(site.root, site.url), kind="feed").publish(card_post())
    with pytest.raises(PermanentError, match="user_id"):
        publisher(fake, tmp_path, site_media(site.root, site.url), user_id="").publish(card_post())
    assert fake.requests == []
    limits = InstagramPublisher.limits
    assert limits.image_mimes == ("image/jpeg",) and limits.caption_max == 2200


def test_canary_token_never_in_errors_or_debug_logs(
    fake: FakeGraph, tmp_path: Path, site: StaticSite, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    pub = publisher(fake, tmp_path, site_media(site.root, site.url), request_timeout=0.5)
    errors: list[PublishError] = []
    pub.publish(card_post(slug="ok"))
    for n, (route, fault) in enumerate(
        [
            (CREATE, Fault.error(500, {"error": {"code": 2, "message": f"echo {TOKEN}"}})),
            (QUOTA, Fault.error(429, "slow down", {"Retry-After": "3"})),
            (CREATE, graph_fault(400, 190, f"Invalid OAuth access token {TOKEN}")),
            (PUBLISH, Fault.reset_after_commit()),
            (NODE, Fault.slow(1.0)),
        ]
    ):
        fake.inject(route, fault)
        with pytest.raises(PublishError) as info:
            pub.publish(card_post(slug=f"fail-{n}", shade=n * 20))
        errors.append(info.value)

    assert "/media_publish" in caplog.text  # requests were logged at DEBUG
    assert CANARY not in caplog.text
    for error in errors:
        assert CANARY not in str(error) and CANARY not in repr(error)


def graph_fault(status: int, code: int, message: str, subcode: int | None = None) -> Fault:
    response = graph_error(status, code, message, subcode=subcode)
    return Fault.error(response.status, response.body, response.headers)
