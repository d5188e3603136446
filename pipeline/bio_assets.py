"""Files the bio site serves beside its pages: thumbnails, colours, icon, font, logo.

Pure helpers for pipeline.bio. Thumbnails are named by the card's content so a
rebuild reuses them; colours come from the brand's card theme, so the page
looks like the cards on it.
"""

from __future__ import annotations

import hashlib
import io
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from markupsafe import Markup

from pipeline.config import FONTS_DIR, Settings, Theme
from pipeline.files import atomic_write

log = logging.getLogger("quotecast")

THUMB_WIDTH = 360  # CSS pixels of a grid column on a desktop; 2× for sharp screens
LARGE_WIDTH = 1080
FONT = "Fraunces-Variable.ttf"


@dataclass(frozen=True)
class Thumb:
    """Site-relative paths and pixel sizes of one card's thumbnails."""

    src: str
    width: int
    height: int
    src2x: str
    width2x: int
    large: str
    large_width: int
    large_height: int


def publish_file(path: Path, data: bytes) -> None:
    """Write atomically (temp file, fsync, rename) and readable by a web server (0644):
    a visitor never sees half a file, and a deployed file is never private."""
    atomic_write(path, data, 0o644)


def thumb_key(card: Path) -> str:
    """A cheap stand-in for the card's content hash: cards are files named by the hash of
    what they show (the card cache), so name, size and mtime change whenever it does."""
    st = card.stat()
    return hashlib.sha256(f"{card.name}:{st.st_size}:{st.st_mtime_ns}".encode()).hexdigest()[:12]


def thumb(card: Path, slug: str, site: Path, made: set[str]) -> tuple[Thumb, int]:
    """WebP thumbnails (grid 1×, 2× and large) named by content, so rebuilds reuse them.

    The card is decoded only when one of its thumbnails is missing; otherwise only
    its header is read, for its size.
    """
    from PIL import Image

    key = thumb_key(card)
    with Image.open(card) as im:
        width, height = im.size
        plan: list[tuple[int, str, int, int]] = []
        for target_width in (THUMB_WIDTH, THUMB_WIDTH * 2, LARGE_WIDTH):
            w = min(target_width, width)
            name = f"thumbs/{slug}-{key}-{target_width}.webp"
            plan.append((target_width, name, w, round(height * w / width)))
        missing = [p for p in plan if not (site / p[1]).is_file()]
        rgb = None
        if missing:
            im.load()
            rgb = im.convert("RGB")
    new = 0
    made.update(p[1] for p in plan)
    for _, name, w, h in missing:
        assert rgb is not None
        buf = io.BytesIO()
        # method 1 at quality 82: half the time of method 4 for files about a tenth larger
        # (measured on story and square cards); the pixels are the same quality setting
        small = rgb if (w, h) == rgb.size else rgb.resize((w, h), Image.Resampling.LANCZOS)
        small.save(buf, "WEBP", quality=82, method=1)
        publish_file(site / name, buf.getvalue())
        new += 1
    (_, s1, w1, h1), (_, s2, w2, _), (_, s3, w3, h3) = plan
    return Thumb(s1, w1, h1, s2, w2, s3, w3, h3), new


def _hex(colour: str) -> str:
    c = colour.lstrip("#")
    if len(c) in (3, 4):
        c = "".join(ch * 2 for ch in c[:3])
    return "#" + c[:6].lower()


def _rgb(colour: str) -> tuple[int, int, int]:
    c = _hex(colour)
    return int(c[1:3], 16), int(c[3:5], 16), int(c[5:7], 16)


def _luminance(colour: str) -> float:
    r, g, b = _rgb(colour)
    return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255


def palette(theme: Theme) -> dict[str, Any]:
    """Site colours from the brand's card theme (validated hex only, so safe in CSS)."""
    colours = theme.background.colors
    bg1 = _hex(colours[0])
    bg2 = _hex(colours[-1])
    dark = _luminance(bg1) < 0.5
    text = _hex(theme.text_color)
    accent = _hex(theme.accent_color)
    return {
        "bg1": bg1,
        "bg2": bg2,
        "text": text,
        "muted": _hex(theme.muted_color),
        "accent": accent,
        "on_accent": "#111111" if _luminance(accent) > 0.55 else "#ffffff",
        "surface": text + ("12" if dark else "0d"),
        "line": text + ("24" if dark else "1f"),
        "shadow": "#00000066" if dark else "#0000001f",
        "angle": theme.background.angle,
        "scheme": "dark" if dark else "light",
    }


def icon(name: str, colours: dict[str, Any]) -> bytes:
    """A round monogram in the brand's colours: favicon, touch icon and feed icon."""
    from PIL import Image, ImageDraw, ImageFont

    size = 192
    img = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    draw.ellipse((0, 0, size - 1, size - 1), fill=_rgb(colours["bg1"]))
    draw.ellipse((8, 8, size - 9, size - 9), outline=_rgb(colours["accent"]), width=6)
    initial = (name.strip()[:1] or "q").upper()
    try:
        font: Any = ImageFont.truetype(str(FONTS_DIR / FONT), 104)
        font.set_variation_by_axes([600])
    except Exception:
        font = ImageFont.load_default()
    draw.text(
        (size / 2, size / 2 + 4), initial, font=font, fill=_rgb(colours["accent"]), anchor="mm"
    )
    buf = io.BytesIO()
    img.save(buf, "PNG", optimize=True)
    return buf.getvalue()


def write_if_changed(path: Path, data: bytes) -> None:
    """Only when different: unchanged files keep their time for rsync and caches."""
    if path.is_file() and path.read_bytes() == data:
        return
    publish_file(path, data)


def copy_assets(site: Path, settings: Settings) -> str | None:
    """The web font (with its licence) and the logo; returns the logo's site path."""
    for name in (FONT, "OFL-Fraunces.txt"):
        src = FONTS_DIR / name
        if src.is_file():
            write_if_changed(site / "fonts" / name, src.read_bytes())
    logo = settings.brand.logo
    if logo is None:
        return None
    path = settings.path(logo)
    if not path.is_file() or path.suffix.lower() not in (".png", ".jpg", ".jpeg", ".webp"):
        log.warning(
            "brand.logo %s is not a PNG, JPEG or WebP file; the page shows a monogram", path
        )
        return None
    name = f"logo{path.suffix.lower()}"
    write_if_changed(site / name, path.read_bytes())
    return name


def markdown(text: str) -> Markup:
    """Commentary as HTML: raw HTML escaped, unsafe link schemes refused, and images shown
    as their alt text (a remote image would be a request to elsewhere)."""
    from markdown_it import MarkdownIt
    from markdown_it.common.utils import escapeHtml

    md = MarkdownIt("commonmark", {"html": False})

    def image_as_text(self: Any, tokens: Any, idx: int, options: Any, env: Any) -> str:
        alt = self.renderInlineAsText(tokens[idx].children or [], options, env)
        return str(escapeHtml(alt))

    md.add_render_rule("image", image_as_text)
    return Markup(md.render(text))


def inline(text: str) -> Markup:
    """A quote with its *emphasis*, everything else escaped."""
    from markdown_it import MarkdownIt

    md = MarkdownIt("zero", {"html": False}).enable("emphasis")
    return Markup(md.renderInline(text))
