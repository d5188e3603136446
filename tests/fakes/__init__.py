"""Fakes of the network APIs publishers talk to, plus builders for test posts.

Each fake (`FakeX`, `FakeMastodon`, `WebhookSink`) serves on 127.0.0.1 in a daemon thread
of the test process — so a publisher under test can run in that process or in a
`quotecast` subprocess pointed at `fake.url` — and keeps what it holds in `.posts`.
Faults are queued per route with `fake.inject("POST /2/tweets", Fault.error(500))`.
"""

from __future__ import annotations

import io
import os
from functools import cache

from PIL import Image

from pipeline.posts import Card, Post
from tests.fakes.server import FakeServer, Fault, Request, Response

CANARY = "CANARY-SECRET-123"
CAPTION = "Stay curious. — Ada Lovelace https://example.com/q/stay-curious?utm_source=x #quotes"


def make_png(
    width: int = 64, height: int = 36, colour: tuple[int, int, int] = (20, 90, 160)
) -> bytes:
    """A small real PNG."""
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, format="PNG")
    return buffer.getvalue()


@cache
def noise_png(min_bytes: int) -> bytes:
    """A real PNG of at least `min_bytes` (random pixels do not compress)."""
    side = int((min_bytes / 3) ** 0.5) + 16
    image = Image.frombytes("RGB", (side, side), os.urandom(side * side * 3))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=0)
    data = buffer.getvalue()
    assert len(data) >= min_bytes
    return data


def make_post(
    *,
    slug: str = "stay-curious",
    target: str = "x",
    network: str = "x",
    caption: str = CAPTION,
    alt_text: str = "A blue card with the quote “Stay curious.” by Ada Lovelace",
    link: str | None = "https://example.com/q/stay-curious?utm_source=x",
    image: bytes | None = None,
) -> Post:
    """A Post as the runner would build it, with a real PNG card."""
    data = image if image is not None else make_png()
    with Image.open(io.BytesIO(data)) as img:
        width, height = img.size
    card = Card(data=data, mime="image/png", width=width, height=height, format="landscape")
    return Post(
        slug=slug,
        target=target,
        network=network,
        caption=caption,
        alt_text=alt_text,
        link=link,
        card=card,
    )


__all__ = [
    "CANARY",
    "FakeServer",
    "Fault",
    "Request",
    "Response",
    "make_png",
    "make_post",
    "noise_png",
]
