"""Right-to-left text: embedding levels from the Unicode Bidirectional Algorithm
(UAX #9, python-bidi's reference implementation) and line reordering (rule L2).

Levels are resolved once over the whole quote, so a neutral takes its direction from
the paragraph ("iPhone 15" inside Hebrew stays "iPhone 15"), and the directional
marks U+200E, U+200F and U+061C, which people use to fix such lines, work.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from functools import lru_cache

from bidi import algorithm as uba

from pipeline.render.text import Direction


@lru_cache(maxsize=1024)
def levels(text: str, base: Direction) -> tuple[int, ...]:
    """The resolved embedding level of every character of `text` (even = LTR, odd = RTL)."""
    if not text:
        return ()
    if base == "ltr" and not needs_bidi(text):
        return (0,) * len(text)
    storage = uba.get_empty_storage()
    storage["base_level"] = 0 if base == "ltr" else 1
    storage["base_dir"] = "L" if base == "ltr" else "R"
    uba.get_embedding_levels(text, storage, False, False)
    uba.explicit_embed_and_overrides(storage, False)
    uba.resolve_weak_types(storage, False)
    uba.resolve_neutral_types(storage, False)
    uba.resolve_implicit_levels(storage, False)
    kept = iter(c["level"] for c in storage["chars"])
    out: list[int] = []
    for ch in text:  # X9 removes embeddings and boundary neutrals: they take the level before
        if unicodedata.bidirectional(ch) in uba.X9_REMOVED:
            out.append(out[-1] if out else storage["base_level"])
        else:
            out.append(next(kept))
    return tuple(out)


# right-to-left letters, Arabic numbers and explicit embeddings: without any of these, in
# a left-to-right paragraph every level is 0 (UAX #9: W7 turns European numbers into L,
# N1/N2 give neutrals the embedding direction), so the algorithm need not run
_MOVERS = frozenset(
    {"R", "AL", "AN", "RLE", "RLO", "RLI", "LRE", "LRO", "LRI", "FSI", "PDF", "PDI"}
)


def needs_bidi(text: str) -> bool:
    """Whether `text` holds anything that can raise a level above a left-to-right base."""
    bidirectional = unicodedata.bidirectional
    return any(bidirectional(ch) in _MOVERS for ch in text)


def word_level(text: str, lv: Sequence[int]) -> int:
    """A word's level: that of its first strong character, else of its first character."""
    for ch, level in zip(text, lv, strict=False):
        if unicodedata.bidirectional(ch) in ("L", "R", "AL"):
            return level
    return lv[0] if lv else 0


def reorder(item_levels: Sequence[int]) -> list[int]:
    """Visual (left-to-right) order of a line's items from their levels (UAX #9 rule L2)."""
    order = list(range(len(item_levels)))
    if not order:
        return order
    top = max(item_levels)
    lowest_odd = min(lv for lv in item_levels) | 1
    for level in range(top, lowest_odd - 1, -1):
        i, n = 0, len(order)
        while i < n:
            if item_levels[order[i]] >= level:
                j = i
                while j < n and item_levels[order[j]] >= level:
                    j += 1
                order[i:j] = reversed(order[i:j])
                i = j
            else:
                i += 1
    return order
