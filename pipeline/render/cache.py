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


VERDICTS_FILE = "fit-verdicts.json"
VERDICTS_KEPT = 100_000  # entries carried over from earlier runs, newest first


class Verdicts:
    """Quote sizes by layout key, in one file beside the cached cards.

    One file read once and written once per `check`, not one file per card: creating
    10,000 small files costs more than the layouts they remember. A lost or damaged file
    is only a miss; two checks saving at once merge what each learned.
    """

    def __init__(self, cache_dir: Path) -> None:
        self.path = cache_dir / VERDICTS_FILE
        self._old = self._read()
        self._used: dict[str, int] = {}
        self._changed = False

    def _read(self) -> dict[str, int]:
        try:
            data = json.loads(self.path.read_bytes())
        except (OSError, ValueError):
            return {}
        if not isinstance(data, dict):
            return {}
        return {k: v for k, v in data.items() if isinstance(v, int) and not isinstance(v, bool)}

    def get(self, key: str) -> int | None:
        size = self._used.get(key, self._old.get(key))
        if size is not None:
            self._used[key] = size
        return size

    def put(self, key: str, size: int) -> None:
        self._used[key] = size
        self._changed = True

    def learned(self) -> dict[str, int]:
        """What this run looked up or computed (a worker hands it to the parent)."""
        return dict(self._used)

    def merge(self, found: dict[str, int]) -> None:
        if any(self._used.get(k) != v for k, v in found.items()):
            self._changed = True
        self._used.update(found)

    def save(self) -> None:
        """Write what this run learned, before what earlier runs left (up to VERDICTS_KEPT)."""
        if not self._changed:
            return
        merged = dict(self._used)
        for k, v in {**self._old, **self._read()}.items():
            if len(merged) >= len(self._used) + VERDICTS_KEPT:
                break
            merged.setdefault(k, v)
        atomic_write(self.path, json.dumps(merged).encode(), durable=False)
        self._old, self._changed = merged, False


def fitted_size(
    item: Item,
    theme: Theme,
    fmt_name: str,
    fmt: CardFormat,
    brand: Brand,
    base_dir: Path,
    verdicts: Verdicts,
) -> int:
    """The quote's font size on this card, from the layout alone (no painting or encoding).

    Raises RenderError as a render would (too long, a character no font has). The verdict
    is remembered in `verdicts` under the card's cache key, so a queue checked before is
    checked again at the cost of hashing its items (the caller saves them).
    """
    key = cache_key(item, theme, fmt_name, fmt, brand, base_dir, None)[:32]
    known = verdicts.get(key)
    if known is not None:
        return known
    comp = compose(item, theme, fmt, brand, base_dir, pixels=False, measure_contrast=False)
    verdicts.put(key, comp.quote_size)
    return comp.quote_size
