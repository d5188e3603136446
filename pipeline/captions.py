"""Per-network captions. (Foundation version: quote, author, tracked link; issue 4 perfects it.)"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.config import Settings
from pipeline.items import Item
from pipeline.links import with_utm
from pipeline.posts import Facet


@dataclass(frozen=True)
class Caption:
    text: str
    link: str | None
    facets: tuple[Facet, ...] = ()


def tracked_link(item: Item, network: str, settings: Settings) -> str | None:
    """The item's link with UTM parameters for this network (or None)."""
    if not item.link:
        return None
    if not settings.links.utm:
        return item.link
    campaign = settings.links.utm_campaign or item.slug
    return with_utm(item.link, network, settings.links.utm_medium, campaign)


def write_caption(item: Item, target: str, network: str, settings: Settings) -> Caption:
    link = tracked_link(item, network, settings)
    who = f"{item.author}, {item.role}" if item.role else item.author
    parts = [f"“{item.quote}”", f"— {who}"]
    if link:
        parts.append(link)
    return Caption("\n\n".join(parts), link)
