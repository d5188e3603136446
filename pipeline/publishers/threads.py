"""Threads through graph.threads.net: the same container flow as Instagram, `media_type=IMAGE`.

The caption (500 characters as Threads counts them, with its link) goes in `text`, the
alt text in `alt_text`; Threads fetches the image from its public URL. Exactly once and
`find` work as for Instagram (journaled containers; see containers.py), matching the
published post among the account's recent threads by its text.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel

from pipeline.posts import Post
from pipeline.publishers.base import Limits, PermanentError, TransientError
from pipeline.publishers.containers import ContainerPublisher, quota_from
from pipeline.publishers.options import ThreadsOptions


class ThreadsPublisher(ContainerPublisher):
    """One Threads profile (`options.user_id`, default "me")."""

    network: ClassVar[str] = "threads"
    options_model: ClassVar[type[BaseModel] | None] = ThreadsOptions
    label: ClassVar[str] = "threads"
    default_api_base: ClassVar[str] = "https://graph.threads.net/v1.0"
    default_user: ClassVar[str | None] = "me"
    limits: ClassVar[Limits] = Limits(
        caption_max=500,
        caption_counter="threads",
        # "File size: 8 MB maximum" (Threads API, Media specifications, developers.facebook.com/
        # docs/threads/overview#image-specifications): 8 MB is 8,000,000 bytes, not 8 MiB
        image_max_bytes=8_000_000,
        image_mimes=("image/jpeg", "image/png"),
        alt_text_max=1000,
    )

    def check(self, post: Post) -> None:
        """Type and byte size only. Width is not refused: per the same specifications a
        wider image "will be scaled down to" 1440 px (and a narrower one up to 320 px) by
        Threads itself; only an aspect ratio beyond 10:1 is refused."""
        card = post.card
        self.limits.refuse("threads", post)
        ratio = max(card.width, card.height) / max(1, min(card.width, card.height))
        if ratio > 10:
            raise PermanentError(
                f"threads: card is {card.width}×{card.height}; Threads takes aspect ratios "
                "up to 10:1"
            )

    def create(self, post: Post, image_url: str) -> str:
        data: dict[str, Any] = {"media_type": "IMAGE", "image_url": image_url}
        if post.caption:
            data["text"] = post.caption
        if post.alt_text:
            data["alt_text"] = post.alt_text
        body = self.graph.post(
            f"{self.user_id}/threads", "creating the media container", data, image_url=image_url
        )
        if not body.get("id"):
            raise TransientError("threads: the container was created without an id")
        return str(body["id"])

    def state(self, container: str) -> tuple[str, str]:
        body = self.graph.get(container, "checking the container", fields="status,error_message")
        return str(body.get("status") or "IN_PROGRESS"), str(body.get("error_message") or "")

    def publish_container(self, container: str) -> str:
        body = self.graph.post(
            f"{self.user_id}/threads_publish",
            "publishing the container",
            {"creation_id": container},
            publishing=True,
        )
        if not body.get("id"):
            raise TransientError("threads: threads_publish answered without a media id")
        return str(body["id"])

    def quota(self) -> tuple[int, int, float] | None:
        body = self.graph.get(
            f"{self.user_id}/threads_publishing_limit",
            "reading the publishing quota",
            fields="quota_usage,config",
        )
        return quota_from(body)

    def recent(self, post: Post) -> list[dict[str, Any]]:
        body = self.graph.get(
            f"{self.user_id}/threads",
            "listing recent threads",
            fields="id,text,permalink,timestamp",
            limit=25,
        )
        data = body.get("data")
        return [m for m in data if isinstance(m, dict)] if isinstance(data, list) else []


__all__ = ["ThreadsPublisher"]
