"""Proof over real quotations: 600 attributed quotes from Debian's `fortunes` package, plus
the scripts the renderer covers, in every format and both themes, judged from the layout
report alone (what `render --json` prints).

Layout without painting (`compose(..., pixels=False)`) keeps this under a minute; the
contrast it reports is measured on the (smooth) background the text sits on, which is
exact for the example themes' solid and gradient backgrounds. Photo backgrounds are
proved separately in test_contrast.py.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from typing import Any

import pytest
from icu4py.breakers import LineBreaker

from pipeline.config import Settings
from pipeline.render import fonts
from pipeline.render.card import _faces, compose
from pipeline.render.report import layout_report
from pipeline.render.text import cjk_face, is_cjk, plain
from tests.render import corpus
from tests.render.conftest import CASES, ROOT, make_item

FORMATS = ("story", "portrait", "square", "landscape")
THEMES = ("dark", "light")
_BREAK_AFTER = set("-‐/–—")
_SKIP_SCRIPTS = {"emoji"}  # emoji lines are judged by the card tests


def _flat(text: str) -> tuple[str, list[bool], list[int]]:
    """Text without whitespace; whether whitespace followed each kept character; and the
    offset in `text` just after each kept character."""
    chars: list[str] = []
    space_after: list[bool] = []
    ends: list[int] = []
    for i, ch in enumerate(text):
        if ch.isspace():
            if space_after:
                space_after[-1] = True
        else:
            chars.append(ch)
            space_after.append(False)
            ends.append(i + 1)
    return "".join(chars), space_after, ends


def _icu_breaks(text: str) -> set[int]:
    """UAX #14 break opportunities straight from ICU (dictionary breaks for Thai, Khmer)."""
    out, pos = set(), 0
    for seg in LineBreaker(text, "th" if any("\u0e00" <= c <= "\u0e7f" for c in text) else "en"):
        pos += len(seg)
        out.add(len(seg.rstrip()) + pos - len(seg))
    return out


def _hangul(ch: str) -> bool:
    return "\uac00" <= ch <= "\ud7af"


def _midword_breaks(lines: list[str], hyphenated: list[bool], source: str) -> int:
    """Breaks inside a word without a hyphen: a break must fall at a space, after a
    hyphen, dash or slash, or at a UAX #14 opportunity — and in Korean only at a space."""
    flat, space_after, ends = _flat(source)
    icu = _icu_breaks(source)
    pos, bad = 0, 0
    for line, hyph in zip(lines, hyphenated, strict=True):
        text = line[:-1] if hyph else line
        compact = "".join(c for c in text if not c.isspace())
        found = flat.find(compact, pos)
        if found != pos:
            return 10_000  # the drawn text is not the quote: fail loudly
        pos += len(compact)
        if pos >= len(flat) or hyph or space_after[pos - 1]:
            continue
        last, nxt = flat[pos - 1], flat[pos]
        korean = _hangul(last) or _hangul(nxt)
        if korean or not (last in _BREAK_AFTER or ends[pos - 1] in icu):
            bad += 1
    return bad


def _punctuation_only(lines: list[str]) -> int:
    return sum(
        1 for ln in lines if all(unicodedata.category(c)[0] in "PZS" or c.isspace() for c in ln)
    )


def _avoidable_lone_words(
    lines: list[str], font_px: int, measure_px: float, theme: Any, text: str
) -> int:
    """A lone last word whose line-mate could move down with it, both lines still fitting."""
    if len(lines) < 2 or " " in lines[-1].strip() or any(is_cjk(c) for c in lines[-1]):
        return 0
    prev = lines[-2].split(" ")
    if len(prev) < 2:
        return 0
    chain = fonts.chain(_faces(theme).quote, cjk_face(text))
    moved = f"{prev[-1]} {lines[-1]}"
    return 1 if fonts.width(moved, chain) * font_px <= measure_px - 1 else 0


def _judge(rep: dict[str, Any], theme: Any, source: str, counts: Counter[str]) -> None:
    width = rep["width"]
    scale = width / 1080
    blocks = rep["blocks"]
    quote = blocks["quote"]
    counts["cards"] += 1
    counts["midword"] += _midword_breaks(quote["lines"], quote["hyphenated"], source)
    counts["hyphenated"] += sum(quote["hyphenated"])
    for name, block in blocks.items():
        counts["punct_only"] += _punctuation_only(block["lines"])
        if block["contrast"] < block["contrast_target"]:
            counts["low_contrast"] += 1
            counts[f"low_contrast:{name}"] += 1
    mins = {"author": theme.author_cap_px, "role": theme.small_cap_px}
    mins |= {"label": theme.small_cap_px, "handle": theme.small_cap_px}
    for name, cap in mins.items():
        if name in blocks and blocks[name]["cap_height_px"] < int(cap * scale):
            counts["small"] += 1
            counts[f"small:{name}"] += 1
    measure_px = width - 2 * round(0.08 * width)
    counts["lone"] += _avoidable_lone_words(
        quote["lines"], quote["font_px"], measure_px, theme, source
    )


def _run(
    settings: Settings, quotes: list[tuple[str, str]], formats: tuple[str, ...]
) -> Counter[str]:
    counts: Counter[str] = Counter()
    for i, (quote, author) in enumerate(quotes):
        item = make_item(quote, author, "Writer", slug=f"q{i}")
        for theme_name in THEMES:
            theme = settings.themes[theme_name]
            for fmt in formats:
                comp = compose(
                    item, theme, settings.formats[fmt], settings.brand, ROOT, pixels=False
                )
                rep = layout_report(comp, item.slug, fmt, theme_name, None)
                marks = rep["blocks"]["quote"]["lines"]
                source = marks[0][:1] + plain(quote) + marks[-1][-1:]
                _judge(rep, theme, source, counts)
    return counts


@pytest.mark.skipif(
    not corpus.available(),
    reason="Debian's fortunes corpus is not installed (apt-get install fortunes fortunes-min)",
)
def test_real_quotations_in_every_format_and_theme(settings: Settings) -> None:
    quotes = corpus.quotations(600)
    assert len(quotes) >= 500
    counts = _run(settings, quotes, FORMATS)
    print(dict(counts))  # shown with -s: the counts on the corpus
    assert counts["cards"] == len(quotes) * len(FORMATS) * len(THEMES)
    assert counts["midword"] == 0, counts
    assert counts["punct_only"] == 0, counts
    assert counts["lone"] == 0, counts
    assert counts["small"] == 0, counts
    assert counts["low_contrast"] == 0, counts


def test_other_scripts_in_every_format_and_theme(settings: Settings) -> None:
    quotes = [(q, a) for name, (q, a, _) in CASES.items() if name not in _SKIP_SCRIPTS]
    quotes = [(q, a) for q, a in quotes if len(q) < 400]
    counts = _run(settings, quotes, FORMATS)
    assert counts["midword"] == 0, counts
    assert counts["punct_only"] == 0, counts
    assert counts["small"] == 0, counts
    assert counts["low_contrast"] == 0, counts
