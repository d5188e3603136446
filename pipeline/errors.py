"""Errors a person sees: one clear message, never a traceback."""

from __future__ import annotations


class QuotecastError(Exception):
    """Base of errors shown to the user as a message; exit status 1 or 2."""

    exit_code = 1


class ConfigError(QuotecastError):
    """The configuration cannot be used; the message names file, line and field."""

    exit_code = 2


class DataDirError(QuotecastError):
    """The data folder cannot be created or written."""

    exit_code = 2


class RenderError(QuotecastError):
    """A card cannot be rendered (missing glyph, quote too long for the format)."""


class CaptionError(QuotecastError):
    """A caption cannot fit the network's limit even after shortening."""


#: what to do about a card or caption that fails in a way nobody planned for
UNUSUAL_TEXT = "check the quote, author, role and headline for unusual characters and replace them"


def unexpected(exc: BaseException, doing: str, advice: str) -> str:
    """One line for an error nobody planned for, so one item's surprise is reported for
    that item (and the rest goes on) instead of ending the whole command."""
    text = " ".join(str(exc).split())[:200]
    what = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return f"{doing} failed unexpectedly ({what}); {advice}"


def is_system_error(exc: BaseException) -> bool:
    """An OSError from the system (full disk, a folder that cannot be written): a problem
    of the machine, not of one item, so it stops the command with its own clear line.
    Libraries' OSErrors without an errno (Pillow's "raster overflow") are the item's."""
    return isinstance(exc, OSError) and exc.errno is not None
