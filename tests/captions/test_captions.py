"""Captions by example: templates and overrides, hashtags, the shortening order, errors."""

from __future__ import annotations

import pytest
from twitter_text import parse_tweet

from pipeline.caption_rules import ELLIPSIS, hashtag, hashtags_for, measure, rule_for
from pipeline.captions import compose, display_url, plain, write_caption
from pipeline.config import Settings
from pipeline.errors import CaptionError
from tests.captions.strategies import make_item, make_settings, within_limit

S = make_settings()
LINK = "https://example.com/insights/culture?ref=home#top"
DRUCKER = make_item(
    role="Management consultant and author",
    link=LINK,
    tags=["leadership", "culture"],
    slug="drucker",
)


def test_x_default_caption() -> None:
    c = write_caption(DRUCKER, "x", "x", S)
    tracked = (
        "https://example.com/insights/culture?ref=home"
        "&utm_source=x&utm_medium=social&utm_campaign=drucker#top"
    )
    assert c.text == (
        "“Culture eats strategy for breakfast.”\n"
        "— Peter Drucker, Management consultant and author\n\n"
        f"{tracked}\n\n#Leadership #Culture"
    )
    assert c.link == tracked and c.facets == ()


def test_each_network_gets_its_own_utm_source() -> None:
    for net in ("x", "bluesky", "mastodon", "threads", "linkedin", "facebook", "webhook"):
        c = write_caption(DRUCKER, net, net, S)
        assert c.link is not None and f"utm_source={net}&" in c.link


def test_campaign_and_medium_from_config_and_utm_off() -> None:
    s = make_settings(links={"utm_campaign": "spring", "utm_medium": "organic"})
    c = write_caption(DRUCKER, "x", "x", s)
    assert c.link is not None and "utm_medium=organic&utm_campaign=spring#top" in c.link
    off = write_caption(DRUCKER, "x", "x", make_settings(links={"utm": False}))
    assert off.link == LINK and LINK in off.text


def test_instagram_says_link_in_bio_and_never_links() -> None:
    c = write_caption(DRUCKER, "instagram", "instagram", S)
    assert "Link in bio" in c.text and "http" not in c.text
    assert c.link is not None and "utm_source=instagram" in c.link
    custom = make_settings(links={"bio_text": "Tap the link in our bio 👆"})
    assert (
        "Tap the link in our bio 👆"
        in write_caption(DRUCKER, "instagram", "instagram", custom).text
    )
    per_target = make_settings(
        targets={"ig": {"network": "instagram", "options": {"link_in_bio": "Lien dans la bio"}}}
    )
    assert "Lien dans la bio" in write_caption(DRUCKER, "ig", "instagram", per_target).text


def test_instagram_story_kind_and_no_link_in_bio_without_destination() -> None:
    s = make_settings(targets={"story": {"network": "instagram", "options": {"kind": "story"}}})
    assert rule_for("instagram", "story", s).name == "instagram_story"
    c = write_caption(DRUCKER, "story", "instagram", s)
    assert "Management consultant" not in c.text and "Link in bio" in c.text
    bare = make_item(tags=["culture"])
    assert "Link in bio" not in write_caption(bare, "instagram", "instagram", S).text


def test_instagram_at_most_30_hashtags_even_with_tags_in_the_quote() -> None:
    quote = " ".join(f"#q{i}" for i in range(25)) + " words here"
    item = make_item(quote=quote, tags=[f"tag{i}" for i in range(30)])
    c = compose(item, "instagram", "instagram", S)
    assert c.caption.text.count("#") <= 30
    assert len(c.parts.hashtags) == 5  # the quote's 25 leave room for 5 of ours


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("machine learning", "#MachineLearning"),
        ("Machine Learning", "#MachineLearning"),
        ("AI", "#AI"),
        ("iPhone", "#iPhone"),
        ("leadership", "#Leadership"),
        ("history of science", "#HistoryOfScience"),
        ("women's history", "#WomensHistory"),
        ("open-source_tools", "#OpenSourceTools"),
        ("C++", "#C"),
        ("機械学習", "#機械学習"),
        ("café culture", "#CaféCulture"),
        ("2024", None),
        ("!!!", None),
    ],
)
def test_hashtag_from_tag(tag: str, expected: str | None) -> None:
    assert hashtag(tag) == expected


def test_hashtags_deduplicated_case_insensitively_and_limited() -> None:
    tags = ["machine learning", "Machine Learning", "MACHINE-LEARNING", "AI", "ai", "2024", "x"]
    assert hashtags_for(tags) == ("#MachineLearning", "#AI", "#X")
    assert hashtags_for(tags, 2) == ("#MachineLearning", "#AI")
    assert hashtags_for(tags, 0) == ()


def test_per_network_hashtag_limits_and_override() -> None:
    tags = ["one", "two", "three", "four", "five", "six"]
    item = make_item(tags=tags)
    assert len(compose(item, "x", "x", S).parts.hashtags) == 2
    assert len(compose(item, "threads", "threads", S).parts.hashtags) == 1
    assert len(compose(item, "mastodon", "mastodon", S).parts.hashtags) == 4
    assert len(compose(item, "instagram", "instagram", S).parts.hashtags) == 6
    s = make_settings(targets={"x": {"network": "x", "options": {"hashtags_max": 0}}})
    assert "#" not in write_caption(item, "x", "x", s).text


def test_emphasis_markers_are_dropped_but_urls_kept() -> None:
    assert plain("weaves *algebraic patterns* just") == "weaves algebraic patterns just"
    assert plain("**bold** and _it_ and snake_case") == "bold and it and snake_case"
    assert plain("see https://e.com/_a_/*b*") == "see https://e.com/_a_/*b*"


# -- the shortening order -------------------------------------------------------------

LONG_QUOTE = (
    "I think the next few years at the frontier of LLMs will be especially formative, and I "
    "am very excited to join the team here and get back to research and development with "
    "people who care deeply about doing it well."
)
LONG_ROLE = "Former Tesla AI head, one of OpenAI’s founding members and creator of nanoGPT"


def _limited(limit: int) -> Settings:
    return make_settings(targets={"x": {"network": "x", "options": {"caption_max": limit}}})


def test_shortening_drops_hashtags_from_the_end_first() -> None:
    item = make_item(LONG_QUOTE, "Andrej Karpathy", LONG_ROLE, LINK, ["ai", "llm"])
    full = compose(item, "x", "x", _limited(1000))
    need = full.length
    c = compose(item, "x", "x", _limited(need - 1))
    assert c.parts.hashtags == ("#Ai",) and c.parts.role == LONG_ROLE
    assert c.parts.quote == LONG_QUOTE


def test_then_the_role_is_shortened_at_a_word_boundary() -> None:
    item = make_item(LONG_QUOTE, "Andrej Karpathy", LONG_ROLE, LINK, ["ai", "llm"])
    no_tags = compose(item, "x", "x", _limited(1000)).length - len(" #Ai #Llm") - 2
    c = compose(item, "x", "x", _limited(no_tags - 12))
    assert c.parts.hashtags == ()
    assert c.parts.role.endswith(ELLIPSIS) and c.parts.role != LONG_ROLE
    head = c.parts.role.removesuffix(ELLIPSIS)
    assert LONG_ROLE.startswith(head) and LONG_ROLE[len(head)] in " ,"
    assert c.parts.quote == LONG_QUOTE
    assert "Andrej Karpathy" in c.caption.text and (c.caption.link or "-") in c.caption.text


def test_then_the_quote_is_cut_at_a_word_boundary() -> None:
    quote = LONG_QUOTE + " " + LONG_QUOTE
    item = make_item(quote, "Andrej Karpathy", LONG_ROLE, LINK, ["ai", "llm"])
    c = compose(item, "x", "x", S)  # 280: everything else had to go
    assert c.parts.hashtags == () and c.parts.role == ""
    assert c.parts.quote.endswith(ELLIPSIS)
    head = c.parts.quote.removesuffix(ELLIPSIS)
    assert quote.startswith(head) and quote[len(head)] in " ,"
    assert compose(item, "x", "x", _limited(1000)).parts.quote == quote
    assert parse_tweet(c.caption.text).weightedLength <= 280
    assert c.caption.text.startswith("“I think") and (c.caption.link or "-") in c.caption.text
    assert "— Andrej Karpathy\n" in c.caption.text


def test_cjk_quote_without_spaces_is_cut_between_characters() -> None:
    quote = "人工知能の研究は" * 60
    item = make_item(quote, "山田太郎", None, LINK)
    c = compose(item, "x", "x", S)
    assert parse_tweet(c.caption.text).weightedLength <= 280
    assert quote.startswith(c.parts.quote.removesuffix(ELLIPSIS))
    assert len(c.parts.quote) > 50  # CJK weighs 2 on X: about 100 characters fit


def test_one_overlong_word_is_cut_inside_it() -> None:
    item = make_item("x" * 900, "Ada")
    c = compose(item, "bluesky", "bluesky", S)
    assert c.parts.quote.startswith("xxx") and c.parts.quote.endswith(ELLIPSIS)
    assert within_limit("bluesky", c.caption.text)


def test_author_and_link_are_never_cut_clear_error_instead() -> None:
    item = make_item("Short.", "Someone " * 40, None, LINK)
    with pytest.raises(CaptionError, match=r"cannot fit 280 weighted characters") as err:
        write_caption(item, "x", "x", S)
    assert "shorten the author, the link or the template" in str(err.value)
    long_link = "https://example.com/" + "a" * 600
    with pytest.raises(CaptionError, match="threads cannot fit 500"):
        write_caption(make_item(link=long_link), "threads", "threads", S)
    # on X and Mastodon any link counts 23, so the same link is fine there
    assert within_limit("x", write_caption(make_item(link=long_link), "x", "x", S).text)


# -- templates ------------------------------------------------------------------------


def test_template_precedence_item_target_config_default() -> None:
    s = make_settings(
        captions={"x": "net {{ author }}", "xmain": "tgt-conf {{ author }}"},
        targets={
            "xmain": {"network": "x"},
            "xsecond": {"network": "x", "caption": "target {{ author }}"},
        },
    )
    assert write_caption(DRUCKER, "x", "x", s).text == "net Peter Drucker"
    assert write_caption(DRUCKER, "xmain", "x", s).text == "tgt-conf Peter Drucker"
    assert write_caption(DRUCKER, "xsecond", "x", s).text == "target Peter Drucker"
    own = make_item(caption="{{ quote }} ({{ network }}) {{ link }}", link=LINK, slug="own")
    text = write_caption(own, "xsecond", "x", s).text
    assert text.startswith("Culture eats strategy for breakfast. (x) https://example.com/")


def test_template_variables() -> None:
    tpl = (
        "{{ brand }}|{{ handle }}|{{ slug }}|{{ target }}|{{ hashtag_list|length }}|{{ headline }}"
    )
    item = make_item(tags=["a", "b"], caption=tpl, slug="s1")
    s = make_settings(brand={"name": "Acme", "handle": "@acme"})
    assert write_caption(item, "outbox", "outbox", s).text == "Acme|@acme|s1|outbox|2|"


def test_template_errors_are_clear() -> None:
    bad = make_item(caption="{{ quote }", slug="bad")
    with pytest.raises(CaptionError, match=r"queue/bad.toml: caption: caption template line 1"):
        write_caption(bad, "x", "x", S)
    unknown = make_item(caption="{{ nope }}", slug="unknown")
    with pytest.raises(CaptionError, match="'nope' is undefined; the names it may use are"):
        write_caption(unknown, "x", "x", S)
    sneaky = make_item(caption="{{ quote.__class__.__mro__ }}", slug="sneaky")
    with pytest.raises(CaptionError):
        write_caption(sneaky, "x", "x", S)


def test_bad_target_option_is_reported() -> None:
    s = make_settings(targets={"m": {"network": "mastodon", "options": {"caption_max": "lots"}}})
    with pytest.raises(CaptionError, match=r"targets.m.options.caption_max"):
        write_caption(DRUCKER, "m", "mastodon", s)


def test_unknown_network_gets_a_conservative_rule() -> None:
    rule = rule_for("pinterest", "pin", S)
    assert rule.limit == 500 and rule.links
    assert within_limit("threads", write_caption(DRUCKER, "pin", "pinterest", S).text)


# -- links on networks ----------------------------------------------------------------


def test_item_page_is_the_link_when_there_is_a_body_and_base_url() -> None:
    item = make_item(body="Some *commentary*.", slug="ada")
    assert write_caption(item, "x", "x", S).link is None
    s = make_settings(site={"base_url": "https://quotes.example.com/"})
    c = write_caption(item, "x", "x", s)
    assert c.link == (
        "https://quotes.example.com/quotes/ada.html?utm_source=x&utm_medium=social&utm_campaign=ada"
    )
    assert c.link in c.text


def test_bluesky_shows_a_short_link_and_facets_the_full_one() -> None:
    c = write_caption(DRUCKER, "bluesky", "bluesky", S)
    shown = display_url(c.link or "")
    assert shown == "example.com/insights/culture" and shown in c.text
    raw = c.text.encode()
    link = next(f for f in c.facets if f.kind == "link")
    assert raw[link.byte_start : link.byte_end].decode() == shown and link.value == c.link
    tags = [raw[f.byte_start : f.byte_end].decode() for f in c.facets if f.kind == "tag"]
    assert tags == ["#Leadership", "#Culture"]


def test_bluesky_facet_offsets_after_multibyte_text() -> None:
    item = make_item("👨‍👩‍👧‍👦 家族 café 🇬🇧", "Zoë", None, LINK, ["日本"])
    c = write_caption(item, "bluesky", "bluesky", S)
    raw = c.text.encode()
    spans = {raw[f.byte_start : f.byte_end].decode(): f for f in c.facets}
    assert set(spans) == {"example.com/insights/culture", "#日本"}
    assert spans["#日本"].value == "日本"


def test_display_url_shortens_long_paths() -> None:
    assert display_url("https://www.reuters.com/business/autos/x-y-z-2026/?utm=1") == (
        "reuters.com/business/autos/x-…"
    )
    assert display_url("https://example.com/") == "example.com"


@pytest.mark.parametrize(
    ("text", "counter", "expected"),
    [
        ("hello", "x_weighted", 5),
        ("日本", "x_weighted", 4),
        ("😀", "x_weighted", 2),
        ("see https://example.com/" + "a" * 100, "x_weighted", 4 + 23),
        ("👨‍👩‍👧‍👦", "graphemes", 1),
        ("👨‍👩‍👧‍👦", "chars", 11),
        ("a https://example.com/" + "b" * 100 + " c", "mastodon", 2 + 23 + 2),
        ("a 😀", "threads", 2 + 4),
        ("é日", "threads", 2),
    ],
)
def test_measure(text: str, counter: str, expected: int) -> None:
    assert measure(text, counter) == expected


def test_x_refuses_characters_twitter_text_calls_invalid() -> None:
    with pytest.raises(CaptionError, match="characters X refuses"):
        write_caption(make_item(quote="odd \ufffe char"), "x", "x", S)
