"""Daylight-saving changes neither skip nor double a slot (Europe/London, America/New_York).

Rule under test (pipeline/schedule.py docstring): a wall time that does not exist that day
posts once, shifted forward by the gap (01:30 → 02:30 BST, 02:30 → 03:30 EDT); a wall time
that happens twice posts once, at its first occurrence (fold=0, summer time).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from pipeline.schedule import iter_slots, make_plan, parse_slots, plan_data, slots_between
from tests.schedule.helpers import item, local, settings, simulate, utc

LONDON = "Europe/London"
NEW_YORK = "America/New_York"

# (zone, slot, day before the change, expected instant on the change day, its local form)
SPRING = [
    (LONDON, "01:30", (2026, 3, 28), utc(2026, 3, 29, 1, 30), "02:30 BST"),
    (NEW_YORK, "02:30", (2026, 3, 7), utc(2026, 3, 8, 7, 30), "03:30 EDT"),
]
FALL = [
    (LONDON, "01:30", (2026, 10, 24), utc(2026, 10, 25, 0, 30), "01:30 BST"),
    (NEW_YORK, "01:30", (2026, 10, 31), utc(2026, 11, 1, 5, 30), "01:30 EDT"),
]


def _day_slots(zone: str, slot: str, day: tuple[int, int, int]) -> list[str]:
    start = local(zone, *day, 0, 0)
    tz = ZoneInfo(zone)
    got = slots_between(parse_slots([f"daily {slot}"]), tz, start, start + timedelta(days=3))
    return [s.at.astimezone(tz).strftime("%m-%d %H:%M %Z") for s in got]


@pytest.mark.parametrize(("zone", "slot", "before", "expected", "shown"), SPRING)
def test_spring_forward_slot_exists_once_shifted_by_the_gap(
    zone: str, slot: str, before: tuple[int, int, int], expected: datetime, shown: str
) -> None:
    days = _day_slots(zone, slot, before)
    assert len(days) == 3  # one a day: not skipped on the change day, not doubled
    assert days[1].endswith(shown)
    tz = ZoneInfo(zone)
    [on_day] = [s for s in iter_slots(parse_slots([slot]), tz, expected) if s.at == expected][:1]
    assert on_day.shifted and not on_day.repeated


@pytest.mark.parametrize(("zone", "slot", "before", "expected", "shown"), FALL)
def test_fall_back_slot_exists_once_at_the_first_occurrence(
    zone: str, slot: str, before: tuple[int, int, int], expected: object, shown: str
) -> None:
    days = _day_slots(zone, slot, before)
    assert len(days) == 3
    assert days[1].endswith(shown)
    tz = ZoneInfo(zone)
    first = next(iter_slots(parse_slots([slot]), tz, expected))  # type: ignore[arg-type]
    assert first.at == expected and first.repeated and not first.shifted


@pytest.mark.parametrize(("zone", "slot", "before", "expected", "shown"), SPRING + FALL)
def test_a_daemon_ticking_through_the_change_posts_the_slot_exactly_once(
    zone: str, slot: str, before: tuple[int, int, int], expected: object, shown: str
) -> None:
    s = settings(zone, [f"daily {slot}"], misfire_grace=900)
    items = [item(f"q{n}") for n in range(4)]
    start = local(zone, *before, 12, 0)
    posted, _ = simulate(s, items, start, start + timedelta(days=2), timedelta(minutes=5))
    on_change_day = [p for p in posted if p.at == expected]
    assert [p.slug for p in on_change_day] == ["q0"]
    assert [p.tick for p in on_change_day] == [expected]  # on time, not an hour off
    assert [p.slug for p in posted] == ["q0", "q1"]  # one per day, none twice, none skipped
    assert len({p.at for p in posted}) == len(posted)


@pytest.mark.parametrize("zone", [LONDON, NEW_YORK])
def test_restart_inside_the_repeated_hour_does_not_post_the_slot_again(zone: str) -> None:
    # the daemon posts the first 01:30, is restarted during the second 01:30 (fold=1)
    s = settings(zone, ["daily 01:30"], misfire_grace=3 * 3600)
    day = (2026, 10, 25) if zone == LONDON else (2026, 11, 1)
    first = local(zone, *day, 1, 30).astimezone(UTC)
    second = local(zone, *day, 1, 35, fold=1).astimezone(UTC)
    assert (second - first) > timedelta(minutes=59)
    items = [item("a"), item("b")]
    posted, rows = simulate(s, items, first, first)
    assert [p.slug for p in posted] == ["a"]
    plan = make_plan(s, items, rows, second)
    assert plan.due() == []
    assert plan.upcoming()[0].slug == "b" and plan.upcoming()[0].at > second + timedelta(hours=20)


def test_london_0130_and_0230_slots_merge_on_the_spring_forward_day() -> None:
    specs = parse_slots(["daily 01:30,02:30"])
    start = local(LONDON, 2026, 3, 29, 0, 0)
    got = slots_between(specs, ZoneInfo(LONDON), start, start + timedelta(hours=23))
    assert [s.at for s in got] == [utc(2026, 3, 29, 1, 30)]  # both are 02:30 BST: one slot


def test_publish_at_in_the_gap_and_in_the_repeat_follow_the_same_rule() -> None:
    s = settings(NEW_YORK, ["daily 12:00"])
    gap = item("gap", publish_at=local(NEW_YORK, 2026, 3, 8, 2, 30))  # naive 02:30 → fold=0
    plan = make_plan(s, [gap], [], utc(2026, 3, 8, 0, 0), days=1)
    assert [e.at for e in plan.entries if e.slug == "gap"] == [utc(2026, 3, 8, 7, 30)]


def test_plan_shows_the_shift_in_the_brands_zone() -> None:
    s = settings(LONDON, ["daily 01:30"])
    plan = make_plan(s, [item("a"), item("b")], [], utc(2026, 3, 28, 12, 0), days=2)
    rows = {r["local"]: r for r in plan_data(plan)["calendar"]}
    row = rows["Sun 2026-03-29 02:30 BST"]
    assert row["item"] == "a" and "does not exist" in row["note"]
    assert "Mon 2026-03-30 01:30 BST" in rows
