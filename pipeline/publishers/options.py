"""Each network's target `options` as a pydantic model: unknown keys are refused.

Why one light module: `quotecast check` validates every target's options without
importing the client libraries (tweepy, atproto, Mastodon.py), and each publisher names
its model in `options_model`, so a misspelt key (`foldr` for `folder`) fails loudly at
`check` (with file and line) and when the target is set up, instead of being ignored.
Every key an adapter reads is declared here with the adapter's default.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class _Options(BaseModel):
    """Keys every target accepts: the runner's request timeout and the caption overrides."""

    model_config = ConfigDict(extra="forbid")

    request_timeout: float = Field(default=30.0, gt=0)
    caption_max: int | None = Field(default=None, ge=0)
    hashtags_max: int | None = Field(default=None, ge=0)
    link_in_bio: str | None = None


class OutboxOptions(_Options):
    folder: str | None = None


class XOptions(_Options):
    api_base: str = "https://api.x.com"
    timeout: float | None = Field(default=None, gt=0)
    find_depth: int = Field(default=50, ge=1)


class BlueskyOptions(_Options):
    handle: str = ""
    api_base: str = "https://bsky.social"
    langs: list[str] = Field(default_factory=list)
    find_scan: int = Field(default=50, ge=0)
    session_cache: bool = True


class MastodonOptions(_Options):
    api_base: str = ""
    timeout: float | None = Field(default=None, gt=0)
    mastodon_version: str = "4.0.0"
    visibility: Literal["public", "unlisted", "private", "direct"] | None = None
    media_poll_interval: float = Field(default=1.0, ge=0)
    media_wait_max: float = Field(default=60.0, ge=0)
    find_depth: int = Field(default=40, ge=1)


class WebhookOptions(_Options):
    url: str = ""
    headers: dict[str, str] = Field(default_factory=dict)
    image: Literal["multipart", "url"] = "multipart"
    image_base_url: str = ""
    timeout: float | None = Field(default=None, gt=0)
    honours_idempotency_key: bool = False
    image_max_bytes: int | None = Field(default=None, gt=0)


class _MediaOptions(_Options):
    """Where Meta fetches the card from (see media.py)."""

    media: Literal["site", "s3"] = "site"
    media_check_timeout: float = Field(default=10.0, gt=0)
    media_base_url: str | None = None
    s3_bucket: str | None = None
    s3_endpoint_url: str | None = None
    s3_region: str | None = None
    s3_public_base_url: str | None = None
    s3_prefix: str = "quotecast/"
    s3_acl: str | None = None


class _ContainerOptions(_MediaOptions):
    api_base: str | None = None
    user_id: str | None = None
    poll_interval: float = Field(default=3.0, ge=0)
    container_wait: float = Field(default=120.0, ge=0)


class InstagramOptions(_ContainerOptions):
    kind: Literal["feed", "story"] = "feed"
    alt_text: bool = True


class ThreadsOptions(_ContainerOptions):
    pass


class FacebookOptions(_Options):
    api_base: str | None = None
    page_id: str = ""
    kind: Literal["feed", "story"] = "feed"


class LinkedInOptions(_Options):
    api_base: str = "https://api.linkedin.com"
    #: where token introspection lives (www.linkedin.com, not the API host)
    oauth_base: str = "https://www.linkedin.com"
    author: str = ""
    linkedin_version: str | None = Field(default=None, pattern=r"^\d{6}(\.\d{2})?$")
    visibility: Literal["PUBLIC", "CONNECTIONS", "LOGGED_IN"] = "PUBLIC"
    image_wait: float = Field(default=30.0, ge=0)
    poll_interval: float = Field(default=1.0, ge=0)


#: network name → its options model (the built-in networks of the registry)
MODELS: dict[str, type[BaseModel]] = {
    "outbox": OutboxOptions,
    "x": XOptions,
    "bluesky": BlueskyOptions,
    "mastodon": MastodonOptions,
    "webhook": WebhookOptions,
    "instagram": InstagramOptions,
    "threads": ThreadsOptions,
    "facebook": FacebookOptions,
    "linkedin": LinkedInOptions,
}


def option_problems(network: str, options: dict[str, Any]) -> list[tuple[str | None, str]]:
    """(option key or None, message) for each problem of a target's options; [] when valid."""
    model = MODELS.get(network)
    if model is None:
        return []
    try:
        model.model_validate(options)
    except ValidationError as exc:
        lines = describe_errors(model, exc)
        return [(_key(e["loc"]), msg) for e, msg in zip(exc.errors(), lines, strict=True)]
    return []


def describe_errors(model: type[BaseModel], exc: ValidationError) -> list[str]:
    """One line per error: the option, what is wrong, and for an unknown key the valid keys."""
    valid = ", ".join(sorted(model.model_fields))
    out = []
    for err in exc.errors():
        key = _key(err["loc"]) or "options"
        if err["type"] == "extra_forbidden":
            out.append(f"options.{key}: unknown option; valid options: {valid}")
        else:
            out.append(f"options.{key}: {err['msg']}")
    return out


def _key(loc: tuple[int | str, ...]) -> str | None:
    return ".".join(str(p) for p in loc) if loc else None


__all__ = ["MODELS", "describe_errors", "option_problems"]
