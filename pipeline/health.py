"""`quotecast health`: is the daemon alive? One heartbeat row read, for container health checks.

`status` scans the whole queue and every ledger row, which is too much once a minute;
this reads only the heartbeat the daemon writes and judges it as `status` does.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.config import Settings
from pipeline.ledger import Ledger, utcnow


@dataclass(frozen=True)
class Health:
    alive: bool
    message: str


def daemon_health(settings: Settings) -> Health:
    from pipeline.report import daemon_status  # the one judgement `status` also shows

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
