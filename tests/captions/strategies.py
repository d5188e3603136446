"""Random quotes with emoji, CJK and long URLs, and each network's own way of counting."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import regex
from hypothesis import strategies as st
from twitter_text import extract_urls_with_indices, parse_tweet

from pipeline.config import Settings, TargetSettings
from pipeline.items import Item

EMOJI = [
    "😀",
    "🚀",
    "👍🏽",
    "👨‍👩‍👧‍👦",
    "🏳️‍🌈",
    "🇬🇧",
    "1️⃣",
    "❤️",
    "©",
    "🧑🏿‍💻",
]
CJK = "日本語中文漢字学習機械人工知能東京大学ひらがなカタカナ한국어"
LATIN = "abcdefghijklmnopqrstuvwxyzABCXYZéüßçøå"
PUNCT = ",.;:!?—–-()\"'’“”…"

latin_word = st.text(LATIN, min_size=1, max_size=14)
cjk_run = st.text(CJK, min_size=1, max_size=12)
emoji = st.sampled_from(EMOJI)
long_url = st.builds(
    lambda path, q: f"https://example.com/{path}?ref={q}",
    st.text("abcdefghijklmnopqrstuvwxyz0123456789-/_", min_size=1, max_size=200),
    st.text("abcdef0123456789", min_size=1, max_size=60),
)
token = st.one_of(
    latin_word,
    latin_word.map(lambda w: w + ","),
    cjk_run,
    emoji,
    st.sampled_from(list(PUNCT)),
    long_url,
    st.just("#hashtag"),
)


def _join(tokens: list[str]) -> str:
    return " ".join(tokens)[:1000].strip() or "x"


# a mix of short quotes and quotes long enough for every network to shorten
quotes = st.one_of(
    st.lists(token, min_size=1, max_size=12),
    st.lists(token, min_size=30, max_size=160),
    st.lists(cjk_run, min_size=1, max_size=90),  # CJK without spaces
).map(_join)
authors = st.one_of(
    st.lists(st.one_of(latin_word, cjk_run, emoji), min_size=1, max_size=4),
    st.lists(st.one_of(latin_word, emoji), min_size=8, max_size=40),  # long
    st.lists(st.one_of(cjk_run, emoji), min_size=12, max_size=40),  # too long for some
).map(lambda ws: " ".join(ws)[:200].strip() or "A")
roles = st.one_of(
    st.none(),
    st.lists(st.one_of(latin_word, cjk_run, emoji), min_size=1, max_size=40).map(
        lambda ws: " ".join(ws)[:300].strip() or None
    ),
)
tags = st.lists(
    st.one_of(
        st.lists(latin_word, min_size=1, max_size=3).map(" ".join),
        cjk_run,
        st.sampled_from(["AI", "machine learning", "Machine Learning", "2024", "C++"]),
    ),
    max_size=30,
)
links = st.one_of(st.none(), long_url)

NETWORKS = [
    "x",
    "bluesky",
    "mastodon",
    "threads",
    "linkedin",
    "instagram",
    "instagram_story",
    "facebook",
    "webhook",
    "outbox",
]


def make_item(
    quote: str = "Culture eats strategy for breakfast.",
    author: str = "Peter Drucker",
    role: str | None = None,
    link: str | None = None,
    tags: tuple[str, ...] | list[str] = (),
    body: str = "",
    caption: str | None = None,
    slug: str = "item",
) -> Item:
    return Item(
        slug=slug,
        path=Path(f"queue/{slug}.toml"),
        quote=quote,
        author=author,
        role=role,
        link=link,
        tags=tuple(tags),
        body=body,
        caption=caption,
    )


def make_settings(**extra: Any) -> Settings:
    """Settings with one target per network, named after it."""
    targets = {n: TargetSettings(network=n) for n in NETWORKS}
    targets.update(extra.pop("targets", {}))
    return Settings(targets=targets, **extra)


# -- the networks' own counting, written out here independently of pipeline.captions --


def graphemes(text: str) -> int:
    return len(regex.findall(r"\X", text))


def mastodon_length(text: str) -> int:
    """Mastodon: grapheme clusters, and every http(s) URL it would link counts 23."""
    urls = [u for u in extract_urls_with_indices(text) if u["url"].startswith("http")]
    for u in sorted(urls, key=lambda u: u["indices"][0], reverse=True):
        start, end = u["indices"]
        assert text[start:end] == u["url"]
        text = text[:start] + "_" * 23 + text[end:]
    return graphemes(text)


def threads_length(text: str) -> int:
    """Threads: characters, but an emoji counts as many as its UTF-8 bytes."""
    total = 0
    for g in regex.findall(r"\X", text):
        if regex.search(r"\p{Extended_Pictographic}|\p{Regional_Indicator}|\u20e3|\ufe0f", g):
            total += len(g.encode("utf-8"))
        else:
            total += len(g.encode("utf-16-le")) // 2
    return total


def utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def within_limit(network: str, text: str, limit: int | None = None) -> bool:
    """Is `text` accepted by `network` as the network itself counts?"""
    if network == "x":
        return bool(parse_tweet(text).weightedLength <= (limit or 280))
    if network == "bluesky":
        return graphemes(text) <= (limit or 300) and len(text.encode()) <= 3000
    if network == "mastodon":
        return mastodon_length(text) <= (limit or 500)
    if network == "threads":
        return threads_length(text) <= (limit or 500)
    if network in ("instagram", "instagram_story"):
        hashtags = regex.findall(r"(?<![\w#&/])#\w*\p{L}\w*", text)
        return utf16(text) <= (limit or 2200) and len(hashtags) <= 30
    default = {"linkedin": 3000, "facebook": 63206, "webhook": 10000, "outbox": 100_000}
    return utf16(text) <= (limit or default[network])
