"""Registry: `network = "…"` in config → the publisher class, imported only when used."""

from __future__ import annotations

import importlib

from pipeline.publishers.base import Publisher

#: network name → "module:Class"; one module per network, imported lazily so that
#: `quotecast --help` never pays for tweepy or atproto.
REGISTRY: dict[str, str] = {
    "outbox": "pipeline.publishers.outbox:OutboxPublisher",
    "x": "pipeline.publishers.x:XPublisher",
    "bluesky": "pipeline.publishers.bluesky:BlueskyPublisher",
    "mastodon": "pipeline.publishers.mastodon:MastodonPublisher",
    "webhook": "pipeline.publishers.webhook:WebhookPublisher",
    "instagram": "pipeline.publishers.instagram:InstagramPublisher",
    "threads": "pipeline.publishers.threads:ThreadsPublisher",
    "facebook": "pipeline.publishers.facebook:FacebookPublisher",
    "linkedin": "pipeline.publishers.linkedin:LinkedInPublisher",
}


def publisher_class(network: str) -> type[Publisher]:
    """The class registered for `network`, or a ValueError listing the known ones."""
    try:
        spec = REGISTRY[network]
    except KeyError:
        known = ", ".join(sorted(REGISTRY))
        raise ValueError(f"unknown network {network!r}; known networks: {known}") from None
    module_name, _, cls_name = spec.partition(":")
    cls: type[Publisher] = getattr(importlib.import_module(module_name), cls_name)
    if not (isinstance(cls, type) and issubclass(cls, Publisher)):
        raise TypeError(f"{spec} is not a Publisher")
    return cls
