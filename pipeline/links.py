"""Outgoing links: only http(s), and every link tagged with UTM parameters.

Pure functions. Tagging edits the query string as text, so existing parameters
keep their exact spelling and order, and the fragment is kept.
"""

from __future__ import annotations

from urllib.parse import quote_plus, unquote_plus, urlsplit, urlunsplit

UTM_KEYS = ("utm_source", "utm_medium", "utm_campaign")

#: where an item's own page lives on the bio site (items with commentary but no link)
PAGES_DIR = "quotes"


class LinkError(ValueError):
    """A link that must not be published."""


def check_url(url: str) -> str:
    """Accept absolute http(s) URLs with a host; refuse everything else by name."""
    value = url.strip()
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError as exc:  # e.g. "http://[::1": an unclosed IPv6 address
        raise LinkError(
            f"not a valid URL ({exc}); use a full URL such as https://example.com/page"
        ) from None
    if parts.scheme.lower() not in ("http", "https"):
        scheme = parts.scheme or "no scheme"
        raise LinkError(
            f"only http and https links are accepted (got {scheme}); use a https:// URL"
        )
    if not host:
        raise LinkError("link has no host; use a full URL such as https://example.com/page")
    if any(ch.isspace() for ch in value):
        raise LinkError("link contains spaces; encode them as %20")
    return value


def _is_utm(pair: str) -> bool:
    key = pair.split("=", 1)[0]
    return unquote_plus(key) in UTM_KEYS


def with_utm(url: str, source: str, medium: str = "social", campaign: str | None = None) -> str:
    """Add utm_source/medium/campaign; keep other parameters as written, and the fragment.

    Existing UTM values are replaced so a link never carries two sources.
    """
    parts = urlsplit(check_url(url))
    kept = [p for p in parts.query.split("&") if p and not _is_utm(p)]
    ours = [("utm_source", source), ("utm_medium", medium)]
    if campaign:
        ours.append(("utm_campaign", campaign))
    kept.extend(f"{k}={quote_plus(v)}" for k, v in ours)
    return urlunsplit(parts._replace(query="&".join(kept)))


def page_path(slug: str) -> str:
    """The site-relative path of an item's own page, e.g. 'quotes/lovelace.html'."""
    return f"{PAGES_DIR}/{slug}.html"


def absolute(base_url: str, path: str) -> str:
    """`path` under the site's public base URL (which must be http(s))."""
    return check_url(base_url).rstrip("/") + "/" + path.lstrip("/")


def page_url(base_url: str, slug: str) -> str:
    """The public URL of an item's own page on the bio site."""
    return absolute(base_url, page_path(slug))
