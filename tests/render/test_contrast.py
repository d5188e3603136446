"""Contrast on photo backgrounds: every text block reaches WCAG 4.5:1 (3:1 at 48 px and up,
at 1080 wide) against every background pixel under it, on bright, dark and busy photos.

The ratio is recomputed here from the shaded background's exact colours with the WCAG
formula, not with the renderer's own lookup tables.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from pipeline.config import Background, Settings
from pipeline.render.assets import rgb
from pipeline.render.card import compose
from tests.render.conftest import case_item


def _lin(c: int) -> float:
    v = c / 255
    return v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4


def _lum(colour: tuple[int, ...]) -> float:
    r, g, b = colour[:3]
    return 0.2126 * _lin(r) + 0.7152 * _lin(g) + 0.0722 * _lin(b)


def _worst(region: Image.Image, text: tuple[int, int, int]) -> float:
    colours = region.convert("RGB").getcolors(region.width * region.height) or []
    t = _lum(text)
    worst = 21.0
    for _, c in colours:
        assert isinstance(c, tuple)
        bg = _lum(c)
        worst = min(worst, (max(t, bg) + 0.05) / (min(t, bg) + 0.05))
    return worst


def _photo(tmp: Path, kind: str) -> Path:
    size = (640, 800)
    if kind == "bright":
        im = Image.new("RGB", size, (250, 248, 240))
        im.paste((255, 255, 255), (0, 300, 640, 800))
    elif kind == "dark":
        im = Image.new("RGB", size, (12, 14, 20))
        im.paste((40, 40, 48), (0, 0, 640, 300))
    else:  # busy: full-range noise in every channel
        chans = [Image.effect_noise(size, 120).point(lambda v: min(255, v * 2)) for _ in range(3)]
        im = Image.merge("RGB", chans)
    path = tmp / f"{kind}.png"
    im.save(path)
    return path


@pytest.mark.parametrize("kind", ["bright", "dark", "busy"])
@pytest.mark.parametrize("theme_name", ["dark", "light"])
def test_every_block_is_readable_on_a_photo(
    settings: Settings, tmp_path: Path, kind: str, theme_name: str
) -> None:
    base = settings.themes[theme_name]
    bg = Background(kind="image", image=_photo(tmp_path, kind), colors=["#000000"], scrim=0.0)
    theme = base.model_copy(update={"background": bg, "category_label": "Quotes"})
    fmt = settings.formats["portrait"]
    comp = compose(case_item("combining"), theme, fmt, settings.brand, tmp_path, layered=True)
    shaded = comp.shaded
    assert shaded is not None
    colours = {
        "quote": rgb(theme.text_color),
        "author": rgb(theme.text_color),
        "role": rgb(theme.muted_color),
        "label": rgb(theme.accent_color),
        "handle": rgb(theme.muted_color),
    }
    assert set(colours) <= set(comp.placements)
    for name, colour in colours.items():
        p = comp.placements[name]
        goal = 3.0 if p.block.size * 1080 / fmt.width >= 48 else 4.5
        measured = _worst(shaded.crop(p.box), colour)
        assert measured >= goal, f"{name} on a {kind} photo: {measured:.2f} < {goal}"
        assert p.contrast >= goal  # and the layout report says so too
