"""Compose and encode one card: the frame, the typographic hierarchy, the brand.

The card, top to bottom inside the margins (and outside a story's safe zones):
the logo row (if the logo sits at the top), then a group centred slightly above
the middle — the category label in tracked capitals in the accent colour, the
quote as large as fits with its opening mark hung in the margin, and the
attribution (author bold, role muted beneath, an optional circular photo
beside) — and a footer with the brand handle (and the logo if it sits at the
bottom). Right-to-left quotes mirror the group. All sizes derive from the
format, so a new format needs only its dimensions.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from PIL import Image

from pipeline.config import FONTS_DIR, Brand, CardFormat, Theme
from pipeline.errors import RenderError
from pipeline.items import Item
from pipeline.posts import Card
from pipeline.render import assets, contrast, fonts, layout
from pipeline.render.assets import AssetError, rgb
from pipeline.render.encode import encode
from pipeline.render.fonts import Chain, Face, FontFileError, MissingGlyph
from pipeline.render.segment import locale_of
from pipeline.render.text import (
    Direction,
    Style,
    Token,
    cjk_face,
    direction_of,
    is_cjk,
    plain,
    prepare_quote,
    smarten,
    tokenize,
)
from pipeline.render.typeset import Block, Colour, draw_block, exact_ink, set_block, set_line

RENDERER_VERSION = "1.0"
FONT_LOCK = threading.RLock()
REDUCE = 8  # smooth backgrounds are measured for contrast at 1/8 size
QUOTE_OPSZ = 48
MIN_MEASURE_EM = 5.0  # about ten letters of text face

Box = tuple[int, int, int, int]  # left, top, right, bottom


@dataclass(frozen=True)
class RenderedCard:
    card: Card
    alt_text: str


@dataclass
class Composition:
    """A composed card before encoding, with where everything went (for tests and previews)."""

    image: Image.Image
    content: Box  # inside margins and safe zones: nothing but the background outside it
    quote_box: Box  # the region the quote (with its hanging mark) may occupy
    quote_size: int
    quote_lines: int
    quote_sizes: tuple[int, int]  # the [min, max] px range the size was searched in
    drawn: dict[str, Box] = field(default_factory=dict)
    layers: dict[str, Image.Image] = field(default_factory=dict)
    placements: dict[str, Placement] = field(default_factory=dict)  # the layout report's blocks
    shaded: Image.Image | None = None  # layered only: the background with its scrims, no text


def alt_text_for(item: Item) -> str:
    """What a screen reader says for the card: the quote, the speaker and their role."""
    who = f"{item.author}, {item.role}" if item.role else item.author
    return f"Quote card: “{plain(item.quote)}” — {who}."


# -- faces ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Faces:
    quote: Face
    author: Face
    role: Face
    label: Face
    handle: Face


def _font_file(name: str, what: str) -> str:
    path = Path(name) if Path(name).is_absolute() else FONTS_DIR / name
    if not path.is_file():
        have = ", ".join(sorted(p.name for p in FONTS_DIR.glob("*.tt[fc]")))
        raise RenderError(f"theme {what} {name!r} is not in {FONTS_DIR}; available: {have}")
    return name


def _faces(theme: Theme) -> _Faces:
    quote = _font_file(theme.quote_font, "quote_font")
    attribution = _font_file(theme.attribution_font, "attribution_font")
    # Optical sizes are pinned per use, so advances scale linearly with the pixel size.
    # The quote's is a sturdy display size: cards are seen scaled down on phones, where
    # the hairlines of a true 100-px optical size vanish.
    return _Faces(
        quote=Face(quote, 0, theme.quote_weight or 400, QUOTE_OPSZ),
        author=Face(attribution, 0, theme.attribution_weight or 650, 32),
        role=Face(attribution, 0, 400, 20),
        label=Face(attribution, 0, 650, 20),
        handle=Face(attribution, 0, 500, 20),
    )


def cap_px(face: Face, cap: float) -> int:
    """The font size in px whose capital letters are `cap` px tall in this face."""
    ratio = fonts.extent("H", face, False)[0] or 0.7
    return math.ceil(cap / ratio - 1e-6)


def _chain(face: Face, text: str) -> Chain:
    return fonts.chain(face, cjk_face(text))


def _marks(raw: str, text: str, base: Direction) -> tuple[str, str]:
    """Opening (hung) and closing quotation marks: the writer's guillemets are kept,
    CJK gets corner brackets (full width, so no gap after 。), others curly quotes."""
    t = raw.strip()
    if t[:1] == "«" and t[-1:] == "»":
        return "«\u00a0", "\u00a0»"
    if base == "ltr":
        first = next((c for c in text if c.isalpha()), "a")
        if is_cjk(first) and cjk_face(text) in ("ja", "zh"):
            return "「", "」"
        return "“", "”"
    if any("\u0600" <= ch <= "\u06ff" for ch in text):
        return "»", "«"  # Arabic: guillemets, opening one on the right
    return "”", "“"


# -- frame ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Frame:
    width: int
    height: int
    unit: float  # 1.0 on a 1080×1080 card
    left: int
    right: int
    top: int
    bottom: int
    margin_y: int

    @property
    def scale(self) -> float:
        """Card width over 1080: cards are seen at the phone's width, so readable sizes scale so."""
        return self.width / 1080


def _frame(fmt: CardFormat) -> _Frame:
    w, h = fmt.width, fmt.height
    unit = (min(w, h) + 0.25 * max(w, h)) / 1350
    mx, my = round(0.08 * w), round(0.08 * min(w, h))
    top = fmt.safe_top + round(0.5 * my) if fmt.safe_top else my
    bottom = h - (fmt.safe_bottom + round(0.5 * my) if fmt.safe_bottom else my)
    if bottom - top < 0.3 * h:
        raise RenderError(
            f"format {w}×{h}: safe zones of {fmt.safe_top} and {fmt.safe_bottom} px leave "
            "too little room for a card; make them smaller"
        )
    return _Frame(w, h, unit, mx, w - mx, top, bottom, my)


# -- painting ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Placement:
    """One text block as painted: what the layout report shows about it."""

    block: Block
    box: Box  # tight around the block's ink, in card pixels
    face: Face  # the block's primary face (cap height is measured on it)
    contrast: float  # worst WCAG ratio against the pixels under the box
    target: float  # the ratio it had to reach


class _Painter:
    """Paints the card, or each element onto its own transparent layer (tests).

    Drawing is deferred: every element is recorded first, then `finish` shades the
    background under each text block just enough for its contrast target (a scrim
    measured per block), and only then draws, so text never sits under a scrim.
    """

    def __init__(
        self, canvas: Image.Image, layered: bool, reduced: Image.Image | None = None
    ) -> None:
        self.canvas = canvas
        self.layered = layered
        self.reduced = reduced  # the background shrunk REDUCE times, when it is smooth
        self.shaded: Image.Image | None = None
        self.layers: dict[str, Image.Image] = {}
        self.drawn: dict[str, Box] = {}
        self.placements: dict[str, Placement] = {}
        self._ops: list[Callable[[], None]] = []  # drawing, deferred until the scrims
        self._texts: list[tuple[str, str, Block, int, int, dict[Style, Colour], Face]] = []

    def target(self, name: str) -> Image.Image:
        if not self.layered:
            return self.canvas
        if name not in self.layers:
            self.layers[name] = Image.new("RGBA", self.canvas.size)
        return self.layers[name]

    def block(
        self,
        name: str,
        block: Block,
        left: int,
        top: int,
        colours: dict[Style, Colour],
        report: str | None = None,
        face: Face | None = None,
    ) -> None:
        """Record a text block; `report` is its name in the layout report."""
        key = report or name
        self._texts.append((name, key, block, left, top, colours, face or block.placed[0].face))

        def draw() -> None:
            fill = colours
            if self.layered:
                fill = {k: (*v, 255) for k, v in colours.items()}  # type: ignore[misc]
            self._note(name, draw_block(self.target(name), block, left, top, fill))

        self._ops.append(draw)

    def picture(self, name: str, pic: Image.Image, left: int, top: int) -> None:
        def draw() -> None:
            self.target(name).paste(pic, (left, top), pic)
            self._note(name, (left, top, left + pic.width, top + pic.height))

        self._ops.append(draw)

    def rect(self, name: str, box: Box, colour: Colour) -> None:
        def draw() -> None:
            fill = (*colour, 255) if self.layered else colour
            self.target(name).paste(fill, box)
            self._note(name, box)

        self._ops.append(draw)

    def _note(self, name: str, box: Box) -> None:
        if name in self.drawn:
            a = self.drawn[name]
            box = (min(a[0], box[0]), min(a[1], box[1]), max(a[2], box[2]), max(a[3], box[3]))
        self.drawn[name] = box

    def _quick(self, box: Box, used: set[Colour]) -> float | None:
        """Worst contrast measured on the shrunk smooth background, if there is one."""
        if self.reduced is None:
            return None
        f = REDUCE
        small = (
            box[0] // f,
            box[1] // f,
            max(box[0] // f + 1, -(-box[2] // f)),
            max(box[1] // f + 1, -(-box[3] // f)),
        )
        return min((contrast.measure_shared(self.reduced, small, c) for c in used), default=21.0)

    def _shade(self) -> None:
        width = self.canvas.width
        for _, key, block, left, top, colours, face in self._texts:
            x0, y0, x1, y1 = block.ink
            box = (left + x0, top + y0, left + x1, top + y1)
            goal = contrast.target_for(block.size, width)
            used = {colours[p.style] for p in block.placed if not p.face.is_emoji}
            quick = self._quick(box, used)
            if quick is not None and quick >= goal * contrast.MARGIN:
                # a smooth background that already meets the target: no scrim, and the
                # shrunk copy measures it exactly enough (a full-size pass costs ~3 ms a block)
                self.placements[key] = Placement(block, box, face, quick, goal)
                continue
            pad = max(16, round(0.6 * block.size))
            for colour in used:
                contrast.scrim(self.canvas, box, colour, goal, pad)
            worst = min((contrast.measure(self.canvas, box, c) for c in used), default=21.0)
            self.placements[key] = Placement(block, box, face, worst, goal)

    def finish_layout(self) -> None:
        """Record the blocks' places without painting anything (`check`: layout only).

        With a smooth background, contrast is measured on its shrunk copy — exact for
        solid and gradient backgrounds, which a scrim never touches when they already
        meet the target; on a photo it is reported as 0 (not measured without painting).
        """
        for _, key, block, left, top, colours, face in self._texts:
            x0, y0, x1, y1 = block.ink
            box = (left + x0, top + y0, left + x1, top + y1)
            goal = contrast.target_for(block.size, self.canvas.width)
            used = {colours[p.style] for p in block.placed if not p.face.is_emoji}
            quick = self._quick(box, used)
            self.placements[key] = Placement(block, box, face, quick or 0.0, goal)
        self._ops.clear()  # nothing is drawn; the closures refer to self

    def finish(self) -> Image.Image:
        self._shade()
        if self.layered:  # the shaded background alone, for tests that measure contrast
            self.shaded = self.canvas.copy()
        for draw in self._ops:
            draw()
        self._ops.clear()  # the closures refer to self: break the cycle so the canvas is freed
        for layer in self.layers.values():
            self.canvas.paste(layer, (0, 0), layer)
        return self.canvas


# -- text pieces ---------------------------------------------------------------------------


def _glyph_error(where: str, exc: MissingGlyph) -> RenderError:
    ch = exc.char
    return RenderError(
        f"the {where} contains “{ch}” ({exc}), which none of the fonts in assets/fonts/ can "
        "draw; replace or remove that character"
    )


def _set_limited(
    tokens: Sequence[Token],
    face: Face,
    text: str,
    width: int,
    size: int,
    lines: int,
    base: Direction,
    line_height: float,
) -> Block | None:
    """Author or role: up to `lines` lines at the readable size, else shortened with an ellipsis."""
    if not tokens:
        return None
    faces = _chain(face, text)
    box_h = math.ceil(size * (1.25 + line_height * (lines - 1)))
    low = size
    for n in range(len(tokens), 0, -1):
        toks = tokens[:n]
        if n < len(tokens):
            last = toks[-1]
            toks = [*toks[:-1], Token((*last.segments, ("…", "text")), last.space_before)]
        try:
            return set_block(
                tuple(toks),
                faces,
                width,
                box_h,
                low,
                size,
                base,
                line_height,
                None,
                locale_of(text),
            )
        except layout.DoesNotFit:
            continue
    return None


def _label_block(text: str, face: Face, size: int, width: int) -> Block:
    """Tracked capitals for scripts with case that the label face draws; else the text as is."""
    faces = _chain(face, text)
    simple = all(run.face == face for run in fonts.runs(text, faces))
    tracked = simple and direction_of(text) != "rtl"
    shown = text.upper() if tracked else text
    tracking = 0.14 if tracked else 0.0
    faces = _chain(face, shown)
    block = set_line(shown, faces, size, tracking)
    cut = len(shown)
    while block.width > width and cut > 1:  # a very long label: shortened, never smaller
        cut -= 1
        block = set_line(shown[:cut].rstrip() + "…", faces, size, tracking)
    return block


def _all(colour: Colour) -> dict[Style, Colour]:
    return {"text": colour, "emph": colour, "mark": colour}


# -- composition ---------------------------------------------------------------------------


def compose(
    item: Item,
    theme: Theme,
    fmt: CardFormat,
    brand: Brand,
    base_dir: Path,
    layered: bool = False,
    pixels: bool = True,
    measure_contrast: bool = True,
) -> Composition:
    """Lay out and draw the card (not yet encoded). Raises RenderError for a person to fix.

    With `pixels=False` nothing is painted (no background, scrims or glyph pasting):
    the sizes, lines and boxes are the same, so `check` can judge fit and glyph
    coverage from the layout alone (a glyph FreeType cannot draw is found by the font
    stage's probe). `measure_contrast=False` with it also skips measuring each block's contrast
    on the shrunk background (placements then report 0.0): only the size is wanted.

    Cached font objects wrap FreeType faces, which are not thread-safe: one card
    is composed at a time per process (encoding, the slow part, runs outside the lock).
    """
    try:
        with FONT_LOCK:
            return _compose(item, theme, fmt, brand, base_dir, layered, pixels, measure_contrast)
    except (AssetError, FontFileError) as exc:
        raise RenderError(str(exc)) from None


@dataclass(frozen=True)
class _Attribution:
    """The attribution group: accent rule, author, role, and the photo beside them."""

    author: Block | None
    role: Block | None
    photo: int  # diameter, 0 without a photo
    photo_gap: int
    rule: tuple[int, int, int]  # width, height, gap below it
    role_gap: int

    @property
    def text_height(self) -> int:
        author = self.author.height if self.author else 0
        role = self.role.height if self.role else 0
        return self.rule[1] + self.rule[2] + author + self.role_gap + role

    @property
    def height(self) -> int:
        return max(self.text_height, self.photo)


@lru_cache(maxsize=16)
def _monogram(name: str, face: Face, diameter: int, fill: Colour, ink: Colour) -> Image.Image:
    """The default brand mark: the brand's initials in a disc of the accent colour."""
    letters = "".join(w[0] for w in name.replace("@", " ").split()[:2]).upper() or "Q"
    disc = assets.disc(diameter, fill).copy()
    mark_face = Face(face.file, face.index, 750, face.opsz)
    size = round(diameter * (0.5 if len(letters) == 1 else 0.4))
    block = set_line(letters, _chain(mark_face, letters), size)
    x0, y0, x1, y1 = block.ink
    left = (diameter - (x1 - x0)) // 2 - x0
    top = (diameter - (y1 - y0)) // 2 - y0
    draw_block(disc, block, left, top, _all(ink))
    return disc


def _brand(
    paint: _Painter,
    fr: _Frame,
    theme: Theme,
    brand: Brand,
    faces: _Faces,
    base_dir: Path,
    colours: tuple[Colour, Colour, Colour],
) -> tuple[int, int]:
    """Brand mark in its corner and the handle in the footer; returns header and footer heights.

    The mark is the configured logo, else a monogram, at least 64 px tall on every format.
    """
    muted, accent, ink = colours
    mark_h = max(64, round(72 * fr.scale))
    logo_img = None
    logo_path = theme.logo or brand.logo
    if logo_path is not None:
        path = logo_path if logo_path.is_absolute() else base_dir / logo_path
        logo_img = assets.logo(path, round(4.5 * mark_h), mark_h)
    elif theme.brand_mark == "monogram":
        logo_img = _monogram(brand.name, faces.author, mark_h, accent, ink)
    at_top = theme.logo_position.startswith("top")
    at_left = theme.logo_position.endswith("left")
    handle = None
    if theme.show_handle and brand.handle:
        try:
            size = cap_px(faces.handle, theme.small_cap_px * fr.scale)
            handle = set_line(brand.handle, _chain(faces.handle, brand.handle), size)
        except MissingGlyph as exc:
            raise _glyph_error("brand handle", exc) from None
    logo_below = logo_img is not None and not at_top
    header_h = logo_img.height if logo_img is not None and at_top else 0
    footer_h = max(
        handle.height if handle else 0, logo_img.height if logo_img and logo_below else 0
    )
    if logo_img is not None:
        x = fr.left if at_left else fr.right - logo_img.width
        y = fr.top if at_top else fr.bottom - logo_img.height
        paint.picture("logo", logo_img, x, y)
    if handle is not None:
        hx = fr.right - handle.width if logo_below and at_left else fr.left
        hy = (
            fr.bottom - (footer_h + handle.height) // 2 if logo_below else fr.bottom - handle.height
        )
        paint.block("handle", handle, hx, hy, _all(muted))
    return header_h, footer_h


def _attribution(
    item: Item, faces: _Faces, fr: _Frame, base: Direction, theme: Theme
) -> _Attribution:
    u = fr.unit
    photo = round(128 * fr.scale) if item.image is not None else 0
    photo_gap = round(28 * u) if photo else 0
    width = fr.right - fr.left - photo - photo_gap
    parts: list[Block | None] = []
    for what, text, face, cap, leading in (
        ("author", item.author, faces.author, theme.author_cap_px, 1.15),
        ("role", item.role or "", faces.role, theme.small_cap_px, 1.3),
    ):
        try:
            tokens = tokenize(smarten(text))
            size = cap_px(face, cap * fr.scale)
            parts.append(_set_limited(tokens, face, text, width, size, 2, base, leading))
        except MissingGlyph as exc:
            raise _glyph_error(what, exc) from None
    author, role = parts
    role_gap = round(10 * u) if author and role else 0
    rule = (round(44 * u), max(2, round(4 * u)), round(22 * u))
    return _Attribution(author, role, photo, photo_gap, rule, role_gap)


def _fit_quote(
    tokens: tuple[Token, ...],
    faces: Chain,
    fr: _Frame,
    box: tuple[int, int],
    sizes: tuple[int, int],
    hang: tuple[str, int],
    base: Direction,
    theme: Theme,
    total_chars: int,
    locale: str = "en",
) -> tuple[Block, int, int]:
    """The quote at the largest size whose real ink fits: (block, ink height, ink top)."""
    box_w, box_h = box
    smin, top_size = sizes
    mark, hang_px = hang
    where = f"the {fr.width}×{fr.height} format"
    while True:
        try:
            quote = set_block(
                tokens, faces, box_w, box_h, smin, top_size, base, theme.line_height, mark, locale
            )
        except MissingGlyph as exc:
            raise _glyph_error("quote", exc) from None
        except layout.DoesNotFit as exc:
            raise RenderError(
                f"the quote is too long for {where}: it has {total_chars} characters and about "
                f"{min(exc.chars, total_chars - 1)} fit at the theme's minimum size "
                f"({exc.size} px), {total_chars - min(exc.chars, total_chars - 1)} over; "
                "shorten the quote or lower quote_size_min"
            ) from None
        fit = _ink_fits(quote, box, hang_px, 0)
        if fit is None and _ink_fits(quote, box, hang_px, 2 * fonts.INK_SLACK) is not None:
            quote = exact_ink(quote)  # the estimate is within its slack: judge the pixels
            fit = _ink_fits(quote, box, hang_px, 0)
        if fit is not None:
            return quote, fit[0], fit[1]
        if quote.size <= smin:
            raise RenderError(
                f"the quote does not fit {where} even at the theme's minimum size "
                f"({smin} px); shorten the quote or lower quote_size_min"
            )
        top_size = quote.size - 1  # the glyphs' real ink overhangs: one size smaller


def _ink_fits(
    quote: Block, box: tuple[int, int], hang_px: int, slack: int
) -> tuple[int, int] | None:
    """(ink height, ink top) when the quote's ink box, shrunk by `slack` px a side,
    fits the box (marks may hang `hang_px` into the margins); else None."""
    box_w, box_h = box
    left, top, right, bottom = quote.ink
    left, top, right, bottom = left + slack, top + slack, right - slack, bottom - slack
    height = max(quote.height, bottom) - min(0, top)
    if height <= box_h and left >= -hang_px and right <= box_w + hang_px:
        return height, min(0, top)
    return None


def _compose(
    item: Item,
    theme: Theme,
    fmt: CardFormat,
    brand: Brand,
    base_dir: Path,
    layered: bool,
    pixels: bool = True,
    measure_contrast: bool = True,
) -> Composition:
    fr = _frame(fmt)
    u = fr.unit
    faces = _faces(theme)
    text_c, accent_c = rgb(theme.text_color), rgb(theme.accent_color)
    muted_c = rgb(theme.muted_color)
    if pixels:
        canvas = assets.background(theme.background, (fr.width, fr.height), base_dir).copy()
    else:
        canvas = Image.new("RGB", (fr.width, 1))  # never drawn on: only its width is read
    reduced = None
    if theme.background.kind != "image" and (pixels or measure_contrast):
        reduced = assets.reduced_background(theme.background, (fr.width, fr.height), REDUCE)
    paint = _Painter(canvas, layered, reduced)

    quote_plain = plain(item.quote)
    base: Direction = direction_of(quote_plain) or "ltr"
    rtl = base == "rtl"
    open_mark, close_mark = _marks(item.quote, quote_plain, base)
    tokens = prepare_quote(item.quote, close_mark)
    locale = locale_of(quote_plain)
    if not tokens:
        raise RenderError("the quote is empty")

    ink_c = rgb(theme.background.colors[0])
    colours = (muted_c, accent_c, ink_c)
    header_h, footer_h = _brand(paint, fr, theme, brand, faces, base_dir, colours)
    mid_top = fr.top + (header_h + round(0.6 * fr.margin_y) if header_h else 0)
    mid_bottom = fr.bottom - (footer_h + round(0.75 * fr.margin_y) if footer_h else 0)
    content_w = fr.right - fr.left

    label_text = item.label or theme.category_label
    label = None
    if label_text:
        try:
            size = cap_px(faces.label, theme.small_cap_px * fr.scale)
            label = _label_block(label_text, faces.label, size, content_w)
        except MissingGlyph as exc:
            raise _glyph_error("category label", exc) from None
    label_h = label.height if label else 0
    gap_label = round(0.5 * fr.margin_y) if label else 0

    att = _attribution(item, faces, fr, base, theme)
    gap_attr = round(0.6 * fr.margin_y)

    # the quote: the largest size that fits what is left, its opening mark hung in the margin
    qfaces = _chain(faces.quote, quote_plain)
    try:
        hang_em = fonts.width(open_mark, qfaces)
        fonts.width(quote_plain, qfaces)  # every glyph exists, or say which does not
    except MissingGlyph as exc:
        raise _glyph_error("quote", exc) from None
    smin = max(8, round(theme.quote_size_min * u))
    # never so large that a line holds fewer than about ten letters (MIN_MEASURE_EM)
    smax = max(smin, min(round(theme.quote_size_max * u), int(content_w / MIN_MEASURE_EM)))
    hang = min(fr.left, math.ceil(hang_em * smax) + round(6 * u))
    q_top = mid_top + label_h + gap_label
    q_bottom = mid_bottom - att.height - gap_attr
    if rtl:
        quote_box = (fr.left - hang, q_top, fr.right + hang, q_bottom)
    else:
        quote_box = (fr.left - hang, q_top, fr.right + hang, q_bottom)
    if q_bottom - q_top < smin * 1.5:
        raise RenderError(
            f"the {fr.width}×{fr.height} format leaves no room for the quote once the label, "
            "attribution and brand are placed; shorten the role or use a taller format"
        )
    quote, q_h, ink_top = _fit_quote(
        tokens,
        qfaces,
        fr,
        (content_w, q_bottom - q_top),
        (smin, smax),
        (open_mark, hang),
        base,
        theme,
        len(quote_plain),
        locale,
    )

    # the group (label, quote, attribution) is centred in the space between brand rows
    free = (mid_bottom - mid_top) - (label_h + gap_label + q_h + gap_attr + att.height)
    y = mid_top + max(0, round(free * 0.5))
    if label:
        paint.block("label", label, fr.right - label.width if rtl else fr.left, y, _all(accent_c))
        y += label_h + gap_label
    quote_colours: dict[Style, Colour] = {"text": text_c, "emph": accent_c, "mark": accent_c}
    paint.block("quote", quote, fr.left, y - ink_top, quote_colours, face=faces.quote)
    y += q_h + gap_attr
    if att.photo and item.image is not None:
        pic = assets.photo(item.image, att.photo, focus=theme.photo_focus)
        px = fr.right - att.photo if rtl else fr.left
        paint.picture("photo", pic, px, y + (att.height - att.photo) // 2)
    tx = fr.left if rtl else fr.left + att.photo + att.photo_gap
    ty = y + (att.height - att.text_height) // 2
    rule_w, rule_h, rule_gap = att.rule
    rx = fr.right - att.photo - att.photo_gap - rule_w if rtl else tx
    paint.rect("attribution", (rx, ty, rx + rule_w, ty + rule_h), accent_c)
    ty += rule_h + rule_gap
    if att.author:
        paint.block("attribution", att.author, tx, ty, _all(text_c), "author", faces.author)
        ty += att.author.height + att.role_gap
    if att.role:
        paint.block("attribution", att.role, tx, ty, _all(muted_c), "role", faces.role)

    if pixels:
        image = paint.finish()
    else:
        paint.finish_layout()
        image = canvas
    return Composition(
        image=image,
        content=(fr.left - hang, fr.top, fr.right + hang, fr.bottom),
        quote_box=quote_box,
        quote_size=quote.size,
        quote_lines=quote.lines,
        quote_sizes=(smin, smax),
        drawn=paint.drawn,
        layers=paint.layers,
        placements=paint.placements,
        shaded=paint.shaded,
    )


def render_card_with_layout(
    item: Item,
    theme: Theme,
    fmt_name: str,
    fmt: CardFormat,
    brand: Brand,
    base_dir: Path,
    max_bytes: int | None = None,
) -> tuple[RenderedCard, Composition]:
    """`render_card` plus the composition it encoded (for the layout report)."""
    comp = compose(item, theme, fmt, brand, base_dir)
    data, mime = encode(comp.image, fmt.encoding, fmt.jpeg_quality, max_bytes)
    card = Card(data, mime, fmt.width, fmt.height, fmt_name)
    return RenderedCard(card, alt_text_for(item)), comp


def render_card(
    item: Item,
    theme: Theme,
    fmt_name: str,
    fmt: CardFormat,
    brand: Brand,
    base_dir: Path,
    max_bytes: int | None = None,
) -> RenderedCard:
    """The card for one item in one format, encoded as the format says, within max_bytes."""
    return render_card_with_layout(item, theme, fmt_name, fmt, brand, base_dir, max_bytes)[0]
