"""Encoding a card: PNG or JPEG, sRGB, no metadata, identical bytes for identical pixels.

Fixed encoder settings and no timestamps, EXIF, ICC or text chunks make the
output a pure function of the pixels, which is what lets the ledger and the
networks recognise a card that was already posted. A byte limit (e.g.
Bluesky's 1,000,000-byte blobs) is met by bisecting the JPEG quality.
"""

from __future__ import annotations

import io
from typing import Literal

from PIL import Image, PngImagePlugin

from pipeline.errors import RenderError

Encoding = Literal["png", "jpeg"]
MIN_QUALITY = 40  # below this, text edges ring visibly; better to fail and say so
PNG_LEVEL = 6
_SRGB_PERCEPTUAL = b"\x00"


def _png(img: Image.Image) -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add(b"sRGB", _SRGB_PERCEPTUAL)  # the pixels are sRGB; say so without an ICC profile
    buf = io.BytesIO()
    img.save(buf, "PNG", compress_level=PNG_LEVEL, optimize=False, pnginfo=info)
    return buf.getvalue()


def _jpeg(img: Image.Image, quality: int) -> bytes:
    buf = io.BytesIO()
    # 4:4:4 keeps coloured text crisp; no optimize/progressive: same bytes, faster
    img.save(buf, "JPEG", quality=quality, subsampling=0, optimize=False, progressive=False)
    return buf.getvalue()


def flatten(img: Image.Image) -> Image.Image:
    """RGB without alpha (JPEG has none; a transparent card would look different per network)."""
    if img.mode == "RGB":
        return img
    if img.mode in ("RGBA", "LA", "P"):
        rgba = img.convert("RGBA")
        base = Image.new("RGB", rgba.size, (0, 0, 0))
        base.paste(rgba, mask=rgba.getchannel("A"))
        return base
    return img.convert("RGB")


def encode(
    img: Image.Image, encoding: Encoding, quality: int = 92, max_bytes: int | None = None
) -> tuple[bytes, str]:
    """The card's bytes and MIME type, within `max_bytes` if given.

    A PNG over the limit becomes a JPEG; a JPEG over it gets the highest quality
    (bisection between MIN_QUALITY and `quality`) that fits. Raises RenderError
    naming the sizes when even MIN_QUALITY is too large.
    """
    img = flatten(img)
    if encoding == "png":
        data = _png(img)
        if max_bytes is None or len(data) <= max_bytes:
            return data, "image/png"
    data = _jpeg(img, quality)
    if max_bytes is None or len(data) <= max_bytes:
        return data, "image/jpeg"
    smallest = _jpeg(img, MIN_QUALITY)
    if len(smallest) > max_bytes:
        raise RenderError(
            f"the card is {len(smallest):,} bytes even as a JPEG at quality {MIN_QUALITY}; "
            f"the target accepts at most {max_bytes:,} bytes — use a simpler background "
            "or a smaller format"
        )
    lo, hi, best = MIN_QUALITY, quality - 1, smallest
    while lo < hi:  # invariant: quality lo fits, and best is its encoding
        mid = (lo + hi + 1) // 2
        candidate = _jpeg(img, mid)
        if len(candidate) <= max_bytes:
            lo, best = mid, candidate
        else:
            hi = mid - 1
    return best, "image/jpeg"
