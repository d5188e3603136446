"""Meta's edge cases against the strict Graph/Threads fakes, through `requests` as in use.

Instagram's spam restriction (code 4 / 2207051) is not a rate limit; Facebook's "posting
too fast" (368 / 1390008) is one; Meta fetches media as a crawler that obeys robots.txt;
Threads scales wide images itself and counts 8 MB as 8,000,000 bytes; debug_token reports
the token's expiry.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from pipeline.publishers.base import (
    AuthError,
    PermanentError,
    RateLimitedError,
    TargetBlockedError,
    TargetContext,
)
from pipeline.publishers.facebook import FacebookPublisher
from pipeline.publishers.graph import TOO_FAST_WAIT
from pipeline.publishers.instagram import InstagramPublisher
from pipeline.publishers.media import CRAWLER_AGENT
from pipeline.publishers.threads import ThreadsPublisher
from tests.fakes import noise_png
from tests.fakes.graph_api import IG_USER, PAGE_ID, VERSION, FakeGraph
from tests.fakes.static_site import StaticSite
from tests.fakes.threads_api import FakeThreads
from tests.publishers.meta_helpers import TOKEN, FixedUrl, card_post, site_media

CREATE = "POST /:version/:owner/media"


@pytest.fixture
def graph() -> Iterator[FakeGraph]:
    with FakeGraph(token=TOKEN) as server:
        yield server


@pytest.fixture
def site(tmp_path: Path) -> Iterator[StaticSite]:
    with StaticSite(tmp_path / "data" / "site") as served:
        yield served


def ctx(network: str, options: dict[str, Any], tmp_path: Path) -> TargetContext:
    return TargetContext(
        name=network[:2],
        network=network,
        options={"request_timeout": 2.0, **options},
        secrets={"access_token": SecretStr(TOKEN)},
        data_dir=tmp_path / "data",
    )


def instagram(graph: FakeGraph, tmp_path: Path, site: StaticSite) -> InstagramPublisher:
    options = {
        "api_base": f"{graph.url}/{VERSION}",
        "user_id": IG_USER,
        "kind": "story",
        "poll_interval": 0.01,
        "container_wait": 2.0,
    }
    return InstagramPublisher(
        ctx("instagram", options, tmp_path), media=site_media(site.root, site.url)
    )


def facebook(graph: FakeGraph, tmp_path: Path) -> FacebookPublisher:
    options = {"api_base": f"{graph.url}/{VERSION}", "page_id": PAGE_ID}
    return FacebookPublisher(ctx("facebook", options, tmp_path))


def test_spam_restriction_4_2207051_stops_the_target_instead_of_waiting(
    graph: FakeGraph, tmp_path: Path, site: StaticSite
) -> None:
    graph.spam_restricted = True

    with pytest.raises(TargetBlockedError) as info:
        instagram(graph, tmp_path, site).publish(card_post())

    assert not isinstance(info.value, RateLimitedError)
    assert "2207051" in str(info.value) and "spam" in str(info.value)
    assert graph.published == []


def test_posting_too_fast_368_1390008_waits(graph: FakeGraph, tmp_path: Path) -> None:
    graph.too_fast = 1
    pub = facebook(graph, tmp_path)
    post = card_post(target="fb", network="facebook", caption="Stay curious. #quotes")

    with pytest.raises(RateLimitedError) as info:
        pub.publish(post)
    assert info.value.retry_after == TOO_FAST_WAIT and "1390008" in str(info.value)

    receipt = pub.publish(post)  # after the wait: posted once
    assert [p.id for p in graph.page_posts] == [receipt.remote_id]


def test_media_self_check_fetches_like_metas_crawler(
    graph: FakeGraph, tmp_path: Path, site: StaticSite
) -> None:
    instagram(graph, tmp_path, site).publish(card_post())

    ours = [
        (method, agent)
        for (method, path), agent in zip(site.requests, site.agents, strict=True)
        if path.startswith("/media/") and agent == CRAWLER_AGENT
    ]
    assert ("GET", CRAWLER_AGENT) in ours
    assert all(method != "HEAD" for method, _ in site.requests)


def test_robots_rule_against_metas_crawler_is_named_before_any_api_call(
    graph: FakeGraph, tmp_path: Path, site: StaticSite
) -> None:
    """A browser (and a plain HEAD) gets the card, but Meta's crawler obeys robots.txt and
    would answer 2207052; the self-check names the rule instead."""
    site.root.mkdir(parents=True, exist_ok=True)
    (site.root / "robots.txt").write_text(
        "User-agent: *\nAllow: /\n\nUser-agent: facebookexternalhit\nDisallow: /media/\n"
    )

    with pytest.raises(PermanentError) as info:
        instagram(graph, tmp_path, site).publish(card_post())

    message = str(info.value)
    assert "robots.txt" in message and "facebookexternalhit" in message
    assert "Disallow: /media/" in message
    assert graph.requests_to(CREATE) == []


def test_robots_rule_only_against_meta_externalagent_does_not_block(
    graph: FakeGraph, tmp_path: Path, site: StaticSite
) -> None:
    site.root.mkdir(parents=True, exist_ok=True)
    (site.root / "robots.txt").write_text("User-agent: meta-externalagent\nDisallow: /\n")

    instagram(graph, tmp_path, site).publish(card_post())

    assert len(graph.published) == 1


def test_threads_takes_cards_wider_than_1440_px(tmp_path: Path, site: StaticSite) -> None:
    with FakeThreads(token=TOKEN) as fake:
        options = {
            "api_base": f"{fake.url}/v1.0",
            "user_id": "me",
            "poll_interval": 0.01,
            "container_wait": 2.0,
        }
        pub = ThreadsPublisher(
            ctx("threads", options, tmp_path), media=site_media(site.root, site.url)
        )
        wide = card_post(target="th", network="threads", caption="Stay curious.", size=(1600, 900))

        receipt = pub.publish(wide)

        assert [m.id for m in fake.published] == [receipt.remote_id]
        assert ThreadsPublisher.limits.image_max_bytes == 8_000_000


def test_debug_token_reports_the_expiry(graph: FakeGraph, tmp_path: Path) -> None:
    graph.token_expires_at = 1_900_000_000

    info = facebook(graph, tmp_path).token_expiry()

    assert info is not None and info.expires_at is not None
    assert int(info.expires_at.timestamp()) == 1_900_000_000
    graph.token_expired = True
    with pytest.raises(AuthError):
        facebook(graph, tmp_path).token_expiry()


def test_threads_byte_limit_is_8_000_000_not_8_mib(tmp_path: Path) -> None:
    """8,100,000 bytes is under 8 MiB but over Threads' "8 MB": refused before any request."""
    big = noise_png(8_100_000)
    assert 8_000_000 < len(big) < 8 * 1024 * 1024
    post = card_post(target="th", network="threads", caption="Stay curious.")
    post = replace(post, card=replace(post.card, data=big, mime="image/png"))
    with FakeThreads(token=TOKEN) as fake:
        pub = ThreadsPublisher(
            ctx("threads", {"api_base": f"{fake.url}/v1.0", "user_id": "me"}, tmp_path),
            media=FixedUrl("https://cdn.example/none.png"),
        )
        with pytest.raises(PermanentError, match="8,000,000 bytes"):
            pub.publish(post)
        assert fake.requests == []


def test_threads_debug_token_reports_the_expiry(tmp_path: Path) -> None:
    """Threads documents /debug_token on graph.threads.net: its expiry is recorded too."""
    with FakeThreads(token=TOKEN) as fake:
        fake.token_expires_at = 1_900_000_000
        options = {"api_base": f"{fake.url}/v1.0", "user_id": "me"}
        pub = ThreadsPublisher(
            ctx("threads", options, tmp_path), media=FixedUrl("https://cdn.example/x.png")
        )
        info = pub.token_expiry()
        assert info is not None and info.expires_at is not None
        assert int(info.expires_at.timestamp()) == 1_900_000_000
        assert "threads_content_publish" in info.note
        fake.token_expired = True
        with pytest.raises(AuthError):
            pub.token_expiry()


def test_the_threads_fake_refuses_what_the_media_specifications_refuse(
    tmp_path: Path, site: StaticSite
) -> None:
    """The fake is as strict as Threads: a fetched image over 8,000,000 bytes or beyond 10:1
    is refused, so an adapter that let one through would fail here, not only live."""
    import requests

    (site.root / "big.png").write_bytes(noise_png(8_100_000))
    (site.root / "thin.png").write_bytes(card_post(size=(2200, 200)).card.data)
    (site.root / "wide.png").write_bytes(card_post(size=(2000, 1000)).card.data)
    with FakeThreads(token=TOKEN) as fake:
        answers = {}
        for name in ("big", "thin", "wide"):
            r = requests.post(
                f"{fake.url}/v1.0/me/threads",
                data={"media_type": "IMAGE", "image_url": f"{site.url}/{name}.png"},
                headers={"Authorization": f"Bearer {TOKEN}"},
                timeout=10,
            )
            answers[name] = (r.status_code, r.json())
    assert answers["big"][0] == 400 and "8,000,000" in answers["big"][1]["error"]["message"]
    assert answers["thin"][0] == 400 and "10:1" in answers["thin"][1]["error"]["message"]
    assert answers["wide"][0] == 200 and "id" in answers["wide"][1]  # Threads scales it
