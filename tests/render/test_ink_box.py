"""The layout's ink boxes are estimates (no drawing): they must hold every drawn pixel.

`fonts.ink_box` scales a run's outline box measured once at REF and widens it by
INK_SLACK for hinting; `check` judges fit from it, so a box smaller than the pixels
would let a card whose ink leaves its frame pass. This proves the bound on words of
every bundled script, in every bundled face, at sizes from the theme minimum to a
story's largest quote; with Debian's fortunes installed, on 300 more real words.
"""

from __future__ import annotations

import itertools
import random

import pytest

from pipeline.render import fonts, layout, typeset
from pipeline.render.fonts import Face
from pipeline.render.text import direction_of, smarten, tokenize
from tests.render import corpus

LATIN = [
    "Culture",
    "eats",
    "strategy",
    "for",
    "breakfast.",
    "jumpy",
    "Quixotic",
    "fjord",
    "“Ægir”",
    "ﬁnal",
    "naïve",
    "façade",
    "Non-cooperation",
    "comprehensibility",
    "(parenthetical)",
    "[Anthropic]",
    "R&D",
    "1,234.56",
    "—",
    "‘quoted’",
    "Καλημέρα",
    "κόσμε",
    "Привет",
    "мир",
    "Ёжик",
    "Ґанок",
    "Ωμέγα",
]
SCRIPTS: dict[str, list[str]] = {
    "NotoNaskhArabic-Regular.ttf": ["السلام", "عليكم", "المعرفة", "قوة", "«الحياة»", "١٢٣"],
    "NotoSansArabic-Variable.ttf": ["السلام", "عليكم", "العالم", "كتاب"],
    "NotoSansHebrew-Regular.ttf": ["שלום", "עולם", "ספר", "החיים", "יפים"],
    "NotoSansCJK-Regular.ttc": ["知識就是力量。", "「時は金なり」", "시작된다", "学而时习之"],
    "NotoSansDevanagari-Regular.ttf": ["नमस्ते", "दुनिया", "ज्ञान", "शक्ति"],
    "NotoSansThai-Regular.ttf": ["สวัสดีชาวโลก", "ความรู้คือพลัง"],
    "NotoSansTamil-Regular.ttf": ["வணக்கம்", "உலகம்"],
    "NotoSansBengali-Regular.ttf": ["নমস্কার", "পৃথিবী"],
    "NotoSansKhmer-Regular.ttf": ["សួស្តី", "ពិភពលោក"],
    "NotoSansEthiopic-Regular.ttf": ["ሰላም", "ዓለም"],
    "NotoSansGeorgian-Regular.ttf": ["გამარჯობა"],
    "NotoSansArmenian-Regular.ttf": ["Բարեւ"],
    "NotoColorEmoji.ttf": ["🙂", "🚀", "👍🏽", "🇫🇷"],
}
RTL = ("NotoNaskh", "NotoSansArabic", "NotoSansHebrew")
SIZES = (8, 9, 11, 14, 18, 24, 33, 48, 72, 110, 139, 200)


def _words() -> list[str]:
    if not corpus.available():
        return LATIN
    words = sorted({w for quote, _ in corpus.quotations(2000) for w in quote.split()})
    return LATIN + random.Random(18).sample(words, 300)


def _cases() -> list[tuple[Face, list[str]]]:
    words = _words()
    # the faces as themes pin them (quote, author, role), and the fallbacks as chains do
    latin = [
        Face("Fraunces-Variable.ttf", 0, 420, 48),
        Face("Fraunces-Italic-Variable.ttf", 0, 400, 48),
        Face("SourceSerif4-Variable.ttf", 0, 400, 20),
        Face("Inter-Variable.ttf", 0, 650, 32),
        Face("NotoSans-Variable.ttf", 0, 700),
        Face("NotoSerif-Regular.ttf"),
    ]
    return [(f, words) for f in latin] + [(Face(f), ws) for f, ws in SCRIPTS.items()]


def test_estimated_ink_box_holds_every_drawn_pixel() -> None:
    worst = 0
    checked = 0
    for face, words in _cases():
        rtl = face.file.startswith(RTL)
        for size in SIZES:
            for word in words:
                if not fonts.covers(face, word):
                    continue
                drawn = fonts.render(word, face, size, rtl)
                if drawn.image.getbbox() is None:
                    continue
                x0, y0, x1, y1 = drawn.bbox
                e0, f0, e1, f1 = fonts.ink_box(word, face, size, rtl)
                assert e0 <= x0 and f0 <= y0 and x1 <= e1 and y1 <= f1, (
                    face.file,
                    size,
                    word,
                    (x0, y0, x1, y1),
                    (e0, f0, e1, f1),
                )
                worst = max(worst, x0 - e0, y0 - f0, e1 - x1, f1 - y1)
                checked += 1
            fonts.render.cache_clear()
    assert checked > 2000
    # and it is an estimate, not a blanket margin: no side is ever far from the pixels
    assert worst <= 2 * fonts.INK_SLACK + 1


@pytest.mark.parametrize("weight", [500, 650])
def test_a_run_freetype_cannot_draw_is_refused_by_layout(weight: int) -> None:
    # U+FDFD, one huge ligature, overflows FreeType's rasteriser in Noto Sans Arabic at
    # these weights at every size: layout draws nothing, yet must refuse it as drawing would
    faces = fonts.chain(Face("Inter-Variable.ttf", 0, weight, 32))
    with pytest.raises(fonts.MissingGlyph):
        fonts.runs("\ufdfd", faces)
    assert fonts.runs("\u0633\u0644\u0627\u0645", faces)  # its neighbours draw


def _drawn_union(block: typeset.Block) -> tuple[int, int, int, int]:
    """Every run rasterised: the box exact_ink must reach while drawing only some."""
    boxes = []
    for p in block.placed:
        x0, y0, x1, y1 = fonts.render(p.text, p.face, block.size, p.rtl).bbox
        boxes.append((round(p.x) + x0, p.y + y0, round(p.x) + x1, p.y + y1))
    return (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )


def test_exact_ink_equals_rasterising_every_run() -> None:
    """exact_ink rasterises only the runs near an edge of the estimate; on quotes of every
    bundled script and real quotations, at sizes small to large, its box is exactly the
    union of all the drawn runs (a wrong pruning bound would move a side)."""
    quotes = [" ".join(LATIN[i : i + 9]) for i in range(0, len(LATIN), 9)]
    quotes += [" ".join(ws) for ws in SCRIPTS.values()]
    if corpus.available():
        quotes += [q for q, _ in corpus.quotations(400)][::4]
    faces = fonts.chain(Face("Fraunces-Variable.ttf", 0, 420, 48))
    checked = 0
    for quote in quotes:
        tokens = tokenize(smarten(quote))
        base = direction_of(quote) or "ltr"
        for width, size in itertools.product((420, 640, 900), (17, 40, 63, 90, 139)):
            try:
                block = typeset.set_block(tokens, faces, width, 1400, 12, size, base)
            except (layout.DoesNotFit, fonts.MissingGlyph):
                continue
            assert typeset.exact_ink(block).ink == _drawn_union(block), (quote, width, size)
            checked += 1
    assert checked >= len(quotes) * 15 * 0.9
