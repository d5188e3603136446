"""Pure text fitting: balanced line breaks and the largest size that fits a box.

Fonts never appear here. The caller passes `measure(word, start, end)`, the
advance in em of a slice of one word (its width at a 1 px size); raqm advances
scale linearly with size, so the width at size s is `s * measure(...)`. That
keeps this module deterministic, fast
(each word is measured once, whatever the size) and property-testable with a
fake measure.

* Words break only between them (UAX #14 opportunities, found by the segment
  stage); inside a word only at a hyphenation point, with a hyphen, and only when
  the text does not fit at the minimum size otherwise.
* Line breaking minimises raggedness: the sum of squared slack over all lines,
  last line included (so lines come out balanced), by dynamic programming over
  break points, with the number of lines fixed to the fewest that fit, and a
  penalty that keeps a lone word off the last line whenever another break avoids it.
* The size is found by bisection over integer sizes, not by shrinking a point
  at a time: whether a text fits is monotone in the size.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

Measure = Callable[[int, int, int], float]  # (word index, start, end) -> em
Points = Callable[[int], Sequence[int]]  # word index -> offsets where a hyphen may go

EPS = 1e-9
_SENTENCE_END = ".!?…。！？"


@dataclass(frozen=True)
class Hyphenation:
    """Hyphenation points per word, and the width in em of the hyphen drawn at a break."""

    points: Points
    hyphen_em: float


class Piece(NamedTuple):
    """A slice [start, end) of token `token`: a whole word, or a fragment of a too-long one.

    A named tuple: the size search makes one per word per layout, and a tuple is built
    in C (a frozen dataclass sets each field through object.__setattr__)."""

    token: int
    start: int
    end: int
    width: float  # em, the hyphen included when `hyphen`
    space_before: bool
    hyphen: bool = False  # a hyphenated fragment: a hyphen is drawn after it


@dataclass(frozen=True)
class Line:
    pieces: tuple[Piece, ...]
    width: float  # em, inner spaces included


@dataclass(frozen=True)
class Metrics:
    """Vertical and spacing metrics of the text, all in em."""

    space: float  # width of the word space
    ascent: float  # ink above the first baseline
    descent: float  # ink below the last baseline
    pitch: float  # baseline to baseline

    def height(self, lines: int, size: float) -> float:
        """Height in px of `lines` lines of ink at `size`."""
        return size * (self.ascent + self.descent + max(0, lines - 1) * self.pitch)


@dataclass(frozen=True)
class Fit:
    size: int
    lines: tuple[Line, ...]


class DoesNotFit(Exception):
    """Even the minimum size overflows; `chars` is how much of the text would fit."""

    def __init__(self, size: int, chars: int, total: int) -> None:
        super().__init__(f"{total} characters do not fit at {size} px; {chars} would")
        self.size = size
        self.chars = chars
        self.total = total


def split_word(
    index: int, text: str, measure: Measure, max_em: float, hyph: Hyphenation | None
) -> list[tuple[int, int]] | None:
    """A word as fragments that each fit `max_em`: whole if it fits, else cut at hyphenation
    points (each fragment but the last then carries a hyphen); None if impossible."""
    if measure(index, 0, len(text)) <= max_em + EPS:
        return [(0, len(text))]
    if hyph is None:
        return None
    points = [p for p in hyph.points(index) if 0 < p < len(text)]
    out: list[tuple[int, int]] = []
    start = 0
    while measure(index, start, len(text)) > max_em + EPS:
        fitting = [
            p
            for p in points
            if p > start and measure(index, start, p) + hyph.hyphen_em <= max_em + EPS
        ]
        if not fitting:
            return None
        out.append((start, fitting[-1]))
        start = fitting[-1]
    out.append((start, len(text)))
    return out


def make_pieces(
    words: Sequence[tuple[str, bool]],
    measure: Measure,
    max_em: float,
    hyph: Hyphenation | None = None,
) -> list[Piece] | None:
    """Words as pieces that each fit a line of `max_em`; None if that is impossible.

    A word never breaks inside except at a hyphenation point with a visible hyphen,
    and only when `hyph` is given (the caller allows it only below the minimum size).
    """
    pieces: list[Piece] = []
    for index, (text, space_before) in enumerate(words):
        parts = split_word(index, text, measure, max_em, hyph)
        if parts is None:
            return None
        for k, (a, b) in enumerate(parts):
            last = k == len(parts) - 1
            width = measure(index, a, b) + (0.0 if last or hyph is None else hyph.hyphen_em)
            pieces.append(Piece(index, a, b, width, space_before and k == 0, not last))
    return pieces


def _gap(piece: Piece, space: float) -> float:
    return space if piece.space_before else 0.0


def count_lines(pieces: Sequence[Piece], space: float, max_em: float) -> int:
    """The fewest lines (greedy filling is optimal for that)."""
    if not pieces:
        return 0
    lines, cur = 1, pieces[0].width
    for p in pieces[1:]:
        add = _gap(p, space) + p.width
        if cur + add <= max_em + EPS:
            cur += add
        else:
            lines, cur = lines + 1, p.width
    return lines


def balance(
    pieces: Sequence[Piece],
    space: float,
    max_em: float,
    n_lines: int,
    bad_ends: frozenset[int] = frozenset(),
) -> list[Line]:
    """Break into exactly `n_lines` lines with minimum raggedness (dynamic programming).

    A lone word on the last line, and a line ending at a piece in `bad_ends` (a one- or
    two-letter sentence start), cost more than any raggedness: chosen only when no
    other breaking into `n_lines` lines avoids them.
    """
    n = len(pieces)
    if n == 0:
        return []
    n_lines = max(1, min(n_lines, n))
    gaps = [_gap(p, space) for p in pieces]
    prefix = [0.0]
    for p, g in zip(pieces, gaps, strict=True):
        prefix.append(prefix[-1] + g + p.width)

    def width(i: int, m: int) -> float:
        return prefix[m] - prefix[i] - gaps[i]

    # words from piece i to the end (a "word" is pieces joined without a space: a-|begging)
    spaces = [0] * (n + 1)
    for k in range(n - 1, -1, -1):
        spaces[k] = spaces[k + 1] + (1 if pieces[k].space_before else 0)
    lone_start = [k < n and spaces[k + 1] == 0 for k in range(n + 1)]  # one word to the end
    inf = float("inf")
    lone_penalty = 1000.0 * max_em * max_em
    limit = max_em + EPS
    best = [[inf] * (n + 1) for _ in range(n_lines + 1)]
    parent = [[-1] * (n + 1) for _ in range(n_lines + 1)]
    best[0][0] = 0.0
    for j in range(1, n_lines + 1):
        above, row, par = best[j - 1], best[j], parent[j]
        last_row = j == n_lines
        # line j ends at m; the lines after it need a piece each, and the last ends at n
        ends = range(n, n + 1) if last_row else range(j, n - (n_lines - j) + 1)
        for m in ends:
            pm = prefix[m]
            extra = lone_penalty if m < n and (m - 1) in bad_ends else 0.0
            for i in range(m - 1, j - 2, -1):
                w = pm - prefix[i] - gaps[i]
                if w > limit and m - i > 1:
                    break
                b = above[i]
                if b == inf:
                    continue
                slack = max_em - w
                cost = b + extra + (slack * slack if slack > 0.0 else 0.0)
                if last_row and n > n_lines and lone_start[i]:
                    cost += lone_penalty
                if w > limit:
                    cost += 1e6 * (w - max_em + 1.0)  # a lone overlong piece: last resort
                if cost < row[m]:
                    row[m], par[m] = cost, i
    if best[n_lines][n] == inf:
        raise ValueError("no breaking into that many lines")
    lines: list[Line] = []
    m = n
    for j in range(n_lines, 0, -1):
        i = parent[j][m]
        lines.append(Line(tuple(pieces[i:m]), width(i, m)))
        m = i
    lines.reverse()
    return lines


def max_lines(box_h: float, size: float, metrics: Metrics) -> int:
    """How many lines fit a box height at `size` (0 if not even one)."""
    n = 0
    while metrics.height(n + 1, size) <= box_h + EPS:
        n += 1
        if n > 10_000:
            break
    return n


def fits(
    words: Sequence[tuple[str, bool]],
    measure: Measure,
    box_w: float,
    box_h: float,
    size: int,
    metrics: Metrics,
    hyph: Hyphenation | None = None,
) -> list[Piece] | None:
    """The pieces if the words fit the box at `size`, else None."""
    pieces = make_pieces(words, measure, box_w / size, hyph)
    if pieces is None:
        return None
    if metrics.height(count_lines(pieces, metrics.space, box_w / size), size) > box_h + EPS:
        return None
    return pieces


def _letters(text: str) -> str:
    return "".join(c for c in text if c.isalnum())


def sentence_starts(words: Sequence[tuple[str, bool]]) -> frozenset[int]:
    """Words of one or two letters that start a sentence ("world. If"): not at a line end."""
    out = set()
    for i in range(1, len(words)):
        prev = words[i - 1][0].rstrip("”’»\"')]）」』")
        if words[i][1] and prev[-1:] in _SENTENCE_END and 0 < len(_letters(words[i][0])) <= 2:
            out.add(i)
    return frozenset(out)


def fit_text(
    words: Sequence[tuple[str, bool]],
    measure: Measure,
    box_w: float,
    box_h: float,
    min_size: int,
    max_size: int,
    metrics: Metrics,
    hyph: Hyphenation | None = None,
) -> Fit:
    """The largest integer size in [min_size, max_size] whose balanced wrap fits the box.

    Words break only between them; hyphenation (`hyph`) is tried only when the text does
    not fit at `min_size` without it. Raises DoesNotFit (with how many characters would
    fit) when even `min_size` overflows.
    """
    if min_size > max_size:
        min_size = max_size
    try:
        return _fit(words, measure, box_w, box_h, min_size, max_size, metrics, None)
    except DoesNotFit:
        if hyph is None:
            raise
        return _fit(words, measure, box_w, box_h, min_size, max_size, metrics, hyph)


def _bad_pieces(pieces: Sequence[Piece], starts: frozenset[int]) -> frozenset[int]:
    return frozenset(k for k, p in enumerate(pieces) if p.token in starts and p.start == 0)


def _flaws(lines: Sequence[Line], bad: frozenset[int], pieces: Sequence[Piece]) -> int:
    """Lone last word plus short sentence starts left at a line end."""
    index = {id(p): k for k, p in enumerate(pieces)}
    last = lines[-1].pieces
    lone = len(lines) > 1 and not any(p.space_before for p in last[1:])
    n = 1 if lone else 0
    return n + sum(1 for ln in lines[:-1] if index[id(ln.pieces[-1])] in bad)


def _fit(
    words: Sequence[tuple[str, bool]],
    measure: Measure,
    box_w: float,
    box_h: float,
    min_size: int,
    max_size: int,
    metrics: Metrics,
    hyph: Hyphenation | None,
) -> Fit:
    attempt: Callable[[int], list[Piece] | None] = (
        _whole_word_fits(words, measure, box_w, box_h, metrics)
        if hyph is None
        else lambda size: fits(words, measure, box_w, box_h, size, metrics, hyph)
    )
    if attempt(min_size) is None:
        chars = chars_that_fit(words, measure, box_w, box_h, min_size, metrics, hyph)
        total = len(" ".join(w for w, _ in words))
        raise DoesNotFit(min_size, chars, total)
    lo, hi = min_size, max_size + 1  # fits(lo) is true; treat hi as not fitting
    if attempt(max_size) is not None:
        lo = max_size
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if attempt(mid) is not None:
            lo = mid
        else:
            hi = mid
    size = lo
    pieces = attempt(size)
    assert pieces is not None
    max_em = box_w / size
    k = count_lines(pieces, metrics.space, max_em)
    bad = _bad_pieces(pieces, sentence_starts(words))
    lines = balance(pieces, metrics.space, max_em, k, bad)
    flaws = _flaws(lines, bad, pieces)
    if flaws and len(pieces) > k + 1 and metrics.height(k + 1, size) <= box_h + EPS:
        # a lone last word or a stranded sentence start that k lines cannot avoid; k + 1 may
        more = balance(pieces, metrics.space, max_em, k + 1, bad)
        if _flaws(more, bad, pieces) < flaws:
            lines = more
    return Fit(size, tuple(lines))


def _whole_word_fits(
    words: Sequence[tuple[str, bool]],
    measure: Measure,
    box_w: float,
    box_h: float,
    metrics: Metrics,
) -> Callable[[int], list[Piece] | None]:
    """`fits` without hyphenation, for the size search: every piece is a whole word whatever
    the size, so each word is measured once and a size costs one greedy pass."""
    pieces = [Piece(i, 0, len(t), measure(i, 0, len(t)), sb) for i, (t, sb) in enumerate(words)]
    widest = max((p.width for p in pieces), default=0.0)

    def attempt(size: int) -> list[Piece] | None:
        max_em = box_w / size
        if widest > max_em + EPS:
            return None
        if metrics.height(count_lines(pieces, metrics.space, max_em), size) > box_h + EPS:
            return None
        return pieces

    return attempt


def chars_that_fit(
    words: Sequence[tuple[str, bool]],
    measure: Measure,
    box_w: float,
    box_h: float,
    size: int,
    metrics: Metrics,
    hyph: Hyphenation | None = None,
) -> int:
    """How many characters of the text (its first words, spaces included) fit at `size`."""
    lo, hi = 0, len(words)
    while lo < hi:  # largest word count that fits
        mid = (lo + hi + 1) // 2
        if fits(words[:mid], measure, box_w, box_h, size, metrics, hyph) is not None:
            lo = mid
        else:
            hi = mid - 1
    return len(" ".join(w for w, _ in words[:lo]))
