"""Property tests: every caption fits its network as the network counts, shortened in order."""

from __future__ import annotations

from dataclasses import replace

import pytest
import regex
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.caption_rules import ELLIPSIS, hashtags_for
from pipeline.captions import Composed, Parts, _Writer, compose, plain, shortest_quote
from pipeline.errors import CaptionError
from pipeline.items import Item
from tests.captions.strategies import (
    NETWORKS,
    authors,
    links,
    make_item,
    make_settings,
    quotes,
    roles,
    tags,
    within_limit,
)

SETTINGS = make_settings()
_CJK = regex.compile(r"[\p{Han}\p{Hiragana}\p{Katakana}\u3000-\u303f\uff00-\uffef]")
_LOOSE = " \t\n,;:·–—-([{“‘\"'/"

items = st.builds(make_item, quotes, authors, roles, links, tags)


def _cut_at_boundary(full: str, cut: str) -> bool:
    """`cut` is `full` cut at a word boundary (or inside its first word) plus '…'."""
    assert cut.endswith(ELLIPSIS)
    head = cut[: -len(ELLIPSIS)]
    assert full.startswith(head) and len(head) < len(full)
    rest = full[len(head) :]
    return bool(
        rest[0].isspace()
        or rest[0] in _LOOSE
        or _CJK.match(rest[0])
        or _CJK.match(head[-1])
        or not any(ch.isspace() for ch in head)  # the first word alone was too long
    )


def _check_order(w: _Writer, full: Parts, got: Parts) -> None:
    """Hashtags go first (from the end), then the role, then the quote."""
    assert got.hashtags == full.hashtags[: len(got.hashtags)]
    if got.role != full.role:
        assert got.hashtags == ()
        assert got.role == "" or _cut_at_boundary(full.role, got.role)
    if got.quote != full.quote:
        assert got.hashtags == () and got.role == ""
        assert _cut_at_boundary(full.quote, got.quote)
    if got.hashtags != full.hashtags and (got.role, got.quote) == (full.role, full.quote):
        # dropped only as many hashtags as needed
        assert not w.ok(replace(got, hashtags=full.hashtags[: len(got.hashtags) + 1]))


def _check(item: Item, network: str) -> Composed | None:
    w = _Writer(item, network, network, SETTINGS)
    full = Parts(plain(item.quote), item.role or "", hashtags_for(item.tags, w.rule.hashtags))
    try:
        c = compose(item, network, network, SETTINGS)
    except CaptionError as exc:
        # only when even the shortest form (no hashtags, no role, one word) is too long
        shortest = w.render(Parts(shortest_quote(full.quote), "", ()))
        assert not within_limit(network, shortest), (network, shortest)
        assert "cannot fit" in str(exc)
        return None
    text = c.caption.text
    assert within_limit(network, text), (network, text)
    assert item.author in text
    if item.link and network not in ("instagram", "instagram_story"):
        assert c.caption.link is not None
        assert (w.shown_link or c.caption.link) in text
    if network in ("instagram", "instagram_story") and item.link:
        assert c.caption.link and c.caption.link not in text
        assert "Link in bio" in text
    _check_order(w, full, c.parts)
    return c


@pytest.mark.parametrize("network", NETWORKS)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(item=items)
def test_every_caption_fits_its_network(network: str, item: Item) -> None:
    _check(item, network)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(item=items, limit=st.integers(min_value=60, max_value=700))
def test_mastodon_instance_limit_from_target_options(item: Item, limit: int) -> None:
    s = make_settings(
        targets={"social": {"network": "mastodon", "options": {"caption_max": limit}}}
    )
    try:
        c = compose(item, "social", "mastodon", s)
    except CaptionError:
        return
    assert within_limit("mastodon", c.caption.text, limit)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(item=items)
def test_bluesky_facets_are_exact_utf8_byte_ranges(item: Item) -> None:
    try:
        c = compose(item, "bluesky", "bluesky", SETTINGS)
    except CaptionError:
        return
    raw = c.caption.text.encode("utf-8")
    ends = 0
    for f in c.caption.facets:
        assert 0 <= f.byte_start < f.byte_end <= len(raw)
        assert f.byte_start >= ends  # sorted, not overlapping
        ends = f.byte_end
        span = raw[f.byte_start : f.byte_end].decode("utf-8")  # raises if not on char bounds
        if f.kind == "tag":
            assert span == "#" + f.value
        else:
            assert f.kind == "link" and f.value == c.caption.link
            assert span.rstrip(ELLIPSIS) in f.value.removeprefix("https://www.").removeprefix(
                "https://"
            )
    if item.link:
        assert any(f.kind == "link" for f in c.caption.facets)
    tags_in_text = {t for t in hashtags_for(item.tags) if t in c.caption.text.split()}
    assert tags_in_text <= {"#" + f.value for f in c.caption.facets if f.kind == "tag"}
