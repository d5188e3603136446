"""The outbox: writes exactly what would be sent into <data>/outbox/<target>/.

It is the default target, the dry run, and the pattern every test follows
(like Django's file mail backend). Files are written atomically: a temp file
then a rename, so a reader never sees half a post.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

from pydantic import BaseModel

from pipeline.files import atomic_write
from pipeline.posts import Post, Receipt
from pipeline.publishers.base import Limits, PermanentError, Publisher, TargetContext
from pipeline.publishers.options import OutboxOptions


class OutboxPublisher(Publisher):
    network = "outbox"
    options_model: ClassVar[type[BaseModel] | None] = OutboxOptions
    limits: ClassVar[Limits] = Limits(caption_max=100_000, image_max_bytes=50_000_000)
    find_is_authoritative = True

    def __init__(self, ctx: TargetContext) -> None:
        super().__init__(ctx)
        folder = ctx.options.get("folder")
        base = Path(str(folder)) if folder else ctx.data_dir / "outbox"
        self.folder = (base if base.is_absolute() else ctx.data_dir / base) / ctx.name

    def _paths(self, post: Post) -> tuple[Path, Path]:
        return (
            self.folder / f"{post.slug}.json",
            self.folder / f"{post.slug}.{post.card.extension}",
        )

    def publish(self, post: Post) -> Receipt:
        meta_path, image_path = self._paths(post)
        if meta_path.exists():
            raise PermanentError(f"{meta_path} already exists; the outbox never overwrites a post")
        now = datetime.now(UTC)
        record = {
            "target": post.target,
            "network": post.network,
            "item": post.slug,
            "caption": post.caption,
            "alt_text": post.alt_text,
            "link": post.link,
            "image": image_path.name,
            "image_mime": post.card.mime,
            "image_size": [post.card.width, post.card.height],
            "image_sha256": post.card.sha256,
            "format": post.card.format,
            "facets": [f.__dict__ for f in post.facets],
            "content_hash": post.content_hash,
            "idempotency_key": post.idempotency_key,
            "posted_at": now.isoformat(),
        }
        # the image first: a JSON file present means the post is complete
        atomic_write(image_path, post.card.data)
        atomic_write(meta_path, json.dumps(record, indent=2, ensure_ascii=False).encode() + b"\n")
        return Receipt(
            remote_id=f"outbox:{post.target}/{post.slug}", url=meta_path.as_uri(), posted_at=now
        )

    def find(self, post: Post) -> Receipt | None:
        meta_path, _ = self._paths(post)
        if not meta_path.is_file():
            return None
        record = json.loads(meta_path.read_text(encoding="utf-8"))
        when = datetime.fromisoformat(record["posted_at"])
        return Receipt(f"outbox:{post.target}/{post.slug}", meta_path.as_uri(), when)
