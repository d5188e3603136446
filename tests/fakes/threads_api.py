"""Fake of graph.threads.net's publishing endpoints (documented shapes).

- POST /v1.0/{user}/threads  media_type=IMAGE, image_url, text, alt_text -> {"id"}; the image
  is really downloaded (JPEG or PNG); text over 500 characters is refused.
- GET  /v1.0/{container}?fields=status,error_message -> IN_PROGRESS / FINISHED / ERROR
  (error_message from `container_error`) / PUBLISHED.
- POST /v1.0/{user}/threads_publish creation_id -> {"id"}; quota of 250 per 24 h.
- GET  /v1.0/{user}/threads_publishing_limit, /v1.0/{user}/threads, /v1.0/{media}.
- GET  /v1.0/debug_token?input_token=… -> {"data": {"type", "is_valid", "expires_at",
  "scopes"}} (Threads API reference, "Debug access token"; the same shape as the Graph API's).
`me` stands for the token's user, as on the real API.

Strict where the Threads "Media specifications" (developers.facebook.com/docs/threads/overview
#image-specifications) are: a fetched image over 8 MB (8,000,000 bytes) or with an aspect
ratio beyond 10:1 makes the container end ERROR; a wider image is scaled to 1440 px by
Threads, so width alone is never refused.
"""

from __future__ import annotations

import io
from typing import Any

from PIL import Image

from tests.fakes.graph_api import Media, MetaFake, graph_error, graph_time
from tests.fakes.server import Handler, Request, Response, serve_main

THREADS_USER = "27000000000000001"


class FakeThreads(MetaFake):
    """One Threads profile."""

    accepted_images = ("image/jpeg", "image/png")
    token_type = "USER"
    token_scopes = ("threads_basic", "threads_content_publish")

    def __init__(self, token: str = "fake-threads-token", host: str = "127.0.0.1", port: int = 0):
        self.user = THREADS_USER
        self.username = "quotecast"
        super().__init__(token, host, port)
        self.quota_total = 250

    def routes(self) -> list[tuple[str, Handler]]:
        a = self.authed
        return [
            ("POST /:version/:user/threads", a(self.create_container)),
            ("POST /:version/:user/threads_publish", a(self.threads_publish)),
            ("GET /:version/:user/threads", a(self.list_threads)),
            ("GET /:version/:user/threads_publishing_limit", a(self.publishing_limit)),
            ("GET /:version/debug_token", a(self.debug_token)),
            ("GET /:version/:node", a(self.node)),
        ]

    def state(self) -> dict[str, Any]:
        with self.lock:
            return {"published": [{"id": m.id, "container": m.container} for m in self.published]}

    def permalink(self, media: Media) -> str:
        return f"https://www.threads.net/@{self.username}/post/{media.id}"

    def _user(self, request: Request) -> Response | None:
        if request.params["user"] not in (self.user, "me"):
            return graph_error(400, 100, "Object does not exist", subcode=33)
        return None

    def create_container(self, request: Request) -> Response:
        if (refused := self._user(request)) is not None:
            return refused
        p = self.params(request)
        kind = p.get("media_type", "")
        if kind not in ("TEXT", "IMAGE", "VIDEO"):
            return graph_error(400, 100, "Param media_type must be one of TEXT, IMAGE, VIDEO")
        text = p.get("text")
        if text is not None and len(text) > 500:
            return graph_error(400, 100, "Param text must be at most 500 characters long.")
        url = p.get("image_url")
        if kind == "IMAGE" and not url:
            return graph_error(400, 100, "Param image_url is required for media_type IMAGE")
        image = b""
        if url:
            fetched, _ = self.fetch(url)
            if fetched is None:
                return self.fetch_failed(url)
            image = fetched
            if (why := _against_spec(image)) is not None:
                return graph_error(400, 100, f"Param image_url: {why}")
        item = self.new_container(self.user, url or "", image, text, p.get("alt_text"), kind)
        return Response(200, {"id": item.id})

    def threads_publish(self, request: Request) -> Response:
        if (refused := self._user(request)) is not None:
            return refused
        return self.publish_container(self.user, request, "THREADS")

    def media_json(self, media: Media) -> dict[str, Any]:
        return {
            "id": media.id,
            "media_product_type": "THREADS",
            "media_type": "IMAGE",
            "permalink": media.permalink,
            "text": media.text or "",
            "timestamp": graph_time(media.timestamp),
            "username": self.username,
        }

    def list_threads(self, request: Request) -> Response:
        if (refused := self._user(request)) is not None:
            return refused
        limit = int(request.query.get("limit", ["25"])[0])
        with self.lock:
            items = [self.pick(self.media_json(m), request) for m in reversed(self.published)]
        return Response(200, {"data": items[:limit], "paging": {"cursors": {}}})

    def publishing_limit(self, request: Request) -> Response:
        if (refused := self._user(request)) is not None:
            return refused
        return Response(200, self.quota_body())

    def node(self, request: Request) -> Response:
        node = request.params["node"]
        with self.lock:
            item = self.containers.get(node)
            if item is not None:
                self.advance(item)
                body: dict[str, Any] = {"id": item.id, "status": item.status}
                if item.status == "ERROR":
                    body["error_message"] = item.error
                return Response(200, self.pick(body, request))
            for media in self.published:
                if media.id == node:
                    return Response(200, self.pick(self.media_json(media), request))
        return graph_error(400, 100, f"Object with ID '{node}' does not exist", subcode=33)


if __name__ == "__main__":
    serve_main(lambda port: FakeThreads(port=port))


#: "File size: 8 MB maximum", "Aspect ratio limit: 10:1" (Threads Media specifications)
MAX_BYTES = 8_000_000
MAX_RATIO = 10.0


def _against_spec(image: bytes) -> str | None:
    if len(image) > MAX_BYTES:
        return f"the image is {len(image):,} bytes; the maximum is {MAX_BYTES:,}"
    with Image.open(io.BytesIO(image)) as im:
        w, h = im.size
    if max(w, h) / max(1, min(w, h)) > MAX_RATIO:
        return f"the image is {w}x{h}; the aspect ratio limit is 10:1"
    return None
