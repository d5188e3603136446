"""X publisher through tweepy: upload the card, set its alt text, create the post.

tweepy 4.17 creates posts with the v2 API but cannot upload media since X retired the v1.1
upload, so the card goes to `POST /2/media/upload` and `POST /2/media/metadata`, signed by
tweepy's own OAuth 1.0a handler (we never write OAuth). tweepy hardcodes its host; a
transport adapter on the session moves already-signed requests to `api_base`, so a fake can
check signatures against the public URL exactly as X does.

One publish() is one attempt. Only the final "create post" step can leave the outcome
unknown (AmbiguousError); failures before it never made a post and are plain transient.
"""

from __future__ import annotations

import html
import logging
import re
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import quote, urlsplit, urlunsplit

import requests
import tweepy
from pydantic import BaseModel
from requests import PreparedRequest, Response
from requests.adapters import HTTPAdapter

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
from pipeline.publishers.options import XOptions

log = logging.getLogger(__name__)

DEFAULT_API_BASE = "https://api.x.com"
#: hosts requests are signed for; X verifies signatures against these public URLs
CANONICAL_BASES = ("https://api.x.com", "https://api.twitter.com")
UPLOAD_URL = "https://api.x.com/2/media/upload"
METADATA_URL = "https://api.x.com/2/media/metadata"
_URL_RE = re.compile(r"https?://[^\s<>\"']+")
_URL_TRAILING = ".,;:!?)]}'\""


class _Rebase(HTTPAdapter):
    """Send signed requests to `base` instead of the canonical host, with a default timeout.

    Signing happens before the adapter runs, so the signature still covers the public URL.
    """

    def __init__(self, base: str | None, timeout: float) -> None:
        super().__init__(max_retries=0)
        self._base = urlsplit(base) if base else None
        self._timeout = timeout

    def send(
        self,
        request: PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float, float] | tuple[float, None] | None = None,
        verify: bool | str = True,
        cert: bytes | str | tuple[bytes | str, bytes | str] | None = None,
        proxies: Mapping[str, str] | None = None,
    ) -> Response:
        if self._base is not None:
            request = request.copy()
            url = urlsplit(request.url or "")
            path = self._base.path.rstrip("/") + url.path
            request.url = urlunsplit(
                (self._base.scheme, self._base.netloc, path, url.query, url.fragment)
            )
        timeout = self._timeout if timeout is None else timeout
        return super().send(request, stream, timeout, verify, cert, proxies)


class _Redactor(logging.Filter):
    """Removes credential values from DEBUG records of the OAuth libraries.

    requests-oauthlib and oauthlib log signed headers and signature base strings, which
    carry the consumer key and access token; we only ever let them through redacted.
    """

    def __init__(self) -> None:
        super().__init__()
        self.values: set[str] = set()

    def add(self, secret: str) -> None:
        once = quote(secret, safe="~-._")
        self.values.update(v for v in (secret, once, quote(once, safe="~-._")) if len(v) >= 4)

    def filter(self, record: logging.LogRecord) -> bool:
        if self.values:
            message = record.getMessage()
            cleaned = _scrub(message, self.values)
            if cleaned != message:
                record.msg, record.args = cleaned, None
        return True


_REDACTOR = _Redactor()
for _name in (
    "requests_oauthlib.oauth1_auth",
    "oauthlib.oauth1.rfc5849",
    "oauthlib.oauth1.rfc5849.signature",
    "tweepy.client",
):
    logging.getLogger(_name).addFilter(_REDACTOR)


def _scrub(text: str, secrets: set[str]) -> str:
    for value in sorted(secrets, key=len, reverse=True):
        text = text.replace(value, "[redacted]")
    return text


class XPublisher(Publisher):
    """Posts a card with alt text and caption to one X account."""

    network: ClassVar[str] = "x"
    options_model: ClassVar[type[BaseModel] | None] = XOptions
    limits: ClassVar[Limits] = Limits(
        caption_max=280,
        caption_counter="x_weighted",
        image_max_bytes=5_242_880,
        alt_text_max=1000,
    )
    secret_names: ClassVar[tuple[str, ...]] = (
        "api_key",
        "api_secret",
        "access_token",
        "access_token_secret",
    )
    #: X timelines are not a proof of absence: a miss means "cannot tell", not "not sent"
    find_is_authoritative: ClassVar[bool] = False

    def __init__(self, ctx: TargetContext) -> None:
        super().__init__(ctx)
        options = ctx.options
        self._api_base = str(options.get("api_base", DEFAULT_API_BASE)).rstrip("/")
        self._timeout = float(options.get("request_timeout", options.get("timeout", 30.0)))
        self._find_depth = min(100, max(5, int(options.get("find_depth", 50))))
        self._client: Any = None
        self._auth: Any = None
        self._user: tuple[str, str] | None = None  # (id, username)
        self._secrets: set[str] = set()

    # -- public interface ----------------------------------------------------------------------
    def publish(self, post: Post) -> Receipt:
        self.limits.refuse("x", post)
        _, username = self._me()  # first: a refused credential stops before any upload
        media_id = self._upload(post)
        self._set_alt_text(media_id, post.alt_text)
        tweet_id = self._create(post, media_id)
        log.info("x: posted %s/%s as %s", post.slug, post.target, tweet_id)
        return Receipt(tweet_id, self._status_url(username, tweet_id), datetime.now(UTC))

    def find(self, post: Post) -> Receipt | None:
        user_id, username = self._me()
        try:
            answer = self._tweepy().get_users_tweets(
                user_id,
                max_results=self._find_depth,
                tweet_fields=["created_at", "entities"],
                user_auth=True,
            )
        except tweepy.HTTPException as exc:
            raise self._from_tweepy(exc, "listing recent posts") from exc
        except requests.RequestException as exc:
            raise self._network(exc, "listing recent posts", may_have_posted=False) from exc
        except ValueError as exc:
            raise TransientError("x: unreadable answer while listing recent posts") from exc
        for tweet in answer.get("data") or []:
            urls = [u.get("expanded_url", "") for u in tweet.get("entities", {}).get("urls", [])]
            if _matches(post, str(tweet.get("text", "")), urls):
                tweet_id = str(tweet["id"])
                posted = _parse_time(tweet.get("created_at")) or datetime.now(UTC)
                return Receipt(tweet_id, self._status_url(username, tweet_id), posted)
        return None

    def close(self) -> None:
        if self._client is not None:
            self._client.session.close()
            self._client = None

    # -- steps ---------------------------------------------------------------------------------
    def _me(self) -> tuple[str, str]:
        if self._user is None:
            try:
                data = self._tweepy().get_me(user_auth=True).get("data") or {}
            except tweepy.HTTPException as exc:
                raise self._from_tweepy(exc, "reading the account") from exc
            except requests.RequestException as exc:
                raise self._network(exc, "reading the account", may_have_posted=False) from exc
            except ValueError as exc:
                raise TransientError("x: unreadable answer while reading the account") from exc
            if "id" not in data or "username" not in data:
                raise TransientError("x: /2/users/me answered without id and username")
            self._user = (str(data["id"]), str(data["username"]))
        return self._user

    def _upload(self, post: Post) -> str:
        card = post.card
        filename = f"{post.slug}.{card.extension}"
        body = self._signed_post(
            UPLOAD_URL,
            "uploading the card",
            data={"media_category": "tweet_image", "media_type": card.mime},
            files={"media": (filename, card.data, card.mime)},
        )
        media_id = (body.get("data") or {}).get("id")
        if not media_id:
            raise TransientError("x: media upload answered without a media id")
        return str(media_id)

    def _set_alt_text(self, media_id: str, alt_text: str) -> None:
        if alt_text:
            payload = {"id": media_id, "metadata": {"alt_text": {"text": alt_text}}}
            self._signed_post(METADATA_URL, "setting the alt text", json=payload)

    def _create(self, post: Post, media_id: str) -> str:
        what = "creating the post"
        try:
            answer = self._tweepy().create_tweet(
                text=post.caption, media_ids=[media_id], user_auth=True
            )
        except tweepy.HTTPException as exc:
            raise self._from_tweepy(exc, what) from exc
        except requests.RequestException as exc:
            raise self._network(exc, what, may_have_posted=True) from exc
        except ValueError as exc:  # 2xx with a body we cannot read: X may well have posted
            raise AmbiguousError("x: unreadable answer to the post request") from exc
        tweet_id = (answer.get("data") or {}).get("id")
        if not tweet_id:
            raise AmbiguousError("x: the post request succeeded without returning an id")
        return str(tweet_id)

    # -- plumbing ------------------------------------------------------------------------------
    def _tweepy(self) -> Any:
        """The tweepy client, built on first use so a missing secret surfaces as AuthError."""
        if self._client is None:
            creds = {name: self.ctx.secret(name) for name in self.secret_names}
            for value in creds.values():
                _REDACTOR.add(value)
                self._secrets.add(value)
            client = tweepy.Client(
                consumer_key=creds["api_key"],
                consumer_secret=creds["api_secret"],
                access_token=creds["access_token"],
                access_token_secret=creds["access_token_secret"],
                return_type=dict,
                wait_on_rate_limit=False,
            )
            rebase = None if self._api_base in CANONICAL_BASES else self._api_base
            adapter = _Rebase(rebase, self._timeout)
            for base in CANONICAL_BASES:
                client.session.mount(base + "/", adapter)
            self._auth = tweepy.OAuth1UserHandler(
                creds["api_key"],
                creds["api_secret"],
                creds["access_token"],
                creds["access_token_secret"],
            ).apply_auth()
            self._client = client
        return self._client

    def _signed_post(self, url: str, what: str, **kwargs: Any) -> dict[str, Any]:
        """A POST tweepy has no method for, signed with tweepy's OAuth 1.0a handler."""
        session = self._tweepy().session
        try:
            response = session.post(url, auth=self._auth, timeout=self._timeout, **kwargs)
        except requests.RequestException as exc:
            raise self._network(exc, what, may_have_posted=False) from exc
        try:
            body = response.json() if response.content else {}
        except ValueError:
            body = {}
        if not 200 <= response.status_code < 300:
            raise self._from_status(response.status_code, response.headers, _messages(body), what)
        return body if isinstance(body, dict) else {}

    def _status_url(self, username: str, tweet_id: str) -> str:
        return f"https://x.com/{username}/status/{tweet_id}"

    def _from_tweepy(self, exc: tweepy.HTTPException, what: str) -> PublishError:
        response = exc.response
        messages = [str(m) for m in exc.api_messages]
        return self._from_status(response.status_code, response.headers, messages, what)

    def _from_status(
        self, status: int, headers: Mapping[str, str], messages: list[str], what: str
    ) -> PublishError:
        detail = _scrub("; ".join(messages), self._secrets)[:300] or "no detail"
        if status == 429:
            retry_after, which = rate_limit_wait(headers)
            if retry_after is None:
                return RateLimitedError(f"x: rate limited while {what}", None)
            until = datetime.fromtimestamp(time.time() + retry_after, UTC)
            return RateLimitedError(
                f"x: rate limited while {what}: {which}; retry after {until:%Y-%m-%d %H:%M} UTC "
                f"(in {retry_after:.0f}s)",
                retry_after,
            )
        if status == 401:
            names = ", ".join(secret_env_name(self.ctx.name, n) for n in self.secret_names)
            return AuthError(
                f"x: credentials refused (401) while {what} for target {self.ctx.name!r}; "
                f"check {names}",
                credential=names,
            )
        if status == 403 and "duplicate" in detail.lower():
            return DuplicateError(f"x: duplicate content refused while {what}: {detail}")
        if status >= 500 or status == 408:
            return TransientError(f"x: server error {status} while {what}: {detail}")
        return PermanentError(f"x: refused with {status} while {what}: {detail}")

    def _network(self, exc: Exception, what: str, *, may_have_posted: bool) -> PublishError:
        kind = type(exc).__name__
        if may_have_posted and _maybe_sent(exc):
            return AmbiguousError(
                f"x: connection lost ({kind}) while {what}; the post may have gone out"
            )
        return TransientError(f"x: connection failed ({kind}) while {what}")


def _messages(body: Any) -> list[str]:
    """Error texts from an X v2 body: problem `detail`/`title` or `errors[].message`."""
    if not isinstance(body, dict):
        return []
    out = [str(body[k]) for k in ("detail", "title") if body.get(k)]
    for error in body.get("errors") or []:
        if isinstance(error, dict):
            out += [str(error[k]) for k in ("message", "detail") if error.get(k)]
    return out


#: X's rate-limit header families (developer.x.com/en/docs/x-api/rate-limits): the
#: 15-minute window per endpoint, and the 24-hour caps per app and per user that POST
#: /2/tweets also answers with (named as node-twitter-api-v2 reads them, issues #495, #553)
_LIMITS = (
    ("x-user-limit-24hour", "the account's 24-hour post limit is used up"),
    ("x-app-limit-24hour", "the app's 24-hour post limit is used up"),
    ("x-rate-limit", "the 15-minute request limit is used up"),
)


def rate_limit_wait(headers: Mapping[str, str]) -> tuple[float | None, str]:
    """Seconds until a 429 lifts, and which limit it is.

    A used-up 24-hour cap resets hours after the 15-minute window does, so the latest reset
    among the exhausted limits wins; Retry-After, when X sends one, is the floor.
    """
    now = time.time()
    exhausted: list[tuple[float, str]] = []
    for prefix, name in _LIMITS:
        remaining, reset = headers.get(f"{prefix}-remaining"), headers.get(f"{prefix}-reset")
        try:
            if remaining is not None and reset is not None and int(remaining) <= 0:
                limit = headers.get(f"{prefix}-limit", "?")
                exhausted.append((max(0.0, float(reset) - now), f"{name} ({prefix}, {limit})"))
        except ValueError:
            continue
    given = retry_after_header(headers)
    if exhausted:
        wait, which = max(exhausted)
        return max(wait, given or 0.0), which
    if given is not None:
        return given, "X asked to retry later (Retry-After)"
    reset = headers.get("x-rate-limit-reset")
    if reset:
        try:
            return max(0.0, float(reset) - now), "the 15-minute request limit (x-rate-limit)"
        except ValueError:
            pass
    return None, "no reset time given"


def _normalise(text: str) -> str:
    return " ".join(_URL_RE.sub(" ", html.unescape(text)).split())


def _matches(post: Post, text: str, urls: list[str]) -> bool:
    """Our post if it carries the fingerprint, or the same words and the same links."""
    if post.fingerprint in text or any(post.fingerprint in u for u in urls):
        return True
    wanted = _normalise(post.caption)
    if not wanted or _normalise(text) != wanted:
        return False
    links = {m.group(0).rstrip(_URL_TRAILING) for m in _URL_RE.finditer(post.caption)}
    return links <= {u.rstrip(_URL_TRAILING) for u in urls}


def _parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


__all__ = ["XPublisher"]
