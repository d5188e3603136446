"""Reading queue and ledger once and planning from them: `quotecast plan` and the daemon.

Apart from pipeline.daemon so that `plan` imports neither APScheduler nor the runner.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from pipeline.config import Settings
from pipeline.items import QueueScan
from pipeline.ledger import Ledger, PostRow, utcnow
from pipeline.queue_cache import ParseCache, shared
from pipeline.schedule import Plan, make_plan, plan_data, runway

HORIZON_DAYS = 7


def snapshot(
    settings: Settings,
    ledger: Ledger,
    now: datetime,
    days: float = HORIZON_DAYS,
    cache: ParseCache | None = None,
) -> tuple[Plan, QueueScan, list[PostRow]]:
    """Read queue and ledger once and plan from them (queue files parsed through `cache`)."""
    cache = cache or shared(settings.data_path)
    scan = cache.load(settings.queue_path, ZoneInfo(settings.schedule.timezone))
    rows = ledger.rows()
    return make_plan(settings, scan.items, rows, now, days), scan, rows


def current_plan(settings: Settings, days: int = HORIZON_DAYS) -> dict[str, Any]:
    """`quotecast plan`: the calendar as of now, as JSON-able data."""
    ledger = Ledger.open(settings.data_path, settings.ledger_address)
    try:
        now = utcnow()
        plan, scan, rows = snapshot(settings, ledger, now, days)
        return plan_data(plan, runway(settings, scan.items, rows, now), scan.problems)
    finally:
        ledger.close()
