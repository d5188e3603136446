"""Pure text preparation: typography, emphasis, tokens, clusters and word-level bidi.

Nothing here touches fonts or pixels, so every rule can be tested on strings.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Literal

from pipeline.render.segment import is_punctuation, line_segments

Style = Literal["text", "emph", "mark"]
Direction = Literal["ltr", "rtl"]

_OPEN_QUOTES = "\"“„«‘'"
_CLOSE_QUOTES = "\"”“»’'"
_OPENERS_BEFORE = " \t\n([{—–/-\u00a0"
_EMPHASIS = re.compile(r"\*(?=\S)(.+?)(?<=\S)\*")
_URLISH = re.compile(r"(://|www\.|\S+@\S+\.\S)")


@dataclass(frozen=True)
class Token:
    """A unit between break opportunities: a word, or one CJK character.

    `segments` carry the style of each part ("emph" is `*emphasis*`, "mark" the
    closing quotation mark); `space_before` says whether a space separates it
    from the previous token (False for CJK and for split fragments).
    """

    segments: tuple[tuple[str, Style], ...]
    space_before: bool

    @cached_property
    def text(self) -> str:  # hot (every measure): joined once per token
        return "".join(s for s, _ in self.segments)


# -- typography -------------------------------------------------------------------------


def strip_outer_quotes(text: str) -> str:
    """People paste quotes with their quotation marks; the card draws its own."""
    t = text.strip()
    if len(t) >= 2 and t[0] in _OPEN_QUOTES and t[-1] in _CLOSE_QUOTES:
        inner = t[1:-1]
        if not any(ch in inner for ch in '"“”„«»'):
            return inner.strip()
    return t


def _smarten_word(word: str, before: str) -> str:
    if _URLISH.search(word):
        return word  # links and addresses are quoted verbatim
    if word == "-":
        return "–"  # a spaced hyphen is an en dash
    word = re.sub(r"(?<!-)---?(?!-)", "—", word)
    word = re.sub(r"(?<=\d)-(?=\d)", "–", word)
    word = re.sub(r"(?<!\.)\.\.\.(?!\.)", "…", word)
    out: list[str] = []
    prev = before
    for i, ch in enumerate(word):
        nxt = word[i + 1] if i + 1 < len(word) else " "
        if ch == '"':
            ch = "“" if prev in _OPENERS_BEFORE else "”"
        elif ch == "'":
            # an opening single quote, else an apostrophe / closing quote ('90s too)
            ch = "‘" if prev in _OPENERS_BEFORE and not nxt.isdigit() else "’"
        out.append(ch)
        prev = ch
    return "".join(out)


@lru_cache(maxsize=1024)
def smarten(text: str) -> str:
    """Curly quotes and apostrophes, en/em dashes and ellipses, as a typesetter would."""
    text = re.sub(r"\s+", " ", text).strip()
    return " ".join(_smarten_word(w, " ") for w in text.split(" "))


@lru_cache(maxsize=1024)
def plain(text: str) -> str:
    """The quote as words only: typography applied, emphasis asterisks removed (alt text)."""
    return _EMPHASIS.sub(r"\1", smarten(strip_outer_quotes(text)))


def emphasis_spans(text: str) -> list[tuple[str, Style]]:
    """Split `a *b c* d` into styled spans; an unpaired asterisk stays as written."""
    spans: list[tuple[str, Style]] = []
    pos = 0
    for m in _EMPHASIS.finditer(text):
        if m.start() > pos:
            spans.append((text[pos : m.start()], "text"))
        spans.append((m.group(1), "emph"))
        pos = m.end()
    if pos < len(text):
        spans.append((text[pos:], "text"))
    return spans


# -- clusters and scripts ---------------------------------------------------------------

ZWJ = "\u200d"


def is_ignorable(ch: str) -> bool:
    """Default-ignorable code points: shaped away, so no font needs a glyph for them."""
    cp = ord(ch)
    return (
        cp in (0x00AD, 0x034F, 0x061C, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x3164, 0xFEFF, 0xFFA0)
        or 0x180B <= cp <= 0x180F
        or 0x200B <= cp <= 0x200F
        or 0x2060 <= cp <= 0x206F
        or 0xFE00 <= cp <= 0xFE0F
        or 0xE0000 <= cp <= 0xE0FFF
    )


def _extends(ch: str) -> bool:
    cp = ord(ch)
    return (
        unicodedata.category(ch) in ("Mn", "Me", "Mc")
        or ch == ZWJ
        or 0xFE00 <= cp <= 0xFE0F
        or 0xE0100 <= cp <= 0xE01EF
        or 0x1F3FB <= cp <= 0x1F3FF  # skin tone modifiers
        or 0xE0020 <= cp <= 0xE007F  # tag characters (subdivision flags)
    )


def _regional(ch: str) -> bool:
    return 0x1F1E6 <= ord(ch) <= 0x1F1FF


def clusters(text: str) -> list[str]:
    """User-perceived characters: base + marks, emoji ZWJ sequences, flag pairs.

    A simplified grapheme segmentation, enough that a font is chosen for, and a
    line broken around, whole characters and never between a letter and its accent.
    """
    out: list[str] = []
    for ch in text:
        if out and (
            _extends(ch)
            or out[-1].endswith(ZWJ)
            or (_regional(ch) and _regional(out[-1][-1]) and len(out[-1]) == 1)
        ):
            out[-1] += ch
        else:
            out.append(ch)
    return out


# Emoji_Presentation=Yes code points below U+1F000 (drawn as colour emoji without VS16)
_BMP_EMOJI = set(
    "⌚⌛⏩⏪⏫⏬⏰⏳◽◾☔☕♈♉♊♋♌♍♎♏♐♑♒♓♿⚓⚡⚪⚫⚽⚾⛄⛅⛎⛔⛪⛲⛳⛵⛺⛽✅✊✋✨❌❎❓❔❕❗➕➖➗➰➿⬛⬜⭐⭕"
)


def is_emoji(cluster: str) -> bool:
    """Whether a cluster should be drawn as colour emoji rather than as a text glyph."""
    if "\ufe0e" in cluster:
        return False
    return (
        "\ufe0f" in cluster
        or "\u20e3" in cluster
        or any(0x1F000 <= ord(c) <= 0x1FAFF for c in cluster)
        or cluster[0] in _BMP_EMOJI
    )


def may_be_emoji(text: str) -> bool:
    """Whether any cluster of text could be emoji (False means `is_emoji` is False for
    every one): a quick test over the code points, for the common case of plain words."""
    return (
        "\ufe0f" in text
        or "\u20e3" in text
        or any(c in _BMP_EMOJI or 0x1F000 <= ord(c) <= 0x1FAFF for c in text)
    )


def char_direction(ch: str) -> Direction | None:
    bidi = unicodedata.bidirectional(ch)
    if bidi in ("R", "AL"):
        return "rtl"
    if bidi == "L":
        return "ltr"
    return None


def direction_of(text: str) -> Direction | None:
    """The first strong direction in the text (None when it has only neutrals)."""
    for ch in text:
        d = char_direction(ch)
        if d:
            return d
    return None


def is_cjk(ch: str) -> bool:
    cp = ord(ch)
    return (
        0x3040 <= cp <= 0x30FF  # kana
        or 0x3400 <= cp <= 0x4DBF
        or 0x4E00 <= cp <= 0x9FFF
        or 0xF900 <= cp <= 0xFAFF
        or 0x20000 <= cp <= 0x3FFFF
        or 0x3000 <= cp <= 0x303F  # CJK punctuation
        or 0xFF00 <= cp <= 0xFFEF  # full-width forms
        or 0xAC00 <= cp <= 0xD7AF  # Hangul syllables (broken per syllable like CJK)
    )


@lru_cache(maxsize=1024)
def cjk_face(text: str) -> str:
    """Which CJK face suits the text: Japanese with kana, Korean with Hangul, else Chinese."""
    if any(0x3040 <= ord(c) <= 0x30FF for c in text):
        return "ja"
    if any(0xAC00 <= ord(c) <= 0xD7AF or 0x1100 <= ord(c) <= 0x11FF for c in text):
        return "ko"
    return "zh"


# -- tokens -----------------------------------------------------------------------------


def _styled_slices(
    spans: list[tuple[str, Style]], start: int, end: int
) -> tuple[tuple[str, Style], ...]:
    out: list[tuple[str, Style]] = []
    pos = 0
    for text, style in spans:
        lo, hi = max(start, pos), min(end, pos + len(text))
        if lo < hi:
            piece = text[lo - pos : hi - pos]
            if out and out[-1][1] == style:
                out[-1] = (out[-1][0] + piece, style)
            else:
                out.append((piece, style))
        pos += len(text)
    return tuple(out)


@lru_cache(maxsize=1024)
def tokenize(text: str, closing_mark: str | None = None) -> tuple[Token, ...]:
    """Units between UAX #14 break opportunities, with their styles.

    Punctuation that would stand alone (a spaced dash, a French « ! ») is glued to
    the word before it, and the closing mark to the last word, so no line ever
    holds only punctuation.
    """
    spans = emphasis_spans(text)
    flat = "".join(s for s, _ in spans)
    tokens: list[Token] = []
    space = False
    for start, end, space_after in line_segments(flat):
        segs = _styled_slices(spans, start, end)
        word = flat[start:end]
        if tokens and is_punctuation(word) and not _opens(word):
            prev = tokens[-1]
            glue: tuple[tuple[str, Style], ...] = (("\u00a0", "text"),) if space else ()
            tokens[-1] = Token((*prev.segments, *glue, *segs), prev.space_before)
        else:
            tokens.append(Token(segs, space_before=bool(tokens) and space))
        space = space_after
    if closing_mark and tokens:
        last = tokens[-1]
        tokens[-1] = Token((*last.segments, (closing_mark, "mark")), last.space_before)
    return tuple(tokens)


def _opens(word: str) -> bool:
    """Opening punctuation (a bracket, an opening quote) belongs to the word after it."""
    return all(unicodedata.category(c) in ("Ps", "Pi") for c in word)


@lru_cache(maxsize=1024)
def prepare_quote(text: str, closing_mark: str | None) -> tuple[Token, ...]:
    """The quote as the card sets it: outer marks removed, typography, emphasis, tokens."""
    return tokenize(smarten(strip_outer_quotes(text)), closing_mark)
