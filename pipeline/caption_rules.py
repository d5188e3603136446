"""What each network allows and how it counts: the rules captions are fitted to.

Each network counts differently: X weighs characters with twitter-text (any
URL 23, CJK and emoji 2), Bluesky counts graphemes (and UTF-8 bytes), Mastodon
graphemes with links as 23, Threads characters with emoji as their UTF-8
bytes; the rest count characters, taken here as UTF-16 units, which is never
less than what they count. Publishers may use `measure` for a pre-flight check.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

import regex

from pipeline.config import Settings
from pipeline.errors import CaptionError

ELLIPSIS = "…"
URL_WEIGHT = 23  # X and Mastodon count any link as 23 characters

_LINKED = """“{{ quote }}”
— {{ author }}{% if role %}, {{ role }}{% endif %}

{{ link }}

{{ hashtags }}"""

_IN_BIO = """“{{ quote }}”
— {{ author }}{% if role %}, {{ role }}{% endif %}

{{ link_in_bio }}

{{ hashtags }}"""

_STORY = """“{{ quote }}”
— {{ author }}

{{ link_in_bio }}

{{ hashtags }}"""


@dataclass(frozen=True)
class Rule:
    """What one network allows and how it counts a caption's length."""

    name: str
    limit: int
    counter: str  # "x_weighted" | "graphemes" | "mastodon" | "threads" | "chars"
    hashtags: int | None  # generated hashtags to include at most; None: all of them
    links: bool = True  # False: links are not clickable, the caption says "Link in bio"
    max_hashtags: int | None = None  # hashtags the network accepts in the whole text
    max_bytes: int | None = None  # a UTF-8 size limit beside the length limit
    short_links: bool = False  # show a short link text; the facet carries the full URL
    template: str = _LINKED

    @property
    def unit(self) -> str:
        return {
            "x_weighted": "weighted characters (twitter-text)",
            "graphemes": "graphemes",
            "mastodon": "characters (links count 23)",
            "threads": "characters (emoji count their UTF-8 bytes)",
        }.get(self.counter, "characters (UTF-16 units)")


RULES: dict[str, Rule] = {
    r.name: r
    for r in (
        Rule("x", 280, "x_weighted", 2),
        Rule("bluesky", 300, "graphemes", 3, max_bytes=3000, short_links=True),
        Rule("mastodon", 500, "mastodon", 4),
        Rule("threads", 500, "threads", 1),
        Rule("linkedin", 3000, "chars", 3),
        Rule("instagram", 2200, "chars", 30, links=False, max_hashtags=30, template=_IN_BIO),
        Rule("instagram_story", 2200, "chars", 3, links=False, max_hashtags=30, template=_STORY),
        Rule("facebook", 63206, "chars", 3),
        Rule("webhook", 10000, "chars", None),
        Rule("outbox", 100_000, "chars", None),
    )
}
#: networks added later without rules of their own get a conservative one
GENERIC = Rule("generic", 500, "chars", 3)


# -- counting ---------------------------------------------------------------------------

_GRAPHEME = regex.compile(r"\X")
_EMOJI = regex.compile(r"[\p{Extended_Pictographic}\p{Regional_Indicator}\u20e3\ufe0f]")
HASHTAG = regex.compile(r"(?<![\p{L}\p{M}\p{N}_#&/])#([\p{L}\p{M}\p{N}_]+)")
_TAG_WORD = regex.compile(r"[\p{L}\p{M}\p{N}]+")
_APOSTROPHE = regex.compile(r"['’]")
_LETTER = regex.compile(r"\p{L}")


def graphemes(text: str) -> list[str]:
    """User-perceived characters (Unicode extended grapheme clusters)."""
    return list(_GRAPHEME.findall(text))


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _x_weighted(text: str) -> int:
    # twitter_text compiles its grammar on import (half a second): only for X and Mastodon
    from twitter_text import parse_tweet

    return int(parse_tweet(text).weightedLength)


def _mastodon(text: str) -> int:
    from twitter_text import extract_urls_with_indices

    spans = [
        u["indices"]
        for u in extract_urls_with_indices(text)
        if str(u["url"]).lower().startswith(("http://", "https://"))
    ]
    for start, end in sorted(spans, reverse=True):
        text = text[:start] + "x" * URL_WEIGHT + text[end:]
    return len(graphemes(text))


def _threads(text: str) -> int:
    return sum(
        len(g.encode("utf-8")) if _EMOJI.search(g) else utf16_len(g) for g in graphemes(text)
    )


COUNTERS: dict[str, Callable[[str], int]] = {
    "x_weighted": _x_weighted,
    "graphemes": lambda t: len(graphemes(t)),
    "mastodon": _mastodon,
    "threads": _threads,
    "chars": utf16_len,
}


def measure(text: str, counter: str) -> int:
    """The length of `text` as a network counts it (see Rule.counter)."""
    return COUNTERS[counter](text)


def hashtags_in(text: str) -> list[str]:
    """Hashtags as networks find them: '#' then letters/digits, with at least one letter."""
    return [m.group(1) for m in HASHTAG.finditer(text) if _LETTER.search(m.group(1))]


# -- hashtags ---------------------------------------------------------------------------


@lru_cache(maxsize=4096)
def hashtag(tag: str) -> str | None:
    """'machine learning' → '#MachineLearning'; 'AI' → '#AI'; no letters → None."""
    words: list[str] = _TAG_WORD.findall(_APOSTROPHE.sub("", tag))
    if not words or not _LETTER.search("".join(words)):
        return None
    if len(words) == 1 and any(ch.isupper() for ch in words[0]):
        return "#" + words[0]
    return "#" + "".join(w[:1].upper() + w[1:] for w in words)


def hashtags_for(tags: Sequence[str], limit: int | None = None) -> tuple[str, ...]:
    """Hashtags from tags, in order, de-duplicated case-insensitively, at most `limit`."""
    seen: set[str] = set()
    out: list[str] = []
    for tag in tags:
        h = hashtag(tag)
        if h is None or h.casefold() in seen:
            continue
        seen.add(h.casefold())
        out.append(h)
    return tuple(out if limit is None else out[:limit])


# -- per target -------------------------------------------------------------------------


def _positive(options: Mapping[str, Any], key: str, target: str) -> int | None:
    value = options.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise CaptionError(f"targets.{target}.options.{key}: must be a whole number ≥ 0")
    return value


def rule_for(network: str, target: str, settings: Settings) -> Rule:
    """The network's rule with this target's overrides (caption_max, hashtags_max, kind)."""
    conf = settings.targets.get(target)
    options: Mapping[str, Any] = conf.options if conf else {}
    name = network
    if network == "instagram" and options.get("kind") == "story":
        name = "instagram_story"
    rule = RULES.get(name, replace(GENERIC, name=name))
    limit = _positive(options, "caption_max", target)
    if limit is not None:
        rule = replace(rule, limit=limit)
    if "hashtags_max" in options:
        rule = replace(rule, hashtags=_positive(options, "hashtags_max", target))
    return rule
