"""Pure data passed from the runner to publishers: a Post and the Receipt a network returns.

Kept apart from both sides so publishers never import render/captions and the
runner never imports a network library.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Card:
    """A rendered card image exactly as it will be uploaded."""

    data: bytes
    mime: str  # "image/png" or "image/jpeg"
    width: int
    height: int
    format: str  # card format name, e.g. "story"

    @property
    def extension(self) -> str:
        return "jpg" if self.mime == "image/jpeg" else "png"

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


@dataclass(frozen=True)
class Facet:
    """A rich-text span (Bluesky): UTF-8 byte offsets into the caption."""

    byte_start: int
    byte_end: int
    kind: str  # "link" | "tag"
    value: str  # the URI for links, the tag text (without '#') for tags


@dataclass(frozen=True)
class Post:
    """One Item prepared for one Target. Building it has no side effects."""

    slug: str
    target: str
    network: str
    caption: str
    alt_text: str
    link: str | None
    card: Card
    facets: tuple[Facet, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def content_hash(self) -> str:
        """Fingerprint of what is sent: caption, alt text, link and image."""
        h = hashlib.sha256()
        for part in (self.caption, self.alt_text, self.link or ""):
            h.update(part.encode("utf-8"))
            h.update(b"\0")
        h.update(self.card.data)
        return h.hexdigest()

    @property
    def idempotency_key(self) -> str:
        """Deterministic per (item, target, content): the same post always gets the same key."""
        raw = f"quotecast:{self.slug}:{self.target}:{self.content_hash}"
        return hashlib.sha256(raw.encode()).hexdigest()[:32]

    @property
    def fingerprint(self) -> str:
        """Short marker to recognise our post among an account's recent posts."""
        return self.idempotency_key[:12]


@dataclass(frozen=True)
class Receipt:
    """What a network answered for a post that went out."""

    remote_id: str
    url: str | None
    posted_at: datetime
