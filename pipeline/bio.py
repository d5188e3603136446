"""The link-in-bio site: a static page of every posted card, built from the ledger.

Instagram-style networks cannot link from a caption, so their captions say "Link
in bio" and this page is where that link leads. `quotecast bio` (and every pass
that posted) writes under <data>/site/: index.html (the brand's header and a
grid of cards, newest first, each linking to its tracked link with
utm_source=bio), a page per item that has commentary but no link, feed.json,
feed.xml and grid-sized thumbnails. Nothing loads from elsewhere, everything is
escaped, and a Content-Security-Policy says so. Each file is written
atomically and index.html last, so a visitor never sees half a site.

Builds are incremental, so a pass that posted k items costs work in k, not in
everything ever posted: index.html shows the newest PAGE_SIZE cards and links
to archive pages of PAGE_SIZE cards each, numbered from the oldest so that a
new post changes only the newest archive page; the feeds hold the newest
`site.feed_items`. <data>/cache/bio.json remembers a signature of what each
entry and each archive page was built from (the item, its card file's size and
time, the posting time), and a page or thumbnail whose inputs did not change is
neither rendered nor decoded again. A change of settings, templates or this
module's version rebuilds everything.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
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
from pipeline.files import atomic_write
from pipeline.items import Item, QueueScan
from pipeline.ledger import Ledger
from pipeline.links import LinkError, absolute, page_path, with_utm
from pipeline.queue_cache import load_queue_cached
from pipeline.resources import templates_dir
from pipeline.site_deploy import DeployResult, deploy

log = logging.getLogger("quotecast")

TEMPLATES = templates_dir()
PAGE_SIZE = 60  # cards on index.html and on each archive page
BUILD_VERSION = 2  # bump when what a page shows changes: the next build redoes every page
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
    first_posted: datetime | None = None  # its place in the archive: when it first went out

    @property
    def order(self) -> tuple[datetime, str]:
        return (self.first_posted or self.posted_at, self.slug)


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
    tiles_made: int = 0  # entries prepared this time: those changed and those on pages redone

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


def _card_score(path: Path, row: Any, settings: Settings) -> float:
    """Lower is better: square and portrait cards suit a grid; stories and landscape less.

    The target's format says the card's shape without opening the file; a target no
    longer configured falls back to reading the image header.
    """
    if row.target in settings.targets:
        _, fmt = settings.format_for(row.target)
        w, h = fmt.width, fmt.height
    else:
        from PIL import Image

        try:
            with Image.open(path) as im:
                w, h = im.size
        except Exception:
            return 99.0
    return abs(h / w - 1.1)


def _pick_card(rows: list[Any], settings: Settings) -> tuple[Path | None, str]:
    cards = [(Path(r.card_path), r) for r in rows if r.card_path and Path(r.card_path).is_file()]
    if not cards:
        return None, next((r.alt_text for r in rows if r.alt_text), "")
    path, row = min(cards, key=lambda c: _card_score(c[0], c[1], settings))
    return path, row.alt_text or ""


def collect(settings: Settings, scan: QueueScan | None = None) -> list[Entry]:
    """Posted items, newest first (by when they first went out), one entry per item,
    joined with the queue (`scan`, or read here)."""
    from sqlalchemy import select

    from pipeline.ledger import posts

    cols = ("slug", "target", "card_path", "alt_text", "link", "posted_at", "updated_at")
    ledger = Ledger.open(settings.data_path, settings.ledger_address)
    try:  # only the columns the page uses: 20,000 posted rows stay cheap
        with ledger.engine.connect() as conn:
            query = select(*(posts.c[c] for c in cols)).where(posts.c.state == "posted")
            rows = conn.execute(query).all()
    finally:
        ledger.close()
    by_slug: dict[str, list[Any]] = {}
    for row in rows:
        by_slug.setdefault(row.slug, []).append(row)
    if scan is None:
        tz = ZoneInfo(settings.schedule.timezone)
        scan = load_queue_cached(settings.queue_path, tz, settings.data_path, check_images=False)
    items = scan.by_slug()
    entries = []
    for slug, group in by_slug.items():
        item = items.get(slug)
        card, alt = _pick_card(group, settings)
        times = [datetime.fromisoformat(r.posted_at or r.updated_at) for r in group]
        link = item.link if item else next((r.link for r in group if r.link), None)
        entries.append(Entry(slug, max(times), item, card, alt, link, min(times)))
    entries.sort(key=lambda e: e.order, reverse=True)
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
    tiles: list[Tile] = []
    new = 0
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


def build(settings: Settings, scan: QueueScan | None = None) -> BuildResult:
    """Write the whole site; index.html last. Raises BioError when it cannot be written.
    `scan`: the queue as a pass just read it (else read here)."""
    site = site_dir(settings)
    try:
        with _locked(settings.data_path / ".site.lock"):
            return _build(settings, site, scan)
    except OSError as exc:
        raise BioError(
            f"{site}: cannot write the bio site ({exc.strerror or exc}); "
            "check the data folder's permissions"
        ) from None


def _state_path(settings: Settings) -> Path:
    return settings.data_path / "cache" / "bio.json"


def _config_key(settings: Settings) -> str:
    """Everything besides the entries that shapes a page: settings, templates, version."""
    _, theme = settings.theme_for(None)
    templates = sorted(
        (f.name, hashlib.sha256(f.read_bytes()).hexdigest()) for f in TEMPLATES.iterdir()
    )
    logo = settings.path(settings.brand.logo) if settings.brand.logo else None
    logo_stamp = None
    if logo is not None and logo.is_file():
        st = logo.stat()
        logo_stamp = [str(logo), st.st_size, st.st_mtime_ns]
    raw = json.dumps(
        [
            BUILD_VERSION,
            PAGE_SIZE,
            settings.site.model_dump(mode="json"),
            settings.brand.model_dump(mode="json"),
            settings.links.model_dump(mode="json"),
            theme.model_dump(mode="json"),
            settings.schedule.timezone,
            templates,
            logo_stamp,
        ],
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(raw.encode()).hexdigest()


def _signature(e: Entry, site: Path) -> str:
    """What the entry's tile, page and feed entry are made from."""
    card = ""
    if e.card is not None:
        try:
            st = e.card.stat()
            card = f"{e.card}:{st.st_size}:{st.st_mtime_ns}"
        except OSError:
            card = "gone"
    kept_page = e.item is None and (site / page_path(e.slug)).is_file()
    raw = repr((e.slug, e.posted_at, e.order, e.item, card, e.alt, e.link, kept_page))
    return hashlib.sha256(raw.encode()).hexdigest()[:24]


def _load_state(path: Path, key: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = None
    if not isinstance(data, dict) or data.get("config") != key:
        return {"config": key, "entries": {}, "pages": {}}
    return data


def _archive_name(k: int) -> str:
    return f"archive-{k}.html"


def _build(settings: Settings, site: Path, scan: QueueScan | None = None) -> BuildResult:
    key = _config_key(settings)
    state = _load_state(_state_path(settings), key)
    old_entries: dict[str, dict[str, Any]] = state["entries"]
    old_pages: dict[str, str] = state["pages"]
    if not (site / "index.html").is_file():  # the site folder was removed: start again
        old_entries, old_pages = {}, {}
    entries = collect(settings, scan)  # newest first
    sigs = {e.slug: _signature(e, site) for e in entries}

    made: set[str] = set()
    built: dict[str, Tile] = {}
    new = 0

    def tile(e: Entry) -> Tile:
        nonlocal new
        if e.slug not in built:
            tiles, n = tiles_for([e], site, settings, made)
            built[e.slug] = tiles[0]
            new += n
        return built[e.slug]

    def unchanged(e: Entry) -> bool:
        old = old_entries.get(e.slug)
        if old is None or old.get("sig") != sigs[e.slug]:
            return False
        thumbs, own = old.get("thumbs") or [], old.get("page")
        if own and e.item is not None and not (site / own).is_file():
            return False
        return not thumbs or (site / thumbs[0]).is_file()

    changed = [e for e in entries if not unchanged(e)]
    _, theme = settings.theme_for(None)
    colours = assets.palette(theme)
    env = _env()
    common = _common(settings, [], colours)
    tz = ZoneInfo(settings.schedule.timezone)

    def updated(when: datetime | None) -> dict[str, str]:
        """A page says when what it shows last changed (old pages are not rebuilt)."""
        when = when or datetime.now(UTC)
        return {
            "updated_iso": when.astimezone(UTC).isoformat(timespec="seconds"),
            "updated_text": _date(when, tz),
        }

    common.update(updated(max((e.posted_at for e in entries), default=None)))
    base = settings.site.base_url

    logo = assets.copy_assets(site, settings)
    assets.write_if_changed(site / "icon.png", assets.icon(settings.brand.name, colours))
    css = env.get_template("site.css").render(**colours)
    assets.write_if_changed(site / "site.css", css.encode("utf-8"))

    page = env.get_template("quote.html")
    for e in changed:
        t = tile(e)
        if t.page and t.quote is not None:  # items gone from the queue keep their old page
            canonical = absolute(base, t.page) if base else None
            html = page.render(
                {**common, **updated(e.posted_at), "canonical": canonical, "root": "../", "t": t}
            )
            assets.write_if_changed(site / t.page, html.encode("utf-8"))

    # archive pages: fixed groups of PAGE_SIZE from the oldest, so old pages stay as they are
    index_tpl = env.get_template("index.html")
    oldest_first = entries[::-1]
    n = len(entries)
    count = (n + PAGE_SIZE - 1) // PAGE_SIZE if n > PAGE_SIZE else 0
    pages: dict[str, str] = {}
    archive = []
    for k in range(1, count + 1):
        group = oldest_first[(k - 1) * PAGE_SIZE : k * PAGE_SIZE]
        name = _archive_name(k)
        label = f"Posts {(k - 1) * PAGE_SIZE + 1:,}–{(k - 1) * PAGE_SIZE + len(group):,}"
        archive.append({"href": name, "label": label})
        sig = hashlib.sha256(
            repr((k, k == count, [sigs[e.slug] for e in group])).encode()
        ).hexdigest()[:24]
        pages[name] = sig
        if old_pages.get(name) == sig and (site / name).is_file():
            continue
        html = index_tpl.render(
            {
                **common,
                **updated(max(e.posted_at for e in group)),
                "canonical": absolute(base, name) if base else None,
                "root": "",
            },
            tiles=[tile(e) for e in reversed(group)],
            total=len(group),
            heading=label,
            newer=_archive_name(k + 1) if k < count else "index.html",
            older=_archive_name(k - 1) if k > 1 else None,
            archive=[],
            logo=logo,
        )
        assets.write_if_changed(site / name, html.encode("utf-8"))

    newest = [tile(e) for e in entries[:PAGE_SIZE]]
    feed_tiles = [tile(e) for e in entries[: settings.site.feed_items]]
    assets.write_if_changed(site / "feed.json", json_feed(settings, feed_tiles))
    assets.write_if_changed(site / "feed.xml", atom_feed(settings, feed_tiles))
    index = index_tpl.render(
        {**common, "canonical": absolute(base, "") if base else None, "root": ""},
        tiles=newest,
        total=n,
        heading="Latest posts",
        newer=None,
        older=_archive_name(count - 1) if count > 1 else None,
        archive=archive[::-1],
        logo=logo,
    )
    assets.publish_file(site / "index.html", index.encode("utf-8"))

    entries_state: dict[str, dict[str, Any]] = {}
    for e in entries:
        made_now = built.get(e.slug)
        if made_now is not None:
            th = made_now.thumb
            thumbs = [th.src, th.src2x, th.large] if th else []
            entries_state[e.slug] = {"sig": sigs[e.slug], "thumbs": thumbs, "page": made_now.page}
        else:
            entries_state[e.slug] = old_entries[e.slug]
    keep_thumbs = {name for v in entries_state.values() for name in v.get("thumbs") or []}
    keep_pages = {v["page"] for v in entries_state.values() if v.get("page")}
    _prune(site, "thumbs", keep_thumbs | made)
    _prune(site, "quotes", keep_pages)
    for f in site.glob("archive-*.html"):
        if f.name not in pages:
            f.unlink(missing_ok=True)
    atomic_write(
        _state_path(settings),
        json.dumps({"config": key, "entries": entries_state, "pages": pages}).encode("utf-8"),
    )
    log.info(
        "bio site built: %s (%d cards, %d changed, %d tiles made)",
        site / "index.html",
        n,
        len(changed),
        len(built),
    )
    return BuildResult(site, n, len(keep_pages), new, len(built))


# -- deploying --------------------------------------------------------------------------


def build_and_deploy(
    settings: Settings, run_deploy: bool = True, scan: QueueScan | None = None
) -> BioResult:
    """Build the site, then run site.deploy; a failed deploy is reported, never raised."""
    result = BioResult(build(settings, scan))
    if run_deploy:
        result.deploy = deploy(settings, result.build.site)
        if result.deploy is not None and not result.deploy.ok:
            log.error("bio site built but not deployed: %s", result.deploy.message)
    return result
