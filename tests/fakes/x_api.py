"""Fake of the X API v2 endpoints quotecast uses, built from the documented shapes.

- POST /2/media/upload   multipart: media (bytes), media_category, media_type
                         -> {"data": {"id", "media_key", "size", "expires_after_secs", ...}}
- POST /2/media/metadata JSON {"id", "metadata": {"alt_text": {"text"}}}
                         -> {"data": {"id", "associated_metadata": {...}}}
- POST /2/tweets         JSON {"text", "media": {"media_ids": [...]}}
                         -> 201 {"data": {"id", "text", "edit_history_tweet_ids"}}
                         403 {"detail": "You are not allowed to create a Tweet with duplicate
                         content.", ...} when the same text is already posted
- GET  /2/users/me       -> {"data": {"id", "name", "username"}}
- GET  /2/users/:id/tweets -> {"data": [...], "meta": {"result_count", "newest_id", ...}}

Every request must carry a valid OAuth 1.0a HMAC-SHA1 signature, verified (with oauthlib's
signature functions) against the canonical public URL https://api.x.com/... or
https://api.twitter.com/... — as X does behind its own load balancers — else 401.
Like X, links in a post's text come back shortened to t.co with `entities.urls`.

Rate limits as X answers them (developer.x.com/en/docs/x-api/rate-limits): every
POST /2/tweets answer carries the 15-minute window (x-rate-limit-limit/-remaining/-reset)
and the 24-hour caps per app and per user (x-app-limit-24hour-*, x-user-limit-24hour-*,
as node-twitter-api-v2 parses them, issues #495 and #553). When any is used up the answer
is 429 with all of them — the 15-minute window typically still open while a 24-hour cap
resets hours later. Limits are set per fake (`window_limit`, `app_day_limit`,
`user_day_limit`); `day_reset_in` is how far away the 24-hour resets are.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from oauthlib.oauth1 import Client as OAuthClient
from oauthlib.oauth1.rfc5849 import signature as oauth_sig
from oauthlib.oauth1.rfc5849 import utils as oauth_utils

from tests.fakes.server import FakeServer, Handler, Request, Response, serve_main

CANONICAL_BASES = ("https://api.x.com", "https://api.twitter.com")
IMAGE_LIMIT = 5 * 1024 * 1024
DUPLICATE_DETAIL = "You are not allowed to create a Tweet with duplicate content."
_URL = re.compile(r"https?://[^\s<>\"']+")


def problem(status: int, title: str, detail: str) -> Response:
    """An X API v2 error body (RFC 7807 problem details)."""
    body = {"title": title, "detail": detail, "type": "about:blank", "status": status}
    return Response(status, body)


@dataclass
class XCredentials:
    consumer_key: str = "fake-consumer-key"
    consumer_secret: str = "fake-consumer-secret"
    access_token: str = "2244994945-fake-access-token"
    access_token_secret: str = "fake-access-token-secret"


@dataclass
class XMedia:
    id: str
    data: bytes
    mime: str | None
    category: str
    alt_text: str | None = None


@dataclass
class XPost:
    id: str
    text: str  # as X stores it: links replaced by t.co
    submitted_text: str
    media: list[XMedia]
    created_at: datetime
    urls: list[dict[str, Any]] = field(default_factory=list)

    def as_api(self, fields: set[str]) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "text": self.text,
            "edit_history_tweet_ids": [self.id],
        }
        if "created_at" in fields:
            out["created_at"] = self.created_at.strftime("%Y-%m-%dT%H:%M:%S.000Z")
        if "entities" in fields and self.urls:
            out["entities"] = {"urls": self.urls}
        if "attachments" in fields and self.media:
            out["attachments"] = {"media_keys": [f"3_{m.id}" for m in self.media]}
        return out


class FakeX(FakeServer):
    """X API v2 fake; `.posts` holds the created posts, newest last."""

    def __init__(
        self,
        credentials: XCredentials | None = None,
        user_id: str = "2244994945",
        username: str = "quotecast_test",
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.credentials = credentials or XCredentials()
        self.user_id = user_id
        self.username = username
        self.posts: list[XPost] = []
        self.media: dict[str, XMedia] = {}
        self.auth_failures = 0
        self.window_limit, self.app_day_limit, self.user_day_limit = 100, 10_000, 100
        self.window_used = self.app_day_used = self.user_day_used = 0
        self.window_reset_in, self.day_reset_in = 900, 20 * 3600
        self._started = int(time.time())
        self._nonces: set[tuple[str, str]] = set()
        self._ids = 1_860_000_000_000_000_000
        self._id_lock = threading.Lock()
        super().__init__(host, port)

    def routes(self) -> list[tuple[str, Handler]]:
        return [
            ("POST /2/media/upload", self._authed(self.upload)),
            ("POST /2/media/metadata", self._authed(self.metadata)),
            ("POST /2/tweets", self._authed(self.create_tweet)),
            ("GET /2/users/me", self._authed(self.me)),
            ("GET /2/users/:id/tweets", self._authed(self.user_tweets)),
        ]

    def state(self) -> dict[str, Any]:
        with self.lock:
            return {
                "posts": [
                    {"id": p.id, "text": p.text, "media": [m.id for m in p.media]}
                    for p in self.posts
                ]
            }

    # -- OAuth 1.0a ----------------------------------------------------------------------------
    def _authed(self, handler: Handler) -> Handler:
        def wrapped(request: Request) -> Response:
            if not self.signature_ok(request):
                with self.lock:
                    self.auth_failures += 1
                return problem(401, "Unauthorized", "Unauthorized")
            return handler(request)

        return wrapped

    def signature_ok(self, request: Request) -> bool:
        """Verify the HMAC-SHA1 signature over the canonical public URL."""
        header = request.header("Authorization")
        try:
            oauth = dict(oauth_utils.parse_authorization_header(header))
        except ValueError:
            return False
        creds = self.credentials
        if oauth.get("oauth_signature_method") != "HMAC-SHA1":
            return False
        if oauth.get("oauth_consumer_key") != creds.consumer_key:
            return False
        if oauth.get("oauth_token") != creds.access_token:
            return False
        try:
            stamp = int(oauth.get("oauth_timestamp", "0"))
        except ValueError:
            return False
        if abs(time.time() - stamp) > 300:
            return False
        nonce = (oauth.get("oauth_nonce", ""), str(stamp))
        provided = oauth_utils.unescape(oauth.get("oauth_signature", ""))
        body: Any = None
        if "application/x-www-form-urlencoded" in request.header("Content-Type"):
            body = request.body.decode("utf-8")
        params = oauth_sig.collect_parameters(
            uri_query=request.raw_query,
            body=body,
            headers={"Authorization": header},
            exclude_oauth_signature=True,
        )
        normalized = oauth_sig.normalize_parameters(params)
        signer = OAuthClient(
            creds.consumer_key,
            client_secret=creds.consumer_secret,
            resource_owner_key=creds.access_token,
            resource_owner_secret=creds.access_token_secret,
        )
        for base in CANONICAL_BASES:
            base_uri = oauth_sig.base_string_uri(base + request.path)
            base_string = oauth_sig.signature_base_string(request.method, base_uri, normalized)
            expected = oauth_sig.sign_hmac_sha1_with_client(base_string, signer)
            if hmac.compare_digest(expected, provided):
                with self.lock:
                    if nonce in self._nonces:
                        return False
                    self._nonces.add(nonce)
                return True
        return False

    # -- endpoints -----------------------------------------------------------------------------
    def _next_id(self) -> str:
        with self._id_lock:
            self._ids += 1
            return str(self._ids)

    def upload(self, request: Request) -> Response:
        if "multipart/form-data" not in request.header("Content-Type"):
            return problem(400, "Invalid Request", "media upload must be multipart/form-data")
        parts = request.multipart()
        media = parts.get("media")
        if media is None:
            return problem(400, "Invalid Request", "The `media` field is required.")
        category = parts["media_category"].text if "media_category" in parts else "tweet_image"
        if category != "tweet_image":
            return problem(400, "Invalid Request", f"unsupported media_category {category!r}")
        if len(media.data) > IMAGE_LIMIT:
            return problem(400, "Invalid Request", "File size exceeds 5242880 bytes.")
        mime = parts["media_type"].text if "media_type" in parts else media.content_type
        item = XMedia(self._next_id(), media.data, mime, category)
        with self.lock:
            self.media[item.id] = item
        data = {
            "id": item.id,
            "media_key": f"3_{item.id}",
            "size": len(item.data),
            "expires_after_secs": 86400,
            "image": {"image_type": mime or "application/octet-stream"},
        }
        return Response(200, {"data": data})

    def metadata(self, request: Request) -> Response:
        payload = request.json() or {}
        media_id = str(payload.get("id", ""))
        with self.lock:
            item = self.media.get(media_id)
            if item is None:
                return problem(400, "Invalid Request", f"media {media_id!r} not found")
            alt = (payload.get("metadata") or {}).get("alt_text", {}).get("text")
            if alt is not None and len(alt) > 1000:
                return problem(400, "Invalid Request", "alt_text longer than 1000 characters")
            item.alt_text = alt
        return Response(
            200, {"data": {"id": media_id, "associated_metadata": {"alt_text": {"text": alt}}}}
        )

    def rate_headers(self) -> dict[str, str]:
        window_reset = str(self._started + self.window_reset_in)
        day_reset = str(self._started + self.day_reset_in)
        return {
            "x-rate-limit-limit": str(self.window_limit),
            "x-rate-limit-remaining": str(max(0, self.window_limit - self.window_used)),
            "x-rate-limit-reset": window_reset,
            "x-app-limit-24hour-limit": str(self.app_day_limit),
            "x-app-limit-24hour-remaining": str(max(0, self.app_day_limit - self.app_day_used)),
            "x-app-limit-24hour-reset": day_reset,
            "x-user-limit-24hour-limit": str(self.user_day_limit),
            "x-user-limit-24hour-remaining": str(max(0, self.user_day_limit - self.user_day_used)),
            "x-user-limit-24hour-reset": day_reset,
        }

    def create_tweet(self, request: Request) -> Response:
        with self.lock:
            spent = (
                self.window_used >= self.window_limit
                or self.app_day_used >= self.app_day_limit
                or self.user_day_used >= self.user_day_limit
            )
            if spent:
                answer = problem(429, "Too Many Requests", "Too Many Requests")
                answer.headers.update(self.rate_headers())
                return answer
            self.window_used += 1
            self.app_day_used += 1
            self.user_day_used += 1
        answer = self._create_tweet(request)
        with self.lock:
            answer.headers.update(self.rate_headers())
        return answer

    def _create_tweet(self, request: Request) -> Response:
        payload = request.json() or {}
        text = str(payload.get("text", ""))
        media_ids = [str(i) for i in (payload.get("media") or {}).get("media_ids", [])]
        with self.lock:
            missing = [i for i in media_ids if i not in self.media]
            if missing:
                return problem(400, "Invalid Request", f"media ids not found: {missing}")
            if any(p.submitted_text == text for p in self.posts):
                return problem(403, "Forbidden", DUPLICATE_DETAIL)
            stored, urls = shorten_links(text)
            post = XPost(
                id=self._next_id(),
                text=stored,
                submitted_text=text,
                media=[self.media[i] for i in media_ids],
                created_at=datetime.now(UTC),
                urls=urls,
            )
            self.posts.append(post)
        return Response(
            201, {"data": {"id": post.id, "text": post.text, "edit_history_tweet_ids": [post.id]}}
        )

    def me(self, request: Request) -> Response:
        return Response(
            200, {"data": {"id": self.user_id, "name": "Quotecast Test", "username": self.username}}
        )

    def user_tweets(self, request: Request) -> Response:
        if request.params["id"] != self.user_id:
            return problem(403, "Forbidden", "You can only list your own posts in this fake")
        max_results = int(request.query.get("max_results", ["10"])[0])
        if not 5 <= max_results <= 100:
            return problem(400, "Invalid Request", "max_results must be between 5 and 100")
        fields = set(",".join(request.query.get("tweet.fields", [])).split(","))
        with self.lock:
            newest = list(reversed(self.posts))[:max_results]
            data = [p.as_api(fields) for p in newest]
        if not data:
            return Response(200, {"meta": {"result_count": 0}})
        meta = {"result_count": len(data), "newest_id": data[0]["id"], "oldest_id": data[-1]["id"]}
        return Response(200, {"data": data, "meta": meta})


def shorten_links(text: str) -> tuple[str, list[dict[str, Any]]]:
    """Replace links by t.co links as X does, returning the text and `entities.urls`."""
    out: list[str] = []
    urls: list[dict[str, Any]] = []
    pos = 0
    for m in _URL.finditer(text):
        original = m.group(0).rstrip(".,;:!?)]}'\"")
        end = m.start() + len(original)
        short = "https://t.co/" + hashlib.sha256(original.encode()).hexdigest()[:10]
        out.append(text[pos : m.start()])
        start = len("".join(out))
        out.append(short)
        urls.append(
            {
                "start": start,
                "end": start + len(short),
                "url": short,
                "expanded_url": original,
                "display_url": original.split("://", 1)[1][:30],
            }
        )
        pos = end
    out.append(text[pos:])
    return "".join(out), urls


if __name__ == "__main__":
    serve_main(lambda port: FakeX(port=port))
