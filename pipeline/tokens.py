"""Access-token expiry: ask the networks that report it, keep the answer, warn in time.

Meta's long-lived tokens and LinkedIn's member tokens last about 60 days; nothing else
fails before the day a target starts refusing every post. Networks that report the
expiry (Meta's debug_token, LinkedIn's token introspection) are asked by
`quotecast check --online` and by the daemon once a day; the answer is kept in the
ledger's `tokens` table, and `status` and an alert warn WARN_DAYS ahead.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from pipeline.config import Settings
from pipeline.ledger import Ledger, TokenRow, utcnow
from pipeline.publishers.base import PublishError

log = logging.getLogger("quotecast.tokens")

#: warn this long before a token expires
WARN_DAYS = 14
#: the daemon asks again when the last answer is older than this
CHECK_EVERY = timedelta(days=1)


@dataclass(frozen=True)
class TokenCheck:
    """One target's answer: expiry (None = never or not reported), or why it failed."""

    target: str
    network: str
    expires_at: datetime | None = None
    note: str = ""
    supported: bool = True
    error: str | None = None


def refresh(
    settings: Settings, ledger: Ledger, now: datetime | None = None, only_due: bool = False
) -> list[TokenCheck]:
    """Ask each enabled target's network about its token and record the answers.

    `only_due`: skip targets whose last answer is younger than CHECK_EVERY (the daemon).
    """
    from pipeline.runner import Runner  # here: `status` reads warnings without the runner

    now = now or utcnow()
    known = {t.target: t for t in ledger.tokens()}
    runner = Runner(settings, ledger)
    out: list[TokenCheck] = []
    try:
        for target in settings.enabled_targets():
            network = settings.targets[target].network
            last = known.get(target)
            if only_due and last is not None and now - last.checked_at < CHECK_EVERY:
                continue
            try:
                info = runner.publisher(target).token_expiry()
            except PublishError as exc:
                out.append(TokenCheck(target, network, error=f"{exc.kind}: {exc}"))
                continue
            except Exception as exc:  # a client library's surprise: its text may hold secrets
                out.append(TokenCheck(target, network, error=f"unexpected {type(exc).__name__}"))
                continue
            if info is None:
                out.append(TokenCheck(target, network, supported=False))
                continue
            ledger.record_token(target, network, info.expires_at, info.note, now)
            out.append(TokenCheck(target, network, info.expires_at, info.note))
    finally:
        runner.close()
    return out


def expiring(rows: list[TokenRow], now: datetime, days: int = WARN_DAYS) -> list[TokenRow]:
    """Tokens that expire within `days` (or already have)."""
    return [r for r in rows if r.expires_at is not None and r.expires_at - now <= timedelta(days)]


def warning_text(row: TokenRow, now: datetime) -> str:
    """One line a person can act on."""
    assert row.expires_at is not None
    left = row.expires_at - now
    when = f"{row.expires_at:%Y-%m-%d %H:%M} UTC"
    if left.total_seconds() <= 0:
        return f"the {row.network} token of target {row.target} expired on {when}; renew it"
    return (
        f"the {row.network} token of target {row.target} expires on {when} "
        f"(in {left.days} days); renew it before then"
    )


__all__ = ["CHECK_EVERY", "WARN_DAYS", "TokenCheck", "expiring", "refresh", "warning_text"]
