"""Pure text preparation: typography, emphasis, tokens, clusters, word-level bidi."""

from __future__ import annotations

import pytest

from pipeline.render.bidi import levels, reorder
from pipeline.render.text import (
    clusters,
    emphasis_spans,
    is_emoji,
    plain,
    prepare_quote,
    smarten,
    strip_outer_quotes,
    tokenize,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('He said "hello" to me', "He said “hello” to me"),
        ("It's the '90s", "It’s the ’90s"),
        ("a 'quoted' word", "a ‘quoted’ word"),
        ("wait -- what", "wait — what"),
        ("one - two", "one – two"),
        ("pages 10-20", "pages 10–20"),
        ("and so...", "and so…"),
        (
            "join the [Anthropic] team and get back to R&D.",
            "join the [Anthropic] team and get back to R&D.",
        ),
        ("see https://x.com/a--b's", "see https://x.com/a--b's"),
    ],
)
def test_smarten(raw: str, expected: str) -> None:
    assert smarten(raw) == expected


def test_outer_quotes_are_removed_once() -> None:
    assert strip_outer_quotes("“Stay hungry.”") == "Stay hungry."
    assert strip_outer_quotes('"Stay hungry."') == "Stay hungry."
    # two quotations side by side keep their marks
    assert strip_outer_quotes('"A" and "B"') == '"A" and "B"'


def test_emphasis_spans_and_plain() -> None:
    assert emphasis_spans("a *b c* d") == [("a ", "text"), ("b c", "emph"), (" d", "text")]
    assert emphasis_spans("5 * 3 = 15") == [("5 * 3 = 15", "text")]
    assert plain("The *Analytical Engine* weaves") == "The Analytical Engine weaves"


def test_tokens_carry_styles_and_closing_mark() -> None:
    tokens = prepare_quote("weaves *algebraic patterns* just", "”")
    assert [t.text for t in tokens] == ["weaves", "algebraic", "patterns", "just”"]
    assert tokens[1].segments == (("algebraic", "emph"),)
    assert tokens[-1].segments == (("just", "text"), ("”", "mark"))
    assert [t.space_before for t in tokens] == [False, True, True, True]


def test_a_spaced_dash_never_starts_a_line() -> None:
    tokens = tokenize("iterate — the team")
    assert [t.text for t in tokens] == ["iterate\u00a0—", "the", "team"]


def test_cjk_breaks_between_characters_but_keeps_punctuation_attached() -> None:
    tokens = tokenize("我们一起，建设 AI")
    assert [t.text for t in tokens] == ["我", "们", "一", "起，", "建", "设", "AI"]
    assert [t.space_before for t in tokens] == [False, False, False, False, False, False, True]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("e\u0301a", ["e\u0301", "a"]),
        ("👩🏽‍💻!", ["👩🏽‍💻", "!"]),
        ("👨‍👩‍👧‍👦", ["👨‍👩‍👧‍👦"]),
        ("🇬🇧🇫🇷", ["🇬🇧", "🇫🇷"]),
        ("❤️x", ["❤️", "x"]),
    ],
)
def test_clusters(text: str, expected: list[str]) -> None:
    assert clusters(text) == expected


def test_emoji_detection() -> None:
    assert is_emoji("🚀") and is_emoji("❤️") and is_emoji("👍🏿") and is_emoji("🇬🇧")
    assert not is_emoji("A") and not is_emoji("❤\ufe0e") and not is_emoji("©")


def test_bidi_levels_and_reordering() -> None:
    # left-to-right paragraph with a right-to-left run: the run is reversed in place
    assert reorder([0, 1, 1, 0]) == [0, 2, 1, 3]
    # right-to-left paragraph with an embedded Latin run kept in reading order
    assert reorder([1, 2, 2, 1]) == [3, 1, 2, 0]
    # UAX #9 levels: a number after Latin inside Hebrew joins the Latin run
    lv = levels("קניתי iPhone 15 חדש", "rtl")
    assert lv[6:15] == (2,) * 9 and lv[0] == 1 and lv[-1] == 1
    # a right-to-left mark makes the neutral between it and Hebrew right to left
    assert levels("abc ! שלום", "ltr")[4] == 0 and levels("abc \u200f! שלום", "ltr")[5] == 1
