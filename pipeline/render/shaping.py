"""Which text layout engine Pillow uses, and one clear error when a script needs raqm.

Right-to-left scripts (Arabic, Hebrew…) need bidi reordering and joining, and the
Brahmic scripts (Devanagari, Tamil…) need glyph reordering and conjuncts: only Pillow's
raqm engine (libraqm with FriBiDi and HarfBuzz) does that. Where it is missing,
Pillow's basic engine would draw such text wrong or fail deep inside; instead the card
is refused with a message naming the library. Latin, Greek, Cyrillic, CJK and emoji
draw correctly with the basic engine.

`QUOTECAST_TEXT_LAYOUT=basic` forces the basic engine (to try a machine without raqm).
"""

from __future__ import annotations

import os
from functools import lru_cache

import regex
from PIL import ImageFont, features

from pipeline.errors import RenderError

FORCE_ENV = "QUOTECAST_TEXT_LAYOUT"

_NEEDS_RAQM = regex.compile(
    r"[\p{Bidi_Class=R}\p{Bidi_Class=AL}"
    r"\p{Script=Devanagari}\p{Script=Bengali}\p{Script=Gurmukhi}\p{Script=Gujarati}"
    r"\p{Script=Oriya}\p{Script=Tamil}\p{Script=Telugu}\p{Script=Kannada}"
    r"\p{Script=Malayalam}\p{Script=Sinhala}\p{Script=Thai}\p{Script=Lao}"
    r"\p{Script=Tibetan}\p{Script=Myanmar}\p{Script=Khmer}]"
)


@lru_cache(maxsize=1)
def _raqm_loaded() -> bool:
    return bool(features.check_feature("raqm"))


def uses_raqm() -> bool:
    """True when cards are shaped with raqm (available and not switched off)."""
    if os.environ.get(FORCE_ENV, "").strip().lower() == "basic":
        return False
    return _raqm_loaded()


def layout_engine() -> ImageFont.Layout:
    return ImageFont.Layout.RAQM if uses_raqm() else ImageFont.Layout.BASIC


def engine_name() -> str:
    """For cache keys: a card shaped by one engine is not the card the other draws."""
    return "raqm" if uses_raqm() else "basic"


def require_shaping(text: str) -> None:
    """Raise RenderError if `text` needs raqm and the basic engine is in use."""
    if uses_raqm():
        return
    m = _NEEDS_RAQM.search(text)
    if m is None:
        return
    ch = m.group()
    why = (
        f"switched off by {FORCE_ENV}=basic"
        if os.environ.get(FORCE_ENV, "").strip().lower() == "basic"
        else "not available to Pillow"
    )
    raise RenderError(
        f"“{ch}” (U+{ord(ch):04X}) needs complex text layout, which needs the libraqm "
        f"library (with libfribidi and libharfbuzz), {why}; install libraqm0 "
        "(Debian: apt-get install libraqm0 libfribidi0 libharfbuzz0b) or a Pillow built "
        "with raqm"
    )
