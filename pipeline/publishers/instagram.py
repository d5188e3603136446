"""Instagram (professional account) through the Graph API: stories and feed posts.

`kind = "story"` posts the 1080×1920 card as a story (`media_type=STORIES`, no caption:
stories have none); `kind = "feed"` posts it with the caption and alt text. Instagram
fetches the image from a public URL (see media.py), accepts JPEG only, and allows a
rolling quota of API posts per day: a used-up quota makes the post wait (rate-limited),
it never fails it.

Finding a post again (decision): nothing is added to what people see. The journal holds
the container id of every publish request; a PUBLISHED container proves the post is out.
Its media id is then looked up among recent media — feed posts by their caption text,
stories (which have no caption) as the story nearest in time to our publish request that
no other journaled post claims. If it cannot be told apart, the receipt keeps the
container id (`container:<id>`): posted for certain, URL unknown.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from pydantic import BaseModel

from pipeline.posts import Post
from pipeline.publishers.base import (
    Limits,
    PermanentError,
    TargetContext,
    TransientError,
)
from pipeline.publishers.containers import ContainerPublisher, quota_from
from pipeline.publishers.media import MediaHost
from pipeline.publishers.options import InstagramOptions

KINDS = ("feed", "story")
FEED_RATIO = (4 / 5, 1.91)  # width / height Instagram's feed accepts

#: what an ERROR container's subcode means (Instagram error codes reference)
REASONS = {
    "2207003": "downloading the image took too long",
    "2207004": "the image is larger than 8 MiB",
    "2207005": "the image format is not supported (JPEG only)",
    "2207009": "the aspect ratio is not supported",
    "2207052": "the image could not be fetched from its URL",
}


class InstagramPublisher(ContainerPublisher):
    """One Instagram professional account; `options.kind` picks story or feed."""

    network: ClassVar[str] = "instagram"
    options_model: ClassVar[type[BaseModel] | None] = InstagramOptions
    label: ClassVar[str] = "instagram"
    default_api_base: ClassVar[str] = "https://graph.facebook.com/v24.0"
    limits: ClassVar[Limits] = Limits(
        caption_max=2200,
        caption_counter="chars",
        image_max_bytes=8 * 1024 * 1024,
        image_mimes=("image/jpeg",),
        alt_text_max=1000,
        max_hashtags=30,
        links_clickable=False,
    )

    def __init__(self, ctx: TargetContext, media: MediaHost | None = None) -> None:
        super().__init__(ctx, media)
        self.kind = str(ctx.options.get("kind") or "feed")
        self.send_alt_text = bool(ctx.options.get("alt_text", True))

    def check(self, post: Post) -> None:
        card, name = post.card, self.ctx.name
        if self.kind not in KINDS:
            raise PermanentError(f"instagram: target {name!r}: options.kind must be feed or story")
        if card.mime != "image/jpeg":
            raise PermanentError(
                f"instagram: target {name!r}: Instagram accepts JPEG only and the "
                f"{card.format!r} card is {card.mime}; give the target a format with "
                'encoding = "jpeg"'
            )
        self.limits.refuse("instagram", post)
        ratio = card.width / card.height
        if self.kind == "feed" and not FEED_RATIO[0] - 0.005 <= ratio <= FEED_RATIO[1] + 0.005:
            raise PermanentError(
                f"instagram: target {name!r}: a feed image must be between 4:5 and 1.91:1, "
                f"the {card.format!r} card is {card.width}×{card.height}; use portrait or square"
            )

    def create(self, post: Post, image_url: str) -> str:
        data: dict[str, Any] = {"image_url": image_url}
        if self.kind == "story":
            data["media_type"] = "STORIES"
        else:
            data["caption"] = post.caption
            if self.send_alt_text and post.alt_text:
                data["alt_text"] = post.alt_text
        body = self.graph.post(
            f"{self.user_id}/media", "creating the media container", data, image_url=image_url
        )
        if not body.get("id"):
            raise TransientError("instagram: the container was created without an id")
        return str(body["id"])

    def state(self, container: str) -> tuple[str, str]:
        body = self.graph.get(container, "checking the container", fields="status_code,status")
        status = str(body.get("status_code") or "IN_PROGRESS")
        raw = str(body.get("status") or "")
        code = next(iter(re.findall(r"\d{7}", raw)), "")
        reason = f"{REASONS[code]} ({raw})" if code in REASONS else raw
        return status, reason

    def publish_container(self, container: str) -> str:
        body = self.graph.post(
            f"{self.user_id}/media_publish",
            "publishing the container",
            {"creation_id": container},
            publishing=True,
        )
        if not body.get("id"):
            raise TransientError("instagram: media_publish answered without a media id")
        return str(body["id"])

    def quota(self) -> tuple[int, int, float] | None:
        body = self.graph.get(
            f"{self.user_id}/content_publishing_limit",
            "reading the publishing quota",
            fields="quota_usage,config",
        )
        return quota_from(body)

    def recent(self, post: Post) -> list[dict[str, Any]]:
        if self.kind == "story":
            body = self.graph.get(
                f"{self.user_id}/stories", "listing stories", fields="id,permalink,timestamp"
            )
        else:
            body = self.graph.get(
                f"{self.user_id}/media",
                "listing recent media",
                fields="id,caption,permalink,timestamp",
                limit=25,
            )
        data = body.get("data")
        return [m for m in data if isinstance(m, dict)] if isinstance(data, list) else []

    def matches(self, post: Post, media: dict[str, Any]) -> bool:
        if self.kind == "story":
            return True  # no caption: nearest in time among stories no other post claims
        return super().matches(post, media)


__all__ = ["InstagramPublisher"]
