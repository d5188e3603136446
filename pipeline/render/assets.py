"""Pictures on a card: the background, the brand logo, the speaker's circular photo.

Each is built once per (settings, size, file contents) and cached, since a
theme's background is the same for every card of a format.
"""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageColor, ImageDraw, ImageOps

from pipeline.config import Background

Colour = tuple[int, int, int]
_SUPERSAMPLE = 4


class AssetError(Exception):
    """A picture named in the config or the item cannot be used; the message says which."""


def rgb(value: str) -> Colour:
    r, g, b = ImageColor.getrgb(value)[:3]
    return (r, g, b)


def _stamp(path: Path) -> tuple[str, int, int]:
    """Cache key part that changes when the file changes."""
    try:
        st = path.stat()
    except OSError:
        raise AssetError(f"{path} does not exist") from None
    return (str(path), st.st_size, st.st_mtime_ns)


def _open_rgb(path: Path) -> Image.Image:
    try:
        with Image.open(path) as raw:
            im = ImageOps.exif_transpose(raw)
            if im.mode in ("P", "LA", "PA"):
                im = im.convert("RGBA")
            return im.convert("RGB")
    except (OSError, Image.DecompressionBombError) as exc:
        raise AssetError(f"{path} is not a readable image ({exc})") from None


def gradient(size: tuple[int, int], colours: tuple[Colour, Colour], angle: float) -> Image.Image:
    """A two-colour linear gradient; the angle follows CSS (0 = to top, 90 = to right)."""
    w, h = size
    a = math.radians(angle)
    sx, sy = math.sin(a), -math.cos(a)
    length = abs(w * sx) + abs(h * sy) or 1.0
    # one row 0 … 255, padded so rounding at the corners never samples outside it
    ramp = Image.frombytes("L", (260, 1), bytes([0, 0, *range(256), 255, 255]))
    k = 255.0 / length
    c = 2.5 + 255.0 * 0.5 - k * (w / 2 * sx + h / 2 * sy)
    mask = ramp.transform(
        (w, h), Image.Transform.AFFINE, (k * sx, k * sy, c, 0, 0, 0), Image.Resampling.BILINEAR
    )
    start, end = Image.new("RGB", size, colours[0]), Image.new("RGB", size, colours[1])
    return Image.composite(end, start, mask)


@lru_cache(maxsize=8)
def _background(
    key: str, size: tuple[int, int], image: Path | None, stamp: tuple[str, int, int] | None
) -> Image.Image:
    bg = Background.model_validate_json(key)
    colours = [rgb(c) for c in bg.colors]
    if bg.kind == "gradient" and len(colours) == 2:
        return gradient(size, (colours[0], colours[1]), bg.angle)
    if bg.kind == "image" and image is not None:
        photo = ImageOps.fit(_open_rgb(image), size, Image.Resampling.LANCZOS)
        return Image.blend(photo, Image.new("RGB", size, colours[0]), bg.scrim)
    return Image.new("RGB", size, colours[0])


def background(bg: Background, size: tuple[int, int], base_dir: Path) -> Image.Image:
    """The theme's background at `size` (shared: copy before drawing on it)."""
    image = None
    stamp: tuple[str, int, int] | None = None
    if bg.kind == "image":
        if bg.image is None:
            raise AssetError("background kind is 'image' but no image is set")
        image = bg.image if bg.image.is_absolute() else base_dir / bg.image
        stamp = _stamp(image)
    return _background(bg.model_dump_json(), size, image, stamp)


def reduced_background(bg: Background, size: tuple[int, int], factor: int) -> Image.Image:
    """A solid or gradient background shrunk `factor` times (layout-only contrast checks)."""
    return _reduced(bg.model_dump_json(), size, factor)


@lru_cache(maxsize=8)
def _reduced(key: str, size: tuple[int, int], factor: int) -> Image.Image:
    return background(Background.model_validate_json(key), size, Path(".")).reduce(factor)


@lru_cache(maxsize=16)
def _logo(stamp: tuple[str, int, int], max_w: int, max_h: int) -> Image.Image:
    path = Path(stamp[0])
    try:
        with Image.open(path) as im:
            logo = im.convert("RGBA")
    except (OSError, Image.DecompressionBombError) as exc:
        raise AssetError(f"logo {path} is not a readable image ({exc})") from None
    scale = min(max_w / logo.width, max_h / logo.height)
    size = (max(1, round(logo.width * scale)), max(1, round(logo.height * scale)))
    return logo.resize(size, Image.Resampling.LANCZOS)


def logo(path: Path, max_w: int, max_h: int) -> Image.Image:
    """The logo scaled to fit max_w × max_h, alpha kept."""
    return _logo(_stamp(path), max_w, max_h)


@lru_cache(maxsize=32)
def _photo(
    stamp: tuple[str, int, int], diameter: int, ring: Colour | None, focus: tuple[float, float]
) -> Image.Image:
    face = ImageOps.fit(
        _open_rgb(Path(stamp[0])), (diameter, diameter), Image.Resampling.LANCZOS, centering=focus
    )
    big = diameter * _SUPERSAMPLE
    mask = Image.new("L", (big, big))
    ImageDraw.Draw(mask).ellipse((0, 0, big - 1, big - 1), fill=255)
    out = face.convert("RGBA")
    out.putalpha(mask.resize((diameter, diameter), Image.Resampling.LANCZOS))
    if ring is not None:
        edge = Image.new("RGBA", (big, big))
        width = max(1, round(big * 0.025))
        ImageDraw.Draw(edge).ellipse((0, 0, big - 1, big - 1), outline=(*ring, 255), width=width)
        out.alpha_composite(edge.resize((diameter, diameter), Image.Resampling.LANCZOS))
    return out


def photo(
    path: Path, diameter: int, ring: Colour | None = None, focus: tuple[float, float] = (0.5, 0.3)
) -> Image.Image:
    """The speaker photo cropped to an anti-aliased circle (RGBA).

    The crop is centred on `focus` (fractions of width and height): upper-biased by
    default, since portraits put the head in the upper part and a centred crop cuts it.
    """
    return _photo(_stamp(path), diameter, ring, focus)


@lru_cache(maxsize=8)
def disc(diameter: int, fill: Colour) -> Image.Image:
    """An anti-aliased filled circle on transparency (the monogram's ground); copy to draw on."""
    big = diameter * _SUPERSAMPLE
    mask = Image.new("L", (big, big))
    ImageDraw.Draw(mask).ellipse((0, 0, big - 1, big - 1), fill=255)
    out = Image.new("RGBA", (diameter, diameter), (*fill, 255))
    out.putalpha(mask.resize((diameter, diameter), Image.Resampling.LANCZOS))
    return out


def clear_caches() -> None:
    for fn in (_background, _logo, _photo, disc):
        fn.cache_clear()
