"""Contrast under text: WCAG ratios measured on the pixels a block sits on, and the scrim
that darkens (or lightens) just enough of a photo for the text to stay readable.

Measured per pixel, not on an average: one bright speck of sky behind a thin
stroke is what makes a card unreadable on a phone. Pillow only, no numpy:
the sRGB channels go through a linearising table, then Rec. 709 weights.
"""

from __future__ import annotations

import math
from functools import lru_cache

from PIL import Image, ImageFilter

Colour = tuple[int, int, int]
Box = tuple[int, int, int, int]
NORMAL = 4.5  # WCAG AA for body text
LARGE = 3.0  # WCAG AA for large text
LARGE_PX = 48  # at a 1080-px width, text this size and up counts as large
MARGIN = 1.06  # aim a little above the target: JPEG and resampling move pixels


def _linear(c: float) -> float:
    c /= 255.0
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def luminance(colour: Colour) -> float:
    r, g, b = (_linear(v) for v in colour)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def ratio(a: float, b: float) -> float:
    hi, lo = max(a, b), min(a, b)
    return (hi + 0.05) / (lo + 0.05)


@lru_cache(maxsize=2)
def _table(up: bool) -> list[int]:
    """sRGB → linear light in 0–255, rounded towards the worse case for the text."""
    rnd = math.ceil if up else math.floor
    one = [min(255, max(0, rnd(_linear(v) * 255))) for v in range(256)]
    return one * 3


def extreme_luminance(img: Image.Image, box: Box, brightest: bool) -> float:
    """The brightest (or darkest) pixel's relative luminance inside `box`."""
    region = img.crop(box).convert("RGB")
    lin = region.point(_table(brightest))
    y = lin.convert("L", (0.2126, 0.7152, 0.0722, 0.0))
    lo, hi = y.getextrema()
    value = hi if brightest else lo
    assert isinstance(value, int | float)
    return float(value) / 255.0


_LUMA: dict[tuple[int, bool], tuple[Image.Image, Image.Image]] = {}


def _luma(img: Image.Image, brightest: bool) -> Image.Image:
    """Relative luminance (0–255) of a small shared image, rounded towards the worse case."""
    key = (id(img), brightest)
    hit = _LUMA.get(key)
    if hit is None or hit[0] is not img:
        if len(_LUMA) > 32:
            _LUMA.clear()
        y = img.convert("RGB").point(_table(brightest)).convert("L", (0.2126, 0.7152, 0.0722, 0.0))
        hit = _LUMA[key] = (img, y)  # the image is kept, so its id stays its own
    return hit[1]


def measure_shared(img: Image.Image, box: Box, colour: Colour) -> float:
    """`measure` on an image that never changes (a cached, shrunk background): its
    luminance is computed once, then each box is only a crop."""
    text = luminance(colour)
    light_text = text > 0.18
    lo, hi = _luma(img, light_text).crop(box).getextrema()
    value = hi if light_text else lo
    assert isinstance(value, int | float)
    return ratio(text, float(value) / 255.0)


def target_for(font_px: int, width: int) -> float:
    """4.5:1, or 3:1 for large text (48 px and up on a 1080-wide card)."""
    return LARGE if font_px * 1080 / width >= LARGE_PX else NORMAL


def measure(img: Image.Image, box: Box, colour: Colour) -> float:
    """The worst contrast between `colour` and any pixel under `box`."""
    text = luminance(colour)
    light_text = text > 0.18
    worst = extreme_luminance(img, box, brightest=light_text)
    return ratio(text, worst)


def scrim(img: Image.Image, box: Box, colour: Colour, target: float, pad: int) -> float:
    """Darken (or lighten) the pixels under `box` until `colour` reaches `target`.

    Blends towards black for light text (white for dark text) with the least
    opacity that works, found by bisection, feathered over `pad` px around the box
    so it reads as shade, not as a panel. Returns the opacity used (0 if none).
    """
    w, h = img.size
    box = (max(0, box[0]), max(0, box[1]), min(w, box[2]), min(h, box[3]))
    if box[2] <= box[0] or box[3] <= box[1]:
        return 0.0
    goal = target * MARGIN
    if measure(img, box, colour) >= goal:
        return 0.0
    light_text = luminance(colour) > 0.18
    shade: Colour = (0, 0, 0) if light_text else (255, 255, 255)
    region = img.crop(box).convert("RGB")
    flat = Image.new("RGB", region.size, shade)
    lo, hi = 0.0, 1.0
    for _ in range(7):
        mid = (lo + hi) / 2
        trial = Image.blend(region, flat, mid)
        if measure(trial, (0, 0, *trial.size), colour) >= goal:
            hi = mid
        else:
            lo = mid
    alpha = hi
    outer = (max(0, box[0] - pad), max(0, box[1] - pad), min(w, box[2] + pad), min(h, box[3] + pad))
    size = (outer[2] - outer[0], outer[3] - outer[1])
    mask = Image.new("L", size, 0)
    inner = (box[0] - outer[0], box[1] - outer[1], box[2] - outer[0], box[3] - outer[1])
    half = pad // 2
    grown = (inner[0] - half, inner[1] - half, inner[2] + half, inner[3] + half)
    mask.paste(255, (max(0, grown[0]), max(0, grown[1]), grown[2], grown[3]))
    if pad > 2:  # full strength a little beyond the text, then a soft fade: shade, not a panel
        mask = mask.filter(ImageFilter.GaussianBlur(pad / 4))
        mask.paste(255, inner)  # full strength everywhere under the text
    mask = mask.point(lambda v: round(v * alpha))
    img.paste(shade, outer, mask)
    return alpha
