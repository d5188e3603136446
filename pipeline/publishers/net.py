"""HTTP helpers shared by the adapters that speak to their APIs with plain `requests`.

Why here: the Graph (Instagram, Threads, Facebook) and LinkedIn adapters must tell
"the request never left" from "it may have arrived", read the waits a network gives,
and keep the access token out of every message — the same way each time.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import requests

_NEVER_SENT = {"NewConnectionError", "NameResolutionError", "ConnectTimeoutError", "gaierror"}


def _causes(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo += [current.__cause__, current.__context__, getattr(current, "reason", None)]
        todo += [a for a in current.args if isinstance(a, BaseException)]


def maybe_sent(exc: BaseException) -> bool:
    """False only when the request provably never left: refused, unresolvable, connect timeout."""
    if isinstance(exc, requests.ConnectTimeout):
        return False
    for cause in _causes(exc):
        if isinstance(cause, ConnectionRefusedError) or type(cause).__name__ in _NEVER_SENT:
            return False
    return True


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from Retry-After (seconds or HTTP date), if the answer gave one."""
    value = headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            return None


def scrub(text: str, secrets: Iterable[str]) -> str:
    """`text` with every secret replaced; for server messages quoted in our errors."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "[redacted]")
    return text


def short(text: object, limit: int = 300) -> str:
    """One line of at most `limit` characters, for quoting a server's answer."""
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def parse_time(value: object) -> datetime | None:
    """A Graph/LinkedIn timestamp (ISO 8601 with +0000, or epoch ms) as aware UTC."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value / 1000, UTC)
    if not isinstance(value, str) or not value:
        return None
    text = value.replace("Z", "+00:00")
    if len(text) > 5 and text[-5] in "+-" and text[-3] != ":":
        text = f"{text[:-2]}:{text[-2:]}"  # +0000 → +00:00
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


__all__ = ["maybe_sent", "parse_time", "retry_after", "scrub", "short"]
