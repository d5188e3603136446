"""Logging set-up: one line per event, as text or JSON, with secrets scrubbed."""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from datetime import UTC, datetime
from typing import TextIO

_SECRET_ENV = re.compile(r"^QUOTECAST_.*(PASSWORD|SECRET|TOKEN|KEY)", re.I)


def is_secret_name(name: str) -> bool:
    """A QUOTECAST_ variable that holds a credential (…_PASSWORD, …_SECRET, …_TOKEN, …_KEY)."""
    return _SECRET_ENV.match(name) is not None


def _secret_values() -> list[str]:
    """Values of secret-looking QUOTECAST_ variables, to scrub from any log line."""
    return [v for k, v in os.environ.items() if is_secret_name(k) and len(v) >= 6]


class Scrubber(logging.Filter):
    """Last line of defence: a secret value never reaches a log line."""

    def __init__(self, extra: list[str] | None = None) -> None:
        super().__init__()
        self.secrets = _secret_values() + (extra or [])

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        msg = record.getMessage()
        for s in self.secrets:
            msg = msg.replace(s, "***")
        record.msg, record.args = msg, None
        for key in EVENT_FIELDS:  # structured copies of the message's parts
            value = getattr(record, key, None)
            if isinstance(value, str):
                for s in self.secrets:
                    value = value.replace(s, "***")
                setattr(record, key, value)
        return True


EVENT_FIELDS = ("item", "target", "outcome", "url", "error")
_EVENT = re.compile(r"^%s → %s: (?:(\w+))?")
_OUTCOME_WORDS = {"attempt": "retrying", "cannot": "error", "find": "find_failed"}


class EventFields(logging.Filter):
    """Give the runner's "slug → target: outcome …" lines item/target/outcome/url/error
    fields, so `--log-format json` lines can be filtered by machines."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if hasattr(record, "item") or not isinstance(args, tuple) or len(args) < 2:
            return True
        m = _EVENT.match(str(record.msg))
        if m is None:
            return True
        record.item, record.target = str(args[0]), str(args[1])
        word = m.group(1)
        if word is None:
            return True
        outcome = _OUTCOME_WORDS.get(word, word)
        record.outcome = outcome
        last = str(args[-1]) if len(args) > 2 else None
        if outcome in ("posted", "reconciled") and last and "://" in last:
            record.url = last
        elif (
            outcome in ("failed", "unknown", "error", "retrying", "find_failed", "deferred")
            and len(args) > 2
        ):
            record.error = str(args[3]) if outcome == "retrying" and len(args) > 3 else last
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in ("item", "target", "outcome", "url", "error"):
            if hasattr(record, key):
                data[key] = getattr(record, key)
        return json.dumps(data, ensure_ascii=False)


def configure(
    level: str = "INFO",
    fmt: str = "text",
    extra_secrets: list[str] | None = None,
    stream: TextIO | None = None,
) -> None:
    """Log to stderr (commands) or to `stream` (the daemon logs to stdout)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(EventFields())
    handler.addFilter(Scrubber(extra_secrets))
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    handler.addFilter(QuietLibraries())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


class QuietLibraries(logging.Filter):
    """Client libraries log request details (headers, tokens) at DEBUG: never print those.

    A handler filter rather than changing the libraries' logger levels, so that
    configuring our output never changes what other code (or a test) captures.
    """

    NOISY = ("urllib3", "requests_oauthlib", "oauthlib", "httpx", "httpcore", "PIL", "tweepy")

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.INFO:
            return True
        return not any(record.name == n or record.name.startswith(n + ".") for n in self.NOISY)
