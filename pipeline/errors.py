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
