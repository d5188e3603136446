"""Font coverage (cmap), per-cluster fallback and measurement."""

from __future__ import annotations

import pytest

from pipeline.config import FONTS_DIR
from pipeline.render import fonts
from pipeline.render.cmap import read_coverage
from pipeline.render.fonts import Face, MissingGlyph

FRAUNCES = Face("Fraunces-Variable.ttf", 0, 420, 48)


def _faces(text: str) -> list[str]:
    return [r.face.file for r in fonts.runs(text, fonts.chain(FRAUNCES))]


def test_cmap_coverage_matches_the_fonts() -> None:
    fraunces = read_coverage(FONTS_DIR / "Fraunces-Variable.ttf")
    assert ord("A") in fraunces and ord("“") in fraunces and ord("é") in fraunces
    assert ord("Ω") not in fraunces  # no Greek in Fraunces
    cjk_sc = read_coverage(FONTS_DIR / "NotoSansCJK-Regular.ttc", 2)
    assert ord("中") in cjk_sc
    emoji = read_coverage(FONTS_DIR / "NotoColorEmoji.ttf")
    assert 0x1F680 in emoji and 0x1F3FD in emoji and ord("A") not in emoji


@pytest.mark.parametrize(
    ("text", "files"),
    [
        ("Hello", ["Fraunces-Variable.ttf"]),
        # beside a serif brand face, Greek and Cyrillic fall back to a serif too
        ("Ωμέγα", ["NotoSerif-Regular.ttf"]),
        ("Привет", ["NotoSerif-Regular.ttf"]),
        ("สวัสดี", ["NotoSansThai-Regular.ttf"]),
        ("ខ្មែរ", ["NotoSansKhmer-Regular.ttf"]),
        ("தமிழ்", ["NotoSansTamil-Regular.ttf"]),
        ("বাংলা", ["NotoSansBengali-Regular.ttf"]),
        ("ქართული", ["NotoSansGeorgian-Regular.ttf"]),
        ("Հայերեն", ["NotoSansArmenian-Regular.ttf"]),
        ("አማርኛ", ["NotoSansEthiopic-Regular.ttf"]),
        ("مرحبا", ["NotoSansArabic-Variable.ttf"]),
        ("שלום", ["NotoSansHebrew-Regular.ttf"]),
        ("中文", ["NotoSansCJK-Regular.ttc"]),
        ("🚀", ["NotoColorEmoji.ttf"]),
        ("go🚀", ["Fraunces-Variable.ttf", "NotoColorEmoji.ttf"]),
    ],
)
def test_each_script_falls_back_to_a_font_that_has_it(text: str, files: list[str]) -> None:
    assert _faces(text) == files


def test_punctuation_stays_with_the_script_around_it() -> None:
    # Arabic comma and full stop stay in the Arabic face, not the brand serif
    assert _faces("ظلام،") == ["NotoSansArabic-Variable.ttf"]
    # a question mark after Hebrew letters takes the sans fallback, not the serif
    assert _faces("לי?")[-1] != "Fraunces-Variable.ttf"


def test_emoji_sequences_stay_whole() -> None:
    runs = fonts.runs("👩🏽‍💻👍🏿👨‍👩‍👧‍👦🇬🇧", fonts.chain(FRAUNCES))
    assert [r.face.file for r in runs] == ["NotoColorEmoji.ttf"]
    width = fonts.width("👩🏽‍💻", fonts.chain(FRAUNCES))
    assert 0.8 < width < 1.5  # one glyph wide, not four


def test_combining_marks_are_drawn_with_their_base() -> None:
    runs = fonts.runs("q\u0323\u0307 e\u0301", fonts.chain(FRAUNCES))
    assert all(r.face.file != "NotoColorEmoji.ttf" for r in runs)
    assert "".join(r.text for r in runs) == "q\u0323\u0307 e\u0301"


def test_a_character_no_font_has_is_named() -> None:
    with pytest.raises(MissingGlyph) as err:
        fonts.runs("Tibetan བཀྲ་ཤིས", fonts.chain(FRAUNCES))
    assert err.value.char == "བ"
    assert "U+0F56" in str(err.value)


def test_advances_scale_linearly_with_size() -> None:
    """The layout relies on it: it measures once in em and multiplies by the size."""
    em = fonts.advance("formative.", FRAUNCES, False)
    for size in (34, 61, 97, 140):
        actual = fonts.load(FRAUNCES, size).getlength("formative.")
        assert abs(actual - em * size) < 0.1


def test_fonts_are_loaded_once_per_size() -> None:
    assert fonts.load(FRAUNCES, 50) is fonts.load(FRAUNCES, 50)
