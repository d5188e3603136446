"""What follows a pass that posted something: rebuild the bio page (and deploy it)."""

from __future__ import annotations

import logging

from pipeline.config import Settings

log = logging.getLogger("quotecast")


def after_posting(settings: Settings) -> None:
    """Rebuild the link-in-bio site; a failure here is reported, never fatal.

    The posts are already out and recorded: a site that cannot be built or
    deployed must not turn a good pass into a failed one. `quotecast bio` retries.
    """
    try:
        from pipeline.bio import build_and_deploy

        build_and_deploy(settings)  # logs a failed deploy itself
    except Exception as exc:
        log.error("bio page not rebuilt: %s (run `quotecast bio` to retry)", exc)
