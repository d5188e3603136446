"""Setting text: tokens → a fitted block of positioned glyph runs.

Glue between the pure layout (which only sees widths) and the fonts (which
know glyphs). A Block is plain data — run texts, faces and positions relative
to the block's top-left — so it is cached, and drawing it is only pasting the
cached masks of its runs.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache
from typing import NamedTuple

from PIL import Image

from pipeline.render import bidi, fonts, layout
from pipeline.render.fonts import Chain, Face
from pipeline.render.segment import hyphen_points
from pipeline.render.text import Direction, Style, Token, clusters, direction_of

Colour = tuple[int, int, int]
Box = tuple[int, int, int, int]  # left, top, right, bottom in px


class Placed(NamedTuple):
    """One run at its pen position (x) and baseline (y), relative to the block (a named
    tuple, as layout.Piece: made per run per layout)."""

    text: str
    face: Face
    rtl: bool
    x: float
    y: int
    style: Style


@dataclass(frozen=True)
class Block:
    size: int
    width: int  # the box width lines were aligned in
    height: int  # ascent of the first line to descent of the last, px
    baseline: int  # first baseline from the block top
    lines: int
    placed: tuple[Placed, ...]
    ink: Box  # union of the runs' pixel boxes, relative to the block
    texts: tuple[str, ...] = ()  # each line as drawn, in reading order (the layout report)
    hyphenated: tuple[bool, ...] = ()  # per line: ends with a hyphen the fit stage added


HYPHEN = "-"
_HALF = set("。、，．！？：；")  # full-width punctuation whose right half is empty


@lru_cache(maxsize=4096)
def styled_runs(
    token: Token, start: int, end: int, faces: Chain, rtl: bool
) -> tuple[tuple[fonts.Run, Style, bool], ...]:
    """The runs of token[start:end] in logical order, each with its style and direction.

    The closing quotation mark ("mark") is shaped on its own and never mirrored.
    """
    out: list[tuple[fonts.Run, Style, bool]] = []
    pos = 0
    for text, style in token.segments:
        lo, hi = max(start, pos), min(end, pos + len(text))
        if lo < hi:
            piece = text[lo - pos : hi - pos]
            if style == "mark":
                out.extend((run, style, False) for run in mark_runs(piece, token.text, faces))
            else:
                out.extend((run, style, rtl) for run in fonts.runs(piece, faces))
        pos += len(text)
    return tuple(out)


def mark_runs(mark: str, word: str, faces: Chain) -> tuple[fonts.Run, ...]:
    """A quotation mark in the face of the word it belongs to (Arabic « » in the Arabic
    face), when that face has it; else as the chain gives it."""
    letters = "".join(c for c in word if c.isalpha())
    if letters:
        face = fonts.runs(letters, faces)[0].face
        if not face.is_emoji and fonts.covers(face, mark):
            return (fonts.Run(mark, face),)
    return fonts.runs(mark, faces)


def _run_width(run: fonts.Run, rtl: bool) -> float:
    return fonts.advance(run.text, run.face, rtl)


def token_chains(tokens: tuple[Token, ...], faces: Chain) -> tuple[Chain, ...]:
    """The chain each token is set with: a token of only digits and punctuation follows
    the face of the word before it (or after it), so "2024" inside Arabic is set in the
    Arabic face, not in the Latin brand face."""
    if not tokens:
        return ()
    firsts: list[Face | None] = []
    for t in tokens:
        if any(c.isalpha() for c in t.text):
            r = fonts.runs(t.text, faces)
            firsts.append(next((x.face for x in r if not x.face.is_emoji), None))
        else:
            firsts.append(None)
    out: list[Chain] = []
    for i, t in enumerate(tokens):
        near = firsts[i]
        if near is None:
            before = next((f for f in reversed(firsts[:i]) if f is not None), None)
            near = before or next((f for f in firsts[i + 1 :] if f is not None), None)
            if near is not None and near != faces[0] and fonts.covers(near, t.text):
                out.append((near, *(f for f in faces if f != near)))
                continue
        out.append(faces)
    return tuple(out)


def metrics_for(
    tokens: tuple[Token, ...],
    faces: Chain,
    rtls: tuple[bool, ...],
    line_height: float,
    chains: tuple[Chain, ...] | None = None,
) -> layout.Metrics:
    """Space width, ink ascent/descent over the whole text, and line pitch, in em."""
    ascent, descent = 0.5, 0.1
    per = chains or tuple(faces for _ in tokens)
    for token, rtl, chain in zip(tokens, rtls, per, strict=True):
        for run, _, r in styled_runs(token, 0, len(token.text), chain, rtl):
            up, down = fonts.extent(run.text, run.face, r)
            ascent, descent = max(ascent, up), max(descent, down)
    space = fonts.advance(" ", faces[0], False) if fonts.covers(faces[0], " ") else 0.25
    pitch = max(line_height, ascent + descent + 0.04)
    return layout.Metrics(space=space, ascent=ascent, descent=descent, pitch=pitch)


def _directions(
    tokens: tuple[Token, ...], base: Direction
) -> tuple[tuple[int, ...], tuple[bool, ...]]:
    """Each token's bidi embedding level (resolved over the whole text), and whether it is
    set right to left."""
    text, starts = "", []
    for t in tokens:
        text += " " if t.space_before else ""
        starts.append(len(text))
        text += t.text
    lv = bidi.levels(text, base)
    if not any(lv):
        return (0,) * len(tokens), (False,) * len(tokens)
    word = tuple(
        bidi.word_level(t.text, lv[a : a + len(t.text)])
        for t, a in zip(tokens, starts, strict=True)
    )
    return word, tuple(level % 2 == 1 for level in word)


@lru_cache(maxsize=64)
def set_block(
    tokens: tuple[Token, ...],
    faces: Chain,
    box_w: int,
    box_h: int,
    min_size: int,
    max_size: int,
    base: Direction = "ltr",
    line_height: float = 1.2,
    hang: str | None = None,
    locale: str = "en",
) -> Block:
    """Fit tokens into box_w × box_h at the largest size in [min_size, max_size].

    Lines are left-aligned (right-aligned for a right-to-left base direction);
    `hang` is an opening mark hung outside the box beside the first line.
    Raises layout.DoesNotFit and fonts.MissingGlyph.
    """
    dirs, rtls = _directions(tokens, base)
    chains = token_chains(tokens, faces)
    for token, rtl, chain in zip(tokens, rtls, chains, strict=True):  # every glyph, or fail
        styled_runs(token, 0, len(token.text), chain, rtl)
    if hang:
        mark_runs(hang, tokens[0].text if tokens else "", chains[0] if chains else faces)

    memo: dict[tuple[int, int, int], float] = {}

    def measure(i: int, start: int, end: int) -> float:
        """Advance of token i's slice; the closing mark does not count (it may hang)."""
        key = (i, start, end)
        if key not in memo:
            memo[key] = _measure(i, start, end)
        return memo[key]

    def _measure(i: int, start: int, end: int) -> float:
        return sum(
            _run_width(r, rtl)
            for r, style, rtl in styled_runs(tokens[i], start, end, chains[i], rtls[i])
            if style != "mark"
        )

    def hanging(i: int, start: int, end: int) -> float:
        if not any(style == "mark" for _, style in tokens[i].segments):
            return 0.0
        return sum(
            _run_width(r, rtl)
            for r, style, rtl in styled_runs(tokens[i], start, end, chains[i], rtls[i])
            if style == "mark"
        )

    metrics = metrics_for(tokens, faces, rtls, line_height, chains)
    words = [(t.text, t.space_before) for t in tokens]

    def points(i: int) -> tuple[int, ...]:
        return hyphen_points(tokens[i].text, locale)

    hyph = layout.Hyphenation(points, fonts.width(HYPHEN, faces))
    fit = layout.fit_text(words, measure, box_w, box_h, min_size, max_size, metrics, hyph)
    size = fit.size
    first = round(metrics.ascent * size)
    placed: list[Placed] = []
    texts: list[str] = []
    hyphenated: list[bool] = []
    for li, line in enumerate(fit.lines):
        text = ""
        for k, p in enumerate(line.pieces):
            gap = " " if k and p.space_before else ""
            text += gap + tokens[p.token].text[p.start : p.end]
        ends_hyphen = line.pieces[-1].hyphen
        texts.append((hang or "") * (li == 0) + text + (HYPHEN if ends_hyphen else ""))
        hyphenated.append(ends_hyphen)
        y = first + round(li * metrics.pitch * size)
        pieces = line.pieces
        order = bidi.reorder([dirs[p.token] for p in pieces])
        hang_em = sum(hanging(p.token, p.start, p.end) for p in pieces)
        x = 0.0 if base == "ltr" else box_w - (line.width + hang_em) * size
        prev: int | None = None
        for j in order:
            p = pieces[j]
            if prev is not None:
                later = max(j, prev)
                joined = abs(j - prev) == 1 and not pieces[later].space_before
                x += 0.0 if joined else metrics.space * size
            seq = styled_runs(tokens[p.token], p.start, p.end, chains[p.token], rtls[p.token])
            for run, style, rtl in reversed(seq) if rtls[p.token] else seq:
                if style == "mark" and not rtl and placed and placed[-1].text[-1:] in _HALF:
                    x -= 0.5 * size  # 。” : no half-em gap after full-width punctuation
                placed.append(Placed(run.text, run.face, rtl, x, y, style))
                x += _run_width(run, rtl) * size
            if p.hyphen:
                for run in fonts.runs(HYPHEN, faces):
                    placed.append(Placed(run.text, run.face, False, x, y, "text"))
                    x += _run_width(run, False) * size
            prev = j
    if hang:
        hung = mark_runs(hang, tokens[0].text if tokens else "", chains[0] if chains else faces)
        w = sum(_run_width(r, False) for r in hung) * size
        x = -w
        if base == "rtl":  # mirror the ink: as far right of the text as it would be left of it
            ink_l = fonts.ink_em(hung[0].text, hung[0].face, False)[0] * size
            ink_r = fonts.ink_em(hung[-1].text, hung[-1].face, False)[2] * size + (
                w - _run_width(hung[-1], False) * size
            )
            x = box_w + (w - ink_r) - ink_l
        for run in hung:
            placed.append(Placed(run.text, run.face, False, x, first, "mark"))
            x += _run_width(run, False) * size
    height = round(metrics.height(len(fit.lines), size))
    return Block(
        size,
        box_w,
        height,
        first,
        len(fit.lines),
        tuple(placed),
        _ink(placed, size),
        tuple(texts),
        tuple(hyphenated),
    )


def _union(boxes: list[Box]) -> Box:
    if not boxes:
        return (0, 0, 0, 0)
    return (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )


def _ink(placed: list[Placed], size: int) -> Box:
    return _union([glyph_box(p, size) for p in placed])


def exact_ink(block: Block) -> Block:
    """The block with its ink box measured from drawn pixels instead of estimated.

    The quote's fit asks for it only when the estimate misses by no more than its slack,
    so a card on the edge is judged as drawn. Only runs whose estimated box reaches within
    2·INK_SLACK + 1 px of a side of the block's box are rasterised: every estimate holds
    its pixels and is at most that much wider on each side (tests/render/test_ink_box.py),
    so no other run can hold an extreme, and the result is that of rasterising them all.
    """
    if not block.placed:
        return block
    reach = 2 * fonts.INK_SLACK + 1
    left, top, right, bottom = block.ink
    drawn = []
    for p in block.placed:
        x0, y0, x1, y1 = glyph_box(p, block.size)
        if min(x0 - left, y0 - top, right - x1, bottom - y1) <= reach:
            drawn.append(_at_pen(p, fonts.render(p.text, p.face, block.size, p.rtl).bbox))
    return replace(block, ink=_union(drawn))


def glyph_box(p: Placed, size: int) -> Box:
    return _at_pen(p, fonts.ink_box(p.text, p.face, size, p.rtl))


def _at_pen(p: Placed, box: Box) -> Box:
    """A box relative to a run's pen and baseline, moved to where the run is placed."""
    x0, y0, x1, y1 = box
    x = round(p.x)
    return (x + x0, p.y + y0, x + x1, p.y + y1)


@lru_cache(maxsize=128)
def set_line(
    text: str, faces: Chain, size: int, tracking: float = 0.0, base: Direction = "ltr"
) -> Block:
    """One unbroken line at a fixed size; `tracking` (em) spaces letters apart (labels).

    Tracking is applied per cluster, so use it only for scripts that do not join.
    """
    placed: list[Placed] = []
    x = 0.0
    if tracking:
        for cl in clusters(text):
            for run in fonts.runs(cl, faces):
                placed.append(Placed(run.text, run.face, False, x, 0, "text"))
                x += _run_width(run, False) * size
            x += tracking * size
        x -= tracking * size if placed else 0.0
    else:
        rtl = (direction_of(text) or base) == "rtl"
        seq = fonts.runs(text, faces)
        for run in reversed(seq) if rtl else seq:
            placed.append(Placed(run.text, run.face, rtl, x, 0, "text"))
            x += _run_width(run, rtl) * size
    up = max((fonts.extent(p.text, p.face, p.rtl)[0] for p in placed), default=0.7)
    down = max((fonts.extent(p.text, p.face, p.rtl)[1] for p in placed), default=0.2)
    baseline = round(up * size)
    moved = [Placed(p.text, p.face, p.rtl, p.x, baseline, p.style) for p in placed]
    return Block(
        size,
        round(x),
        baseline + round(down * size),
        baseline,
        1,
        tuple(moved),
        _ink(moved, size),
        (text,),
        (False,),
    )


def draw_block(
    target: Image.Image,
    block: Block,
    left: int,
    top: int,
    colours: dict[Style, Colour],
) -> tuple[int, int, int, int]:
    """Paste a block's runs with their colours; returns the pixel box drawn."""
    for p in block.placed:
        g = fonts.render(p.text, p.face, block.size, p.rtl)
        x, y = left + round(p.x) + g.dx, top + p.y + g.dy
        if g.image.mode == "RGBA":
            target.paste(g.image, (x, y), g.image)
        else:
            target.paste(colours[p.style], (x, y, x + g.image.width, y + g.image.height), g.image)
    x0, y0, x1, y1 = block.ink
    return (left + x0, top + y0, left + x1, top + y1)
