"""The posting plan as pure functions: slots, order, grace, restarts, conflicts, runway."""

from __future__ import annotations

from datetime import UTC, timedelta
from pathlib import Path

import pytest

from pipeline.config import load_settings
from pipeline.errors import ConfigError
from pipeline.schedule import (
    SlotError,
    make_plan,
    parse_slot,
    plan_data,
    runway,
)
from tests.schedule.helpers import Row, item, settings, simulate, utc

# -- slot texts ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "days", "times"),
    [
        ("mon-fri 07:30", {0, 1, 2, 3, 4}, ["07:30"]),
        ("sat,sun 10:00", {5, 6}, ["10:00"]),
        ("Fri-Mon 9:05", {4, 5, 6, 0}, ["09:05"]),
        ("daily 09:00,18:00", set(range(7)), ["09:00", "18:00"]),
        ("12:00", set(range(7)), ["12:00"]),
        ("weekdays 08:00", {0, 1, 2, 3, 4}, ["08:00"]),
        ("weekends 11:00", {5, 6}, ["11:00"]),
        ("monday,wednesday 06:00", {0, 2}, ["06:00"]),
    ],
)
def test_slot_texts(text: str, days: set[int], times: list[str]) -> None:
    spec = parse_slot(text)
    assert spec.days == frozenset(days)
    assert [t.strftime("%H:%M") for t in spec.times] == times


@pytest.mark.parametrize("text", ["", "mon-fri", "funday 07:30", "mon 25:00", "mon 7h30", "a b c"])
def test_bad_slot_texts_say_what_is_expected(text: str) -> None:
    with pytest.raises(SlotError, match="slot"):
        parse_slot(text)


def test_config_refuses_a_bad_slot_with_file_and_line(tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text('[schedule]\ntimezone = "UTC"\nslots = ["mon-fri 7h30"]\n')
    with pytest.raises(ConfigError, match=r"config.toml:3: schedule.slots.*'7h30'"):
        load_settings(cfg)
    cfg.write_text('[targets.x]\nnetwork = "outbox"\nslots = ["someday 10:00"]\n')
    with pytest.raises(ConfigError, match=r"targets.x.slots.*'someday' is not a day"):
        load_settings(cfg)


# -- order, slots, grace -------------------------------------------------------------------------


def test_items_fill_free_slots_by_priority_then_file_name() -> None:
    s = settings("UTC", ["daily 09:00"])
    items = [
        item("c-item"),
        item("a-item"),
        item("z-urgent", priority=5),
        item("b-low", priority=-1),
    ]
    plan = make_plan(s, items, [], utc(2026, 6, 1, 8, 0), days=5)
    got = [(e.at.day, e.slug) for e in plan.entries]
    assert got == [(1, "z-urgent"), (2, "a-item"), (3, "c-item"), (4, "b-low"), (5, None)]
    assert not plan.due() and plan.next_at() == utc(2026, 6, 1, 9, 0)


def test_publish_at_posts_at_its_time_and_takes_a_slot_at_that_instant() -> None:
    s = settings("UTC", ["daily 09:00"])
    items = [item("fixed", publish_at=utc(2026, 6, 1, 9, 0)), item("floating")]
    plan = make_plan(s, items, [], utc(2026, 6, 1, 8, 0), days=2)
    got = [(e.at, e.slug, e.kind) for e in plan.entries]
    assert got == [
        (utc(2026, 6, 1, 9, 0), "fixed", "publish_at"),
        (utc(2026, 6, 2, 9, 0), "floating", "slot"),
    ]


def test_posted_items_take_no_slot_and_used_slots_are_not_reused() -> None:
    s = settings("UTC", ["daily 09:00"], misfire_grace=3600)
    items = [item("a"), item("b"), item("c")]
    # "a" went out in today's 09:00 slot; "b" was posted by hand (publish --now, no slot)
    rows = [Row("a", "outbox", "posted", utc(2026, 6, 1, 9, 0)), Row("b", "outbox", "posted")]
    plan = make_plan(s, items, rows, utc(2026, 6, 1, 9, 10), days=2)
    # within grace, but the 09:00 slot is used: "c" waits for tomorrow instead of going now
    assert plan.due() == []
    assert [(e.at, e.slug) for e in plan.entries if e.slug] == [(utc(2026, 6, 2, 9, 0), "c")]


def test_failed_unknown_and_in_flight_posts_use_their_slot_and_are_not_planned() -> None:
    s = settings("UTC", ["daily 09:00,10:00,11:00"], misfire_grace=7200)
    now = utc(2026, 6, 1, 11, 30)
    lease = now + timedelta(minutes=5)
    rows = [
        Row("a", "outbox", "failed", utc(2026, 6, 1, 9, 0)),
        Row("b", "outbox", "unknown", utc(2026, 6, 1, 10, 0)),
        Row("c", "outbox", "sending", utc(2026, 6, 1, 11, 0), lease),
        Row("d", "outbox", "claimed", None, now - timedelta(seconds=1)),  # lease expired
    ]
    items = [item(x) for x in "abcde"]
    plan = make_plan(s, items, rows, now, days=1)
    assert [e.slug for e in plan.due()] == []  # every slot within grace is used
    assert [e.slug for e in plan.entries if e.slug][:2] == ["d", "e"]


def test_a_reserved_slot_whose_post_never_started_is_still_due_within_grace() -> None:
    s = settings("UTC", ["daily 09:00"], misfire_grace=900)
    rows = [Row("a", "outbox", "pending", utc(2026, 6, 1, 9, 0))]  # crashed after reserving
    plan = make_plan(s, [item("a"), item("b")], rows, utc(2026, 6, 1, 9, 5), days=1)
    assert [(e.slug, e.at) for e in plan.due()] == [("a", utc(2026, 6, 1, 9, 0))]


def test_past_publish_at_beyond_grace_is_missed_and_reported_not_posted() -> None:
    s = settings("UTC", ["daily 09:00"], misfire_grace=600)
    now = utc(2026, 6, 1, 12, 0)
    items = [
        item("late", publish_at=now - timedelta(seconds=601)),
        item("just-in-grace", publish_at=now - timedelta(seconds=600)),
        item("far", publish_at=now + timedelta(days=30)),
    ]
    plan = make_plan(s, items, [], now, days=7)
    assert [(m.slug, m.at) for m in plan.missed] == [("late", now - timedelta(seconds=601))]
    assert [e.slug for e in plan.due()] == ["just-in-grace"]
    assert [(w.slug, w.at) for w in plan.waiting] == [("far", now + timedelta(days=30))]
    data = plan_data(plan)
    assert data["missed"][0]["item"] == "late" and "not posted late" in data["missed"][0]["reason"]


def test_a_publish_at_deferred_by_a_rate_limit_waits_for_not_before_instead_of_missing() -> None:
    s = settings("UTC", ["daily 09:00"], misfire_grace=600)
    at = utc(2026, 6, 1, 12, 0)
    later = at + timedelta(hours=1)  # tried on time; the quota said: not before 13:00
    rows = [Row("q", "outbox", "pending", at, not_before=later)]
    items = [item("q", publish_at=at)]
    for now in (at + timedelta(minutes=30), later - timedelta(seconds=1)):
        plan = make_plan(s, items, rows, now, days=1)
        assert plan.missed == [] and plan.due() == []
        assert [(e.slug, e.at) for e in plan.upcoming()] == [("q", later)]
    plan = make_plan(s, items, rows, later, days=1)
    assert [(e.slug, e.at) for e in plan.due()] == [("q", later)]
    beyond = make_plan(s, items, rows, later + timedelta(seconds=601), days=1)
    assert [m.slug for m in beyond.missed] == ["q"]  # its grace counts from not_before


def test_restart_after_several_missed_slots_posts_only_within_grace_in_order() -> None:
    s = settings("UTC", ["daily 09:00,10:00,11:00,12:00,13:00"], misfire_grace=5400)
    items = [item(x) for x in ("a", "b", "c", "d")]
    down_from, back_at = utc(2026, 6, 1, 8, 0), utc(2026, 6, 1, 12, 10)
    # at restart, 09:00 and 10:00 are older than grace; 11:00 and 12:00 are within it
    plan = make_plan(s, items, [], back_at, days=1)
    assert [(e.slug, e.at.hour) for e in plan.due()] == [("a", 11), ("b", 12)]
    assert [(e.slug, e.at.hour) for e in plan.upcoming()][:2] == [("c", 13), ("d", 9)]

    posted, rows = simulate(s, items, down_from, utc(2026, 6, 2, 10, 0), down=(down_from, back_at))
    assert [(p.slug, p.tick, p.at.hour) for p in posted] == [
        ("a", back_at, 11),  # both catch-up posts go out at the restart, in slot order
        ("b", back_at, 12),
        ("c", utc(2026, 6, 1, 13, 0), 13),  # the rest moved on to the next slots
        ("d", utc(2026, 6, 2, 9, 0), 9),
    ]
    # a second restart minutes later finds nothing left to do: nothing is posted twice
    again = make_plan(s, items, rows, back_at + timedelta(minutes=3), days=1)
    assert again.due() == []


def test_jitter_widens_a_slots_grace_but_not_a_publish_ats() -> None:
    s = settings("UTC", ["daily 09:00"], misfire_grace=60, jitter=300)
    items = [item("slot-item"), item("fixed", publish_at=utc(2026, 6, 1, 9, 0))]
    plan = make_plan(s, items, [], utc(2026, 6, 1, 9, 4), days=1)
    # 4 minutes late: beyond grace for the publish_at (missed, so it frees the 09:00 slot),
    # within grace + jitter for the slot, which the floating item takes
    assert [m.slug for m in plan.missed] == ["fixed"]
    assert [(e.slug, e.at) for e in plan.due()] == [("slot-item", utc(2026, 6, 1, 9, 0))]
    later = make_plan(s, items, [], utc(2026, 6, 1, 9, 6, 1), days=1)
    assert later.due() == [] and later.upcoming()[0].at == utc(2026, 6, 2, 9, 0)


# -- targets, conflicts, runway ---------------------------------------------------------------


def test_per_target_slot_overrides_plan_each_target_on_its_own() -> None:
    s = settings(
        "UTC",
        ["daily 09:00"],
        targets={
            "outbox": {"network": "outbox"},
            "story": {"network": "outbox", "slots": ["sat 18:00"]},
            "manual": {"network": "outbox", "slots": []},
        },
    )
    plan = make_plan(s, [item("a"), item("b")], [], utc(2026, 6, 1, 8, 0), days=7)  # a Monday
    by_target = {
        t: [(e.at.strftime("%a %H:%M"), e.slug) for e in plan.entries if e.target == t and e.slug]
        for t in ("outbox", "story", "manual")
    }
    assert by_target["outbox"] == [("Mon 09:00", "a"), ("Tue 09:00", "b")]
    assert by_target["story"] == [("Sat 18:00", "a")]
    assert by_target["manual"] == []
    waiting = {(w.slug, w.target): w.reason for w in plan.waiting}
    assert "no free slot on story" in waiting[("b", "story")]
    assert "manual has no slots" in waiting[("a", "manual")]


def test_conflicts_same_publish_at_on_one_target_and_unknown_targets() -> None:
    s = settings("UTC", ["daily 09:00"])
    at = utc(2026, 6, 1, 15, 0)
    items = [
        item("one", publish_at=at),
        item("two", publish_at=at),
        item("elsewhere", targets=("outbox", "nowhere")),
    ]
    plan = make_plan(s, items, [], utc(2026, 6, 1, 8, 0), days=2)
    assert [e.slug for e in plan.entries if e.at == at] == ["one", "two"]  # both still post
    msgs = [c.message for c in plan.conflicts]
    assert any("2 items have publish_at" in m and "outbox" in m for m in msgs)
    assert any("'nowhere'" in m for m in msgs)
    data = plan_data(plan)
    assert {tuple(c["items"]) for c in data["conflicts"]} == {("one", "two"), ("elsewhere",)}


def test_runway_warns_when_the_queue_runs_dry_within_n_slots() -> None:
    s = settings("UTC", ["daily 09:00"], runway_alert_slots=3)
    now = utc(2026, 6, 1, 8, 0)
    [warn] = runway(s, [item("a")], [], now)
    assert (warn.target, warn.items, warn.slots) == ("outbox", 1, 3)
    assert warn.dry_at == utc(2026, 6, 2, 9)
    assert runway(s, [item("a"), item("b"), item("c")], [], now) == []
    # posted items do not count; publish_at items do not fill slots
    rows = [Row("b", "outbox", "posted"), Row("c", "outbox", "posted")]
    fixed = item("fixed", publish_at=utc(2026, 6, 5, 12))
    assert runway(s, [item("a"), item("b"), item("c"), fixed], rows, now)[0].items == 1
    assert runway(settings("UTC", ["daily 09:00"], runway_alert_slots=0), [], [], now) == []


def test_plan_data_merges_targets_and_uses_the_brands_zone() -> None:
    s = settings(
        "Europe/London",
        ["mon-fri 07:30"],
        targets={"outbox": {"network": "outbox"}, "story": {"network": "outbox"}},
    )
    plan = make_plan(s, [item("a")], [], utc(2026, 7, 1, 5, 0), days=1)
    [row] = [r for r in plan_data(plan)["calendar"] if r["item"]]
    assert row["targets"] == ["outbox", "story"]
    assert row["local"] == "Wed 2026-07-01 07:30 BST"
    assert row["at_utc"] == "2026-07-01T06:30:00+00:00" and row["status"] == "scheduled"


def test_make_plan_never_reads_the_clock() -> None:
    s = settings("UTC", ["daily 09:00"])
    a = make_plan(s, [item("a")], [], utc(2030, 1, 1, 8, 0), days=1)
    b = make_plan(s, [item("a")], [], utc(2030, 1, 1, 8, 0).astimezone(UTC), days=1)
    assert a.entries == b.entries and a.entries[0].at == utc(2030, 1, 1, 9, 0)
    with pytest.raises(ValueError, match="aware"):
        make_plan(s, [], [], utc(2030, 1, 1).replace(tzinfo=None))
