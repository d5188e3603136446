"""A webhook receiver that checks what quotecast's webhook publisher promises.

It accepts `POST /hook` (multipart `payload` + `image`, or JSON), recomputes the HMAC-SHA256
of the exact body with its own copy of the signing secret and refuses a bad or missing
signature with 401, checks the timestamp header against the signed payload, and honours
`Idempotency-Key` (same key -> same answer, nothing stored twice). It answers
`{"id", "url"}`, or nothing at all with `respond_empty=True`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from dataclasses import dataclass
from typing import Any

from tests.fakes.server import FakeServer, Handler, Request, Response, serve_main


@dataclass
class Delivery:
    id: str
    payload: dict[str, Any]
    image: bytes | None
    image_filename: str | None
    image_mime: str | None
    idempotency_key: str | None
    signature: str | None
    body: bytes


class WebhookSink(FakeServer):
    """`.posts` holds every accepted delivery, oldest first."""

    def __init__(
        self,
        secret: str | None = None,
        respond_empty: bool = False,
        dedupe: bool = True,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.secret = secret
        self.respond_empty = respond_empty
        self.dedupe = dedupe
        self.posts: list[Delivery] = []
        self.signature_failures = 0
        self._by_key: dict[str, Delivery] = {}
        self._count = 0
        self._id_lock = threading.Lock()
        super().__init__(host, port)

    def routes(self) -> list[tuple[str, Handler]]:
        return [("POST /hook", self.receive)]

    def state(self) -> dict[str, Any]:
        with self.lock:
            return {"posts": [{"id": d.id, "payload": d.payload} for d in self.posts]}

    def verify(self, body: bytes, signature: str | None) -> bool:
        if self.secret is None:
            return True
        expected = "sha256=" + hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()
        return signature is not None and hmac.compare_digest(expected, signature)

    def receive(self, request: Request) -> Response:
        signature = request.headers.get("X-Quotecast-Signature")
        if not self.verify(request.body, signature):
            with self.lock:
                self.signature_failures += 1
            return Response(401, {"error": "bad signature"})
        ctype = request.header("Content-Type")
        image = filename = mime = None
        if ctype.startswith("multipart/form-data"):
            parts = request.multipart()
            payload = json.loads(parts["payload"].text)
            if "image" in parts:
                image, filename = parts["image"].data, parts["image"].filename
                mime = parts["image"].content_type
        elif ctype.startswith("application/json"):
            payload = request.json()
        else:
            return Response(415, {"error": f"unsupported content type {ctype!r}"})
        stamp = request.header("X-Quotecast-Timestamp")
        if str(payload.get("timestamp")) != stamp:
            return Response(400, {"error": "timestamp header does not match the payload"})
        key = request.headers.get("Idempotency-Key")
        with self.lock:
            if self.dedupe and key and key in self._by_key:
                return self._answer(self._by_key[key])
            self._count += 1
            delivery = Delivery(
                id=f"msg-{self._count}",
                payload=payload,
                image=image,
                image_filename=filename,
                image_mime=mime,
                idempotency_key=key,
                signature=signature,
                body=request.body,
            )
            self.posts.append(delivery)
            if key:
                self._by_key[key] = delivery
        return self._answer(delivery)

    def _answer(self, delivery: Delivery) -> Response:
        if self.respond_empty:
            return Response(204)
        return Response(200, {"id": delivery.id, "url": f"{self.url}/messages/{delivery.id}"})


if __name__ == "__main__":
    serve_main(lambda port: WebhookSink(port=port))
