"""The pure layout: balanced breaking, bisection for the size, splitting long words.

A fake measure (each letter has a fixed width in em) stands in for fonts, so
these properties run fast over many random texts.
"""

from __future__ import annotations

import itertools
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.render import layout
from pipeline.render.layout import DoesNotFit, Metrics, Piece

METRICS = Metrics(space=0.25, ascent=0.8, descent=0.25, pitch=1.2)
_WIDTHS = {c: 0.35 + 0.05 * (i % 7) for i, c in enumerate(string.ascii_letters + ".,;:/-")}


def fake_measure(words: list[tuple[str, bool]]) -> layout.Measure:
    def measure(i: int, start: int, end: int) -> float:
        return sum(_WIDTHS.get(c, 0.5) for c in words[i][0][start:end])

    return measure


def as_words(text: str) -> list[tuple[str, bool]]:
    return [(w, i > 0) for i, w in enumerate(text.split())]


words_st = st.lists(
    st.text(alphabet=string.ascii_lowercase + ".,", min_size=1, max_size=14),
    min_size=1,
    max_size=40,
)
box_st = st.tuples(st.integers(300, 1400), st.integers(200, 1400))


def _fits(words: list[tuple[str, bool]], box: tuple[int, int], size: int) -> bool:
    return layout.fits(words, fake_measure(words), box[0], box[1], size, METRICS) is not None


@settings(max_examples=150, deadline=None)
@given(words_st, box_st, st.integers(8, 40), st.integers(0, 120))
def test_fit_is_the_largest_size_that_fits_and_stays_in_the_box(
    raw: list[str], box: tuple[int, int], smin: int, extra: int
) -> None:
    words = [(w, i > 0) for i, w in enumerate(raw)]
    smax = smin + extra
    try:
        fit = layout.fit_text(words, fake_measure(words), box[0], box[1], smin, smax, METRICS)
    except DoesNotFit as exc:
        assert not _fits(words, box, smin)
        assert 0 <= exc.chars < exc.total
        return
    assert smin <= fit.size <= smax
    assert fit.size == smax or not _fits(words, box, fit.size + 1)
    max_em = box[0] / fit.size
    for line in fit.lines:
        assert line.width <= max_em + 1e-6
    assert METRICS.height(len(fit.lines), fit.size) <= box[1] + 1e-6
    # every character of every word appears once, in order
    rebuilt = [
        (words[p.token][0][p.start : p.end], p.token) for line in fit.lines for p in line.pieces
    ]
    for token in range(len(words)):
        assert "".join(t for t, i in rebuilt if i == token) == words[token][0]
    assert [i for _, i in rebuilt] == sorted(i for _, i in rebuilt)


@settings(max_examples=150, deadline=None)
@given(words_st, words_st, box_st)
def test_a_longer_quote_never_gets_a_larger_size(
    raw: list[str], more: list[str], box: tuple[int, int]
) -> None:
    short = [(w, i > 0) for i, w in enumerate(raw)]
    longer = [(w, i > 0) for i, w in enumerate(raw + more)]

    def size(words: list[tuple[str, bool]]) -> int:
        try:
            return layout.fit_text(
                words, fake_measure(words), box[0], box[1], 10, 140, METRICS
            ).size
        except DoesNotFit:
            return 0

    assert size(longer) <= size(short)


def _cost(lines: list[list[Piece]], max_em: float) -> float:
    total = 0.0
    for line in lines:
        width = sum(p.width for p in line) + METRICS.space * sum(p.space_before for p in line[1:])
        total += (max_em - width) ** 2
    return total


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(1, 9), min_size=2, max_size=9), st.integers(10, 30))
def test_balance_is_the_least_ragged_breaking(lengths: list[int], width_tenths: int) -> None:
    max_em = width_tenths / 2
    pieces = [Piece(i, 0, n, n * 0.5, i > 0) for i, n in enumerate(lengths)]
    k = layout.count_lines(pieces, METRICS.space, max_em)
    if any(p.width > max_em for p in pieces):
        return
    got = layout.balance(pieces, METRICS.space, max_em, k)
    assert len(got) == k
    got_cost = _cost([list(line.pieces) for line in got], max_em)
    n = len(pieces)
    best = None
    for cuts in itertools.combinations(range(1, n), k - 1):
        bounds = [0, *cuts, n]
        lines = [pieces[a:b] for a, b in itertools.pairwise(bounds)]
        widths = [sum(p.width for p in line) + METRICS.space * (len(line) - 1) for line in lines]
        if any(w > max_em + 1e-9 for w in widths):
            continue
        lone = len(lines[-1]) == 1 and n > k
        cost = _cost(lines, max_em) + (4 * max_em * max_em if lone else 0)
        best = cost if best is None else min(best, cost)
    assert best is not None
    lone_got = len(got[-1].pieces) == 1 and n > k
    assert got_cost + (4 * max_em * max_em if lone_got else 0) <= best + 1e-6


def test_no_lone_word_on_the_last_line_when_a_break_avoids_it() -> None:
    words = as_words("Culture eats strategy for breakfast.")
    m = fake_measure(words)
    fit = layout.fit_text(words, m, 280, 400, 40, 40, METRICS)
    last = fit.lines[-1].pieces
    assert len(fit.lines) > 1 and len(last) > 1


def test_lines_are_balanced_not_greedy() -> None:
    words = as_words("aaaa bbbb cccc dddd eeee ffff gggg")
    m = fake_measure(words)
    fit = layout.fit_text(words, m, 500, 1000, 40, 40, METRICS)
    widths = [line.width for line in fit.lines]
    assert len(widths) == 2 and max(widths) - min(widths) < 3  # 4 + 3 words, not 5 + 2


def test_a_word_too_wide_is_never_cut_without_a_hyphen() -> None:
    word = "comprehensibility"
    words = [(word, False)]
    m = fake_measure(words)
    assert layout.split_word(0, word, m, 6.0, None) is None  # no hyphenation: it does not fit
    hyph = layout.Hyphenation(lambda i: (3, 6, 9, 11, 14), 0.5)
    parts = layout.split_word(0, word, m, 6.0, hyph)
    assert parts is not None and len(parts) > 1
    assert "".join(word[a:b] for a, b in parts) == word
    for a, b in parts[:-1]:
        assert b in (3, 6, 9, 11, 14) and m(0, a, b) + 0.5 <= 6.0


def test_hyphenation_only_when_the_minimum_size_overflows() -> None:
    words = as_words("an extraordinarily comprehensible sentence")
    m = fake_measure(words)
    hyph = layout.Hyphenation(lambda i: tuple(range(2, len(words[i][0]) - 2)), 0.5)
    fit = layout.fit_text(words, m, 300, 1000, 20, 60, METRICS, hyph)
    assert not any(p.hyphen for line in fit.lines for p in line.pieces)  # fits unhyphenated
    narrow = layout.fit_text(words, m, 120, 1000, 30, 30, METRICS, hyph)
    assert any(p.hyphen for line in narrow.lines for p in line.pieces)


def test_too_long_says_how_many_characters_fit() -> None:
    words = as_words(" ".join(["word"] * 200))
    with pytest.raises(DoesNotFit) as err:
        layout.fit_text(words, fake_measure(words), 400, 300, 30, 60, METRICS)
    assert err.value.size == 30
    assert 0 < err.value.chars < err.value.total == 999
    text = " ".join(w for w, _ in words)
    assert _fits(as_words(text[: err.value.chars]), (400, 300), 30)
    assert not _fits(as_words(text[: err.value.chars + 5]), (400, 300), 30)


def test_a_single_enormous_word_is_refused_not_cut() -> None:
    words = [("x" * 990, False)]
    with pytest.raises(DoesNotFit) as err:
        layout.fit_text(words, fake_measure(words), 400, 300, 30, 60, METRICS)
    assert err.value.chars == 0 and err.value.total == 990
