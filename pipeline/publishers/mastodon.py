"""Mastodon publisher through Mastodon.py: media with description, then the status.

The status carries the ledger's deterministic Idempotency-Key, so a retry after a lost
answer returns the status already made instead of a second one. Mastodon.py is told to
raise on rate limits (we retry ourselves, honouring the reset time) and is given the
instance version up front, so it never guesses an old version and falls back to the
deprecated v1 media endpoint when a version probe fails.
"""

from __future__ import annotations

import html
import logging
import re
import time
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, ClassVar

import requests
from mastodon import Mastodon
from mastodon.errors import (
    MastodonAPIError,
    MastodonError,
    MastodonNetworkError,
    MastodonRatelimitError,
)
from pydantic import BaseModel

from pipeline.posts import Post, Receipt
from pipeline.publishers.base import (
    AmbiguousError,
    AuthError,
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
from pipeline.publishers.options import MastodonOptions

log = logging.getLogger(__name__)

_URL_RE = re.compile(r"https?://[^\s<>\"']+")
_HREF_RE = re.compile(r'href="([^"]+)"')
_TAG_RE = re.compile(r"<[^>]+>")
_BREAK_RE = re.compile(r"<br\s*/?>|</p>\s*<p>", re.IGNORECASE)
_URL_TRAILING = ".,;:!?)]}'\""


class MastodonPublisher(Publisher):
    """Posts a card with description and caption to one Mastodon account."""

    network: ClassVar[str] = "mastodon"
    options_model: ClassVar[type[BaseModel] | None] = MastodonOptions
    limits: ClassVar[Limits] = Limits(
        caption_max=500,
        caption_counter="mastodon",
        image_max_bytes=16 * 1024 * 1024,
        alt_text_max=1500,
    )
    secret_names: ClassVar[tuple[str, ...]] = ("access_token",)
    #: recent statuses are a hint, not proof: a miss means "cannot tell"
    find_is_authoritative: ClassVar[bool] = False
    #: the status carries the ledger's Idempotency-Key: sending again returns the status
    #: already made instead of a second one — but only while Mastodon remembers the key.
    #: "Idempotency keys are stored for up to 1 hour" (https://docs.joinmastodon.org/methods/
    #: statuses/, Idempotency-Key header); Mastodon's PostStatusService keeps it in Redis with
    #: a 3600 s expiry from when the status was made, which is after our first send. Five
    #: minutes are kept back for clock drift between this machine and the ledger's writers.
    retry_is_idempotent: ClassVar[bool] = True
    idempotency_window: ClassVar[float | None] = 3600.0 - 300.0

    def __init__(self, ctx: TargetContext) -> None:
        super().__init__(ctx)
        options = ctx.options
        self._api_base = str(options.get("api_base") or "").rstrip("/")
        self._timeout = float(options.get("request_timeout", options.get("timeout", 30.0)))
        self._version = str(options.get("mastodon_version", "4.0.0"))
        self._visibility = options.get("visibility")
        self._poll_interval = float(options.get("media_poll_interval", 1.0))
        self._media_wait = float(options.get("media_wait_max", 60.0))
        self._find_depth = min(40, max(1, int(options.get("find_depth", 40))))
        caption_max = int(options.get("caption_max", type(self).limits.caption_max))
        if caption_max != type(self).limits.caption_max:
            # instances set their own limit; expose it where captions look (this instance only)
            setattr(self, "limits", replace(type(self).limits, caption_max=caption_max))  # noqa: B010
        self._api_obj: Mastodon | None = None
        self._last: requests.Response | None = None

    # -- public interface ----------------------------------------------------------------------
    def publish(self, post: Post) -> Receipt:
        self.limits.refuse("mastodon", post)
        api = self._api()
        media_id = self._upload(api, post)
        what = "creating the status"
        try:
            status = api.status_post(
                post.caption,
                media_ids=[media_id],
                idempotency_key=post.idempotency_key,
                visibility=self._visibility,
            )
        except MastodonError as exc:
            raise self._map(exc, what, may_have_posted=True) from exc
        except ValueError as exc:
            raise AmbiguousError("mastodon: unreadable answer to the status request") from exc
        if not status.get("id"):
            raise AmbiguousError("mastodon: the status request succeeded without an id")
        log.info("mastodon: posted %s/%s as %s", post.slug, post.target, status["id"])
        return _receipt(status)

    def find(self, post: Post) -> Receipt | None:
        api = self._api()
        what = "listing recent statuses"
        try:
            me = api.account_verify_credentials()
            statuses = api.account_statuses(me["id"], limit=self._find_depth, exclude_reblogs=True)
        except MastodonError as exc:
            raise self._map(exc, what, may_have_posted=False) from exc
        for status in statuses:
            if _matches(post, status):
                return _receipt(status)
        return None

    def close(self) -> None:
        if self._api_obj is not None:
            self._api_obj.session.close()
            self._api_obj = None

    # -- steps ---------------------------------------------------------------------------------
    def _upload(self, api: Mastodon, post: Post) -> str:
        """Upload the card with its description and wait (bounded) until it is processed."""
        what = "uploading the card"
        try:
            media = api.media_post(
                post.card.data,
                mime_type=post.card.mime,
                description=post.alt_text or None,
                file_name=f"{post.slug}.{post.card.extension}",
            )
            deadline = time.monotonic() + self._media_wait
            while media.get("url") is None:
                if time.monotonic() > deadline:
                    raise TransientError(
                        f"mastodon: the card was still processing after {self._media_wait:.0f}s"
                    )
                time.sleep(self._poll_interval)
                media = api.media(media["id"])
        except MastodonError as exc:
            raise self._map(exc, what, may_have_posted=False) from exc
        return str(media["id"])

    # -- plumbing ------------------------------------------------------------------------------
    def _api(self) -> Mastodon:
        if self._api_obj is None:
            if not self._api_base:
                raise PermanentError(
                    f"mastodon: target {self.ctx.name!r} needs option api_base (the instance URL)"
                )
            token = self.ctx.secret("access_token")
            session = requests.Session()
            session.hooks["response"].append(self._remember)
            self._api_obj = Mastodon(
                access_token=token,
                api_base_url=self._api_base,
                ratelimit_method="throw",
                request_timeout=self._timeout,
                mastodon_version=self._version,
                version_check_mode="created",
                session=session,
                user_agent="quotecast",
            )
        return self._api_obj

    def _remember(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        """Keep the last answer's headers: Mastodon.py drops Retry-After on 429."""
        self._last = response

    def _map(self, exc: MastodonError, what: str, *, may_have_posted: bool) -> PublishError:
        if isinstance(exc, MastodonRatelimitError):
            return self._rate_limited(what)
        if isinstance(exc, MastodonNetworkError):
            cause = exc.__cause__ or exc.__context__
            if may_have_posted and (cause is None or _maybe_sent(cause)):
                return AmbiguousError(
                    f"mastodon: connection lost ({type(cause).__name__}) while {what}; "
                    "the status may have been posted"
                )
            return TransientError(f"mastodon: connection failed while {what}")
        if isinstance(exc, MastodonAPIError):
            args = exc.args
            status = args[1] if len(args) > 1 and isinstance(args[1], int) else 0
            detail = str(args[3])[:300] if len(args) > 3 and args[3] else "no detail"
            if status in (401, 403):
                name = secret_env_name(self.ctx.name, "access_token")
                return AuthError(
                    f"mastodon: access refused ({status}: {detail}) while {what} for target "
                    f"{self.ctx.name!r}; check {name}",
                    credential=name,
                )
            if status == 429:
                return self._rate_limited(what)
            if status >= 500 or status in (0, 408):
                return TransientError(f"mastodon: server error {status} while {what}: {detail}")
            return PermanentError(f"mastodon: refused with {status} while {what}: {detail}")
        return PermanentError(f"mastodon: {type(exc).__name__} while {what}")

    def _rate_limited(self, what: str) -> RateLimitedError:
        headers = self._last.headers if self._last is not None else {}
        retry_after = _retry_after(headers)
        when = f"; retry in {retry_after:.0f}s" if retry_after is not None else ""
        return RateLimitedError(f"mastodon: rate limited while {what}{when}", retry_after)


def _receipt(status: Mapping[str, Any]) -> Receipt:
    posted = status.get("created_at")
    if not isinstance(posted, datetime):
        posted = datetime.now(UTC)
    posted = posted.replace(tzinfo=UTC) if posted.tzinfo is None else posted.astimezone(UTC)
    return Receipt(str(status["id"]), status.get("url") or status.get("uri"), posted)


def _retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds from Retry-After (seconds or date), else X-RateLimit-Reset (ISO 8601 or epoch)."""
    given = retry_after_header(headers)
    if given is not None:
        return given
    reset = headers.get("X-RateLimit-Reset")
    if reset:
        try:
            moment = float(reset)
        except ValueError:
            try:
                moment = datetime.fromisoformat(reset.replace("Z", "+00:00")).timestamp()
            except ValueError:
                return None
        return max(0.0, moment - time.time())
    return None


def _plain(content: str) -> tuple[str, list[str]]:
    """A status' HTML content as text, plus the links it points to."""
    links = [html.unescape(h) for h in _HREF_RE.findall(content) if "/tags/" not in h]
    text = html.unescape(_TAG_RE.sub("", _BREAK_RE.sub("\n", content)))
    return text, links


def _normalise(text: str) -> str:
    return " ".join(_URL_RE.sub(" ", text).split())


def _matches(post: Post, status: Mapping[str, Any]) -> bool:
    """Our status if it carries the fingerprint, or the same words, links and alt text."""
    text, links = _plain(str(status.get("content") or ""))
    if post.fingerprint in text or any(post.fingerprint in u for u in links):
        return True
    wanted = _normalise(post.caption)
    if not wanted or _normalise(text) != wanted:
        return False
    ours = {m.group(0).rstrip(_URL_TRAILING) for m in _URL_RE.finditer(post.caption)}
    if not ours <= {u.rstrip(_URL_TRAILING) for u in links}:
        return False
    attachments = status.get("media_attachments") or []
    return not attachments or any(a.get("description") == post.alt_text for a in attachments)


__all__ = ["MastodonPublisher"]
