"""The link-in-bio site: a static page of every posted card, built from the ledger.

Instagram-style networks cannot link from a caption, so their captions say "Link
in bio" and this page is where that link leads. `quotecast bio` (and every pass
that posted) writes under <data>/site/: index.html (the brand's header and a
grid of cards, newest first, each linking to its tracked link with
utm_source=bio), a page per item that has commentary but no link, feed.json,
feed.xml and grid-sized thumbnails. Nothing loads from elsewhere, everything is
escaped, and a Content-Security-Policy says so. Each file is written
atomically and index.html last, so a visitor never sees half a site.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from pipeline import bio_assets as assets
from pipeline.bio_feeds import atom_feed, json_feed
from pipeline.caption_rules import hashtags_for
from pipeline.captions import plain
from pipeline.config import Settings
from pipeline.errors import QuotecastError
from pipeline.items import Item, load_queue
from pipeline.ledger import Ledger, PostRow
from pipeline.links import LinkError, absolute, page_path, with_utm
from pipeline.resources import templates_dir
from pipeline.site_deploy import DeployResult, deploy

log = logging.getLogger("quotecast")

TEMPLATES = templates_dir()
CSP = (
    "default-src 'none'; img-src 'self'; style-src 'self'; font-src 'self'; "
    "base-uri 'none'; form-action 'none'"
)


class BioError(QuotecastError):
    """The site cannot be built (e.g. its folder is not writable)."""


@dataclass(frozen=True)
class Entry:
    """One posted item: the queue's item when it is still there, else what the ledger kept."""

    slug: str
    posted_at: datetime
    item: Item | None
    card: Path | None
    alt: str
    link: str | None  # the destination before tagging: the item's link, or the ledger's


@dataclass
class Tile:
    """An Entry made ready for the templates and the feeds."""

    slug: str
    alt: str
    href: str | None  # tracked link (utm_source=bio) or the item's page, relative
    external: bool
    label: str | None
    author: str | None
    role: str | None
    quote: str | None
    quote_short: str
    quote_html: Markup
    body_html: Markup | None
    hashtags: tuple[str, ...]
    posted_at: datetime
    posted_iso: str
    posted_text: str
    thumb: assets.Thumb | None
    page: str | None  # site-relative path of the item's own page
    feed_url: str | None  # absolute, for feeds


@dataclass
class BuildResult:
    site: Path
    cards: int
    pages: int
    thumbs_made: int

    @property
    def index(self) -> Path:
        return self.site / "index.html"


@dataclass
class BioResult:
    build: BuildResult
    deploy: DeployResult | None = None
    warnings: list[str] = field(default_factory=list)


def site_dir(settings: Settings) -> Path:
    return settings.data_path / "site"


# -- what the page shows ----------------------------------------------------------------


def _card_score(path: Path) -> float:
    """Lower is better: square and portrait cards suit a grid; stories and landscape less."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            w, h = im.size
    except Exception:
        return 99.0
    return abs(h / w - 1.1)


def _pick_card(rows: list[PostRow]) -> tuple[Path | None, str]:
    cards = [(Path(r.card_path), r) for r in rows if r.card_path and Path(r.card_path).is_file()]
    if not cards:
        return None, next((r.alt_text for r in rows if r.alt_text), "")
    path, row = min(cards, key=lambda c: _card_score(c[0]))
    return path, row.alt_text or ""


def collect(settings: Settings) -> list[Entry]:
    """Posted items, newest first, one entry per item, joined with the queue."""
    ledger = Ledger.open(settings.data_path, settings.ledger_address)
    try:
        rows = list(ledger.posted())
    finally:
        ledger.close()
    by_slug: dict[str, list[PostRow]] = {}
    for row in rows:
        by_slug.setdefault(row.slug, []).append(row)
    tz = ZoneInfo(settings.schedule.timezone)
    items = load_queue(settings.queue_path, tz, check_images=False).by_slug()
    entries = []
    for slug, group in by_slug.items():
        item = items.get(slug)
        card, alt = _pick_card(group)
        posted = max(r.posted_at or r.updated_at for r in group)
        link = item.link if item else next((r.link for r in group if r.link), None)
        entries.append(Entry(slug, posted, item, card, alt, link))
    entries.sort(key=lambda e: e.posted_at, reverse=True)
    return entries


def _tag(url: str, source: str, slug: str, settings: Settings) -> str | None:
    if not settings.links.utm:
        return url
    try:
        return with_utm(url, source, settings.links.utm_medium, settings.links.utm_campaign or slug)
    except LinkError:
        return None  # never link to what the checks would refuse


def _host(url: str) -> str:
    return (urlsplit(url).hostname or "").removeprefix("www.")


def _has_page(e: Entry, site: Path) -> bool:
    if e.item is not None:
        return not e.item.link and bool(e.item.body)
    # gone from the queue: its page stays as it was, since posts still link to it
    return (site / page_path(e.slug)).is_file()


def _date(when: datetime, tz: ZoneInfo) -> str:
    local = when.astimezone(tz)
    return f"{local.day} {local:%B %Y}"


def _tile(e: Entry, site: Path, settings: Settings, thumb: assets.Thumb | None) -> Tile:
    item = e.item
    page = page_path(e.slug) if _has_page(e, site) else None
    href: str | None = None
    external, label, feed_url = False, None, None
    if page:
        href, label = page, "Read more"
        base = settings.site.base_url
        feed_url = absolute(base, page) if base else None
    elif e.link:
        href, external, label = _tag(e.link, "bio", e.slug, settings), True, _host(e.link)
        feed_url = _tag(e.link, "feed", e.slug, settings)
    quote = plain(item.quote) if item else None
    short = quote if quote is None or len(quote) <= 90 else quote[:89].rstrip() + "…"
    return Tile(
        slug=e.slug,
        alt=e.alt or (f"“{quote}” — {item.author}" if item else e.slug),
        href=href,
        external=external,
        label=label,
        author=item.author if item else None,
        role=item.role if item else None,
        quote=quote,
        quote_short=short or "",
        quote_html=assets.inline(item.quote) if item else Markup(""),
        body_html=assets.markdown(item.body) if item and item.body else None,
        hashtags=hashtags_for(item.tags) if item else (),
        posted_at=e.posted_at,
        posted_iso=e.posted_at.astimezone(UTC).isoformat(timespec="seconds"),
        posted_text=_date(e.posted_at, ZoneInfo(settings.schedule.timezone)),
        thumb=thumb,
        page=page,
        feed_url=feed_url,
    )


def tiles_for(
    entries: list[Entry], site: Path, settings: Settings, made: set[str]
) -> tuple[list[Tile], int]:
    """Tiles with their thumbnails; returns how many thumbnails were new."""
    tiles, new = [], 0
    for e in entries:
        thumb = None
        if e.card is not None:
            try:
                thumb, n = assets.thumb(e.card, e.slug, site, made)
                new += n
            except Exception as exc:  # a broken card file shows as text, not as a failure
                log.warning("bio: cannot make a thumbnail of %s: %s", e.card, exc)
        tiles.append(_tile(e, site, settings, thumb))
    return tiles, new


# -- building ---------------------------------------------------------------------------


def _env() -> Environment:
    return Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(["html", "xml"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _common(settings: Settings, tiles: list[Tile], colours: dict[str, Any]) -> dict[str, Any]:
    brand = settings.brand
    updated = max((t.posted_at for t in tiles), default=datetime.now(UTC))
    return {
        "lang": "en",
        "csp": CSP,
        "site_title": settings.site.title or brand.name,
        "description": settings.site.description or "Tap a card to read the story behind it.",
        "brand_name": brand.name,
        "handle": brand.handle,
        "initial": (brand.name.strip()[:1] or "q").upper(),
        "brand_url": _tag(brand.url, "bio", "bio", settings) if brand.url else None,
        "brand_host": _host(brand.url) if brand.url else None,
        "theme_color": colours["bg1"],
        "scheme": colours["scheme"],
        "updated_iso": updated.astimezone(UTC).isoformat(timespec="seconds"),
        "updated_text": _date(updated, ZoneInfo(settings.schedule.timezone)),
        "canonical": None,
    }


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One build at a time (the daemon and a person may both rebuild)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as fh:
        try:
            import fcntl
        except ImportError:  # not on this platform: each file is still written atomically
            yield
            return
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _prune(site: Path, folder: str, keep: set[str]) -> None:
    """Remove what no tile uses any more (after index.html stopped pointing at it)."""
    path = site / folder
    if path.is_dir():
        for f in path.iterdir():
            if f.is_file() and f"{folder}/{f.name}" not in keep:
                f.unlink(missing_ok=True)


def build(settings: Settings) -> BuildResult:
    """Write the whole site; index.html last. Raises BioError when it cannot be written."""
    site = site_dir(settings)
    try:
        with _locked(settings.data_path / ".site.lock"):
            return _build(settings, site)
    except OSError as exc:
        raise BioError(
            f"{site}: cannot write the bio site ({exc.strerror or exc}); "
            "check the data folder's permissions"
        ) from None


def _build(settings: Settings, site: Path) -> BuildResult:
    made: set[str] = set()
    tiles, new = tiles_for(collect(settings), site, settings, made)
    _, theme = settings.theme_for(None)
    colours = assets.palette(theme)
    env = _env()
    common = _common(settings, tiles, colours)
    base = settings.site.base_url

    logo = assets.copy_assets(site, settings)
    assets.write_if_changed(site / "icon.png", assets.icon(settings.brand.name, colours))
    css = env.get_template("site.css").render(**colours)
    assets.write_if_changed(site / "site.css", css.encode("utf-8"))

    page = env.get_template("quote.html")
    for t in tiles:
        if t.page and t.quote is not None:  # items gone from the queue keep their old page
            canonical = absolute(base, t.page) if base else None
            html = page.render({**common, "canonical": canonical, "root": "../", "t": t})
            assets.write_if_changed(site / t.page, html.encode("utf-8"))

    assets.write_if_changed(site / "feed.json", json_feed(settings, tiles))
    assets.write_if_changed(site / "feed.xml", atom_feed(settings, tiles))
    index = env.get_template("index.html").render(
        {**common, "canonical": absolute(base, "") if base else None, "root": ""},
        tiles=tiles,
        logo=logo,
    )
    assets.publish_file(site / "index.html", index.encode("utf-8"))
    pages = {t.page for t in tiles if t.page}
    _prune(site, "thumbs", made)
    _prune(site, "quotes", pages)
    log.info("bio site built: %s (%d cards)", site / "index.html", len(tiles))
    return BuildResult(site, len(tiles), len(pages), new)


# -- deploying --------------------------------------------------------------------------


def build_and_deploy(settings: Settings, run_deploy: bool = True) -> BioResult:
    """Build the site, then run site.deploy; a failed deploy is reported, never raised."""
    result = BioResult(build(settings))
    if run_deploy:
        result.deploy = deploy(settings, result.build.site)
        if result.deploy is not None and not result.deploy.ok:
            log.error("bio site built but not deployed: %s", result.deploy.message)
    return result
