"""Composed cards: the listed cases, nothing outside its box or in a safe zone, errors.

Cards are composed with `layered=True`, which draws each element (quote, label,
attribution, photo, handle, logo) on its own transparent layer, so the pixels
each one really drew can be measured.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageChops

from pipeline.config import Background, CardFormat, Settings, Theme
from pipeline.errors import RenderError
from pipeline.items import Item
from pipeline.render import render_card
from pipeline.render.card import Composition, compose
from pipeline.render.fonts import INK_SLACK, Face, chain
from pipeline.render.text import tokenize
from pipeline.render.typeset import set_block
from tests.render.conftest import CASES, case_item, make_item

FORMATS = ("story", "portrait", "square", "landscape")


def layered(item: Item, settings: Settings, fmt: str, theme: str = "dark") -> Composition:
    return compose(
        item, settings.themes[theme], settings.formats[fmt], settings.brand, settings.base_dir, True
    )


def inside(inner: tuple[int, int, int, int], outer: tuple[int, int, int, int]) -> bool:
    return (
        inner[0] >= outer[0]
        and inner[1] >= outer[1]
        and inner[2] <= outer[2]
        and inner[3] <= outer[3]
    )


def assert_well_placed(comp: Composition, fmt: CardFormat) -> None:
    """The quote's pixels stay in the quote box; nothing but background enters a safe zone."""
    quote = comp.layers["quote"].getbbox()
    assert quote is not None, "the quote drew nothing"
    assert inside(quote, comp.quote_box), (quote, comp.quote_box)
    top, bottom = fmt.safe_top, fmt.height - fmt.safe_bottom
    assert comp.quote_box[1] >= top and comp.quote_box[3] <= bottom
    for name, layer in comp.layers.items():
        box = layer.getbbox()
        if box is None:
            continue
        assert box[1] >= top and box[3] <= bottom, f"{name} enters a safe zone: {box}"
        assert box[0] >= 0 and box[2] <= fmt.width, f"{name} leaves the card: {box}"
        assert inside(box, comp.drawn[name]), f"{name} drew outside its computed box"


def saturated_pixels(img: Image.Image) -> int:
    """How many drawn pixels are strongly coloured (emoji are; ivory text is not)."""
    hsv = img.convert("RGB").convert("HSV")
    s = hsv.getchannel("S").point(lambda v: 255 if v > 120 else 0)
    v = hsv.getchannel("V").point(lambda v: 255 if v > 80 else 0)
    return ImageChops.multiply(s, v).histogram()[255]


# -- the seed quote ---------------------------------------------------------------------


@pytest.mark.parametrize("theme", ["dark", "light"])
@pytest.mark.parametrize("fmt", FORMATS)
def test_seed_quote_in_every_format_and_theme(
    seed: Item, settings: Settings, fmt: str, theme: str
) -> None:
    comp = layered(seed, settings, fmt, theme)
    assert_well_placed(comp, settings.formats[fmt])
    assert comp.image.size == (settings.formats[fmt].width, settings.formats[fmt].height)
    assert comp.quote_lines >= 2
    for part in ("label", "attribution", "handle"):
        assert comp.layers[part].getbbox() is not None


def test_seed_card_bytes_and_alt_text(seed: Item, settings: Settings) -> None:
    rc = render_card(
        seed,
        settings.themes["dark"],
        "story",
        settings.formats["story"],
        settings.brand,
        settings.base_dir,
    )
    assert rc.card.mime == "image/jpeg" and rc.card.format == "story"
    with Image.open(io.BytesIO(rc.card.data)) as im:
        assert im.size == (1080, 1920) and im.mode == "RGB"
    assert rc.alt_text.startswith("Quote card: “I think the next few years")
    assert "[Anthropic]" in rc.alt_text and "Andrej Karpathy" in rc.alt_text
    assert "Former Tesla AI head" in rc.alt_text


# -- the listed cases -------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("case", sorted(CASES))
def test_listed_cases_render_inside_their_boxes(case: str, fmt: str, settings: Settings) -> None:
    comp = layered(case_item(case), settings, fmt)
    assert_well_placed(comp, settings.formats[fmt])


def test_one_word_gets_the_largest_size(settings: Settings) -> None:
    comp = layered(case_item("one-word"), settings, "square")
    assert comp.quote_size == comp.quote_sizes[1] and comp.quote_lines == 1


def test_600_characters_fit_at_a_smaller_size(settings: Settings) -> None:
    assert len(CASES["long-600"][0]) == 600
    comp = layered(case_item("long-600"), settings, "square")
    assert comp.quote_sizes[0] <= comp.quote_size < 50 and comp.quote_lines >= 10


def test_emoji_are_drawn_in_colour(settings: Settings) -> None:
    comp = layered(case_item("emoji"), settings, "square")
    plain = layered(
        make_item("Ship it then iterate — the whole team celebrates"), settings, "square"
    )
    # beyond the accent-coloured quotation marks, the emoji add thousands of coloured pixels
    assert saturated_pixels(comp.layers["quote"]) > saturated_pixels(plain.layers["quote"]) + 8000


def test_url_like_word_is_broken_across_lines(settings: Settings) -> None:
    url = "https://example.com/research/2026/quotecast-rendering-notes/v2"
    assert len(url) >= 60
    comp = layered(make_item(url), settings, "portrait")
    assert comp.quote_lines >= 2
    assert_well_placed(comp, settings.formats["portrait"])


def test_right_to_left_words_run_right_to_left() -> None:
    face = Face("Fraunces-Variable.ttf", 0, 420, 48)
    tokens = tokenize("שלום עולם")  # "hello world": שלום is read first, so sits right
    block = set_block(tokens, chain(face), 1000, 400, 60, 60, "rtl")
    first = next(p for p in block.placed if p.text.startswith("ש"))
    second = next(p for p in block.placed if p.text.startswith("ע"))
    assert first.x > second.x
    # right-aligned: the ink box is an estimate at most INK_SLACK px wider than the pixels
    assert 900 < block.ink[2] <= 1000 + INK_SLACK


@pytest.mark.parametrize("quote", ["العلم نور", "שלום עולם"])
def test_rtl_quotes_are_right_aligned(quote: str, settings: Settings) -> None:
    comp = layered(make_item(quote), settings, "square")
    box = comp.layers["quote"].getbbox()
    assert box is not None
    right_gap = comp.quote_box[2] - box[2]
    left_gap = box[0] - comp.quote_box[0]
    assert right_gap < 20 < left_gap


def test_a_character_no_font_covers_is_an_error_naming_it(settings: Settings) -> None:
    item = make_item("Tibetan greeting: བཀྲ་ཤིས")
    with pytest.raises(RenderError) as err:
        layered(item, settings, "square")
    assert "the quote contains “བ”" in str(err.value) and "U+0F56" in str(err.value)
    with pytest.raises(RenderError, match="U\\+A9B2") as err:
        layered(make_item("Fine", author="ꦲꦤ"), settings, "square")
    assert "the author contains" in str(err.value)


def test_too_long_says_how_many_characters_fit(settings: Settings) -> None:
    theme = settings.themes["dark"].model_copy(update={"quote_size_min": 48})
    fmt = settings.formats["landscape"]
    quote = "Every organisation must prepare for the abandonment of everything it does. " * 14
    quote = quote[:1000].strip()
    with pytest.raises(RenderError) as err:
        compose(make_item(quote), theme, fmt, settings.brand, settings.base_dir)
    msg = str(err.value)
    assert "1600×900" in msg and f"{len(quote)} characters" in msg
    fit = int(msg.split("about ")[1].split(" ")[0])
    assert 100 < fit < len(quote)
    # about that many characters really do fit (leaving room for the closing mark),
    # and a few words more do not
    compose(make_item(quote[: fit - 5]), theme, fmt, settings.brand, settings.base_dir)
    with pytest.raises(RenderError):
        compose(make_item(quote[: fit + 30]), theme, fmt, settings.brand, settings.base_dir)


# -- pictures ---------------------------------------------------------------------------


def test_speaker_photo_is_a_circle_beside_the_attribution(settings: Settings, photo: Path) -> None:
    comp = layered(case_item("one-word", image=photo), settings, "square")
    layer = comp.layers["photo"]
    box = layer.getbbox()
    assert box is not None
    w, h = box[2] - box[0], box[3] - box[1]
    assert abs(w - h) <= 1 and w > 80
    alpha = layer.getchannel("A")
    assert alpha.getpixel((box[0] + 2, box[1] + 2)) == 0  # corner of the square: outside
    assert alpha.getpixel(((box[0] + box[2]) // 2, (box[1] + box[3]) // 2)) == 255
    text = comp.layers["attribution"].getbbox()
    assert text is not None and text[0] > box[2]  # beside it, to the right
    assert text[1] < (box[1] + box[3]) // 2 < text[3]  # vertically centred on it


@pytest.mark.parametrize("position", ["top-left", "top-right", "bottom-left", "bottom-right"])
def test_logo_sits_in_its_corner_clear_of_the_quote(
    settings: Settings, seed: Item, logo: Path, position: str
) -> None:
    theme = settings.themes["dark"].model_copy(update={"logo": logo, "logo_position": position})
    fmt = settings.formats["story"]
    comp = compose(seed, theme, fmt, settings.brand, settings.base_dir, True)
    assert_well_placed(comp, fmt)
    box = comp.layers["logo"].getbbox()
    quote = comp.layers["quote"].getbbox()
    assert box is not None and quote is not None
    assert box[3] <= quote[1] or box[1] >= quote[3]  # above or below, never overlapping
    left = position.endswith("left")
    assert (box[0] < fmt.width / 2) == left


def _rgb(img: Image.Image, x: int, y: int) -> tuple[int, int, int]:
    px = img.getpixel((x, y))
    assert isinstance(px, tuple)
    return (px[0], px[1], px[2])


def test_background_kinds(settings: Settings, photo: Path) -> None:
    fmt = settings.formats["square"]
    item = make_item("Backgrounds")
    grad = Theme(background=Background(kind="gradient", colors=["#000000", "#FFFFFF"], angle=90))
    img = compose(item, grad, fmt, settings.brand, settings.base_dir).image
    assert _rgb(img, 2, 540)[0] < 10 and _rgb(img, 1077, 540)[0] > 245
    scrim = Theme(background=Background(kind="image", image=photo, colors=["#000000"], scrim=0.5))
    img = compose(item, scrim, fmt, settings.brand, settings.base_dir).image
    r, g, b = _rgb(img, 2, 2)
    assert (r, g, b) != (0, 0, 0) and max(r, g, b) < 90 * 0.5 + 60  # photo, darkened
    missing = Theme(background=Background(kind="image", image=Path("nope.jpg")))
    with pytest.raises(RenderError, match="nope.jpg"):
        compose(item, missing, fmt, settings.brand, settings.base_dir)


def test_unknown_theme_font_is_named(settings: Settings) -> None:
    theme = Theme(quote_font="Missing.ttf")
    with pytest.raises(RenderError, match="Missing.ttf"):
        compose(make_item("x"), theme, settings.formats["square"], settings.brand, Path("."))


# -- properties -------------------------------------------------------------------------

_WORD = st.text(alphabet="abcdefghijklmnopqrstuvwxyzéüçABCXYZ'’,.;:!?-()", min_size=1, max_size=12)
# a quote with at least one letter: a quote of only marks ("'") is refused as empty
_QUOTE = (
    st.lists(_WORD, min_size=1, max_size=45)
    .map(" ".join)
    .filter(lambda q: any(c.isalpha() for c in q))
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(quote=_QUOTE, fmt=st.sampled_from(FORMATS), theme=st.sampled_from(["dark", "light"]))
def test_property_nothing_outside_the_box_or_in_a_safe_zone(
    settings: Settings, quote: str, fmt: str, theme: str
) -> None:
    comp = layered(make_item(quote), settings, fmt, theme)
    assert_well_placed(comp, settings.formats[fmt])


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(quote=_QUOTE, more=_QUOTE, fmt=st.sampled_from(FORMATS))
@example(quote=":::: ::::AAAk (:", more=":", fmt="story")  # CI found it: "(: :" was not glued
def test_property_a_longer_quote_never_gets_a_larger_size(
    settings: Settings, quote: str, more: str, fmt: str
) -> None:
    short = compose(
        make_item(quote), settings.themes["dark"], settings.formats[fmt], settings.brand, Path(".")
    )
    longer = compose(
        make_item(f"{quote} {more}"),
        settings.themes["dark"],
        settings.formats[fmt],
        settings.brand,
        Path("."),
    )
    assert longer.quote_size <= short.quote_size


# -- formats and labels -------------------------------------------------------------------


@pytest.mark.parametrize(
    "fmt",
    [
        CardFormat(width=1200, height=630),  # link preview
        CardFormat(width=1080, height=2340, safe_top=300, safe_bottom=420, encoding="jpeg"),
        CardFormat(width=720, height=720),
    ],
)
def test_a_new_format_is_only_its_dimensions(
    seed: Item, settings: Settings, fmt: CardFormat
) -> None:
    comp = compose(seed, settings.themes["dark"], fmt, settings.brand, settings.base_dir, True)
    assert comp.image.size == (fmt.width, fmt.height)
    assert_well_placed(comp, fmt)


def test_label_is_the_first_category_else_the_theme_label(settings: Settings) -> None:
    fmt = settings.formats["square"]
    theme = settings.themes["dark"].model_copy(update={"category_label": "Breaking Business News"})
    with_category = compose(
        make_item("Words", category=("Insights", "Other")),
        theme,
        fmt,
        settings.brand,
        Path("."),
        True,
    )
    from_theme = compose(
        make_item("Words", category=()), theme, fmt, settings.brand, Path("."), True
    )
    none = compose(
        make_item("Words", category=()),
        settings.themes["dark"],
        fmt,
        settings.brand,
        Path("."),
        True,
    )
    a, b = with_category.layers["label"].getbbox(), from_theme.layers["label"].getbbox()
    assert a is not None and b is not None
    assert b[2] - b[0] > 2 * (a[2] - a[0])  # "BREAKING BUSINESS NEWS" is far wider than "INSIGHTS"
    assert "label" not in none.layers


def test_cards_render_the_same_from_several_threads(seed: Item, settings: Settings) -> None:
    from concurrent.futures import ThreadPoolExecutor

    jobs = [(fmt, theme) for fmt in FORMATS for theme in ("dark", "light")]

    def one(job: tuple[str, str]) -> bytes:
        fmt, theme = job
        return render_card(
            seed,
            settings.themes[theme],
            fmt,
            settings.formats[fmt],
            settings.brand,
            settings.base_dir,
        ).card.data

    sequential = [one(j) for j in jobs]
    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(one, jobs)) == sequential


def test_bidi_keeps_a_latin_phrase_in_order_inside_hebrew(settings: Settings) -> None:
    """UAX #9 over the whole quote: "iPhone 15" stays "iPhone 15" inside Hebrew; the
    directional marks people use to fix such lines are accepted."""
    item = make_item("קניתי iPhone 15 חדש\u200f", author="דנה")
    comp = compose(
        item, settings.themes["dark"], settings.formats["landscape"], settings.brand, Path(".")
    )
    quote = comp.placements["quote"].block
    assert quote.lines == 1
    xs = {p.text.strip(): p.x for p in quote.placed}
    assert xs["iPhone"] < xs["15"] < xs["קניתי"]  # Latin run left to right, Hebrew right of it
    assert xs["חדש"] < xs["iPhone"]  # the last Hebrew word is leftmost


def test_rtl_cards_mirror_the_margins(settings: Settings) -> None:
    fmt = settings.formats["square"]
    rtl = compose(case_item("hebrew"), settings.themes["dark"], fmt, settings.brand, Path("."))
    ltr = compose(case_item("combining"), settings.themes["dark"], fmt, settings.brand, Path("."))
    right_gap = fmt.width - rtl.placements["author"].box[2]
    left_gap = ltr.placements["author"].box[0]
    assert abs(right_gap - left_gap) <= 3
    q = rtl.placements["quote"].box
    lq = ltr.placements["quote"].box
    # the hung opening mark sits as far outside the text on the right as "“" does on the left
    rtl_out = q[2] - (fmt.width - left_gap)
    ltr_out = left_gap - lq[0]
    assert abs(rtl_out / rtl.quote_size - ltr_out / ltr.quote_size) < 0.08
    assert fmt.width - q[2] >= 0.3 * left_gap


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_brand_mark_of_at_least_64_px_on_every_format(settings: Settings, fmt: str) -> None:
    comp = compose(
        case_item("one-word"),
        settings.themes["dark"],
        settings.formats[fmt],
        settings.brand,
        Path("."),
    )
    x0, y0, x1, y1 = comp.drawn["logo"]
    assert min(x1 - x0, y1 - y0) >= 64


def test_the_speaker_photo_crop_keeps_the_top_of_the_head(tmp_path: Path) -> None:
    from pipeline.render import assets

    path = tmp_path / "portrait.png"
    im = Image.new("RGB", (600, 900), (0, 0, 255))
    im.paste((255, 0, 0), (0, 0, 600, 120))  # the top of the head
    im.save(path)
    upper = assets.photo(path, 200)  # default focus (0.5, 0.3)
    centred = assets.photo(path, 200, focus=(0.5, 0.5))
    top, cut = upper.getpixel((100, 4)), centred.getpixel((100, 4))
    assert isinstance(top, tuple) and isinstance(cut, tuple)
    assert top[0] > 200  # red at the top of the circle
    assert cut[0] < 50  # a centred crop cuts it off


def test_digits_and_marks_follow_the_script_around_them(settings: Settings) -> None:
    item = make_item("في عام 2024 كان الطقس جميلاً جداً", author="كاتب")
    comp = compose(
        item, settings.themes["light"], settings.formats["square"], settings.brand, Path(".")
    )
    faces = {p.text: p.face.file for p in comp.placements["quote"].block.placed}
    assert faces["2024"] == faces["عام"] == "NotoSansArabic-Variable.ttf"
    assert faces["«"] == faces["»"] == "NotoSansArabic-Variable.ttf"  # not the Latin serif
    latin = compose(
        make_item("In 2024, we shipped."),
        settings.themes["light"],
        settings.formats["square"],
        settings.brand,
        Path("."),
    )
    shown = {p.text: p.face.file for p in latin.placements["quote"].block.placed}
    assert shown["2024,"] == shown["In"]
