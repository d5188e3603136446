"""Webhook publisher: POST the post to a URL (Slack, Discord, Zapier, Make, your own).

Body: multipart with a `payload` JSON part and an `image` file part, or (option
`image = "url"`) JSON that points at the image. The body is built first and then signed, so
`X-Quotecast-Signature: sha256=<hex HMAC-SHA256 of the exact body>` is verifiable by the
receiver; the timestamp is inside the signed payload and mirrored in
`X-Quotecast-Timestamp`, and the ledger's `Idempotency-Key` lets a receiver drop replays.

Endpoints give no way to look a post up, so find() is not supported. The URL itself may be
a credential (Slack, Discord): it can come from the secret `url` and is then kept out of
messages and of urllib3's request-line DEBUG logs.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import urlsplit

import requests
from pydantic import BaseModel

from pipeline.posts import Post, Receipt
from pipeline.publishers.base import (
    AmbiguousError,
    AuthError,
    DuplicateError,
    Limits,
    PermanentError,
    Publisher,
    PublishError,
    RateLimitedError,
    TargetContext,
    TransientError,
    secret_env_name,
)
from pipeline.publishers.net import maybe_sent as _maybe_sent
from pipeline.publishers.net import retry_after as retry_after_header
from pipeline.publishers.options import WebhookOptions

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Quotecast-Signature"
TIMESTAMP_HEADER = "X-Quotecast-Timestamp"


class _Redactor(logging.Filter):
    """Replaces secret URL parts in urllib3's request-line DEBUG records."""

    def __init__(self) -> None:
        super().__init__()
        self.values: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if self.values:
            message = record.getMessage()
            cleaned = message
            for value in sorted(self.values, key=len, reverse=True):
                cleaned = cleaned.replace(value, "[redacted]")
            if cleaned != message:
                record.msg, record.args = cleaned, None
        return True


_REDACTOR = _Redactor()
logging.getLogger("urllib3.connectionpool").addFilter(_REDACTOR)


def sign(secret: str, body: bytes) -> str:
    """The signature header value for `body`; receivers recompute and compare it."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


class WebhookPublisher(Publisher):
    """Sends each post to one HTTP endpoint, once per publish() call."""

    network: ClassVar[str] = "webhook"
    options_model: ClassVar[type[BaseModel] | None] = WebhookOptions
    limits: ClassVar[Limits] = Limits(
        caption_max=10_000,
        caption_counter="chars",
        image_max_bytes=25 * 1024 * 1024,
        alt_text_max=5000,
    )
    secret_names: ClassVar[tuple[str, ...]] = ("signing_secret", "url")
    find_is_authoritative: ClassVar[bool] = False

    def __init__(self, ctx: TargetContext) -> None:
        super().__init__(ctx)
        options = ctx.options
        self._option_url = str(options.get("url") or "")
        headers = dict(options.get("headers") or {})
        # the body's own Content-Type (multipart boundary) must win over configured headers
        self._headers = {str(k): str(v) for k, v in headers.items() if k.lower() != "content-type"}
        self._image_mode = str(options.get("image", "multipart"))
        self._image_base_url = str(options.get("image_base_url") or "").rstrip("/")
        self._timeout = float(options.get("request_timeout", options.get("timeout", 30.0)))
        if options.get("honours_idempotency_key"):
            # the endpoint drops repeated Idempotency-Keys, so sending again cannot duplicate
            setattr(self, "retry_is_idempotent", True)  # noqa: B010 - this instance only
        if "image_max_bytes" in options:
            limits = replace(type(self).limits, image_max_bytes=int(options["image_max_bytes"]))
            setattr(self, "limits", limits)  # noqa: B010 - per-target limit, this instance only
        self._session = requests.Session()

    # -- public interface ----------------------------------------------------------------------
    def publish(self, post: Post) -> Receipt:
        url, shown = self._url()
        self.limits.refuse("webhook", post)
        timestamp = str(int(time.time()))
        payload = self._payload(post, timestamp)
        headers = {
            "User-Agent": "quotecast-webhook",
            **self._headers,
            "Idempotency-Key": post.idempotency_key,
            TIMESTAMP_HEADER: timestamp,
        }
        if self._image_mode == "url":
            request = requests.Request("POST", url, headers=headers, json=payload)
        else:
            files = {
                "payload": (None, json.dumps(payload).encode("utf-8"), "application/json"),
                "image": (payload["image"]["filename"], post.card.data, post.card.mime),
            }
            request = requests.Request("POST", url, headers=headers, files=files)
        prepared = self._session.prepare_request(request)
        secret = self._secret("signing_secret")
        if secret:
            body = prepared.body if isinstance(prepared.body, bytes) else b""
            prepared.headers[SIGNATURE_HEADER] = sign(secret, body)
        try:
            response = self._session.send(prepared, timeout=self._timeout, allow_redirects=False)
        except requests.RequestException as exc:
            error = self._network(exc, shown)
            if self._secret("url"):  # urllib3's messages quote the URL: keep it out of the chain
                raise error from None
            raise error from exc
        if not 200 <= response.status_code < 300:
            raise self._from_status(response, shown, bool(secret))
        log.info("webhook: delivered %s/%s to %s", post.slug, post.target, shown)
        return self._receipt(post, response)

    def find(self, post: Post) -> Receipt | None:
        """Not supported: a webhook endpoint cannot be asked what it received."""
        return None

    def close(self) -> None:
        self._session.close()

    # -- steps ---------------------------------------------------------------------------------
    def _url(self) -> tuple[str, str]:
        """The endpoint, and how to name it in messages (host only: paths can hold tokens)."""
        secret_url = self._secret("url")
        url = secret_url or self._option_url
        if not url:
            raise PermanentError(
                f"webhook: target {self.ctx.name!r} needs option url "
                f"(or {secret_env_name(self.ctx.name, 'url')} when the URL is a credential)"
            )
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise PermanentError(f"webhook: target {self.ctx.name!r}: url must be http(s)")
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        if secret_url and len(target) >= 8:
            _REDACTOR.values.add(target)  # urllib3 logs the request target at DEBUG
        return url, f"{parts.scheme}://{parts.netloc}"

    def _secret(self, key: str) -> str | None:
        value = self.ctx.secrets.get(key)
        return value.get_secret_value() if value is not None else None

    def _payload(self, post: Post, timestamp: str) -> dict[str, Any]:
        card = post.card
        image: dict[str, Any] = {
            "filename": f"{post.slug}.{card.extension}",
            "mime": card.mime,
            "width": card.width,
            "height": card.height,
            "bytes": len(card.data),
            "sha256": card.sha256,
        }
        if self._image_mode == "url":
            image["url"] = self._image_url(post)
        elif self._image_mode != "multipart":
            raise PermanentError("webhook: option image must be 'multipart' or 'url'")
        return {
            "slug": post.slug,
            "target": post.target,
            "caption": post.caption,
            "alt_text": post.alt_text,
            "link": post.link,
            "image": image,
            "idempotency_key": post.idempotency_key,
            "fingerprint": post.fingerprint,
            "timestamp": int(timestamp),
        }

    def _image_url(self, post: Post) -> str:
        url = post.extra.get("image_url")
        if url:
            return str(url)
        if self._image_base_url:
            return f"{self._image_base_url}/{post.slug}.{post.card.extension}"
        raise PermanentError(
            "webhook: image = 'url' needs post.extra['image_url'] or option image_base_url"
        )

    def _receipt(self, post: Post, response: requests.Response) -> Receipt:
        try:
            body = response.json() if response.content else {}
        except ValueError:
            body = {}
        body = body if isinstance(body, dict) else {}
        remote_id = body.get("id")
        if remote_id in (None, ""):
            digest = hashlib.sha256(post.idempotency_key.encode()).hexdigest()[:24]
            remote_id = f"webhook-{digest}"
        url = body.get("url")
        return Receipt(str(remote_id), str(url) if url else None, datetime.now(UTC))

    def _from_status(self, response: requests.Response, shown: str, signed: bool) -> PublishError:
        status = response.status_code
        what = f"delivering to {shown}"
        if status == 429:
            retry_after = _retry_after(response.headers)
            when = f"; retry in {retry_after:.0f}s" if retry_after is not None else ""
            return RateLimitedError(f"webhook: rate limited while {what}{when}", retry_after)
        if status in (401, 403):
            name = secret_env_name(self.ctx.name, "signing_secret") if signed else None
            hint = f"check {name}" if name else "check the url and option headers"
            return AuthError(f"webhook: refused ({status}) while {what}; {hint}", credential=name)
        if status == 409:
            return DuplicateError(f"webhook: endpoint reports a duplicate (409) while {what}")
        if status >= 500 or status == 408:
            return TransientError(f"webhook: server error {status} while {what}")
        return PermanentError(f"webhook: refused with {status} while {what}")

    def _network(self, exc: Exception, shown: str) -> PublishError:
        kind = type(exc).__name__
        if _maybe_sent(exc):
            return AmbiguousError(
                f"webhook: connection lost ({kind}) while delivering to {shown}; "
                "the endpoint may have received it"
            )
        return TransientError(f"webhook: connection failed ({kind}) to {shown}")


def _retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds from Retry-After (seconds or HTTP date), else X-RateLimit-Reset (epoch)."""
    if headers.get("Retry-After"):
        return retry_after_header(headers)  # an unreadable Retry-After does not fall back
    reset = headers.get("X-RateLimit-Reset")
    if reset:
        try:
            return max(0.0, float(reset) - time.time())
        except ValueError:
            return None
    return None


__all__ = ["SIGNATURE_HEADER", "TIMESTAMP_HEADER", "WebhookPublisher", "sign"]
