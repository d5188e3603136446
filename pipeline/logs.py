"""Logging set-up: one line per event, as text or JSON, with secrets scrubbed."""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from datetime import UTC, datetime

_SECRET_ENV = re.compile(r"^QUOTECAST_.*(PASSWORD|SECRET|TOKEN|KEY)", re.I)


def _secret_values() -> list[str]:
    """Values of secret-looking QUOTECAST_ variables, to scrub from any log line."""
    return [v for k, v in os.environ.items() if _SECRET_ENV.match(k) and len(v) >= 6]


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


def configure(level: str = "INFO", fmt: str = "text", extra_secrets: list[str] | None = None) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(Scrubber(extra_secrets))
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # client libraries log request details at DEBUG; keep them quiet unless asked
    for noisy in ("urllib3", "requests_oauthlib", "oauthlib", "httpx", "httpcore", "PIL"):
        logging.getLogger(noisy).setLevel(max(logging.INFO, root.level))
