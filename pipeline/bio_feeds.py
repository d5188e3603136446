"""The bio site's feeds: JSON Feed 1.1 and Atom (RFC 4287), newest first.

Built from the same tiles as the page. Feed links carry utm_source=feed; ids
are stable UUIDs from the brand and the item's slug, so a reader never shows
an item twice when the site moves to another address.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from xml.etree import ElementTree as ET

from markupsafe import Markup

from pipeline.config import Settings
from pipeline.links import absolute

if TYPE_CHECKING:
    from pipeline.bio import Tile

ATOM = "http://www.w3.org/2005/Atom"


def entry_id(settings: Settings, slug: str) -> str:
    key = f"quotecast:{settings.brand.name}:{slug}"
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, key)}"


def summary(t: Tile) -> str:
    if t.quote is None:
        return t.alt
    who = f"{t.author}, {t.role}" if t.role else t.author
    return f"“{t.quote}” — {who}"


def _title(t: Tile) -> str:
    return f"{t.author}: “{t.quote_short}”" if t.author else t.alt[:100]


def _html(t: Tile) -> str:
    return str(Markup("<p>{}</p>").format(summary(t)) + (t.body_html or ""))


def _description(settings: Settings) -> str:
    return settings.site.description or f"Quotes shared by {settings.brand.name}."


def json_feed(settings: Settings, tiles: list[Tile]) -> bytes:
    """JSON Feed 1.1 (https://jsonfeed.org/version/1.1)."""
    base = settings.site.base_url
    author: dict[str, str] = {"name": settings.brand.name}
    if settings.brand.url:
        author["url"] = settings.brand.url
    feed: dict[str, Any] = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": settings.site.title or settings.brand.name,
        "description": _description(settings),
        "authors": [author],
        "language": "en",
        "items": [],
    }
    if base:
        feed["home_page_url"] = absolute(base, "")
        feed["feed_url"] = absolute(base, "feed.json")
        feed["icon"] = absolute(base, "icon.png")
    for t in tiles[: settings.site.feed_items]:
        entry: dict[str, Any] = {
            "id": entry_id(settings, t.slug),
            "title": _title(t),
            "content_html": _html(t),
            "content_text": summary(t),
            "summary": summary(t),
            "date_published": t.posted_iso,
        }
        if t.feed_url:
            entry["url"] = t.feed_url
        if base and t.thumb:
            entry["image"] = absolute(base, t.thumb.large)
        if t.hashtags:
            entry["tags"] = [h.lstrip("#") for h in t.hashtags]
        feed["items"].append(entry)
    return json.dumps(feed, indent=2, ensure_ascii=False).encode("utf-8") + b"\n"


def atom_feed(settings: Settings, tiles: list[Tile]) -> bytes:
    """Atom (RFC 4287), built with ElementTree so every text is escaped."""

    def sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
        el = ET.SubElement(parent, f"{{{ATOM}}}{tag}", attrs)
        if text is not None:
            el.text = text
        return el

    ET.register_namespace("", ATOM)
    base = settings.site.base_url
    feed = ET.Element(f"{{{ATOM}}}feed")
    sub(feed, "id", entry_id(settings, ""))
    sub(feed, "title", settings.site.title or settings.brand.name)
    sub(feed, "subtitle", _description(settings))
    newest = max((t.posted_at for t in tiles), default=datetime(2000, 1, 1, tzinfo=UTC))
    sub(feed, "updated", newest.astimezone(UTC).isoformat(timespec="seconds"))
    author = sub(feed, "author")
    sub(author, "name", settings.brand.name)
    if settings.brand.url:
        sub(author, "uri", settings.brand.url)
    if base:
        sub(feed, "link", rel="self", type="application/atom+xml", href=absolute(base, "feed.xml"))
        sub(feed, "link", rel="alternate", type="text/html", href=absolute(base, ""))
        sub(feed, "icon", absolute(base, "icon.png"))
    elif settings.brand.url:
        sub(feed, "link", rel="alternate", type="text/html", href=settings.brand.url)
    sub(feed, "generator", "quotecast")
    for t in tiles[: settings.site.feed_items]:
        entry = sub(feed, "entry")
        sub(entry, "id", entry_id(settings, t.slug))
        sub(entry, "title", _title(t))
        sub(entry, "updated", t.posted_iso)
        sub(entry, "published", t.posted_iso)
        if t.feed_url:
            sub(entry, "link", rel="alternate", type="text/html", href=t.feed_url)
        for h in t.hashtags:
            sub(entry, "category", term=h.lstrip("#"))
        sub(entry, "summary", summary(t), type="text")
        sub(entry, "content", _html(t), type="html")
    data: bytes = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return data + b"\n"
