"""Facebook Page: a photo post with its message, or (`kind = "story"`) a Page photo story.

The card is uploaded as bytes (`source`), so Facebook needs no public copy of it. A feed
post is one request to /{page-id}/photos; a story is an unpublished photo, then
/{page-id}/photo_stories naming it — the photo id is journaled before that second request,
so `find` recognises the story by the photo it was made from. Feed posts are found by their
message among the Page's recent posts. Neither listing proves absence, so a send that may
have arrived and cannot be found ends `unknown` rather than risking a second post.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any, ClassVar

from pydantic import BaseModel

from pipeline.posts import Post, Receipt
from pipeline.publishers.base import (
    AmbiguousError,
    Limits,
    PermanentError,
    Publisher,
    PublishError,
    RateLimitedError,
    TargetContext,
    TokenInfo,
    TransientError,
)
from pipeline.publishers.graph import GraphClient
from pipeline.publishers.journal import Attempt, Journal
from pipeline.publishers.net import parse_time
from pipeline.publishers.options import FacebookOptions

log = logging.getLogger(__name__)

KINDS = ("feed", "story")


class FacebookPublisher(Publisher):
    """One Facebook Page (`options.page_id`, a Page access token)."""

    network: ClassVar[str] = "facebook"
    options_model: ClassVar[type[BaseModel] | None] = FacebookOptions
    limits: ClassVar[Limits] = Limits(
        caption_max=63206,
        caption_counter="chars",
        image_max_bytes=4 * 1024 * 1024,
        image_mimes=("image/png", "image/jpeg"),
        alt_text_max=1000,
    )
    secret_names: ClassVar[tuple[str, ...]] = ("access_token",)
    find_is_authoritative: ClassVar[bool] = False
    retry_is_idempotent: ClassVar[bool] = False

    def __init__(self, ctx: TargetContext) -> None:
        super().__init__(ctx)
        self.graph = GraphClient(ctx, "facebook", "https://graph.facebook.com/v24.0")
        self.page_id = str(ctx.options.get("page_id") or "")
        self.kind = str(ctx.options.get("kind") or "feed")
        self.journal = Journal(ctx.data_dir, self.network, ctx.name)
        #: posts whose publishing request got an error answer in this process: it may have
        #: been made all the same, so the next attempt looks before sending again
        self._uncertain: set[str] = set()

    # -- the interface --------------------------------------------------------------------
    def publish(self, post: Post) -> Receipt:
        self._check(post)
        key = post.idempotency_key
        if key in self._uncertain:
            found = self.find(post)
            if found is not None:
                return found
        try:
            return self._story(post) if self.kind == "story" else self._photo(post)
        except RateLimitedError:
            raise
        except TransientError:
            self._uncertain.add(key)
            raise

    def find(self, post: Post) -> Receipt | None:
        self._check_options()
        if self.kind == "story":
            return self._find_story(post)
        body = self.graph.get(
            f"{self.page_id}/posts",
            "listing the Page's posts",
            fields="id,message,permalink_url,created_time",
            limit=25,
        )
        wanted = " ".join(post.caption.split())
        for item in _data(body):
            if " ".join(str(item.get("message") or "").split()) == wanted and item.get("id"):
                when = parse_time(item.get("created_time")) or datetime.now(UTC)
                return Receipt(str(item["id"]), item.get("permalink_url"), when)
        return None

    def token_expiry(self) -> TokenInfo | None:
        """Meta's debug_token answer for this target's token (graph.facebook.com)."""
        return self.graph.token_expiry()

    def close(self) -> None:
        self.graph.close()

    # -- steps ----------------------------------------------------------------------------
    def _check_options(self) -> None:
        if not self.page_id:
            raise PermanentError(f"facebook: target {self.ctx.name!r} needs options.page_id")
        if self.kind not in KINDS:
            raise PermanentError(
                f"facebook: target {self.ctx.name!r}: options.kind must be feed or story"
            )

    def _check(self, post: Post) -> None:
        self._check_options()
        self.limits.refuse("facebook", post)

    def _files(self, post: Post) -> dict[str, Any]:
        return {"source": (f"{post.slug}.{post.card.extension}", post.card.data, post.card.mime)}

    def _photo(self, post: Post) -> Receipt:
        data = {"message": post.caption, "published": "true"}
        if post.alt_text:
            data["alt_text_custom"] = post.alt_text
        body = self.graph.post(
            f"{self.page_id}/photos",
            "posting the photo",
            data,
            files=self._files(post),
            publishing=True,
        )
        post_id = body.get("post_id") or body.get("id")
        if not post_id:
            raise AmbiguousError("facebook: the photo request succeeded without an id")
        log.info("facebook: posted %s/%s as %s", post.slug, post.target, post_id)
        return Receipt(str(post_id), self._permalink(str(post_id)), datetime.now(UTC))

    def _story(self, post: Post) -> Receipt:
        body = self.graph.post(
            f"{self.page_id}/photos",
            "uploading the story photo",
            {"published": "false"},
            files=self._files(post),
        )
        if not body.get("id"):
            raise TransientError("facebook: the photo upload answered without an id")
        attempt = Attempt(str(body["id"]), time.time())
        attempt.publishing = time.time()
        self.journal.record(post.idempotency_key, attempt)  # durable before the story request
        answer = self.graph.post(
            f"{self.page_id}/photo_stories",
            "publishing the story",
            {"photo_id": attempt.container},
            publishing=True,
        )
        story_id = answer.get("post_id")
        if not answer.get("success") or not story_id:
            raise AmbiguousError("facebook: the story request succeeded without a post id")
        attempt.media_id = str(story_id)
        self.journal.record(post.idempotency_key, attempt)
        log.info("facebook: posted story %s/%s as %s", post.slug, post.target, story_id)
        return Receipt(str(story_id), self._story_url(str(story_id)), datetime.now(UTC))

    def _find_story(self, post: Post) -> Receipt | None:
        sent = [a for a in self.journal.attempts(post.idempotency_key) if a.publishing]
        if not sent:
            return None
        photos = {a.container for a in sent}
        for story in self._stories():
            if str(story.get("media_id") or "") in photos and story.get("post_id"):
                return Receipt(str(story["post_id"]), story.get("url"), _story_time(story))
        return None

    def _stories(self) -> list[dict[str, Any]]:
        return _data(self.graph.get(f"{self.page_id}/stories", "listing the Page's stories"))

    def _permalink(self, post_id: str) -> str | None:
        try:
            body = self.graph.get(post_id, "reading the permalink", fields="permalink_url")
        except PublishError as exc:
            log.warning("facebook: posted %s, but its permalink is unknown: %s", post_id, exc)
            return None
        url = body.get("permalink_url")
        return str(url) if url else None

    def _story_url(self, story_id: str) -> str | None:
        try:
            stories = self._stories()
        except PublishError as exc:
            log.warning("facebook: posted story %s, but its URL is unknown: %s", story_id, exc)
            return None
        for story in stories:
            if str(story.get("post_id")) == story_id and story.get("url"):
                return str(story["url"])
        return None


def _data(body: dict[str, Any]) -> list[dict[str, Any]]:
    data = body.get("data")
    return [d for d in data if isinstance(d, dict)] if isinstance(data, list) else []


def _story_time(story: dict[str, Any]) -> datetime:
    raw = story.get("creation_time")
    if isinstance(raw, str) and raw.isdigit():
        return datetime.fromtimestamp(int(raw), UTC)
    return parse_time(raw) or datetime.now(UTC)


__all__ = ["FacebookPublisher"]
