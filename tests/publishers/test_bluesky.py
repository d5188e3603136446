"""BlueskyPublisher through the real atproto client against the fake PDS in tests/fakes."""

from __future__ import annotations

import io
import logging
import os
import socket
import stat
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw
from pydantic import SecretStr

from pipeline.posts import Card, Facet, Post
from pipeline.publishers import publisher_class
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
from pipeline.publishers.bluesky import BlueskyPublisher, record_key
from tests.fakes.bluesky_api import (
    CREATE_RECORD,
    CREATE_SESSION,
    GET_RECORD,
    REFRESH_SESSION,
    UPLOAD_BLOB,
    FakeBluesky,
)
from tests.fakes.server import Fault

CANARY = "canary-7f3a-9c1e-b2d4-app-password"
LINK = "https://quotes.example/jobs-2005?utm_source=bluesky&utm_medium=social"
# an emoji and typographic quotes before the link: byte offsets differ from char offsets
CAPTION = f"“Stay hungry, stay foolish.” — Steve Jobs 🚀\nRead it: {LINK} #quotes #SMPostStory"
ALT = "A dark card with the quote “Stay hungry, stay foolish.” in white serif type."


def png(width: int = 320, height: int = 180) -> bytes:
    """A small real PNG drawn by Pillow."""
    img = Image.new("RGB", (width, height), (24, 28, 38))
    draw = ImageDraw.Draw(img)
    draw.rectangle((8, 8, width - 9, height - 9), outline=(240, 200, 80), width=3)
    draw.text((24, height // 2 - 8), "Stay hungry, stay foolish.", fill=(250, 250, 250))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def facets_by_hand(caption: str) -> tuple[Facet, ...]:
    """UTF-8 byte ranges of the link and the two hashtags, counted from the encoded prefix."""

    def span(needle: str) -> tuple[int, int]:
        i = caption.index(needle)
        start = len(caption[:i].encode("utf-8"))
        return start, start + len(needle.encode("utf-8"))

    link, tag1, tag2 = span(LINK), span("#quotes"), span("#SMPostStory")
    return (
        Facet(link[0], link[1], "link", LINK),
        Facet(tag1[0], tag1[1], "tag", "quotes"),
        Facet(tag2[0], tag2[1], "tag", "SMPostStory"),
    )


def make_post(slug: str = "stay-hungry", data: bytes | None = None, **kw: Any) -> Post:
    data = png() if data is None else data
    fields: dict[str, Any] = {
        "slug": slug,
        "target": "bsky",
        "network": "bluesky",
        "caption": CAPTION,
        "alt_text": ALT,
        "link": LINK,
        "card": Card(data, "image/png", 320, 180, "landscape"),
        "facets": facets_by_hand(CAPTION),
    }
    fields.update(kw)
    return Post(**fields)


@pytest.fixture(scope="module")
def server() -> Iterator[FakeBluesky]:
    """One fake per module (stopping a server costs its 0.5 s poll); reset for every test."""
    with FakeBluesky(password=CANARY) as started:
        assert isinstance(started, FakeBluesky)
        yield started


@pytest.fixture
def fake(server: FakeBluesky) -> Iterator[FakeBluesky]:
    server.reset()
    yield server
    server.access_ttl = 7200.0


PubFactory = Callable[..., BlueskyPublisher]


@pytest.fixture
def make_pub(fake: FakeBluesky, tmp_path: Path) -> Iterator[PubFactory]:
    made: list[BlueskyPublisher] = []

    def factory(password: str = CANARY, **options: Any) -> BlueskyPublisher:
        opts = {"api_base": fake.url, "handle": fake.handle, "request_timeout": 2.0} | options
        ctx = TargetContext(
            name="bsky",
            network="bluesky",
            options=opts,
            secrets={"app_password": SecretStr(password)},
            data_dir=tmp_path / "var",
        )
        pub = BlueskyPublisher(ctx)
        made.append(pub)
        return pub

    yield factory
    for pub in made:
        pub.close()


def xrpc(status: int, error: str, message: str = "", **headers: str) -> Fault:
    return Fault.error(status, {"error": error, "message": message or error}, headers)


# -- success ----------------------------------------------------------------------------------
def test_registry_and_limits() -> None:
    cls = publisher_class("bluesky")
    assert cls is BlueskyPublisher
    assert cls.limits.caption_max == 300 and cls.limits.caption_counter == "graphemes"
    assert cls.limits.image_max_bytes == 1_000_000 and cls.limits.alt_text_max == 2000
    assert cls.secret_names == ("app_password",)


def test_publish_sends_text_facets_alt_aspect_and_exact_bytes(
    fake: FakeBluesky, make_pub: PubFactory
) -> None:
    post = make_post()
    receipt = make_pub().publish(post)

    [stored] = fake.posts()
    rkey = record_key(post)
    assert receipt.remote_id == stored.uri == f"at://{fake.did}/app.bsky.feed.post/{rkey}"
    assert receipt.url == f"https://bsky.app/profile/{fake.handle}/post/{rkey}"
    value = stored.value
    assert value["$type"] == "app.bsky.feed.post"
    assert value["text"] == CAPTION
    assert value["createdAt"].endswith("Z")

    # facets: byte offsets, not character offsets
    link = post.facets[0]
    assert link.byte_start != CAPTION.index(LINK)
    raw = CAPTION.encode("utf-8")
    assert raw[link.byte_start : link.byte_end].decode() == LINK
    sent = [
        (f["$type"], f["index"]["byteStart"], f["index"]["byteEnd"], f["features"])
        for f in value["facets"]
    ]
    assert sent == [
        (
            "app.bsky.richtext.facet",
            f.byte_start,
            f.byte_end,
            [
                {"$type": "app.bsky.richtext.facet#link", "uri": f.value}
                if f.kind == "link"
                else {"$type": "app.bsky.richtext.facet#tag", "tag": f.value}
            ],
        )
        for f in post.facets
    ]

    [image] = value["embed"]["images"]
    assert value["embed"]["$type"] == "app.bsky.embed.images"
    assert image["alt"] == ALT
    assert (image["aspectRatio"]["width"], image["aspectRatio"]["height"]) == (320, 180)
    mime, data = fake.blobs[image["image"]["ref"]["$link"]]
    assert mime == "image/png" and data == post.card.data
    assert image["image"]["size"] == len(post.card.data)

    # only com.atproto.* was called: no AppView needed
    assert all(r.path.startswith("/xrpc/com.atproto.") for r in fake.requests)


def test_record_key_is_a_stable_tid_per_post() -> None:
    a, b = make_post("one"), make_post("two")
    assert record_key(a) == record_key(make_post("one"))
    assert record_key(a) != record_key(b)
    for key in (record_key(a), record_key(b)):
        assert len(key) == 13 and key[0] in "234567abcdefghij"
        assert set(key) <= set("234567abcdefghijklmnopqrstuvwxyz")


def test_session_is_reused_across_posts(fake: FakeBluesky, make_pub: PubFactory) -> None:
    pub = make_pub()
    pub.publish(make_post("one"))
    pub.publish(make_post("two"))
    assert fake.calls(CREATE_SESSION) == 1
    assert len(fake.posts()) == 2


def test_session_string_is_cached_in_data_dir_without_the_password(
    fake: FakeBluesky, make_pub: PubFactory, tmp_path: Path
) -> None:
    make_pub().publish(make_post("one"))
    [session_file] = (tmp_path / "var" / "sessions").iterdir()
    assert stat.S_IMODE(session_file.stat().st_mode) == 0o600
    assert CANARY not in session_file.read_text()

    make_pub().publish(make_post("two"))  # a new instance: imports the cached session
    assert fake.calls(CREATE_SESSION) == 1
    assert len(fake.posts()) == 2


def test_revoked_cached_session_falls_back_to_password(
    fake: FakeBluesky, make_pub: PubFactory
) -> None:
    make_pub().publish(make_post("one"))
    fake.revoke_sessions()
    make_pub().publish(make_post("two"))
    assert fake.calls(CREATE_SESSION) == 2
    assert len(fake.posts()) == 2


def test_short_lived_access_token_is_refreshed(fake: FakeBluesky, make_pub: PubFactory) -> None:
    fake.access_ttl = 60
    make_pub(session_cache=False).publish(make_post())
    assert fake.calls(CREATE_SESSION) == 1
    assert fake.calls(REFRESH_SESSION) >= 1  # atproto refreshes 15 min before expiry
    assert len(fake.posts()) == 1


# -- limits checked before any request --------------------------------------------------------
def test_oversized_image_is_refused_before_any_request(
    fake: FakeBluesky, make_pub: PubFactory
) -> None:
    big = Image.frombytes("RGB", (640, 640), os.urandom(640 * 640 * 3))
    buf = io.BytesIO()
    big.save(buf, "PNG")
    data = buf.getvalue()
    assert 1_200_000 <= len(data) < 1_300_000
    with pytest.raises(PermanentError) as info:
        make_pub().publish(make_post(data=data))
    assert f"{len(data):,}" in str(info.value) and "1,000,000" in str(info.value)
    assert fake.requests == []


def test_bad_facet_offsets_are_refused(fake: FakeBluesky, make_pub: PubFactory) -> None:
    # character offsets of the link instead of byte offsets: lands inside the wrong text
    i = CAPTION.index(LINK)
    wrong = (Facet(i, i + len(LINK) + 200, "link", LINK),)
    with pytest.raises(PermanentError, match="UTF-8 byte range"):
        make_pub().publish(make_post(facets=wrong))
    assert fake.posts() == []


def test_missing_handle_is_a_permanent_error(fake: FakeBluesky, make_pub: PubFactory) -> None:
    with pytest.raises(PermanentError, match="'handle' is required"):
        make_pub(handle="").publish(make_post())
    assert fake.requests == []


# -- faults -------------------------------------------------------------------------------------
def test_500_is_transient_then_a_retry_posts_once(fake: FakeBluesky, make_pub: PubFactory) -> None:
    pub = make_pub()
    post = make_post()
    fake.inject(CREATE_RECORD, xrpc(500, "InternalServerError", "Internal Server Error"))
    with pytest.raises(TransientError) as info:
        pub.publish(post)
    assert type(info.value) is TransientError and "500" in str(info.value)
    assert fake.posts() == []
    pub.publish(post)
    assert len(fake.posts()) == 1


def test_500_on_upload_is_transient(fake: FakeBluesky, make_pub: PubFactory) -> None:
    fake.inject(UPLOAD_BLOB, xrpc(502, "UpstreamFailure"))
    with pytest.raises(TransientError):
        make_pub().publish(make_post())
    assert fake.calls(CREATE_RECORD) == 0


def test_429_is_rate_limited_with_the_reset_time(fake: FakeBluesky, make_pub: PubFactory) -> None:
    reset = int(time.time()) + 30
    fake.inject(
        CREATE_RECORD,
        xrpc(
            429,
            "RateLimitExceeded",
            "Rate Limit Exceeded",
            **{"ratelimit-limit": "3000", "ratelimit-remaining": "0"},
            **{"ratelimit-reset": str(reset), "ratelimit-policy": "3000;w=300"},
        ),
    )
    with pytest.raises(RateLimitedError) as info:
        make_pub().publish(make_post())
    assert info.value.retry_after is not None and 27 <= info.value.retry_after <= 31
    assert fake.posts() == []


def test_expired_token_once_heals_by_logging_in_again(
    fake: FakeBluesky, make_pub: PubFactory
) -> None:
    fake.inject(CREATE_RECORD, xrpc(401, "ExpiredToken", "Token has expired"))
    make_pub().publish(make_post())
    assert fake.calls(CREATE_SESSION) == 2
    assert len(fake.posts()) == 1


def test_401_that_persists_is_an_auth_error_naming_the_variable(
    fake: FakeBluesky, make_pub: PubFactory
) -> None:
    fault = xrpc(401, "ExpiredToken", "Token has expired")
    fake.inject(CREATE_RECORD, fault, xrpc(401, "ExpiredToken", "Token has expired"))
    with pytest.raises(AuthError) as info:
        make_pub().publish(make_post())
    assert info.value.credential == "QUOTECAST_BSKY_APP_PASSWORD"
    assert "QUOTECAST_BSKY_APP_PASSWORD" in str(info.value)
    assert fake.posts() == []


def test_wrong_password_is_an_auth_error(fake: FakeBluesky, make_pub: PubFactory) -> None:
    with pytest.raises(AuthError) as info:
        make_pub(password="not-the-password").publish(make_post())
    assert info.value.credential == "QUOTECAST_BSKY_APP_PASSWORD"
    assert "Invalid identifier or password" in str(info.value)
    assert fake.calls(UPLOAD_BLOB) == 0


def test_missing_password_is_an_auth_error(fake: FakeBluesky, make_pub: PubFactory) -> None:
    with pytest.raises(AuthError, match="QUOTECAST_BSKY_APP_PASSWORD"):
        make_pub(password="").publish(make_post())
    assert fake.requests == []


def test_server_down_is_transient(make_pub: PubFactory) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    with pytest.raises(TransientError) as info:
        make_pub(api_base=closed).publish(make_post())
    assert "ConnectError" in str(info.value)


def test_400_invalid_request_is_permanent(fake: FakeBluesky, make_pub: PubFactory) -> None:
    fake.inject(CREATE_RECORD, xrpc(400, "InvalidRequest", "Invalid app.bsky.feed.post record"))
    with pytest.raises(PermanentError) as info:
        make_pub().publish(make_post())
    assert type(info.value) is PermanentError and "InvalidRequest" in str(info.value)


def test_timeout_on_create_is_ambiguous_then_find_finds_it(
    fake: FakeBluesky, make_pub: PubFactory
) -> None:
    pub = make_pub(request_timeout=0.5)
    post = make_post()
    fault = fake.inject(CREATE_RECORD, Fault.slow(1.5))
    with pytest.raises(AmbiguousError):
        pub.publish(post)
    assert fault.done.wait(5)
    receipt = pub.find(post)
    [stored] = fake.posts()
    assert receipt is not None and receipt.remote_id == stored.uri


def test_timeout_on_upload_is_transient(fake: FakeBluesky, make_pub: PubFactory) -> None:
    fake.inject(UPLOAD_BLOB, Fault.slow(1.5, commit=False))
    with pytest.raises(TransientError) as info:
        make_pub(request_timeout=0.5).publish(make_post())
    assert type(info.value) is TransientError
    assert fake.calls(CREATE_RECORD) == 0


def test_reset_after_commit_is_ambiguous_and_find_finds_it(
    fake: FakeBluesky, make_pub: PubFactory
) -> None:
    pub = make_pub()
    post = make_post()
    fake.inject(CREATE_RECORD, Fault.reset_after_commit())
    with pytest.raises(AmbiguousError):
        pub.publish(post)
    receipt = pub.find(post)
    [stored] = fake.posts()
    assert receipt is not None and receipt.remote_id == stored.uri
    assert receipt.url == f"https://bsky.app/profile/{fake.handle}/post/{record_key(post)}"


def test_reset_before_commit_is_ambiguous_find_proves_absence_and_resend_posts_once(
    fake: FakeBluesky, make_pub: PubFactory
) -> None:
    pub = make_pub()
    post = make_post()
    fake.inject(CREATE_RECORD, Fault.reset_before_commit())
    with pytest.raises(AmbiguousError):
        pub.publish(post)
    assert pub.find(post) is None
    assert BlueskyPublisher.find_is_authoritative and BlueskyPublisher.retry_is_idempotent
    pub.publish(post)
    assert len(fake.posts()) == 1


def test_same_rkey_twice_is_a_duplicate_then_find_resolves_it(
    fake: FakeBluesky, make_pub: PubFactory
) -> None:
    pub = make_pub()
    post = make_post()
    first = pub.publish(post)
    with pytest.raises(DuplicateError):
        pub.publish(post)
    found = pub.find(post)
    assert found is not None and found.remote_id == first.remote_id
    assert len(fake.posts()) == 1


def test_held_create_then_resend_posts_exactly_once(
    fake: FakeBluesky, make_pub: PubFactory
) -> None:
    """A create stuck in the network past the timeout, then a resend: the rkey keeps it single."""
    pub = make_pub(request_timeout=0.5)
    post = make_post()
    release = threading.Event()
    fault = fake.inject(CREATE_RECORD, Fault.held(release))
    with pytest.raises(AmbiguousError):
        pub.publish(post)
    assert fault.arrived.is_set()
    assert pub.find(post) is None  # not stored yet
    receipt = pub.publish(post)  # the resend lands first
    release.set()
    assert fault.done.wait(5)  # the held create then hits the taken rkey
    [stored] = fake.posts()
    assert stored.uri == receipt.remote_id


def test_find_returns_none_for_a_post_never_made(fake: FakeBluesky, make_pub: PubFactory) -> None:
    pub = make_pub()
    pub.publish(make_post("other"))
    assert pub.find(make_post("never-sent")) is None
    assert fake.calls(GET_RECORD) == 1


def test_find_spots_the_same_text_posted_by_hand(fake: FakeBluesky, make_pub: PubFactory) -> None:
    """A person posted the card themselves (a clock TID rkey): find recognises text and alt."""
    post = make_post()
    other = make_pub()
    other.publish(make_post("warm-up"))  # logs in and leaves a quotecast record around
    uploaded = next(iter(fake.blobs))
    record = {
        "$type": "app.bsky.feed.post",
        "text": CAPTION,
        "createdAt": "2025-05-01T08:00:00.000Z",
        "embed": {
            "$type": "app.bsky.embed.images",
            "images": [
                {
                    "alt": ALT,
                    "image": {
                        "$type": "blob",
                        "ref": {"$link": uploaded},
                        "mimeType": "image/png",
                        "size": len(fake.blobs[uploaded][1]),
                    },
                }
            ],
        },
    }
    by_hand = fake.put(record)
    found = make_pub(session_cache=False).find(post)
    assert found is not None and found.remote_id == by_hand.uri
    assert found.url == f"https://bsky.app/profile/{fake.handle}/post/{by_hand.rkey}"
    assert found.posted_at.year == 2025
    # the same text under another quotecast key (another item) is not taken for this post
    fake.reset()
    make_pub(session_cache=False).publish(make_post("evergreen-repost"))
    assert make_pub(session_cache=False).find(post) is None


# -- secrets ------------------------------------------------------------------------------------
def test_canary_secret_never_in_logs_or_errors(
    fake: FakeBluesky,
    make_pub: PubFactory,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    caplog.set_level(logging.DEBUG)
    texts: list[str] = []

    def attempt(fn: Callable[[], object]) -> None:
        try:
            fn()
        except PublishError as exc:
            texts.append("".join(traceback.format_exception(exc)))

    post = make_post()
    attempt(lambda: make_pub(password=CANARY + "-wrong").publish(post))
    fake.inject(CREATE_SESSION, Fault.reset_before_commit())
    attempt(lambda: make_pub(session_cache=False).publish(post))
    fake.inject(CREATE_RECORD, xrpc(500, "InternalServerError"))
    attempt(lambda: make_pub().publish(post))
    fake.inject(CREATE_RECORD, xrpc(401, "ExpiredToken"), xrpc(401, "ExpiredToken"))
    attempt(lambda: make_pub().publish(post))
    make_pub().publish(post)
    attempt(lambda: make_pub().publish(post))  # duplicate

    assert len(texts) == 5
    assert fake.calls(CREATE_SESSION) >= 2
    out = capsys.readouterr()
    everything = "\n".join([*texts, caplog.text, out.out, out.err])
    assert any(r.levelno == logging.DEBUG and r.name.startswith("http") for r in caplog.records)
    assert CANARY not in everything
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert CANARY.encode() not in path.read_bytes(), path
