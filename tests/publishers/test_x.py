"""XPublisher through real tweepy + requests-oauthlib against the signature-checking fake."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

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
from pipeline.publishers.x import XPublisher
from tests.fakes import CANARY, Fault, make_post, noise_png
from tests.fakes.x_api import DUPLICATE_DETAIL, FakeX, XCredentials, problem

CREATE = "POST /2/tweets"
UPLOAD = "POST /2/media/upload"
METADATA = "POST /2/media/metadata"
ME = "GET /2/users/me"
ROOT = Path(__file__).resolve().parents[2]


def canary_credentials() -> XCredentials:
    return XCredentials(
        consumer_key=f"{CANARY}-api-key",
        consumer_secret=f"{CANARY}-api-secret",
        access_token=f"{CANARY}-access-token",
        access_token_secret=f"{CANARY}-access-token-secret",
    )


def context(fake: FakeX, *, api_secret: str | None = None, **options: object) -> TargetContext:
    creds = fake.credentials
    secrets = {
        "api_key": creds.consumer_key,
        "api_secret": api_secret or creds.consumer_secret,
        "access_token": creds.access_token,
        "access_token_secret": creds.access_token_secret,
    }
    return TargetContext(
        name="x",
        network="x",
        options={"api_base": fake.url, "request_timeout": 2.0, **options},
        secrets={k: SecretStr(v) for k, v in secrets.items()},
    )


@pytest.fixture
def fake() -> Iterator[FakeX]:
    with FakeX(credentials=canary_credentials()) as server:
        yield server


@pytest.fixture
def publisher(fake: FakeX) -> Iterator[XPublisher]:
    pub = XPublisher(context(fake))
    yield pub
    pub.close()


@pytest.fixture
def post() -> Post:
    return make_post()


def test_publish_sends_caption_alt_text_and_image_exactly(
    fake: FakeX, publisher: XPublisher, post: Post
) -> None:
    receipt = publisher.publish(post)

    assert len(fake.posts) == 1
    stored = fake.posts[0]
    assert stored.submitted_text == post.caption
    assert len(stored.media) == 1
    assert stored.media[0].data == post.card.data
    assert stored.media[0].alt_text == post.alt_text
    assert stored.media[0].category == "tweet_image"
    assert stored.media[0].mime == "image/png"
    assert receipt.remote_id == stored.id
    assert receipt.url == f"https://x.com/{fake.username}/status/{stored.id}"
    assert receipt.posted_at.tzinfo is not None
    assert fake.auth_failures == 0


def test_every_request_is_signed_for_the_public_url(fake: FakeX, publisher: XPublisher) -> None:
    publisher.publish(make_post())

    routes = [r.route for r in fake.requests]
    assert routes == [ME, UPLOAD, METADATA, CREATE]
    assert all(r.header("Authorization").startswith("OAuth ") for r in fake.requests)
    assert fake.auth_failures == 0


def test_bad_signature_is_an_auth_error(fake: FakeX, post: Post) -> None:
    pub = XPublisher(context(fake, api_secret="not-the-secret"))

    with pytest.raises(AuthError) as info:
        pub.publish(post)

    assert fake.auth_failures == 1
    assert fake.posts == []
    assert "QUOTECAST_X_API_SECRET" in str(info.value)


def test_401_names_the_environment_variables(fake: FakeX, publisher: XPublisher) -> None:
    fake.inject(ME, Fault.error(401, problem(401, "Unauthorized", "Unauthorized").body))

    with pytest.raises(AuthError) as info:
        publisher.publish(make_post())

    message = str(info.value)
    for name in ("API_KEY", "API_SECRET", "ACCESS_TOKEN", "ACCESS_TOKEN_SECRET"):
        assert f"QUOTECAST_X_{name}" in message
    assert info.value.credential is not None
    assert "QUOTECAST_X_ACCESS_TOKEN" in info.value.credential
    assert fake.requests_to(UPLOAD) == []


def test_missing_secret_is_an_auth_error_before_any_request(fake: FakeX, post: Post) -> None:
    ctx = context(fake)
    ctx.secrets = {k: v for k, v in ctx.secrets.items() if k != "access_token_secret"}

    with pytest.raises(AuthError) as info:
        XPublisher(ctx).publish(post)

    assert info.value.credential == "QUOTECAST_X_ACCESS_TOKEN_SECRET"
    assert fake.requests == []


def test_500_is_transient_then_the_next_attempt_posts(
    fake: FakeX, publisher: XPublisher, post: Post
) -> None:
    fake.inject(CREATE, Fault.error(503, problem(503, "Service Unavailable", "Over capacity").body))

    with pytest.raises(TransientError) as info:
        publisher.publish(post)
    assert not isinstance(info.value, AmbiguousError)
    assert "503" in str(info.value)
    assert fake.posts == []

    receipt = publisher.publish(post)
    assert [p.id for p in fake.posts] == [receipt.remote_id]


def test_429_on_create_gives_retry_after_from_the_reset_header(
    fake: FakeX, publisher: XPublisher, post: Post
) -> None:
    reset = int(time.time()) + 120
    fake.inject(
        CREATE,
        Fault.error(
            429,
            problem(429, "Too Many Requests", "Too Many Requests").body,
            {"x-rate-limit-reset": str(reset), "x-rate-limit-remaining": "0"},
        ),
    )

    with pytest.raises(RateLimitedError) as info:
        publisher.publish(post)

    assert info.value.retry_after is not None
    assert 110 <= info.value.retry_after <= 121
    assert fake.posts == []


def test_429_on_upload_honours_retry_after(fake: FakeX, publisher: XPublisher) -> None:
    fake.inject(UPLOAD, Fault.error(429, {"title": "Too Many Requests"}, {"Retry-After": "7"}))

    with pytest.raises(RateLimitedError) as info:
        publisher.publish(make_post())

    assert info.value.retry_after == 7.0


def test_timeout_on_create_is_ambiguous_and_find_then_finds_the_post(
    fake: FakeX, post: Post
) -> None:
    pub = XPublisher(context(fake, request_timeout=0.5))
    fault = fake.inject(CREATE, Fault.slow(1.5))

    with pytest.raises(AmbiguousError):
        pub.publish(post)
    assert fault.done.wait(5)

    found = pub.find(post)
    assert found is not None
    assert len(fake.posts) == 1
    assert found.remote_id == fake.posts[0].id
    assert found.url == f"https://x.com/{fake.username}/status/{fake.posts[0].id}"


def test_timeout_before_the_create_step_is_transient_not_ambiguous(fake: FakeX, post: Post) -> None:
    pub = XPublisher(context(fake, request_timeout=0.5))
    fault = fake.inject(UPLOAD, Fault.slow(1.5))

    with pytest.raises(TransientError) as info:
        pub.publish(post)

    assert not isinstance(info.value, AmbiguousError)
    assert fault.done.wait(5)
    assert fake.posts == []


def test_reset_after_commit_is_ambiguous_and_find_finds_it(
    fake: FakeX, publisher: XPublisher, post: Post
) -> None:
    fake.inject(CREATE, Fault.reset_after_commit())

    with pytest.raises(AmbiguousError) as info:
        publisher.publish(post)

    assert "may have gone out" in str(info.value)
    assert len(fake.posts) == 1
    found = publisher.find(post)
    assert found is not None and found.remote_id == fake.posts[0].id


def test_connection_refused_is_transient() -> None:
    with FakeX() as fake:
        ctx = context(fake)
    # the server is stopped: nothing listens on that port any more
    with pytest.raises(TransientError) as info:
        XPublisher(ctx).publish(make_post())
    assert not isinstance(info.value, AmbiguousError)


def test_duplicate_is_reported_and_find_finds_the_original(
    fake: FakeX, publisher: XPublisher, post: Post
) -> None:
    original = publisher.publish(post)

    with pytest.raises(DuplicateError) as info:
        publisher.publish(post)

    assert DUPLICATE_DETAIL in str(info.value)
    assert len(fake.posts) == 1
    found = publisher.find(post)
    assert found is not None
    assert found.remote_id == original.remote_id


def test_find_tells_posts_apart(fake: FakeX, publisher: XPublisher) -> None:
    mine = make_post(slug="one", caption="First quote https://example.com/one #q")
    other = make_post(slug="two", caption="Second quote https://example.com/two #q")
    same_words_other_link = make_post(slug="three", caption="First quote https://example.com/x #q")

    assert publisher.find(mine) is None
    receipt = publisher.publish(mine)

    assert publisher.find(other) is None
    assert publisher.find(same_words_other_link) is None
    found = publisher.find(mine)
    assert found is not None and found.remote_id == receipt.remote_id


def test_6_mb_image_is_refused_without_any_request(fake: FakeX, publisher: XPublisher) -> None:
    big = make_post(image=noise_png(6 * 1024 * 1024))

    with pytest.raises(PermanentError) as info:
        publisher.publish(big)

    message = str(info.value)
    assert f"{len(big.card.data):,} bytes" in message
    assert "5,242,880 bytes" in message
    assert fake.requests == []


def test_413_from_upload_is_permanent(fake: FakeX, publisher: XPublisher) -> None:
    fake.inject(UPLOAD, Fault.error(413, {"title": "Payload Too Large"}))

    with pytest.raises(PermanentError) as info:
        publisher.publish(make_post())

    assert not isinstance(info.value, AuthError)
    assert "413" in str(info.value)
    assert fake.requests_to(CREATE) == []


def test_limits_describe_x() -> None:
    limits = XPublisher.limits
    assert (limits.caption_max, limits.caption_counter) == (280, "x_weighted")
    assert (limits.image_max_bytes, limits.alt_text_max) == (5_242_880, 1000)
    assert XPublisher.find_is_authoritative is False


def test_canary_secret_never_leaks_into_errors_or_debug_logs(
    fake: FakeX, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    errors: list[PublishError] = []
    pub = XPublisher(context(fake, request_timeout=0.5))
    pub.publish(make_post(slug="ok"))
    pub.find(make_post(slug="ok"))
    for route, fault in [
        (CREATE, Fault.error(500, {"title": "boom"})),
        (CREATE, Fault.error(429, {"title": "slow down"}, {"x-rate-limit-reset": "1"})),
        (UPLOAD, Fault.error(401, {"title": "Unauthorized"})),
        (CREATE, Fault.reset_after_commit()),
        (CREATE, Fault.slow(1.0)),
    ]:
        fake.inject(route, fault)
        with pytest.raises(PublishError) as info:
            pub.publish(make_post(slug=f"fail-{len(errors)}", caption=f"Quote {len(errors)}"))
        errors.append(info.value)
    bad = XPublisher(context(fake, api_secret=f"{CANARY}-wrong"))
    with pytest.raises(AuthError) as auth_info:
        bad.publish(make_post(slug="bad"))
    errors.append(auth_info.value)
    time.sleep(0.6)  # let the slow request finish on the server side

    assert "[redacted]" in caplog.text  # the OAuth libraries did log, and were redacted
    assert CANARY not in caplog.text
    for error in errors:
        assert CANARY not in str(error)
        assert CANARY not in repr(error)


CHILD = """
import sys
from pydantic import SecretStr
from pipeline.publishers.base import TargetContext
from pipeline.publishers.x import XPublisher
from tests.fakes import make_post

url, key, secret, token, token_secret = sys.argv[1:6]
values = dict(api_key=key, api_secret=secret, access_token=token, access_token_secret=token_secret)
ctx = TargetContext("x", "x", {"api_base": url}, {k: SecretStr(v) for k, v in values.items()})
XPublisher(ctx).publish(make_post())
"""


def test_held_request_survives_a_killed_client_and_find_settles_it(fake: FakeX) -> None:
    """The pattern crash tests use: the client dies mid-request, the network still posts."""
    release = threading.Event()
    fault = fake.inject(CREATE, Fault.held(release))
    c = fake.credentials
    secrets = [c.consumer_key, c.consumer_secret, c.access_token, c.access_token_secret]
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, fake.url, *secrets],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert fault.arrived.wait(30), "the child never reached POST /2/tweets"
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
    finally:
        if child.poll() is None:
            child.kill()
    assert fake.posts == []  # nothing stored while held

    release.set()
    assert fault.done.wait(10)

    assert len(fake.posts) == 1
    found = XPublisher(context(fake)).find(make_post())
    assert found is not None and found.remote_id == fake.posts[0].id
