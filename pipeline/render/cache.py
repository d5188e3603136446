"""Rendered cards cached under the data folder by a hash of everything that shapes them.

The key covers the item's visible content, the theme, the format, the brand,
the bytes of every font the renderer may use and of every picture (logo,
background, speaker photo), the byte limit and RENDERER_VERSION — so a cached
card is always exactly the card a fresh render would produce.
"""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path

from pipeline.config import FONTS_DIR, Brand, CardFormat, Theme
from pipeline.files import atomic_write
from pipeline.items import Item
from pipeline.posts import Card
from pipeline.render.card import (
    RENDERER_VERSION,
    RenderedCard,
    alt_text_for,
    compose,
    render_card,
)
from pipeline.render.fonts import CJK_FILE, EMOJI_FILE, FALLBACK_FILES, SERIF_FILE

_digests: dict[tuple[str, int, int], str] = {}


def file_digest(path: Path | None) -> str:
    """SHA-256 of a file's bytes ("" if absent), memoised by path, size and mtime."""
    if path is None:
        return ""
    try:
        st = path.stat()
    except OSError:
        return ""
    key = (str(path), st.st_size, st.st_mtime_ns)
    if key not in _digests:
        h = hashlib.sha256()
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        _digests[key] = h.hexdigest()
    return _digests[key]


def _resolve(p: Path | None, base_dir: Path) -> Path | None:
    if p is None:
        return None
    return p if p.is_absolute() else base_dir / p


@functools.cache
def _engine_versions() -> tuple[str | None, ...]:
    """Pillow and its shaping libraries: an upgrade may move pixels, so it renews the cache."""
    import PIL
    from PIL import features

    from pipeline.render.shaping import engine_name

    return (PIL.__version__, engine_name(), features.version("raqm"), features.version("freetype2"))


@functools.cache
def _package_font_digests() -> dict[str, str]:
    """Digests of the fallback fonts every card may use, once per process.

    They are files of the installed package, replaced only by an upgrade, which
    restarts the process; stat-ing some thirty of them for every key cost a check of
    10,000 items several seconds. The theme's own faces are hashed per key instead.
    """
    names = {*FALLBACK_FILES, SERIF_FILE, CJK_FILE, EMOJI_FILE}
    return {f: file_digest(FONTS_DIR / f) for f in sorted(names)}


def cache_key(
    item: Item,
    theme: Theme,
    fmt_name: str,
    fmt: CardFormat,
    brand: Brand,
    base_dir: Path,
    max_bytes: int | None,
) -> str:
    """Hash of item content, theme, format, brand, fonts, pictures, byte limit and version."""
    pictures = {
        "photo": file_digest(item.image),
        "logo": file_digest(_resolve(theme.logo or brand.logo, base_dir)),
        "background": file_digest(_resolve(theme.background.image, base_dir)),
    }
    payload = {
        "v": RENDERER_VERSION,
        "engine": _engine_versions(),
        "item": [item.quote, item.author, item.role, list(item.category), item.headline],
        "pictures": pictures,
        "theme": theme.model_dump(mode="json"),
        "format": [fmt_name, fmt.model_dump(mode="json")],
        "brand": brand.model_dump(mode="json"),
        # a theme face may be the team's own file (an absolute path), edited while we run
        "fonts": {
            **_package_font_digests(),
            **{f: file_digest(FONTS_DIR / f) for f in (theme.quote_font, theme.attribution_font)},
        },
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
    key = cache_key(item, theme, fmt_name, fmt, brand, base_dir, max_bytes)[:32]
    for ext, mime in (("png", "image/png"), ("jpg", "image/jpeg")):
        path = cache_dir / f"{key}.{ext}"
        if path.is_file():
            card = Card(path.read_bytes(), mime, fmt.width, fmt.height, fmt_name)
            return RenderedCard(card, alt_text_for(item)), path
    rendered = render_card(item, theme, fmt_name, fmt, brand, base_dir, max_bytes)
    path = cache_dir / f"{key}.{rendered.card.extension}"
    atomic_write(path, rendered.card.data)
    return rendered, path


def fitted_size(
    item: Item,
    theme: Theme,
    fmt_name: str,
    fmt: CardFormat,
    brand: Brand,
    base_dir: Path,
    cache_dir: Path,
) -> int:
    """The quote's font size on this card, from the layout alone (no painting or encoding).

    Raises RenderError as a render would (too long, a character no font has). A verdict
    is remembered beside the cached cards under the same key as the card, so a queue
    checked before is checked again at the cost of hashing its items.
    """
    key = cache_key(item, theme, fmt_name, fmt, brand, base_dir, None)[:32]
    path = cache_dir / f"{key}.fit"
    try:
        return int(path.read_text())
    except (OSError, ValueError):
        pass
    comp = compose(item, theme, fmt, brand, base_dir, pixels=False)
    # a verdict lost in a crash is only computed again (an unreadable one is a miss)
    atomic_write(path, str(comp.quote_size).encode(), durable=False)
    return comp.quote_size
