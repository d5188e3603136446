"""`quotecast health`: is the daemon alive? One heartbeat row read, for container health checks.

`status` scans the whole queue and every ledger row, which is too much once a minute;
this reads only the heartbeat the daemon writes and judges it as `status` does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pipeline.config import Settings
from pipeline.ledger import Ledger, utcnow


@dataclass(frozen=True)
class Health:
    alive: bool
    message: str


def daemon_status(beat_at: datetime, info: dict[str, Any], now: datetime) -> str:
    """alive | stale (no heartbeat for longer than it promised) | stopped (exited cleanly)."""
    if info.get("state") == "stopped":
        return "stopped"
    stale_after = float(info.get("stale_after", 180))
    return "alive" if (now - beat_at).total_seconds() <= stale_after else "stale"


def daemon_health(settings: Settings) -> Health:
    ledger = Ledger.open(settings.data_path, settings.ledger_address)
    try:
        beat = ledger.heartbeat("daemon")
    finally:
        ledger.close()
    if beat is None:
        return Health(False, "daemon never ran (no heartbeat in the ledger)")
    owner, at, info = beat
    age = (utcnow() - at).total_seconds()
    state = daemon_status(at, info, utcnow())
    return Health(state == "alive", f"daemon {state}: last heartbeat {age:.0f} s ago ({owner})")
