"""Segment stage: where a line may break (UAX #14) and where a word may be hyphenated.

Break opportunities come from ICU's line breaker (through icu4py, which ships
ICU in its wheels), so Thai, Khmer and Lao get dictionary breaks and CJK gets
kinsoku; Korean is set "keep-all" (breaks at spaces only), as Korean
typesetting does. Hyphenation points come from the pyphen (Hunspell) patterns
of the text's language and are used only when the fit stage asks for them.
Pure functions of strings: no fonts, no pixels.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

import pyphen
from icu4py.breakers import LineBreaker

# languages guessed from the script when the item does not say (ICU needs a locale)
_SCRIPT_LOCALES = (
    ((0x0E00, 0x0E7F), "th"),
    ((0x1780, 0x17FF), "km"),
    ((0x0E80, 0x0EFF), "lo"),
    ((0x1000, 0x109F), "my"),
    ((0xAC00, 0xD7AF), "ko"),
    ((0x1100, 0x11FF), "ko"),
    ((0x3040, 0x30FF), "ja"),
    ((0x4E00, 0x9FFF), "zh"),
)
_HYPHEN_LANG = {"en": "en_US", "de": "de_DE", "fr": "fr", "es": "es", "it": "it_IT", "nl": "nl"}


@lru_cache(maxsize=4096)
def locale_of(text: str) -> str:
    """A best guess at the text's language from its script (ICU and hyphenation need one)."""
    for ch in text:
        cp = ord(ch)
        for (lo, hi), loc in _SCRIPT_LOCALES:
            if lo <= cp <= hi:
                return loc
    return "en"


def is_hangul(ch: str) -> bool:
    cp = ord(ch)
    return 0xAC00 <= cp <= 0xD7AF or 0x1100 <= cp <= 0x11FF or 0x3130 <= cp <= 0x318F


@lru_cache(maxsize=4096)
def line_segments(text: str, locale: str = "") -> tuple[tuple[int, int, bool], ...]:
    """The text cut at its UAX #14 break opportunities: (start, end, space follows).

    Trailing spaces are left out of each [start, end) slice; a slice followed by
    no space joins the next one with no gap when both sit on one line.
    """
    if not text:
        return ()
    loc = locale or locale_of(text)
    raw = list(LineBreaker(text, loc))
    if loc == "ko" or any(is_hangul(c) for c in text):
        merged: list[str] = []
        for seg in raw:
            if (
                merged
                and not merged[-1][-1:].isspace()
                and (is_hangul(merged[-1][-1]) or is_hangul(seg[0]))
            ):
                merged[-1] += seg  # keep-all: Korean words break only at spaces
            else:
                merged.append(seg)
        raw = merged
    out: list[tuple[int, int, bool]] = []
    pos = 0
    for seg in raw:
        word = seg.rstrip()
        if word:
            out.append((pos, pos + len(word), word != seg))
        elif out:
            out[-1] = (out[-1][0], out[-1][1], True)
        pos += len(seg)
    return tuple(out)


def is_punctuation(text: str) -> bool:
    """Only punctuation (and symbols such as dashes): never a line of its own.

    Spaces inside one break unit count as nothing ("(: :" cannot break, UAX #14 LB13),
    so a longer run of punctuation is glued like a shorter one.
    """
    return bool(text.strip()) and all(
        unicodedata.category(c)[0] in "PS" or c.isspace() for c in text
    )


@lru_cache(maxsize=16)
def _dictionary(lang: str) -> pyphen.Pyphen | None:
    name = pyphen.language_fallback(_HYPHEN_LANG.get(lang, lang))
    return pyphen.Pyphen(lang=name) if name else None


@lru_cache(maxsize=8192)
def hyphen_points(word: str, locale: str = "en") -> tuple[int, ...]:
    """Offsets inside `word` where a hyphen may be inserted (pyphen's patterns).

    Leading and trailing punctuation is kept whole (no "“hy-" or "-phen.”"); words
    that already contain a hyphen or a digit, and URLs, get none.
    """
    dic = _dictionary(locale)
    if dic is None:
        return ()
    start = 0
    while start < len(word) and not word[start].isalpha():
        start += 1
    end = len(word)
    while end > start and not word[end - 1].isalpha():
        end -= 1
    core = word[start:end]
    if len(core) < 5 or not core.isalpha():
        return ()
    return tuple(start + p for p in dic.positions(core) if 2 <= p <= len(core) - 3)
