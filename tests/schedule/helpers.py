"""Builders for pure planning tests: settings, items, ledger-like rows, and a daemon simulator.

The simulator walks a clock over a time range and, at every tick, does what the daemon does
with the plan — post what is due and record it as the ledger would (posted, reserved for its
slot) — so DST and restart behaviour can be checked as sequences of posts, without a clock.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pipeline.config import ScheduleSettings, Settings, TargetSettings
from pipeline.items import Item
from pipeline.schedule import make_plan


def settings(
    zone: str = "Europe/London",
    slots: list[str] | None = None,
    targets: dict[str, dict[str, Any]] | None = None,
    **schedule: Any,
) -> Settings:
    sched = ScheduleSettings(timezone=zone, slots=slots or ["daily 09:00"], **schedule)
    tg = {
        name: TargetSettings(**conf)
        for name, conf in (targets or {"outbox": {"network": "outbox"}}).items()
    }
    return Settings(schedule=sched, targets=tg)


def item(slug: str, publish_at: datetime | None = None, priority: int = 0, **kw: Any) -> Item:
    return Item(
        slug=slug,
        path=Path(f"/queue/{slug}.toml"),
        quote=f"quote {slug}",
        author="Someone",
        publish_at=publish_at,
        priority=priority,
        **kw,
    )


@dataclass
class Row:
    slug: str
    target: str
    state: str = "posted"
    scheduled_for: datetime | None = None
    lease_until: datetime | None = None
    not_before: datetime | None = None  # a long rate limit deferred the post until then


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc, arg-type]


def local(zone: str, *args: int, fold: int = 0) -> datetime:
    return datetime(*args, tzinfo=ZoneInfo(zone), fold=fold)  # type: ignore[misc, arg-type]


@dataclass(frozen=True)
class Posted:
    tick: datetime  # when the simulated daemon posted it
    slug: str
    target: str
    at: datetime  # the planned instant (slot or publish_at)


def simulate(
    s: Settings,
    items: Iterable[Item],
    start: datetime,
    end: datetime,
    step: timedelta = timedelta(minutes=1),
    rows: list[Row] | None = None,
    down: tuple[datetime, datetime] | None = None,
) -> tuple[list[Posted], list[Row]]:
    """Tick from start to end; at each tick post what the plan says is due.

    `down` is a span during which the daemon is not running (no ticks): on the first tick
    after it, the plan is built from scratch exactly as at a restart.
    """
    items = list(items)
    rows = list(rows or [])
    posted: list[Posted] = []
    now, end = start.astimezone(UTC), end.astimezone(UTC)  # wall-clock arithmetic would lie
    while now <= end:
        if down is None or not (down[0] <= now < down[1]):
            plan = make_plan(s, items, rows, now, days=2)
            for e in plan.due():
                assert e.slug is not None
                rows = [r for r in rows if (r.slug, r.target) != (e.slug, e.target)]
                rows.append(Row(e.slug, e.target, "posted", e.at))
                posted.append(Posted(now, e.slug, e.target, e.at))
        now += step
    return posted, rows
