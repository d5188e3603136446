"""The publisher interface every network module implements, and its error taxonomy.

The runner only ever sees these exceptions; each adapter maps its client
library's errors onto them so the retry policy and the ledger can act on the
kind of failure rather than on a network's details.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, SecretStr, ValidationError

from pipeline.posts import Post, Receipt


class PublishError(Exception):
    """Base of every publishing failure. Messages must never contain a secret."""

    kind: ClassVar[str] = "error"


class TransientError(PublishError):
    """Timeouts, connection resets, 5xx: safe to retry."""

    kind = "transient"


class RateLimitedError(TransientError):
    """429 or a used-up quota: retry after `retry_after` seconds if the network said."""

    kind = "rate_limited"

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentError(PublishError):
    """400, 403, validation: retrying cannot help; record and stop."""

    kind = "permanent"


class AuthError(PermanentError):
    """Credentials refused: stop every post of this target in this pass."""

    kind = "auth"

    def __init__(self, message: str, credential: str | None = None) -> None:
        super().__init__(message)
        self.credential = credential


class TargetBlockedError(PermanentError):
    """The target itself cannot post now (an account restriction, a retired API version):
    like an auth failure, the runner stops this target's other posts for the pass."""

    kind = "blocked"


class DuplicateError(PublishError):
    """The network says this content was already posted: reconcile through find()."""

    kind = "duplicate"


class AmbiguousError(PublishError):
    """The request may or may not have reached the network (e.g. reset after sending)."""

    kind = "ambiguous"


@dataclass(frozen=True)
class Limits:
    """What a network accepts; captions and the encoder read this."""

    caption_max: int
    caption_counter: str = "chars"  # "chars" | "x_weighted" | "graphemes" | "mastodon"
    image_max_bytes: int = 5_000_000
    image_mimes: tuple[str, ...] = ("image/png", "image/jpeg")
    alt_text_max: int = 1000
    max_hashtags: int | None = None
    links_clickable: bool = True

    def refuse(self, network: str, post: Post) -> None:
        """Raise PermanentError for a card the network would refuse, before any request."""
        card = post.card
        if card.mime not in self.image_mimes:
            raise PermanentError(
                f"{network}: card type {card.mime!r} is not accepted "
                f"({', '.join(self.image_mimes)})"
            )
        size, limit = len(card.data), self.image_max_bytes
        if size > limit:
            raise PermanentError(
                f"{network}: card for {post.slug!r} is {size:,} bytes ({size / 1048576:.1f} MB); "
                f"the limit is {limit:,} bytes ({limit / 1048576:.0f} MB)"
            )
        if len(post.alt_text) > self.alt_text_max:
            raise PermanentError(
                f"{network}: alt text is {len(post.alt_text)} characters; "
                f"the limit is {self.alt_text_max}"
            )


@dataclass
class TargetContext:
    """Everything a publisher gets at construction: its target's name, options, secrets."""

    name: str
    network: str
    options: Mapping[str, Any] = field(default_factory=dict)
    secrets: Mapping[str, SecretStr] = field(default_factory=dict)
    data_dir: Path = Path("var")

    def secret(self, key: str) -> str:
        """The secret's value, or an AuthError naming the variable to set."""
        value = self.secrets.get(key)
        if value is None or not value.get_secret_value():
            raise AuthError(
                f"target {self.name!r}: missing secret; set {secret_env_name(self.name, key)} "
                "in the environment or .env",
                credential=secret_env_name(self.name, key),
            )
        return value.get_secret_value()


@dataclass(frozen=True)
class TokenInfo:
    """What a network says about a target's access token (Meta debug_token, LinkedIn
    introspection): when it expires (None = never) and a short note (scopes, type)."""

    expires_at: datetime | None
    note: str = ""


def parse_options(cls: type[Publisher], ctx: TargetContext) -> BaseModel | None:
    """The target's options checked against the publisher's model; PermanentError names the
    unknown or invalid key and the valid ones (`quotecast check` says the same with a line)."""
    model = cls.options_model
    if model is None:
        return None
    try:
        return model.model_validate(dict(ctx.options))
    except ValidationError as exc:
        from pipeline.publishers.options import describe_errors

        raise PermanentError(
            f"target {ctx.name!r}: " + "; ".join(describe_errors(model, exc))
        ) from None


def secret_env_name(target: str, key: str) -> str:
    """The environment variable holding a target's secret, e.g. QUOTECAST_X_ACCESS_TOKEN."""
    norm = f"{target}_{key}".upper().replace("-", "_").replace(".", "_")
    return f"QUOTECAST_{norm}"


class Publisher(ABC):
    """One network. `publish` posts once; `find` looks for a post already made."""

    network: ClassVar[str]
    limits: ClassVar[Limits]
    #: names of the secrets this network needs, read from QUOTECAST_<TARGET>_<NAME>
    secret_names: ClassVar[tuple[str, ...]] = ()
    #: True when find() returning None proves the post was not made
    find_is_authoritative: ClassVar[bool] = False
    #: True when sending the same post twice cannot duplicate it (idempotency key, record key)
    retry_is_idempotent: ClassVar[bool] = False
    #: how long (seconds) after the first send the network remembers the idempotency key;
    #: None = for as long as it matters (a record key, a journal)
    idempotency_window: ClassVar[float | None] = None
    #: the target's options, unknown keys refused (see options.py); None accepts anything
    options_model: ClassVar[type[BaseModel] | None] = None

    def __init__(self, ctx: TargetContext) -> None:
        self.ctx = ctx
        self.options = parse_options(type(self), ctx)

    def resend_is_idempotent(self, first_sent: datetime | None, now: datetime) -> bool:
        """Whether sending again now cannot make a second post: an idempotent send, and
        (when the network forgets keys) still within the key's lifetime after the first send."""
        if not self.retry_is_idempotent:
            return False
        window = self.idempotency_window
        if window is None:
            return True
        return first_sent is not None and (now - first_sent).total_seconds() < window

    def token_expiry(self) -> TokenInfo | None:
        """The access token's expiry as the network reports it; None when it cannot tell."""
        return None

    @abstractmethod
    def publish(self, post: Post) -> Receipt:
        """Send the post once; raise a PublishError subclass on failure."""

    def find(self, post: Post) -> Receipt | None:
        """Look for this post on the network; None when not found or not supported."""
        return None

    def close(self) -> None:  # noqa: B027 - optional hook, most publishers hold nothing
        """Release sessions and connections."""
