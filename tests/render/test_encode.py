"""Encoding: identical bytes for identical inputs, no metadata, no alpha, byte limits."""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys

import pytest
from PIL import Image

from pipeline.config import Settings
from pipeline.errors import RenderError
from pipeline.items import Item
from pipeline.render import fonts, render_card
from pipeline.render.card import compose
from pipeline.render.encode import MIN_QUALITY, encode
from tests.render.conftest import ROOT, case_item

FORMATS = ("story", "portrait", "square", "landscape")


def _render(item: Item, settings: Settings, fmt: str, max_bytes: int | None = None) -> bytes:
    return render_card(
        item,
        settings.themes["dark"],
        fmt,
        settings.formats[fmt],
        settings.brand,
        settings.base_dir,
        max_bytes,
    ).card.data


@pytest.mark.parametrize("fmt", FORMATS)
def test_same_inputs_give_identical_bytes(seed: Item, settings: Settings, fmt: str) -> None:
    first = _render(seed, settings, fmt)
    fonts.clear_caches()  # cold caches must not change a single byte
    assert _render(seed, settings, fmt) == first


def test_identical_bytes_in_a_fresh_process(seed: Item, settings: Settings) -> None:
    code = (
        "import hashlib, sys; from zoneinfo import ZoneInfo;"
        "from pipeline.config import load_settings; from pipeline.items import parse_item;"
        "from pipeline.render import render_card;"
        f"s = load_settings({str(ROOT / 'config.example.toml')!r});"
        f"i = parse_item(__import__('pathlib').Path({str(seed.path)!r}), "
        f"__import__('pathlib').Path({str(seed.path.parent)!r}), ZoneInfo('UTC'), False);"
        "d = render_card(i, s.themes['dark'], 'story', s.formats['story'], s.brand, s.base_dir)"
        ".card.data; print(hashlib.sha256(d).hexdigest())"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert out.stdout.strip() == hashlib.sha256(_render(seed, settings, "story")).hexdigest()


def test_png_and_jpeg_carry_no_metadata_and_no_alpha(seed: Item, settings: Settings) -> None:
    png = _render(seed, settings, "square")
    with Image.open(io.BytesIO(png)) as im:
        assert im.format == "PNG" and im.mode == "RGB"
        assert set(im.info) <= {"srgb"}  # the sRGB chunk only: no text, time, ICC or EXIF
    assert b"tIME" not in png and b"tEXt" not in png and b"eXIf" not in png
    jpeg = _render(seed, settings, "story")
    with Image.open(io.BytesIO(jpeg)) as im:
        assert im.format == "JPEG" and im.mode == "RGB"
        assert "exif" not in im.info and "icc_profile" not in im.info


def test_alpha_is_flattened_for_jpeg() -> None:
    rgba = Image.new("RGBA", (200, 100), (255, 0, 0, 128))
    data, mime = encode(rgba, "jpeg", 90)
    with Image.open(io.BytesIO(data)) as im:
        assert mime == "image/jpeg" and im.mode == "RGB"


def test_byte_limit_gets_the_highest_jpeg_quality_that_fits(seed: Item, settings: Settings) -> None:
    comp = compose(
        seed,
        settings.themes["dark"],
        settings.formats["portrait"],
        settings.brand,
        settings.base_dir,
    )
    full, mime = encode(comp.image, "png")
    assert mime == "image/png"
    limit = 120_000  # far below the PNG: it must become a JPEG that fits
    data, mime = encode(comp.image, "png", 92, limit)
    assert mime == "image/jpeg" and len(data) <= limit < len(full)
    quality = next(
        q for q in range(92, MIN_QUALITY - 1, -1) if encode(comp.image, "jpeg", q)[0] == data
    )
    assert len(encode(comp.image, "jpeg", quality + 1)[0]) > limit  # one better does not fit


def test_bluesky_limit_through_render_card(seed: Item, settings: Settings) -> None:
    data = _render(seed, settings, "portrait", max_bytes=1_000_000)
    assert len(data) <= 1_000_000
    assert _render(seed, settings, "portrait", max_bytes=1_000_000) == data


def test_an_impossible_byte_limit_fails_clearly(settings: Settings) -> None:
    with pytest.raises(RenderError) as err:
        _render(case_item("emoji"), settings, "square", max_bytes=2_000)
    msg = str(err.value)
    assert "2,000 bytes" in msg and f"quality {MIN_QUALITY}" in msg
