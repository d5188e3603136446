"""Per-network captions that fit each network's limit as that network counts it.

A caption is a Jinja2 template (item > target > `[captions]` > built-in default)
rendered from the item. When it is too long it is shortened in a fixed order:
hashtags from the end, then the role, then the quote at a word boundary with
"…". The link and the author are never cut; when even that cannot fit, a
CaptionError says by how much and what to shorten.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

import regex
from jinja2 import StrictUndefined, Template, TemplateError, TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment

from pipeline.caption_rules import (
    ELLIPSIS,
    HASHTAG,
    Rule,
    graphemes,
    hashtags_for,
    hashtags_in,
    measure,
    rule_for,
)
from pipeline.config import Settings
from pipeline.errors import CaptionError
from pipeline.items import Item
from pipeline.links import page_url, with_utm
from pipeline.posts import Facet


@dataclass(frozen=True)
class Caption:
    """What a post says: its text, the tracked link, and (Bluesky) rich-text facets."""

    text: str
    link: str | None
    facets: tuple[Facet, ...] = ()


@dataclass(frozen=True)
class Parts:
    """The pieces that shortening may change."""

    quote: str
    role: str
    hashtags: tuple[str, ...]


@dataclass(frozen=True)
class Composed:
    """A caption with how it was made: for checks, previews and tests."""

    caption: Caption
    parts: Parts
    rule: Rule
    length: int


# -- links ------------------------------------------------------------------------------


def tracked_link(item: Item, network: str, settings: Settings) -> str | None:
    """The item's link (or its page on the bio site) with UTM parameters for `network`."""
    url = item.link
    if url is None and item.body and settings.site.base_url:
        url = page_url(settings.site.base_url, item.slug)
    if url is None or not settings.links.utm:
        return url
    campaign = settings.links.utm_campaign or item.slug
    return with_utm(url, network, settings.links.utm_medium, campaign)


def display_url(url: str, max_len: int = 30) -> str:
    """A short link text, e.g. 'reuters.com/business/autos-t…' (the facet has the full URL)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").removeprefix("www.")
    shown = host + (parts.path if parts.path != "/" else "")
    return shown if len(shown) <= max_len else shown[: max_len - 1].rstrip("/") + ELLIPSIS


# -- templates --------------------------------------------------------------------------


_ENV = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
_URL_IN_TEXT = re.compile(r"(https?://\S+)", re.I)
_EMPHASIS = re.compile(r"(\*\*|\*|(?<!\w)__|(?<!\w)_)(?=\S)(.+?)(?<=\S)\1(?!\w)")


@functools.lru_cache(maxsize=256)
def _compile(source: str) -> Template:
    return _ENV.from_string(source)


def template_for(item: Item, target: str, rule: Rule, settings: Settings) -> tuple[str, str]:
    """The template source and where it came from: item, target, [captions], default."""
    if item.caption:
        return item.caption, f"{item.path}: caption"
    conf = settings.targets.get(target)
    if conf is not None and conf.caption:
        return conf.caption, f"targets.{target}.caption"
    for key in dict.fromkeys((target, rule.name, conf.network if conf else rule.name)):
        if key in settings.captions:
            return settings.captions[key], f"captions.{key}"
    return rule.template, f"the default {rule.name} caption"


def plain(text: str) -> str:
    """Markdown emphasis markers off ('*algebraic patterns*' → 'algebraic patterns'):
    networks show captions as plain text."""
    pieces = _URL_IN_TEXT.split(text)  # URLs (odd indexes) are left exactly as written
    return "".join(
        p if i % 2 else _EMPHASIS.sub(lambda m: str(m.group(2)), p) for i, p in enumerate(pieces)
    )


def _tidy(text: str) -> str:
    """Trailing spaces off, at most one blank line in a row, NFC (as networks store it)."""
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
    return unicodedata.normalize("NFC", re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip())


# -- shortening -------------------------------------------------------------------------

_CJK = regex.compile(r"[\p{Han}\p{Hiragana}\p{Katakana}\u3000-\u303f\uff00-\uffef]")
_TRAILING = " \t\n,;:·–—-([{“‘\"'/"


def cut_points(text: str) -> list[int]:
    """Where `text` may be cut, longest first: word boundaries (spaces, between CJK
    characters), then grapheme boundaries inside the first word when it alone is too long."""
    offsets: list[int] = []
    pos = 0
    for g in graphemes(text):
        offsets.append(pos)
        pos += len(g)
    words = [
        p
        for p in offsets[1:]
        if text[p].isspace() or _CJK.match(text, p) or _CJK.match(text, p - 1)
    ]
    first_word_end = words[0] if words else len(text)
    inside = [p for p in offsets[1:] if p < first_word_end]
    return sorted(words, reverse=True) + sorted(inside, reverse=True)


def shortened(text: str, at: int) -> str:
    """`text` cut at `at`, loose punctuation dropped, ending in '…'."""
    return text[:at].rstrip(_TRAILING) + ELLIPSIS


def _candidates(text: str) -> list[str]:
    seen: dict[str, None] = {}
    for p in cut_points(text):
        s = shortened(text, p)
        if len(s) > 1:
            seen.setdefault(s)
    return list(seen)


def shortest_quote(text: str) -> str:
    """The shortest form shortening may reach: the quote cut after its first word (or its
    first character when the first word alone is too long); never just '…'."""
    cuts = _candidates(text)
    return cuts[-1] if cuts else text


def _first_fitting(candidates: Sequence[str], ok: Callable[[str], bool]) -> str | None:
    """The first (longest) candidate that fits. Binary search, since a longer text is
    almost never shorter to a network; the walk after it makes the answer right anyway."""
    lo, hi = 0, len(candidates)
    while lo < hi:
        mid = (lo + hi) // 2
        if ok(candidates[mid]):
            hi = mid
        else:
            lo = mid + 1
    return next((c for c in candidates[lo:] if ok(c)), None)


# -- writing ----------------------------------------------------------------------------


class _Writer:
    """Renders one item for one target and measures the result."""

    def __init__(self, item: Item, target: str, network: str, settings: Settings) -> None:
        self.item = item
        self.rule = rule_for(network, target, settings)
        source, self.where = template_for(item, target, self.rule, settings)
        try:
            self.template = _compile(source)
        except TemplateSyntaxError as exc:
            raise CaptionError(
                f"{self.where}: caption template line {exc.lineno}: {exc.message}"
            ) from None
        self.link = tracked_link(item, network, settings)
        has_destination = bool(item.link or item.body)
        conf = settings.targets.get(target)
        bio_text = str((conf.options if conf else {}).get("link_in_bio") or settings.links.bio_text)
        shown = ""
        if self.link and self.rule.links:
            shown = display_url(self.link) if self.rule.short_links else self.link
        self.shown_link = shown
        self.context: dict[str, Any] = {
            "author": item.author,
            "link": shown,
            "link_in_bio": bio_text if has_destination and not self.rule.links else "",
            "headline": item.headline or "",
            "brand": settings.brand.name,
            "handle": settings.brand.handle,
            "network": network,
            "target": target,
            "slug": item.slug,
            "tags": list(item.tags),
            "category": list(item.category),
        }

    def render(self, parts: Parts) -> str:
        ctx = dict(self.context)
        ctx.update(
            quote=parts.quote,
            role=parts.role,
            hashtags=" ".join(parts.hashtags),
            hashtag_list=list(parts.hashtags),
        )
        try:
            return _tidy(self.template.render(ctx))
        except TemplateError as exc:
            known = ", ".join(sorted([*ctx]))
            raise CaptionError(
                f"{self.where}: caption template: {exc}; the names it may use are {known}"
            ) from None

    def length(self, text: str) -> int:
        return measure(text, self.rule.counter)

    def fits(self, text: str) -> bool:
        r = self.rule
        if r.max_bytes is not None and len(text.encode("utf-8")) > r.max_bytes:
            return False
        if r.max_hashtags is not None and len(hashtags_in(text)) > r.max_hashtags:
            return False
        return self.length(text) <= r.limit

    def ok(self, parts: Parts) -> bool:
        return self.fits(self.render(parts))

    def shorten(self, parts: Parts) -> Parts:
        """Hashtags from the end, then the role, then the quote; else a CaptionError."""
        while not self.ok(parts) and parts.hashtags:
            parts = replace(parts, hashtags=parts.hashtags[:-1])
        if self.ok(parts):
            return parts
        if parts.role:
            roles = [*_candidates(parts.role), ""]
            role = _first_fitting(roles, lambda r: self.ok(replace(parts, role=r)))
            if role is not None:
                return replace(parts, role=role)
            parts = replace(parts, role="")
        quotes = _candidates(parts.quote)
        quote = _first_fitting(quotes, lambda q: self.ok(replace(parts, quote=q)))
        if quote is not None:
            return replace(parts, quote=quote)
        shortest = self.render(replace(parts, quote=shortest_quote(parts.quote)))
        raise CaptionError(
            f"{self.item.slug}: caption for {self.rule.name} cannot fit {self.rule.limit} "
            f"{self.rule.unit}: without hashtags and role, with the quote cut to its first "
            f"word, it still measures {self.length(shortest)} (template: {self.where}); "
            "shorten the author, the link or the template, or raise options.caption_max "
            "for this target"
        )


def link_facets(text: str, shown: str, uri: str) -> list[Facet]:
    """A link facet over each place the link text appears, in UTF-8 byte offsets."""
    out = []
    start = text.find(shown) if shown else -1
    while start >= 0:
        b = len(text[:start].encode("utf-8"))
        out.append(Facet(b, b + len(shown.encode("utf-8")), "link", uri))
        start = text.find(shown, start + len(shown))
    return out


def tag_facets(text: str, taken: Sequence[Facet] = ()) -> list[Facet]:
    """A tag facet for every hashtag (as Bluesky finds them) outside the given facets."""
    out = []
    for m in HASHTAG.finditer(text):
        tag = m.group(1)
        if not regex.search(r"\p{L}", tag) or len(graphemes(tag)) > 64:
            continue
        b = len(text[: m.start()].encode("utf-8"))
        e = b + len(m.group(0).encode("utf-8"))
        if any(f.byte_start < e and b < f.byte_end for f in taken):
            continue
        out.append(Facet(b, e, "tag", tag))
    return out


def compose(item: Item, target: str, network: str, settings: Settings) -> Composed:
    """The caption and how it was made (which parts were shortened, its length)."""
    w = _Writer(item, target, network, settings)
    full = Parts(plain(item.quote), item.role or "", hashtags_for(item.tags, w.rule.hashtags))
    parts = w.shorten(full)
    text = w.render(parts)
    facets: list[Facet] = []
    if w.rule.name == "bluesky":
        if w.link:
            facets = link_facets(text, w.shown_link, w.link)
        facets = sorted(facets + tag_facets(text, facets), key=lambda f: f.byte_start)
    if w.rule.counter == "x_weighted" and _x_invalid(text):
        raise CaptionError(f"{item.slug}: the caption has characters X refuses; remove them")
    return Composed(Caption(text, w.link, tuple(facets)), parts, w.rule, w.length(text))


def write_caption(item: Item, target: str, network: str, settings: Settings) -> Caption:
    """The caption for one item on one target; CaptionError when it cannot fit."""
    return compose(item, target, network, settings).caption


def _x_invalid(text: str) -> bool:
    """Characters X refuses (twitter_text is imported only when an X caption is made)."""
    from twitter_text.has_invalid_characters import has_invalid_characters

    return bool(has_invalid_characters(text))
