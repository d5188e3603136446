"""What follows a pass that posted something: rebuild the bio page (and deploy it)."""

from __future__ import annotations

import logging

from pipeline.config import Settings

log = logging.getLogger("quotecast")


def after_posting(settings: Settings) -> None:
    """Rebuild the link-in-bio site; a failure here is reported, never fatal."""
    try:
        from pipeline import bio
    except ImportError:
        return
    build = getattr(bio, "build_and_deploy", None)
    if build is None:
        return
    try:
        build(settings)
    except Exception as exc:  # the posts are out; the site can be rebuilt with `quotecast bio`
        log.error("bio page not rebuilt: %s (run `quotecast bio` to retry)", exc)
