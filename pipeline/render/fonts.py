"""Fonts: loading (cached), per-cluster fallback, measurement and rendered glyph runs.

A card's text goes through a chain of faces: the theme's font, then Noto Sans
(Latin, Greek, Cyrillic), Arabic, Hebrew, Symbols, Symbols 2, Math, CJK and
finally colour emoji. Each character cluster takes the first face whose cmap
covers it, so nothing is ever drawn as a .notdef box; a cluster no face covers
raises MissingGlyph naming it. Everything expensive is cached — font objects
by (file, index, weight, optical size, pixel size), advances, runs and the
rendered masks — which is what makes rendering many cards cheap.
"""

from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import regex
from PIL import Image, ImageDraw, ImageFont

from pipeline.config import FONTS_DIR
from pipeline.render import shaping
from pipeline.render.cmap import Coverage, read_coverage
from pipeline.render.text import clusters, is_emoji, is_ignorable, may_be_emoji

REF = 256  # px size at which advances and ink extents are measured (then scaled)
# px: hinting moves a run's pixel box at most this far beyond its outline scaled from
# REF (measured on thousands of runs in every bundled face: tests/render/test_ink_box.py)
INK_SLACK = 2
PROBE_PX = 24  # px size at which each new cluster is drawn once, to find undrawable glyphs
EMOJI_FILE = "NotoColorEmoji.ttf"
EMOJI_PX = 109  # the only strike Noto Color Emoji has
EMOJI_SCALE = 0.92  # emoji drawn a little smaller than the bitmap's nominal em
CJK_FILE = "NotoSansCJK-Regular.ttc"
CJK_INDEX = {"ja": 0, "ko": 1, "zh": 2}
SERIF_FILE = "NotoSerif-Regular.ttf"  # Latin, Greek, Cyrillic beside a serif brand face
SCRIPT_FILES = tuple(
    f"NotoSans{script}-Regular.ttf"
    for script in (
        "Thai",
        "Khmer",
        "Devanagari",
        "Bengali",
        "Tamil",
        "Gujarati",
        "Gurmukhi",
        "Sinhala",
        "Georgian",
        "Armenian",
        "Ethiopic",
    )
)
FALLBACK_FILES = (
    "NotoSans-Variable.ttf",
    "NotoSansArabic-Variable.ttf",
    "NotoSansHebrew-Regular.ttf",
    *SCRIPT_FILES,
    "NotoSansSymbols-Regular.ttf",
    "NotoSansSymbols2-Regular.ttf",
    "NotoSansMath-Regular.ttf",
)


_WORD = regex.compile(r"[\p{L}\p{M}\p{N}\u200c\u200d]+")


class MissingGlyph(Exception):
    """No font in the chain has a glyph for `char`."""

    def __init__(self, char: str) -> None:
        self.char = char
        name = unicodedata.name(char, "")
        super().__init__(f"U+{ord(char):04X} {name}".strip())


class FontFileError(Exception):
    """A font named in the theme is missing or unreadable."""


class Face(NamedTuple):
    """One face of one font file, with its variable axes pinned.

    `opsz` is fixed per use (not per size) so that advances scale linearly with size.
    A named tuple, not a dataclass: faces and chains of them key every font cache, and a
    tuple hashes in C (a dataclass's hash is a Python call per face per lookup).
    """

    file: str
    index: int = 0  # type: ignore[assignment]  # shadows tuple.index, which no one calls
    weight: int | None = None
    opsz: float | None = None

    @property
    def path(self) -> Path:
        p = Path(self.file)
        return p if p.is_absolute() else FONTS_DIR / p

    @property
    def is_emoji(self) -> bool:
        return self.file.rsplit("/", 1)[-1] == EMOJI_FILE  # hot: no Path objects here


@dataclass(frozen=True)
class Run:
    """Consecutive clusters drawn with one face."""

    text: str
    face: Face


@dataclass(frozen=True)
class Glyphs:
    """A rendered run: an L mask (or RGBA for emoji) and its offset from pen and baseline."""

    image: Image.Image
    dx: int
    dy: int

    @property
    def bbox(self) -> tuple[int, int, int, int]:
        return (self.dx, self.dy, self.dx + self.image.width, self.dy + self.image.height)


Chain = tuple[Face, ...]


def _pin_axes(font: ImageFont.FreeTypeFont, face: Face, size: int) -> None:
    try:
        axes = font.get_variation_axes()
    except OSError:
        return  # not a variable font
    values: list[float] = []
    for axis in axes:
        raw = axis["name"]
        name = (raw.decode() if isinstance(raw, bytes) else str(raw)).lower()
        lo, hi = float(axis["minimum"] or 0), float(axis["maximum"] or 0)
        default = float(axis["default"] or 0)
        if name == "weight" and face.weight is not None:
            value: float = face.weight
        elif name == "optical size":
            value = face.opsz if face.opsz is not None else size
        elif name == "wonky":
            value = 0  # Fraunces' quirky alternates off: calmer text
        else:
            value = default
        values.append(min(hi, max(lo, value)))
    font.set_variation_by_axes(values)


@lru_cache(maxsize=256)
def load(face: Face, size: int) -> ImageFont.FreeTypeFont:
    """The font at a pixel size (emoji: always its 109 px strike)."""
    px = EMOJI_PX if face.is_emoji else size
    try:
        font = ImageFont.truetype(
            str(face.path), px, index=face.index, layout_engine=shaping.layout_engine()
        )
    except OSError as exc:
        raise FontFileError(f"cannot load font {face.path}: {exc}") from None
    if not face.is_emoji:
        _pin_axes(font, face, size)
    return font


@lru_cache(maxsize=64)
def coverage(path: Path, index: int) -> Coverage:
    try:
        return read_coverage(path, index)
    except (OSError, ValueError) as exc:
        raise FontFileError(f"cannot read font {path}: {exc}") from None


@lru_cache(maxsize=128)
def _face_coverage(face: Face) -> Coverage:
    return coverage(face.path, face.index)


@lru_cache(maxsize=65536)
def covers(face: Face, text: str) -> bool:
    cov = _face_coverage(face)
    return all(ord(ch) in cov or is_ignorable(ch) for ch in text)


@lru_cache(maxsize=64)
def chain(primary: Face, cjk: str = "zh") -> Chain:
    """The fallback chain after `primary`, at the same weight where fonts allow."""
    rest = tuple(Face(f, 0, primary.weight) for f in FALLBACK_FILES)
    serif = (Face(SERIF_FILE),) if is_serif(primary) else ()
    return (primary, *serif, *rest, Face(CJK_FILE, CJK_INDEX.get(cjk, 2)), Face(EMOJI_FILE))


def is_serif(face: Face) -> bool:
    """Whether a brand face is a serif (its Greek and Cyrillic then fall back to Noto Serif)."""
    name = Path(face.file).name.lower()
    return ("serif" in name and "sans" not in name) or name.startswith("fraunces")


def _neutral(cluster: str) -> bool:
    return unicodedata.category(cluster[0])[0] in "PSZN"


@lru_cache(maxsize=64)
def _split(faces: Chain) -> tuple[list[Face], list[Face]]:
    return [f for f in faces if not f.is_emoji], [f for f in faces if f.is_emoji]


def _pick(cluster: str, faces: Chain, previous: Face | None) -> Face:
    text_faces, emoji_faces = _split(faces)
    if is_emoji(cluster):
        for f in emoji_faces:
            if covers(f, cluster):
                return f
    if previous is not None and not previous.is_emoji and _neutral(cluster):
        if covers(previous, cluster):
            return previous  # punctuation stays with the script around it
        if previous != faces[0]:
            # inside a fallback script, punctuation matches the sans fallbacks, not the brand face
            text_faces = text_faces[1:] + text_faces[:1]
    for candidate in (cluster, unicodedata.normalize("NFC", cluster)):
        for f in text_faces:
            if covers(f, candidate):
                return f
    for f in emoji_faces:
        if covers(f, cluster):
            return f
    for ch in cluster:
        if not is_ignorable(ch) and not any(covers(f, ch) for f in faces):
            raise MissingGlyph(ch)
    # every character has a glyph somewhere, but no one face has them all
    base = next(f for f in text_faces + emoji_faces if covers(f, cluster[0]))
    missing = next(ch for ch in cluster if not covers(base, ch))
    raise MissingGlyph(missing)


def _word_faces(text: str, faces: Chain) -> dict[int, Face]:
    """One face per word: the first text face that draws every letter of it.

    So a polytonic Greek word is set wholly in the fallback, never switching faces
    between its letters; offsets of the word's clusters map to that face.
    """
    out: dict[int, Face] = {}
    text_faces, _ = _split(faces)
    for m in _WORD.finditer(text):
        word = m.group(0)
        if is_emoji(word[0]) or covers(text_faces[0], word):
            continue
        face = next((f for f in text_faces if covers(f, word)), None)
        if face is None:
            continue
        pos = m.start()
        for cl in clusters(word):
            out[pos] = face
            pos += len(cl)
    return out


@lru_cache(maxsize=8192)
def runs(text: str, faces: Chain) -> tuple[Run, ...]:
    """Split text into runs of one face each (raises MissingGlyph; RenderError without raqm)."""
    shaping.require_shaping(text)
    first = faces[0]
    if not first.is_emoji and not may_be_emoji(text) and covers(first, text):
        out = [Run(text, first)]  # what the per-cluster choice below gives, without it
    else:
        out = _pick_runs(text, faces)
    for run in out:
        drawable(run.text, run.face)
    return tuple(out)


def _pick_runs(text: str, faces: Chain) -> list[Run]:
    out: list[Run] = []
    previous: Face | None = None
    whole = _word_faces(text, faces)
    pos = 0
    for cl in clusters(text):
        face = whole.get(pos) or _pick(cl, faces, previous)
        pos += len(cl)
        if out and out[-1].face == face:
            out[-1] = Run(out[-1].text + cl, face)
        else:
            out.append(Run(cl, face))
        previous = face
    if (
        len(out) > 1
        and all(_neutral(c) for c in out[0].text)
        and not out[1].face.is_emoji
        and covers(out[1].face, out[0].text)
    ):
        # an opening bracket or quote takes the face of the word it opens
        out[:2] = [Run(out[0].text + out[1].text, out[1].face)]
    return out


def drawable(text: str, face: Face) -> None:
    """Raise MissingGlyph for a character FreeType cannot rasterise in this face.

    Each cluster is drawn once, small, and remembered: layout (`check`) never draws a
    whole run, yet refuses what drawing it would (U+FDFD overflows FreeType's
    rasteriser at every size), and renders refuse by the same rule.
    """
    if not face.is_emoji:
        for cl in clusters(text):
            _probe(cl, face)


@lru_cache(maxsize=16384)
def _probe(cluster: str, face: Face) -> None:
    try:
        load(face, PROBE_PX).getmask2(cluster, mode="L", anchor="ls")
    except OSError:  # FreeType's "raster overflow" on a huge ligature (U+FDFD)
        # said like a missing glyph, so the card names the field it is in
        raise MissingGlyph(max(cluster, key=ord)) from None


def _direction(rtl: bool) -> str | None:
    if not shaping.uses_raqm():
        return None  # the basic engine takes no direction (require_shaping refused RTL)
    return "rtl" if rtl else "ltr"


@lru_cache(maxsize=16384)
def advance(text: str, face: Face, rtl: bool) -> float:
    """Advance width of a run in em (width at 1 px)."""
    if face.is_emoji:
        return load(face, EMOJI_PX).getlength(text) / EMOJI_PX * EMOJI_SCALE
    return load(face, REF).getlength(text, direction=_direction(rtl)) / REF


@lru_cache(maxsize=16384)
def ink_em(text: str, face: Face, rtl: bool) -> tuple[float, float, float, float]:
    """The box a run's pixels fill, in em: left and right of the pen, top and bottom of
    the baseline (y down), measured once at REF (emoji: on their strike) and scaled."""
    if face.is_emoji:
        left, top, right, bottom = load(face, EMOJI_PX).getbbox(text, anchor="ls")
        k = EMOJI_SCALE / EMOJI_PX
    else:
        font = load(face, REF)
        left, top, right, bottom = font.getbbox(text, anchor="ls", direction=_direction(rtl))
        k = 1 / REF
    return (left * k, top * k, right * k, bottom * k)


def extent(text: str, face: Face, rtl: bool) -> tuple[float, float]:
    """Ink above and below the baseline of a run, in em."""
    _, top, _, bottom = ink_em(text, face, rtl)
    return (-top, bottom)


def width(text: str, faces: Chain, rtl: bool = False) -> float:
    """Advance width in em of text drawn through the chain."""
    return sum(advance(r.text, r.face, rtl) for r in runs(text, faces))


def _int_box(box: tuple[float, float, float, float]) -> tuple[int, int, int, int]:
    return (math.floor(box[0]), math.floor(box[1]), math.ceil(box[2]), math.ceil(box[3]))


def ink_box(text: str, face: Face, size: int, rtl: bool) -> tuple[int, int, int, int]:
    """A pixel box, relative to pen and baseline, that holds every pixel `render` fills
    at `size`: the outline's box at REF scaled, widened by INK_SLACK for hinting. Found
    without drawing, so the layout (and `check`) never rasterises a run."""
    left, top, right, bottom = ink_em(text, face, rtl)
    s = INK_SLACK
    return (
        math.floor(left * size) - s,
        math.floor(top * size) - s,
        math.ceil(right * size) + s,
        math.ceil(bottom * size) + s,
    )


@lru_cache(maxsize=768)
def render(text: str, face: Face, size: int, rtl: bool) -> Glyphs:
    """The run drawn once at `size`; pasting it is far cheaper than drawing again."""
    if face.is_emoji:
        font = load(face, EMOJI_PX)
        left, top, right, bottom = _int_box(font.getbbox(text, anchor="ls"))
        big = Image.new("RGBA", (max(1, right - left), max(1, bottom - top)))
        ImageDraw.Draw(big).text((-left, -top), text, font=font, embedded_color=True, anchor="ls")
        k = size * EMOJI_SCALE / EMOJI_PX
        w, h = max(1, round(big.width * k)), max(1, round(big.height * k))
        return Glyphs(big.resize((w, h), Image.Resampling.LANCZOS), round(left * k), round(top * k))
    font = load(face, size)
    # one shaping and rasterising pass: the mask comes sized to its ink, with its offset
    try:
        core, (left, top) = font.getmask2(text, mode="L", direction=_direction(rtl), anchor="ls")
    except OSError:  # FreeType's "raster overflow" on a huge ligature (U+FDFD)
        # said like a missing glyph, so the card names the field it is in
        raise MissingGlyph(max(text, key=ord)) from None
    if core.size[0] == 0 or core.size[1] == 0:
        return Glyphs(Image.new("L", (1, 1)), left, top)
    return Glyphs(Image.Image()._new(core), left, top)


def clear_caches() -> None:
    """Forget loaded fonts and rendered runs (tests, or after fonts changed on disk)."""
    for fn in (
        load,
        _probe,
        ink_em,
        coverage,
        _face_coverage,
        covers,
        chain,
        runs,
        advance,
        render,
    ):
        fn.cache_clear()
