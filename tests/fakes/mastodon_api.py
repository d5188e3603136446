"""Fake of the Mastodon REST API endpoints quotecast uses, built from the documented shapes.

- GET  /api/v1/instance, /api/v2/instance          (Mastodon.py version discovery)
- GET  /api/v1/accounts/verify_credentials         -> CredentialAccount
- POST /api/v2/media  multipart file + description -> MediaAttachment; 202 with url null
                                                       while "processing", 200 when ready
- GET  /api/v1/media/:id                           -> 206 while processing, 200 when ready
- POST /api/v1/statuses  form: status, media_ids[]  -> Status; honours Idempotency-Key
                                                       (same key -> same status, no new post)
                                                       for KEY_LIFETIME after the status was
                                                       made, then forgets it (a new post);
                                                       422 for unprocessed media / too long
- GET  /api/v1/accounts/:id/statuses               -> [Status], newest first

Bearer token required everywhere except instance info (401 {"error": ...} otherwise).
Responses carry X-RateLimit-Limit/Remaining/Reset like a real instance.
"""

from __future__ import annotations

import html
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.fakes.server import FakeServer, Handler, Request, Response, serve_main

MEDIA_LIMIT = 16 * 1024 * 1024
#: "Idempotency keys are stored for up to 1 hour" (https://docs.joinmastodon.org/methods/statuses/);
#: Mastodon's PostStatusService writes the key to Redis with a 3600 s expiry once the status
#: exists. `clock` (seconds) is the fake's own time, moved on by `advance()` in tests.
KEY_LIFETIME = 3600.0
_URL = re.compile(r"https?://[^\s<>\"']+")
_TAG = re.compile(r"(?<![\w/])#(\w+)")


@dataclass
class MastodonMedia:
    id: str
    data: bytes
    mime: str | None
    filename: str | None
    description: str | None
    polls_left: int  # GETs answering 206 before the attachment is processed


@dataclass
class MastodonStatus:
    id: str
    text: str
    content: str
    media: list[MastodonMedia]
    created_at: datetime
    idempotency_key: str | None
    visibility: str = "public"
    extra: dict[str, Any] = field(default_factory=dict)


class FakeMastodon(FakeServer):
    """Mastodon instance fake with one account; `.posts` holds the statuses, newest last."""

    def __init__(
        self,
        token: str = "fake-mastodon-token",
        username: str = "quotecast",
        account_id: str = "109000000000000001",
        processing_polls: int = 0,
        char_limit: int = 500,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.token = token
        self.username = username
        self.account_id = account_id
        self.processing_polls = processing_polls
        self.char_limit = char_limit
        self.posts: list[MastodonStatus] = []
        self.media: dict[str, MastodonMedia] = {}
        self.idempotency: dict[str, tuple[str, float]] = {}  # key -> (status id, stored at)
        self.clock_offset = 0.0
        self._ids = 110_000_000_000_000_000
        self._id_lock = threading.Lock()
        super().__init__(host, port)

    def routes(self) -> list[tuple[str, Handler]]:
        return [
            ("GET /api/v1/instance", self.instance_v1),
            ("GET /api/v2/instance", self.instance_v2),
            ("GET /api/v1/accounts/verify_credentials", self._authed(self.verify_credentials)),
            ("POST /api/v2/media", self._authed(self.media_post)),
            ("GET /api/v1/media/:id", self._authed(self.media_get)),
            ("POST /api/v1/statuses", self._authed(self.status_post)),
            ("GET /api/v1/accounts/:id/statuses", self._authed(self.account_statuses)),
        ]

    def state(self) -> dict[str, Any]:
        with self.lock:
            return {"posts": [{"id": s.id, "text": s.text} for s in self.posts]}

    # -- helpers -------------------------------------------------------------------------------
    def _authed(self, handler: Handler) -> Handler:
        def wrapped(request: Request) -> Response:
            if request.header("Authorization") != f"Bearer {self.token}":
                return self._answer(401, {"error": "The access token is invalid"})
            return handler(request)

        return wrapped

    def clock(self) -> float:
        return time.time() + self.clock_offset

    def advance(self, seconds: float) -> None:
        """Move the fake's clock on (key expiry) without sleeping."""
        with self.lock:
            self.clock_offset += seconds

    def _answer(self, status: int, body: Any) -> Response:
        reset = (datetime.now(UTC) + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        headers = {"X-RateLimit-Limit": "300", "X-RateLimit-Remaining": "299"}
        headers["X-RateLimit-Reset"] = reset
        return Response(status, body, headers)

    def _next_id(self) -> str:
        with self._id_lock:
            self._ids += 1
            return str(self._ids)

    def account(self) -> dict[str, Any]:
        return {
            "id": self.account_id,
            "username": self.username,
            "acct": self.username,
            "display_name": "Quotecast",
            "locked": False,
            "bot": True,
            "discoverable": True,
            "group": False,
            "created_at": "2024-01-01T00:00:00.000Z",
            "note": "",
            "url": f"{self.url}/@{self.username}",
            "uri": f"{self.url}/users/{self.username}",
            "avatar": f"{self.url}/avatars/original/missing.png",
            "avatar_static": f"{self.url}/avatars/original/missing.png",
            "header": f"{self.url}/headers/original/missing.png",
            "header_static": f"{self.url}/headers/original/missing.png",
            "followers_count": 0,
            "following_count": 0,
            "statuses_count": len(self.posts),
            "last_status_at": None,
            "emojis": [],
            "fields": [],
        }

    def media_json(self, item: MastodonMedia) -> dict[str, Any]:
        ready = item.polls_left <= 0
        url = f"{self.url}/system/media_attachments/{item.id}/original.png"
        return {
            "id": item.id,
            "type": "image",
            "url": url if ready else None,
            "preview_url": f"{self.url}/system/media_attachments/{item.id}/small.png",
            "remote_url": None,
            "text_url": None,
            "meta": {},
            "description": item.description,
            "blurhash": None,
        }

    def status_json(self, status: MastodonStatus) -> dict[str, Any]:
        return {
            "id": status.id,
            "created_at": status.created_at.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
            "in_reply_to_id": None,
            "in_reply_to_account_id": None,
            "sensitive": False,
            "spoiler_text": "",
            "visibility": status.visibility,
            "language": "en",
            "uri": f"{self.url}/users/{self.username}/statuses/{status.id}",
            "url": f"{self.url}/@{self.username}/{status.id}",
            "replies_count": 0,
            "reblogs_count": 0,
            "favourites_count": 0,
            "edited_at": None,
            "content": status.content,
            "reblog": None,
            "application": {"name": "quotecast", "website": None},
            "account": self.account(),
            "media_attachments": [self.media_json(m) for m in status.media],
            "mentions": [],
            "tags": [],
            "emojis": [],
            "card": None,
            "poll": None,
        }

    # -- endpoints -----------------------------------------------------------------------------
    def instance_v1(self, request: Request) -> Response:
        body = {
            "uri": "127.0.0.1",
            "title": "Fake Mastodon",
            "short_description": "",
            "description": "",
            "email": "admin@example.invalid",
            "version": "4.3.0",
            "urls": {},
            "stats": {"user_count": 1, "status_count": len(self.posts), "domain_count": 1},
            "languages": ["en"],
            "registrations": False,
            "configuration": {"statuses": {"max_characters": self.char_limit}},
        }
        return self._answer(200, body)

    def instance_v2(self, request: Request) -> Response:
        body = {
            "domain": "127.0.0.1",
            "title": "Fake Mastodon",
            "version": "4.3.0",
            "api_versions": {"mastodon": 2},
            "source_url": "https://github.com/mastodon/mastodon",
            "description": "",
            "languages": ["en"],
            "configuration": {
                "statuses": {"max_characters": self.char_limit, "max_media_attachments": 4},
                "media_attachments": {"image_size_limit": MEDIA_LIMIT, "description_limit": 1500},
            },
            "registrations": {"enabled": False, "approval_required": False, "message": None},
            "rules": [],
        }
        return self._answer(200, body)

    def verify_credentials(self, request: Request) -> Response:
        body = self.account()
        body["source"] = {"privacy": "public", "sensitive": False, "language": "en", "note": ""}
        return self._answer(200, body)

    def media_post(self, request: Request) -> Response:
        parts = request.multipart()
        file = parts.get("file")
        if file is None:
            return self._answer(422, {"error": "Validation failed: File can't be blank"})
        if len(file.data) > MEDIA_LIMIT:
            return self._answer(
                422, {"error": "Validation failed: File file size must be less than 16 MB"}
            )
        description = parts["description"].text if "description" in parts else None
        if description is not None and len(description) > 1500:
            return self._answer(422, {"error": "Validation failed: Description is too long"})
        item = MastodonMedia(
            id=self._next_id(),
            data=file.data,
            mime=file.content_type,
            filename=file.filename,
            description=description,
            polls_left=self.processing_polls,
        )
        with self.lock:
            self.media[item.id] = item
        return self._answer(202 if item.polls_left > 0 else 200, self.media_json(item))

    def media_get(self, request: Request) -> Response:
        with self.lock:
            item = self.media.get(request.params["id"])
            if item is None:
                return self._answer(404, {"error": "Record not found"})
            if item.polls_left > 0:
                body = self.media_json(item)  # still processing: url is null
                item.polls_left -= 1
                return self._answer(206, body)
            return self._answer(200, self.media_json(item))

    def status_post(self, request: Request) -> Response:
        form = request.form() if request.body else {}
        text = (form.get("status") or [""])[0]
        media_ids = form.get("media_ids[]", []) + form.get("media_ids", [])
        key = request.header("Idempotency-Key") or None
        with self.lock:
            stored = self.idempotency.get(key) if key is not None else None
            if stored is not None and self.clock() - stored[1] < KEY_LIFETIME:
                existing = next(s for s in self.posts if s.id == stored[0])
                return self._answer(200, self.status_json(existing))
            if not text and not media_ids:
                return self._answer(422, {"error": "Validation failed: Text can't be blank"})
            if count_chars(text) > self.char_limit:
                return self._answer(
                    422,
                    {
                        "error": f"Validation failed: Text character limit of {self.char_limit} "
                        "exceeded"
                    },
                )
            media: list[MastodonMedia] = []
            for media_id in media_ids:
                item = self.media.get(media_id)
                if item is None:
                    return self._answer(422, {"error": "Validation failed: media not found"})
                if item.polls_left > 0:
                    return self._answer(
                        422,
                        {
                            "error": "Cannot attach files that have not finished processing. "
                            "Try again in a moment!"
                        },
                    )
                media.append(item)
            visibility = (form.get("visibility") or ["public"])[0]
            status = MastodonStatus(
                id=self._next_id(),
                text=text,
                content=to_html(text, self.url),
                media=media,
                created_at=datetime.now(UTC),
                idempotency_key=key,
                visibility=visibility,
            )
            self.posts.append(status)
            if key is not None:
                self.idempotency[key] = (status.id, self.clock())
        return self._answer(200, self.status_json(status))

    def account_statuses(self, request: Request) -> Response:
        if request.params["id"] != self.account_id:
            return self._answer(404, {"error": "Record not found"})
        limit = min(40, int(request.query.get("limit", ["20"])[0]))
        with self.lock:
            newest = list(reversed(self.posts))[:limit]
            return self._answer(200, [self.status_json(s) for s in newest])


def count_chars(text: str) -> int:
    """Mastodon's counting, roughly: every link counts as 23 characters."""
    return len(_URL.sub("x" * 23, text))


def to_html(text: str, base: str) -> str:
    """Render a status' text the way Mastodon does: paragraphs, links and hashtags as HTML."""

    def render(line: str) -> str:
        out, pos = [], 0
        for m in re.finditer(f"{_URL.pattern}|{_TAG.pattern}", line):
            out.append(html.escape(line[pos : m.start()], quote=False))
            token = m.group(0)
            if token.startswith("#"):
                tag = token[1:]
                out.append(
                    f'<a href="{base}/tags/{tag.lower()}" class="mention hashtag" rel="tag">'
                    f"#<span>{html.escape(tag)}</span></a>"
                )
            else:
                url = token.rstrip(".,;:!?)]}'\"")
                scheme, _, rest = url.partition("://")
                out.append(
                    f'<a href="{html.escape(url)}" target="_blank" rel="nofollow noopener">'
                    f'<span class="invisible">{scheme}://</span>'
                    f'<span class="">{html.escape(rest)}</span></a>'
                )
                out.append(html.escape(token[len(url) :], quote=False))
            pos = m.end()
        out.append(html.escape(line[pos:], quote=False))
        return "".join(out)

    paragraphs = [p for p in text.split("\n\n") if p.strip()]
    return "".join(
        "<p>" + "<br />".join(render(x) for x in p.split("\n")) + "</p>" for p in paragraphs
    )


if __name__ == "__main__":
    serve_main(lambda port: FakeMastodon(port=port))
