"""Alerts: tell a person, through apprise, when something needs them.

The daemon does not watch only its own passes: it reads the ledger, so a post that
failed in a `publish --now` run is alerted too. What is sent, once each:

* a `failed` or `unknown` post (once per failure: a post retried and failing again
  alerts again);
* an auth failure of a target: the runner fails one post per target per pass and
  holds the target's other posts back, so this is one alert per target per pass,
  not one per item;
* an item whose `publish_at` was missed by more than `misfire_grace`;
* a queue that runs dry within `schedule.runway_alert_slots` slots, once until the
  queue is filled again;
* a target stopped by its network (`blocked`: a spam restriction, a retired API
  version), once per target and day however many passes it stops;
* an access token that expires within 14 days, once per target and expiry date.

"Once" is kept in the ledger's `alerts_sent` table, claimed atomically before sending,
so two processes (or a restart) never send the same alert twice; an alert that could
not be delivered is released and tried again at the next check. Notify URLs often
hold tokens: they are never logged.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from pipeline.config import Settings
from pipeline.ledger import Ledger, PostRow, TokenRow

if TYPE_CHECKING:
    from pipeline.schedule import Missed, Runway

log = logging.getLogger("quotecast.alerts")

#: an error_kind that is not a failure of the post (the daemon re-queues such rows)
NOT_ALERTED_KINDS = frozenset({"interrupted"})


def _local(at: datetime, tz: ZoneInfo) -> str:
    return at.astimezone(tz).strftime("%a %Y-%m-%d %H:%M %Z")


class _HideUrls(logging.Filter):
    """apprise names a URL it cannot use in its log line; the URL may hold a token."""

    def __init__(self, urls: Sequence[str]) -> None:
        super().__init__()
        self.urls = [u for u in urls if u]

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()
        hidden = msg
        for n, url in enumerate(self.urls, start=1):
            hidden = hidden.replace(url, f"<notify URL #{n}>")
        if hidden != msg:
            record.msg, record.args = hidden, None
        return True


def _guard_apprise_log(urls: Sequence[str]) -> None:
    logger = logging.getLogger("apprise")
    for old in [f for f in logger.filters if isinstance(f, _HideUrls)]:
        logger.removeFilter(old)
    logger.addFilter(_HideUrls(urls))
    if logger.level == logging.NOTSET:  # its INFO lines ("Notifying 1 service(s)") are noise
        logger.setLevel(logging.WARNING)


class Alerter:
    """Sends each alert once through the configured apprise URLs."""

    def __init__(self, settings: Settings, ledger: Ledger, notifier: Any = None) -> None:
        self.settings = settings
        self.ledger = ledger
        self.tz = ZoneInfo(settings.schedule.timezone)
        self.brand = settings.brand.name
        self._notifier = notifier

    @property
    def enabled(self) -> bool:
        return bool(self.settings.notify) or self._notifier is not None

    def notifier(self) -> Any:
        if self._notifier is None:
            import apprise

            _guard_apprise_log(self.settings.notify)
            ap = apprise.Apprise()
            for n, url in enumerate(self.settings.notify, start=1):
                if not ap.add(url):
                    log.warning("notify URL #%d is not understood by apprise; it is skipped", n)
            self._notifier = ap
        return self._notifier

    # -- sending -------------------------------------------------------------------------------
    def send(self, key: str, title: str, body: str, kind: str = "failure") -> bool:
        """Send once per key; True if this call delivered it."""
        if not self.enabled or not self.ledger.first_alert(key):
            return False
        import apprise

        notify_type = {
            "failure": apprise.NotifyType.FAILURE,
            "warning": apprise.NotifyType.WARNING,
        }.get(kind, apprise.NotifyType.INFO)
        try:
            ok = bool(self.notifier().notify(title=title, body=body, notify_type=notify_type))
        except Exception as exc:  # a broken notifier must never stop publishing
            log.warning("alert not delivered (%s): %s", type(exc).__name__, title)
            ok = False
        if not ok:
            self.ledger.forget_alert(key)
            log.warning("alert not delivered, will try again: %s", title)
            return False
        log.info("alert sent: %s", title, extra={"outcome": "alert"})
        return True

    # -- what to alert -------------------------------------------------------------------------
    def check_rows(self, rows: Iterable[PostRow]) -> int:
        """One alert per failed/unknown post; auth failures as one per target and pass."""
        sent = 0
        for r in rows:
            if r.state not in ("failed", "unknown") or r.error_kind in NOT_ALERTED_KINDS:
                continue
            when = r.updated_at.isoformat()
            error = r.last_error or "(no reason recorded)"
            if r.state == "failed" and r.error_kind == "blocked":
                key = f"blocked:{r.target}:{r.updated_at.date().isoformat()}"
                title = f"{self.brand}: {r.target} was stopped by its network"
                body = (
                    f"Target {r.target} ({r.network}) was stopped for the pass: {error}\n"
                    f"Its other posts are held back. When it is settled, run: "
                    f"quotecast retry --target {r.target}"
                )
            elif r.state == "failed" and r.error_kind == "auth":
                key = f"auth:{r.target}:{when}:{r.slug}"
                title = f"{self.brand}: {r.target} refused its credentials"
                body = (
                    f"Target {r.target} ({r.network}) refused its credentials: {error}\n"
                    f"Its posts are held back. Fix the credentials in the environment or .env, "
                    f"then run: quotecast retry --target {r.target}"
                )
            elif r.state == "failed":
                key = f"failed:{r.slug}:{r.target}:{when}"
                title = f"{self.brand}: post failed: {r.slug} → {r.target}"
                body = (
                    f"{r.slug} → {r.target} failed after {r.attempts} attempt(s): {error}\n"
                    f"Fix the cause, then run: quotecast retry {r.slug} --target {r.target}"
                )
            else:
                key = f"unknown:{r.slug}:{r.target}:{when}"
                title = f"{self.brand}: post may or may not be out: {r.slug} → {r.target}"
                body = (
                    f"{r.slug} → {r.target}: {error}\nCheck the account, then run: "
                    f"quotecast resolve {r.slug} {r.target} --posted URL   (or --not-posted)"
                )
            sent += self.send(key, title, body)
        return sent

    def check_tokens(self, rows: Sequence[TokenRow], now: datetime) -> int:
        """One warning per target and expiry date when its token expires within 14 days."""
        from pipeline.tokens import expiring, warning_text

        sent = 0
        for r in expiring(list(rows), now):
            assert r.expires_at is not None
            key = f"token:{r.target}:{r.expires_at.date().isoformat()}"
            title = f"{self.brand}: access token of {r.target} expires soon"
            body = (
                f"{warning_text(r, now)}.\nCreate a new token and set it in the environment "
                f"or .env; `quotecast check --online` shows the new expiry."
            )
            sent += self.send(key, title, body, kind="warning")
        return sent

    def check_missed(self, missed: Sequence[Missed]) -> int:
        sent = 0
        for m in missed:
            key = f"missed:{m.slug}:{m.target}:{m.at.isoformat()}"
            title = f"{self.brand}: missed publish time: {m.slug} → {m.target}"
            body = (
                f"{m.slug} was due on {m.target} at {_local(m.at, self.tz)} and was not posted "
                f"within misfire_grace ({self.settings.schedule.misfire_grace} s); it will not "
                f"be posted late. Give it a new publish_at, remove it, or run: "
                f"quotecast publish --now {m.slug} --target {m.target}"
            )
            sent += self.send(key, title, body, kind="warning")
        return sent

    def check_runway(self, runways: Sequence[Runway]) -> int:
        """Alert once when a target's queue starts running dry; re-arm once it is filled."""
        sent = 0
        dry = {r.target for r in runways}
        for key in self.ledger.alert_keys("runway:"):
            if key.removeprefix("runway:") not in dry:
                self.ledger.forget_alert(key)
        for r in runways:
            title = f"{self.brand}: queue runs dry on {r.target}"
            body = (
                f"Only {r.items} item(s) are queued for the next {r.slots} slots on {r.target}; "
                f"the first empty slot is {_local(r.dry_at, self.tz)}. "
                f"Drop more quotes into {self.settings.queue_path}."
            )
            sent += self.send(f"runway:{r.target}", title, body, kind="warning")
        return sent
