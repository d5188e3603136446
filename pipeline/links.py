"""Outgoing links: only http(s), and every link tagged with UTM parameters.

Pure functions; existing query parameters and the fragment are kept.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

UTM_KEYS = ("utm_source", "utm_medium", "utm_campaign")


class LinkError(ValueError):
    """A link that must not be published."""


def check_url(url: str) -> str:
    """Accept absolute http(s) URLs with a host; refuse everything else by name."""
    value = url.strip()
    parts = urlsplit(value)
    if parts.scheme.lower() not in ("http", "https"):
        scheme = parts.scheme or "no scheme"
        raise LinkError(f"only http and https links are accepted (got {scheme}); use a https:// URL")
    if not parts.hostname:
        raise LinkError("link has no host; use a full URL such as https://example.com/page")
    if any(ch.isspace() for ch in value):
        raise LinkError("link contains spaces; encode them as %20")
    return value


def with_utm(url: str, source: str, medium: str = "social", campaign: str | None = None) -> str:
    """Add utm_source/medium/campaign; keep other parameters, their order, and the fragment.

    Existing UTM values are replaced so a link never carries two sources.
    """
    parts = urlsplit(check_url(url))
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in UTM_KEYS]
    query.append(("utm_source", source))
    query.append(("utm_medium", medium))
    if campaign:
        query.append(("utm_campaign", campaign))
    return urlunsplit(parts._replace(query=urlencode(query)))
