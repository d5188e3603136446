"""The layout report: what `render --json` prints for each card — the fit stage's output
(sizes, lines, hyphens) plus the painted boxes and contrast, so a person or a test sees
why a card looks as it does, from exactly what was drawn.
"""

from __future__ import annotations

from typing import Any

from pipeline.render import fonts
from pipeline.render.card import Composition


def cap_height(face: fonts.Face, size: int) -> int:
    """Height in px of the capital H of `face` at `size`."""
    return round(fonts.extent("H", face, False)[0] * size)


def blocks(comp: Composition) -> dict[str, dict[str, Any]]:
    """Each text block by name: font size, cap height, ink box, lines, hyphens, contrast."""
    out: dict[str, dict[str, Any]] = {}
    for name, p in comp.placements.items():
        out[name] = {
            "font_px": p.block.size,
            "cap_height_px": cap_height(p.face, p.block.size),
            "box": list(p.box),
            "lines": list(p.block.texts),
            "hyphenated": list(p.block.hyphenated),
            "contrast": round(p.contrast, 2),
            "contrast_target": p.target,
        }
    return out


def layout_report(
    comp: Composition, slug: str, fmt: str, theme: str, path: str | None
) -> dict[str, Any]:
    """One card's report (the JSON object `render --json` prints on one line)."""
    return {
        "slug": slug,
        "format": fmt,
        "theme": theme,
        "path": path,
        "width": comp.image.width,
        "height": comp.image.height,
        "blocks": blocks(comp),
    }
