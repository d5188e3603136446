"""The card cache: reuse an identical card; any input that changes the card changes the key."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from pipeline.config import Settings
from pipeline.items import Item
from pipeline.render import cache
from pipeline.render.cache import cache_key, render_cached


def _key(item: Item, settings: Settings, **kw: object) -> str:
    theme = kw.pop("theme", settings.themes["dark"])
    brand = kw.pop("brand", settings.brand)
    base_dir = kw.pop("base_dir", settings.base_dir)
    max_bytes = kw.pop("max_bytes", None)
    fmt = settings.formats["square"]
    return cache_key(item, theme, "square", fmt, brand, base_dir, max_bytes)  # type: ignore[arg-type]


def test_render_cached_reuses_the_same_file(seed: Item, settings: Settings, tmp_path: Path) -> None:
    args = (seed, settings.themes["dark"], "story", settings.formats["story"], settings.brand)
    first, path = render_cached(*args, settings.base_dir, tmp_path, max_bytes=1_000_000)
    assert path.is_file() and path.read_bytes() == first.card.data
    again, path2 = render_cached(*args, settings.base_dir, tmp_path, max_bytes=1_000_000)
    assert path2 == path and again.card == first.card and again.alt_text == first.alt_text
    # the byte limit is part of the key, and is honoured
    small, path3 = render_cached(*args, settings.base_dir, tmp_path, max_bytes=150_000)
    assert path3 != path and len(small.card.data) <= 150_000


def test_key_covers_everything_that_shapes_the_card(
    seed: Item, settings: Settings, tmp_path: Path, photo: Path, logo: Path
) -> None:
    base = _key(seed, settings)
    assert _key(seed, settings) == base
    changed = [
        _key(replace(seed, quote=seed.quote + "!"), settings),
        _key(replace(seed, role="Someone else"), settings),
        _key(replace(seed, category=("Breaking Business News",)), settings),
        _key(replace(seed, image=photo), settings),
        _key(seed, settings, theme=settings.themes["light"]),
        _key(seed, settings, brand=settings.brand.model_copy(update={"handle": "@x"})),
        _key(seed, settings, max_bytes=1_000_000),
        _key(
            seed,
            settings,
            theme=settings.themes["dark"].model_copy(update={"logo": logo}),
        ),
    ]
    assert len({base, *changed}) == len(changed) + 1
    # a different picture at the same path changes the key too
    copy = tmp_path / "face.jpg"
    shutil.copy(photo, copy)
    with_photo = _key(replace(seed, image=copy), settings)
    copy.write_bytes(logo.read_bytes())
    assert _key(replace(seed, image=copy), settings) != with_photo


def test_key_covers_the_font_files(
    seed: Item, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = _key(seed, settings)
    real = cache.file_digest

    def other_fraunces(path: Path | None) -> str:
        digest = real(path)
        return digest[::-1] if path is not None and path.name == "Fraunces-Variable.ttf" else digest

    monkeypatch.setattr(cache, "file_digest", other_fraunces)
    # the package's fonts are hashed once per process: a new font is a new process
    cache._package_font_digests.cache_clear()
    assert _key(seed, settings) != base
    cache._package_font_digests.cache_clear()


def test_key_covers_a_theme_font_edited_while_running(
    seed: Item, settings: Settings, tmp_path: Path
) -> None:
    from pipeline.config import FONTS_DIR

    own = tmp_path / "Own.ttf"
    shutil.copy(FONTS_DIR / "Fraunces-Variable.ttf", own)
    theme = settings.themes["dark"].model_copy(update={"quote_font": str(own)})
    before = _key(seed, settings, theme=theme)
    own.write_bytes(own.read_bytes() + b"\0")
    assert _key(seed, settings, theme=theme) != before


def test_key_covers_the_renderer_version(
    seed: Item, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = _key(seed, settings)
    monkeypatch.setattr(cache, "RENDERER_VERSION", "test")
    assert _key(seed, settings) != base
