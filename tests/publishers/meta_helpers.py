"""Builders shared by the Instagram, Threads, Facebook and LinkedIn tests."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from PIL import Image

from pipeline.posts import Card, Post
from pipeline.publishers.media import SiteMedia
from tests.fakes import CANARY

TOKEN = f"{CANARY}-meta-token"
STORY_CAPTION = "“Stay curious.”\n— Ada Lovelace\n\nLink in bio\n\n#quotes"
ALT = "A dark card with the quote “Stay curious.” by Ada Lovelace"


@cache
def make_image(width: int, height: int, fmt: str = "JPEG", shade: int = 40) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (shade, 60, 90)).save(buffer, format=fmt)
    return buffer.getvalue()


def card_post(
    *,
    slug: str = "stay-curious",
    target: str = "ig",
    network: str = "instagram",
    caption: str = STORY_CAPTION,
    alt_text: str = ALT,
    size: tuple[int, int] = (108, 192),
    fmt: str = "JPEG",
    shade: int = 40,
    card_format: str = "story",
) -> Post:
    """A Post with a real (small) image; the shade makes different posts' bytes differ."""
    data = make_image(size[0], size[1], fmt, shade)
    mime = "image/jpeg" if fmt == "JPEG" else "image/png"
    card = Card(data=data, mime=mime, width=size[0], height=size[1], format=card_format)
    return Post(
        slug=slug,
        target=target,
        network=network,
        caption=caption,
        alt_text=alt_text,
        link="https://example.com/q/stay-curious?utm_source=instagram",
        card=card,
    )


@dataclass
class FixedUrl:
    """A media host that skips our own check: to see what Meta does with a bad URL."""

    url: str
    calls: list[bytes] = field(default_factory=list)

    def publish(self, card: Card) -> str:
        self.calls.append(card.data)
        return self.url


def site_media(site_dir: Path, base_url: str) -> SiteMedia:
    return SiteMedia(site_dir, base_url, None, timeout=2.0)
