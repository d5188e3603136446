"""Links: only http(s); UTM tagging keeps the query as written and the fragment."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.links import LinkError, check_url, page_path, page_url, with_utm


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JAVASCRIPT:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "ftp://example.com/file",
        "file:///etc/passwd",
        "mailto:someone@example.com",
        "//example.com/no-scheme",
        "example.com/page",
        "https://",
        "https://exa mple.com/",
    ],
)
def test_only_http_and_https_are_accepted(url: str) -> None:
    with pytest.raises(LinkError):
        check_url(url)


def test_refusal_says_what_to_do() -> None:
    with pytest.raises(LinkError, match=r"only http and https.*got javascript"):
        check_url("javascript:alert(1)")


@pytest.mark.parametrize("url", ["http://example.com", "HTTPS://Example.com/a?b=c#d"])
def test_http_and_https_pass(url: str) -> None:
    assert check_url(url) == url


def test_utm_added_with_existing_query_and_fragment_kept() -> None:
    url = "https://example.com/a/b?q=one%20two&x=1&flag&plus=a+b#section-2"
    tagged = with_utm(url, "bluesky", "social", "launch")
    assert tagged == (
        "https://example.com/a/b?q=one%20two&x=1&flag&plus=a+b"
        "&utm_source=bluesky&utm_medium=social&utm_campaign=launch#section-2"
    )


def test_existing_utm_values_are_replaced_not_doubled() -> None:
    tagged = with_utm("https://e.com/?utm_source=old&a=1&utm_medium=x", "x", "social", "c")
    assert tagged == "https://e.com/?a=1&utm_source=x&utm_medium=social&utm_campaign=c"


def test_no_campaign_leaves_it_out() -> None:
    assert with_utm("https://e.com/p", "x") == "https://e.com/p?utm_source=x&utm_medium=social"


def test_utm_values_are_encoded() -> None:
    tagged = with_utm("https://e.com/", "x", "social media", "a&b=c")
    query = dict(parse_qsl(urlsplit(tagged).query))
    assert query["utm_medium"] == "social media" and query["utm_campaign"] == "a&b=c"


def test_with_utm_refuses_other_schemes() -> None:
    with pytest.raises(LinkError):
        with_utm("javascript:alert(1)", "x")


def test_item_page_urls() -> None:
    assert page_path("ada") == "quotes/ada.html"
    assert page_url("https://q.example.com/", "ada") == "https://q.example.com/quotes/ada.html"
    assert (
        page_url("https://q.example.com/sub", "ada") == "https://q.example.com/sub/quotes/ada.html"
    )


_key = st.text("abcdefghij_-.%20", min_size=1, max_size=8).filter(lambda k: not k.startswith("utm"))
_value = st.text("abcXYZ0129-._~%2B+!$'()*,;:@/?", max_size=12)


@settings(max_examples=150, deadline=None)
@given(
    params=st.lists(st.tuples(_key, _value), max_size=6),
    fragment=st.one_of(st.none(), st.text("abc-_/=?&#", max_size=10)),
    source=st.sampled_from(["x", "bluesky", "mastodon", "bio", "instagram"]),
)
def test_utm_property(params: list[tuple[str, str]], fragment: str | None, source: str) -> None:
    query = "&".join(f"{k}={v}" for k, v in params)
    url = "https://example.com/path" + (f"?{query}" if query else "")
    if fragment is not None:
        url += "#" + fragment
    tagged = with_utm(url, source, "social", "camp")
    parts = urlsplit(tagged)
    # the original query survives byte for byte, in order, in front of ours
    assert parts.query.startswith(query)
    assert parts.fragment == (fragment or "")
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    utm = [(k, v) for k, v in pairs if k.startswith("utm_")]
    assert utm[-3:] == [("utm_source", source), ("utm_medium", "social"), ("utm_campaign", "camp")]
    # tagging again for another network changes only the UTM values
    again = with_utm(tagged, "bio", "social", "camp")
    assert urlsplit(again).query == parts.query.replace(f"utm_source={source}", "utm_source=bio")
