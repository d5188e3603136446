"""`selection.choose` and `targeting.targets_for`: pure functions of config, queue, rows, now."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from pipeline.config import Settings
from pipeline.items import Item, load_queue
from pipeline.selection import SelectionError, choose
from pipeline.targeting import targets_for
from tests.daemon.helpers import config_text, make_project, write_item

NOW = datetime(2026, 12, 3, 9, 5, tzinfo=UTC)  # Thursday, 5 minutes after the 09:00 slot
TARGETS = (
    '[targets.outbox]\nnetwork = "outbox"\nformat = "square"\n\n'
    '[targets.spare]\nnetwork = "outbox"\nformat = "story"\nenabled = false\n'
)


@dataclass(frozen=True)
class Row:
    """A ledger row as the plan reads it (pipeline.schedule.RowLike)."""

    slug: str
    target: str
    state: str
    scheduled_for: datetime | None = None
    lease_until: datetime | None = None


def queue(tmp_path: Path, *slugs: str) -> tuple[Settings, list[Item]]:
    s = make_project(
        tmp_path / "proj", config_text("UTC", ("daily 09:00",), targets=TARGETS, misfire_grace=900)
    )
    for n, slug in enumerate(slugs):
        write_item(s.queue_path, slug, priority=len(slugs) - n)  # queue order = argument order
    return s, load_queue(s.queue_path, ZoneInfo("UTC")).items


def test_due_follows_the_rows_a_used_slot_is_not_handed_on(tmp_path: Path) -> None:
    s, items = queue(tmp_path, "a", "b")
    first = choose(s, items, [], NOW)
    assert [(p.slug, p.target, p.at) for p in first.picks] == [
        ("a", "outbox", datetime(2026, 12, 3, 9, 0, tzinfo=UTC))
    ]
    slot = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
    after = choose(s, items, [Row("a", "outbox", "posted", scheduled_for=slot)], NOW)
    assert after.picks == [] and after.already_posted == 1
    assert after.upcoming is not None
    assert (after.upcoming.slug, after.upcoming.at) == ("b", slot + timedelta(days=1))
    # posted by hand (never reserved): the slot is still free, so b is due in it
    by_hand = choose(s, items, [Row("a", "outbox", "posted")], NOW)
    assert [p.slug for p in by_hand.picks] == ["b"]


def test_all_and_named_take_open_posts_only(tmp_path: Path) -> None:
    s, items = queue(tmp_path, "a", "b", "c", "d")
    rows = [
        Row("a", "outbox", "posted"),
        Row("b", "outbox", "sending", lease_until=NOW + timedelta(minutes=5)),
        Row("c", "outbox", "claimed", lease_until=NOW - timedelta(minutes=1)),  # owner died
    ]
    every = choose(s, items, rows, NOW, everything=True)
    assert [p.slug for p in every.picks] == ["c", "d"]
    assert every.already_posted == 1 and every.has_slots and every.needs_confirmation()
    named = choose(s, items, rows, NOW, slugs=["b", "d"])
    assert [p.slug for p in named.picks] == ["d"] and not named.needs_confirmation()
    assert named.scope == [("b", "outbox"), ("d", "outbox")]


def test_usage_errors(tmp_path: Path) -> None:
    s, items = queue(tmp_path, "a")
    with pytest.raises(SelectionError, match="no queue item named 'zz'"):
        choose(s, items, [], NOW, slugs=["a", "zz"])
    assert choose(s, items, [], NOW, slugs=["broken"], invalid=["broken"]).picks == []
    with pytest.raises(SelectionError, match="no target named 'nope'"):
        choose(s, items, [], NOW, targets=["nope"])
    with pytest.raises(SelectionError, match="not both"):
        choose(s, items, [], NOW, slugs=["a"], everything=True)


def test_one_rule_for_an_items_targets(tmp_path: Path) -> None:
    s, _ = queue(tmp_path)
    write_item(s.queue_path, "every")
    (s.queue_path / "nowhere.toml").write_text('quote = "Q."\nauthor = "A"\ntargets = []\n')
    (s.queue_path / "named.toml").write_text(
        'quote = "Q."\nauthor = "A"\ntargets = ["spare", "gone"]\n'
    )
    items = {i.slug: i for i in load_queue(s.queue_path, ZoneInfo("UTC")).items}
    assert targets_for(items["every"], s) == (["outbox"], [])  # enabled targets only
    assert targets_for(items["nowhere"], s) == ([], [])
    assert targets_for(items["named"], s) == (["spare"], ["gone"])  # named: even if disabled
    sel = choose(s, list(items.values()), [], NOW, everything=True)
    assert sorted((p.slug, p.target) for p in sel.picks) == [
        ("every", "outbox"),
        ("named", "spare"),
    ]
    assert sel.nowhere == ["nowhere"]
