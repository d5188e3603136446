"""Draw one card. (Foundation version: a clean centred layout; issue 3 perfects it.)"""

from __future__ import annotations

import io
import textwrap
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from pipeline.config import FONTS_DIR, Brand, CardFormat, Theme
from pipeline.items import Item
from pipeline.posts import Card

RENDERER_VERSION = "0.1"


@dataclass(frozen=True)
class RenderedCard:
    card: Card
    alt_text: str


def alt_text_for(item: Item) -> str:
    who = f"{item.author}, {item.role}" if item.role else item.author
    return f"Quote card: “{item.quote}” — {who}."


def render_card(
    item: Item, theme: Theme, fmt_name: str, fmt: CardFormat, brand: Brand, base_dir: Path
) -> RenderedCard:
    img = Image.new("RGB", (fmt.width, fmt.height), theme.background.colors[0])
    draw = ImageDraw.Draw(img)
    font = ImageFont.truetype(str(FONTS_DIR / theme.quote_font), 56)
    small = ImageFont.truetype(str(FONTS_DIR / theme.attribution_font), 36)
    text = "\n".join(textwrap.wrap(f"“{item.quote}”", width=max(10, fmt.width // 32)))
    draw.multiline_text(
        (fmt.width / 2, fmt.height / 2), text, font=font, fill=theme.text_color, anchor="mm",
        align="center",
    )
    draw.text(
        (fmt.width / 2, fmt.height - fmt.safe_bottom - 120), f"— {item.author}", font=small,
        fill=theme.accent_color, anchor="mm",
    )
    buf = io.BytesIO()
    img.save(buf, "PNG")
    card = Card(buf.getvalue(), "image/png", fmt.width, fmt.height, fmt_name)
    return RenderedCard(card, alt_text_for(item))
