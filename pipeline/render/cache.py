"""Rendered cards cached under the data folder by a hash of everything that shapes them."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from pipeline.files import atomic_write
from pipeline.config import FONTS_DIR, Brand, CardFormat, Theme
from pipeline.items import Item
from pipeline.posts import Card
from pipeline.render.card import RENDERER_VERSION, RenderedCard, alt_text_for, render_card


def _file_digest(path: Path | None) -> str:
    if path is None or not path.is_file():
        return ""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def cache_key(
    item: Item, theme: Theme, fmt_name: str, fmt: CardFormat, brand: Brand, max_bytes: int | None
) -> str:
    """Hash of item content, theme, format, brand, fonts, images and renderer version."""
    fonts = sorted({theme.quote_font, theme.attribution_font})
    payload = {
        "v": RENDERER_VERSION,
        "item": [item.quote, item.author, item.role, item.category, item.headline],
        "image": _file_digest(item.image),
        "theme": theme.model_dump(mode="json"),
        "format": [fmt_name, fmt.model_dump(mode="json")],
        "brand": brand.model_dump(mode="json"),
        "fonts": {f: _file_digest(FONTS_DIR / f) for f in fonts},
        "max_bytes": max_bytes,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def render_cached(
    item: Item,
    theme: Theme,
    fmt_name: str,
    fmt: CardFormat,
    brand: Brand,
    base_dir: Path,
    cache_dir: Path,
    max_bytes: int | None = None,
) -> tuple[RenderedCard, Path]:
    """Render, or reuse the identical card rendered before. Returns the card and its file."""
    key = cache_key(item, theme, fmt_name, fmt, brand, max_bytes)
    for ext, mime in (("png", "image/png"), ("jpg", "image/jpeg")):
        path = cache_dir / f"{key[:32]}.{ext}"
        if path.is_file():
            from PIL import Image

            data = path.read_bytes()
            with Image.open(path) as im:
                w, h = im.size
            card = Card(data, mime, w, h, fmt_name)
            return RenderedCard(card, alt_text_for(item)), path
    rendered = render_card(item, theme, fmt_name, fmt, brand, base_dir)
    path = cache_dir / f"{key[:32]}.{rendered.card.extension}"
    atomic_write(path, rendered.card.data)
    return rendered, path
