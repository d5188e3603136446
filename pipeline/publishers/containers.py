"""The container flow shared by Instagram and Threads: image URL → container → FINISHED → publish.

Exactly once comes from the journal (see journal.py): a container's id is on disk before
the publish request names it, and `publish()` first asks about every journaled container
of the post. PUBLISHED means it is out (its receipt is returned, nothing is sent); FINISHED
means it can be published — reused rather than a second container made; a container that
never reached the publish request cannot have been published. So `find()` is
authoritative and a retry cannot post twice, even after a crash mid-request.
"""

from __future__ import annotations

import logging
import time
from abc import abstractmethod
from datetime import UTC, datetime
from typing import Any, ClassVar

from pipeline.posts import Post, Receipt
from pipeline.publishers.base import (
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
from pipeline.publishers.media import MediaHost, host_for
from pipeline.publishers.net import parse_time

log = logging.getLogger(__name__)

#: how far a media's own timestamp may sit from the moment we sent the publish request
MATCH_WINDOW = 600.0


class ContainerPublisher(Publisher):
    """Base of the Instagram and Threads adapters; subclasses name endpoints and fields."""

    secret_names: ClassVar[tuple[str, ...]] = (
        "access_token",
        "s3_access_key_id",
        "s3_secret_access_key",
    )
    find_is_authoritative: ClassVar[bool] = True
    retry_is_idempotent: ClassVar[bool] = True
    label: ClassVar[str]
    default_api_base: ClassVar[str]
    default_user: ClassVar[str | None] = None

    def __init__(self, ctx: TargetContext, media: MediaHost | None = None) -> None:
        super().__init__(ctx)
        options = ctx.options
        self.graph = GraphClient(ctx, self.label, self.default_api_base)
        self.user_id = str(options.get("user_id") or self.default_user or "")
        self.poll_interval = float(options.get("poll_interval", 3.0))
        self.container_wait = float(options.get("container_wait", 120.0))
        self.journal = Journal(ctx.data_dir, self.network, ctx.name)
        self._media = media

    # -- what subclasses provide ----------------------------------------------------------
    @abstractmethod
    def check(self, post: Post) -> None:
        """Refuse locally what the network would refuse (type, size, shape)."""

    @abstractmethod
    def create(self, post: Post, image_url: str) -> str:
        """Make the container; return its id."""

    @abstractmethod
    def state(self, container: str) -> tuple[str, str]:
        """(IN_PROGRESS | FINISHED | ERROR | EXPIRED | PUBLISHED, reason)."""

    @abstractmethod
    def publish_container(self, container: str) -> str:
        """The one request that makes the post; return the published media id."""

    @abstractmethod
    def quota(self) -> tuple[int, int, float] | None:
        """(used, total, window seconds) of the account's publishing quota."""

    @abstractmethod
    def recent(self, post: Post) -> list[dict[str, Any]]:
        """The account's recent media where this post would show (id, timestamp, text)."""

    def matches(self, post: Post, media: dict[str, Any]) -> bool:
        """Whether a recent media is this post (default: same caption text)."""
        text = media.get("caption") or media.get("text") or ""
        return " ".join(str(text).split()) == " ".join(post.caption.split())

    # -- the interface --------------------------------------------------------------------
    def publish(self, post: Post) -> Receipt:
        self._require_user()
        self.check(post)
        key = post.idempotency_key
        settled = self._settle(post)
        if isinstance(settled, Receipt):
            log.info("%s: %s/%s was already published", self.label, post.slug, post.target)
            return settled
        attempt = settled
        if attempt is None:
            image_url = self.media().publish(post.card)  # a broken site fails before any call
            self._check_quota()
            attempt = Attempt(self.create(post, image_url), time.time(), image_url=image_url)
            self.journal.record(key, attempt)
        else:
            self._check_quota()
        self._wait_finished(attempt)
        attempt.publishing = time.time()
        self.journal.record(key, attempt)  # durable before the request that posts
        media_id = self.publish_container(attempt.container)
        attempt.media_id = media_id
        self.journal.record(key, attempt)
        log.info("%s: published %s/%s as %s", self.label, post.slug, post.target, media_id)
        return self.receipt(media_id, attempt.publishing)

    def find(self, post: Post) -> Receipt | None:
        """From the journal: a container that reached the publish request and is PUBLISHED."""
        self._require_user()
        for attempt in reversed(self.journal.attempts(post.idempotency_key)):
            if attempt.publishing is None:
                continue  # never named in a publish request: cannot have been published
            found = self._published(post, attempt)
            if found is not None:
                return found
        return None

    def close(self) -> None:
        self.graph.close()

    def token_expiry(self) -> TokenInfo | None:
        """Meta's debug_token answer for this target's token: graph.facebook.com for
        Instagram, graph.threads.net for Threads (both document /debug_token)."""
        return self.graph.token_expiry()

    # -- steps ----------------------------------------------------------------------------
    def media(self) -> MediaHost:
        if self._media is None:
            self._media = host_for(self.ctx)
        return self._media

    def _require_user(self) -> None:
        if not self.user_id:
            raise PermanentError(
                f"{self.label}: target {self.ctx.name!r} needs options.user_id "
                "(the account's numeric id)"
            )

    def _settle(self, post: Post) -> Receipt | Attempt | None:
        """A receipt if a journaled container is out; else one to reuse; else None."""
        reuse: Attempt | None = None
        for attempt in reversed(self.journal.attempts(post.idempotency_key)):
            if attempt.media_id:
                return self.receipt(attempt.media_id, attempt.publishing)
            try:
                status, _ = self.state(attempt.container)
            except PublishError:
                if attempt.publishing is not None:
                    raise  # it may be out: never send again without knowing
                continue
            if status == "PUBLISHED":
                return self._published(post, attempt, status) or self._unlocated(attempt)
            if status in ("FINISHED", "IN_PROGRESS") and reuse is None:
                reuse = attempt
        return reuse

    def _check_quota(self) -> None:
        found = self.quota()
        if found is None:
            return
        used, total, window = found
        if total > 0 and used >= total:
            wait = min(window, max(60.0, window / total))
            raise RateLimitedError(
                f"{self.label}: target {self.ctx.name!r} used its publishing quota "
                f"({used}/{total} in {window / 3600:g} h); the post waits, next try in "
                f"~{wait / 60:.0f} min",
                wait,
            )

    def _wait_finished(self, attempt: Attempt) -> None:
        deadline = time.monotonic() + self.container_wait
        while True:
            status, reason = self.state(attempt.container)
            if status in ("FINISHED", "PUBLISHED"):
                return
            if status == "ERROR":
                raise PermanentError(
                    f"{self.label}: Meta could not process the image at {attempt.image_url}: "
                    f"{reason or 'no reason given'}"
                )
            if status == "EXPIRED":
                raise TransientError(
                    f"{self.label}: container {attempt.container} expired; a new one is made"
                )
            if time.monotonic() >= deadline:
                raise TransientError(
                    f"{self.label}: container {attempt.container} still {status} after "
                    f"{self.container_wait:g}s; will check again"
                )
            time.sleep(self.poll_interval)

    def _published(self, post: Post, attempt: Attempt, status: str = "") -> Receipt | None:
        if attempt.media_id:
            return self.receipt(attempt.media_id, attempt.publishing)
        if not status:
            status, _ = self.state(attempt.container)
        if status != "PUBLISHED":
            return None
        located = self._locate(post, attempt)
        if located is not None:
            attempt.media_id = located.remote_id
            self.journal.record(post.idempotency_key, attempt)
            return located
        return self._unlocated(attempt)

    def _unlocated(self, attempt: Attempt) -> Receipt:
        """Out for certain, but not told apart from other media: keep the container id."""
        log.warning(
            "%s: container %s is PUBLISHED but its media was not found among recent ones",
            self.label,
            attempt.container,
        )
        when = datetime.fromtimestamp(attempt.publishing or attempt.created, UTC)
        return Receipt(f"container:{attempt.container}", None, when)

    def _locate(self, post: Post, attempt: Attempt) -> Receipt | None:
        """The published media of `attempt` among recent ones: text match, nearest in time."""
        sent = attempt.publishing or attempt.created
        taken = self.journal.media_ids()
        best: tuple[float, dict[str, Any]] | None = None
        for media in self.recent(post):
            moment = parse_time(media.get("timestamp"))
            media_id = str(media.get("id") or "")
            if not media_id or media_id in taken or moment is None:
                continue
            distance = abs(moment.timestamp() - sent)
            if distance > MATCH_WINDOW or not self.matches(post, media):
                continue
            if best is None or distance < best[0]:
                best = (distance, media)
        if best is None:
            return None
        media = best[1]
        moment = parse_time(media.get("timestamp")) or datetime.now(UTC)
        return Receipt(str(media["id"]), media.get("permalink"), moment)

    def receipt(self, media_id: str, sent: float | None) -> Receipt:
        """The published media's permalink; a failed lookup never hides that it is out."""
        when = datetime.fromtimestamp(sent, UTC) if sent else datetime.now(UTC)
        try:
            media = self.graph.get(
                media_id, "reading the permalink", fields="id,permalink,timestamp"
            )
        except PublishError as exc:
            log.warning(
                "%s: published %s, but its permalink is unknown: %s", self.label, media_id, exc
            )
            return Receipt(media_id, None, when)
        return Receipt(media_id, media.get("permalink"), parse_time(media.get("timestamp")) or when)


def quota_from(body: dict[str, Any]) -> tuple[int, int, float] | None:
    """(used, total, window) from a content_publishing_limit / threads_publishing_limit answer."""
    data = body.get("data")
    if not isinstance(data, list) or not data or not isinstance(data[0], dict):
        return None
    entry = data[0]
    config = entry.get("config")
    if not isinstance(config, dict):
        config = {}
    try:
        used = int(entry.get("quota_usage") or 0)
        total = int(config.get("quota_total") or 0)
        window = float(config.get("quota_duration") or 86400)
    except (TypeError, ValueError):
        return None
    return used, total, window


__all__ = ["ContainerPublisher", "quota_from"]
