"""WebhookPublisher through requests against a sink that verifies the HMAC signature."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Iterator

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
from pipeline.publishers.webhook import WebhookPublisher, sign
from tests.fakes import CANARY, Fault, make_post, noise_png
from tests.fakes.webhook_sink import WebhookSink

HOOK = "POST /hook"
SECRET = f"{CANARY}-signing"


def context(sink: WebhookSink, *, secret: str | None = SECRET, **options: object) -> TargetContext:
    secrets = {"signing_secret": SecretStr(secret)} if secret is not None else {}
    return TargetContext(
        name="hook",
        network="webhook",
        options={"url": f"{sink.url}/hook", "request_timeout": 2.0, **options},
        secrets=secrets,
    )


@pytest.fixture
def sink() -> Iterator[WebhookSink]:
    with WebhookSink(secret=SECRET) as server:
        yield server


@pytest.fixture
def publisher(sink: WebhookSink) -> Iterator[WebhookPublisher]:
    pub = WebhookPublisher(context(sink))
    yield pub
    pub.close()


@pytest.fixture
def post() -> Post:
    return make_post(target="hook", network="webhook")


def test_multipart_delivery_is_exact_and_signed(
    sink: WebhookSink, publisher: WebhookPublisher, post: Post
) -> None:
    receipt = publisher.publish(post)

    assert sink.signature_failures == 0
    assert len(sink.posts) == 1
    delivery = sink.posts[0]
    assert delivery.image == post.card.data
    assert delivery.image_mime == "image/png"
    assert delivery.payload["caption"] == post.caption
    assert delivery.payload["alt_text"] == post.alt_text
    assert delivery.payload["link"] == post.link
    assert delivery.payload["image"]["sha256"] == post.card.sha256
    assert delivery.idempotency_key == post.idempotency_key
    # the receiver can verify the signature over the exact body it got
    expected = "sha256=" + hmac.new(SECRET.encode(), delivery.body, hashlib.sha256).hexdigest()
    assert delivery.signature == expected
    assert receipt.remote_id == delivery.id
    assert receipt.url == f"{sink.url}/messages/{delivery.id}"


def test_a_wrong_signing_secret_is_refused_and_names_the_variable(
    sink: WebhookSink, post: Post
) -> None:
    pub = WebhookPublisher(context(sink, secret="some-other-secret"))

    with pytest.raises(AuthError) as info:
        pub.publish(post)

    assert sink.signature_failures == 1
    assert sink.posts == []
    assert info.value.credential == "QUOTECAST_HOOK_SIGNING_SECRET"
    assert "QUOTECAST_HOOK_SIGNING_SECRET" in str(info.value)


def test_unsigned_delivery_has_no_signature_header(post: Post) -> None:
    with WebhookSink(secret=None) as sink:
        WebhookPublisher(context(sink, secret=None)).publish(post)

        assert sink.posts[0].signature is None
        assert sink.posts[0].image == post.card.data


def test_configured_headers_are_sent_but_cannot_break_the_body(sink: WebhookSink) -> None:
    headers = {"X-Team": "social", "Content-Type": "text/plain"}
    WebhookPublisher(context(sink, headers=headers)).publish(make_post())

    request = sink.requests_to(HOOK)[0]
    assert request.header("X-Team") == "social"
    assert request.header("Content-Type").startswith("multipart/form-data; boundary=")
    assert len(sink.posts) == 1


def test_image_url_mode_sends_signed_json(sink: WebhookSink) -> None:
    pub = WebhookPublisher(context(sink, image="url", image_base_url="https://cdn.example.com/c"))
    post = make_post(slug="q1")

    pub.publish(post)

    delivery = sink.posts[0]
    assert delivery.image is None
    assert delivery.payload["image"]["url"] == "https://cdn.example.com/c/q1.png"
    assert json.loads(delivery.body) == delivery.payload
    assert delivery.signature == sign(SECRET, delivery.body)


def test_image_url_mode_without_a_url_is_permanent(sink: WebhookSink, post: Post) -> None:
    with pytest.raises(PermanentError, match="image_base_url"):
        WebhookPublisher(context(sink, image="url")).publish(post)
    assert sink.requests == []


def test_empty_answer_gives_a_receipt_from_the_key(post: Post) -> None:
    with WebhookSink(secret=SECRET, respond_empty=True) as sink:
        pub = WebhookPublisher(context(sink))
        first = pub.publish(post)
        again = pub.publish(post)

        assert first.remote_id.startswith("webhook-")
        assert first.remote_id == again.remote_id
        assert first.url is None
        other = pub.publish(make_post(slug="other"))
        assert other.remote_id != first.remote_id


def test_500_is_transient(sink: WebhookSink, publisher: WebhookPublisher, post: Post) -> None:
    sink.inject(HOOK, Fault.error(500, {"error": "boom"}))

    with pytest.raises(TransientError) as info:
        publisher.publish(post)
    assert not isinstance(info.value, AmbiguousError)
    assert sink.posts == []

    publisher.publish(post)
    assert len(sink.posts) == 1


def test_429_honours_retry_after(sink: WebhookSink, publisher: WebhookPublisher) -> None:
    sink.inject(HOOK, Fault.error(429, {"error": "slow down"}, {"Retry-After": "12"}))

    with pytest.raises(RateLimitedError) as info:
        publisher.publish(make_post())

    assert info.value.retry_after == 12.0


@pytest.mark.parametrize(
    ("status", "kind"), [(400, PermanentError), (413, PermanentError), (409, DuplicateError)]
)
def test_other_statuses(
    sink: WebhookSink, publisher: WebhookPublisher, status: int, kind: type[PublishError]
) -> None:
    sink.inject(HOOK, Fault.error(status, {"error": "no"}))

    with pytest.raises(kind) as info:
        publisher.publish(make_post())

    assert not isinstance(info.value, AuthError | TransientError)
    assert str(status) in str(info.value)


def test_timeout_is_ambiguous(sink: WebhookSink, post: Post) -> None:
    pub = WebhookPublisher(context(sink, request_timeout=0.5))
    fault = sink.inject(HOOK, Fault.slow(1.5))

    with pytest.raises(AmbiguousError):
        pub.publish(post)

    assert fault.done.wait(5)
    assert len(sink.posts) == 1


def test_reset_after_commit_is_ambiguous_and_a_resend_is_deduplicated(
    sink: WebhookSink, post: Post
) -> None:
    pub = WebhookPublisher(context(sink, honours_idempotency_key=True))
    sink.inject(HOOK, Fault.reset_after_commit())

    with pytest.raises(AmbiguousError) as info:
        pub.publish(post)
    assert "may have received it" in str(info.value)
    assert len(sink.posts) == 1

    receipt = pub.publish(post)  # same Idempotency-Key: the sink answers the first delivery
    assert receipt.remote_id == sink.posts[0].id
    assert len(sink.posts) == 1
    assert pub.retry_is_idempotent is True
    assert WebhookPublisher.retry_is_idempotent is False


def test_connection_refused_is_transient(post: Post) -> None:
    with WebhookSink() as sink:
        ctx = context(sink)
    with pytest.raises(TransientError) as info:
        WebhookPublisher(ctx).publish(post)
    assert not isinstance(info.value, AmbiguousError)


def test_oversized_image_is_refused_without_any_request(sink: WebhookSink) -> None:
    pub = WebhookPublisher(context(sink, image_max_bytes=5 * 1024 * 1024))
    big = make_post(image=noise_png(6 * 1024 * 1024))

    with pytest.raises(PermanentError) as info:
        pub.publish(big)

    assert f"{len(big.card.data):,} bytes" in str(info.value)
    assert sink.requests == []


def test_find_is_not_supported(publisher: WebhookPublisher, post: Post) -> None:
    assert publisher.find(post) is None
    assert WebhookPublisher.find_is_authoritative is False


def test_missing_url_is_permanent(post: Post) -> None:
    ctx = TargetContext(name="hook", network="webhook")
    with pytest.raises(PermanentError, match="needs option url"):
        WebhookPublisher(ctx).publish(post)


def test_canary_secrets_never_leak(
    sink: WebhookSink, post: Post, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret_url = f"{sink.url}/hook?token={CANARY}-url"
    ctx = context(sink, request_timeout=0.5)
    ctx.secrets = {**ctx.secrets, "url": SecretStr(secret_url)}
    pub = WebhookPublisher(ctx)
    errors: list[PublishError] = []
    pub.publish(post)
    for fault in [
        Fault.error(500),
        Fault.error(401),
        Fault.error(429, headers={"Retry-After": "1"}),
        Fault.reset_after_commit(),
        Fault.slow(1.0),
    ]:
        sink.inject(HOOK, fault)
        with pytest.raises(PublishError) as info:
            pub.publish(make_post(slug=f"fail-{len(errors)}"))
        errors.append(info.value)
    time.sleep(0.6)

    assert sink.requests[0].raw_query == f"token={CANARY}-url"  # the secret URL was used
    assert "[redacted]" in caplog.text  # urllib3 logged the request line, redacted
    assert CANARY not in caplog.text
    for error in errors:
        assert CANARY not in str(error)
        assert CANARY not in repr(error)
