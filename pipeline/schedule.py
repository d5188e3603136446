"""Slots and the posting plan: pure functions of config, queue, ledger rows and `now`.

Why pure: the daemon keeps no job store. At start, at every rescan and at every pass
it derives the plan again from the same three sources (config, queue files, ledger),
so a daemon started at any instant does what one that had been running all along
would do: a restart neither skips nor doubles a post. Nothing here reads the clock;
`now` is always passed in (an aware datetime).

Semantics
---------
Slots. A slot is `"[DAYS] HH:MM[,HH:MM…]"`: DAYS is `daily` (the default), `weekdays`,
`weekends`, or a comma list of days and ranges (`mon-fri`, `sat,sun`, `fri-mon`).
Times are wall-clock times in the brand's zone (`schedule.timezone`). A target's own
`slots` replace the global list for that target (an empty list: no slots, only
`publish_at` items post there). Two slots falling on the same instant are one slot.
All arithmetic is on UTC instants; the zone only turns wall times into instants.

DST. A wall time that does not exist that day (spring forward: 01:30 in London on
the last Sunday of March, 02:30 in New York on the second Sunday of March) posts
once, shifted forward by the length of the gap: 02:30 BST / 03:30 EDT (fold=0: the
instant the wall time has at the offset in force before the change). A wall time
that happens twice (fall back) posts once, at its first occurrence (fold=0, still
summer time). `publish_at` values without an offset follow the same rule.

Who posts when, per target (each target is planned on its own):
* An item is *open* on a target when the ledger has no row for the pair or the row
  is `pending` (or `claimed` with an expired lease, which the runner takes over).
  Posted, failed, unknown and in-flight posts take no place in the plan.
* Items with `publish_at` post at that instant. Several on one target at one instant
  all post, and are reported as a conflict. A slot at that instant is taken by them.
* The other items fill the free slots in queue order: higher `priority` first, then
  file name.
* A slot is used up when a row of that target was reserved for it (`scheduled_for`,
  written by the daemon just before it posts) and is no longer pending: posted,
  failed, unknown or in flight. An item posted early with `publish --now` was never
  reserved, so it frees its slot for the next item.
* Lateness. A slot stays due for `misfire_grace` seconds after its time, plus
  `jitter` (the daemon's intended random delay); a `publish_at` stays due for
  `misfire_grace`. Older slots no longer exist: their items move on to the next free
  slots, keeping their order. Several slots missed within grace (the daemon was
  down) are all due at once and post in time order. An item whose `publish_at` is
  older than grace is *missed*: the daemon never posts it late; `quotecast plan`
  reports it and an alert is sent, and it leaves any slot at that instant free.
  (`publish --now` still posts it on request.) A `publish_at` post that was tried on
  time and deferred by a rate limit (a pending row with `not_before`) waits: its time
  becomes `not_before`, so a used-up quota delays it rather than turning it into a miss.
* Horizon. The plan covers `days` ahead; items beyond it are listed as waiting and
  come into the plan as time moves on (the daemon plans again every rescan).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any, Protocol
from zoneinfo import ZoneInfo

if TYPE_CHECKING:  # kept light: config validation imports this module
    from pipeline.config import Settings
    from pipeline.items import Item

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_WORDS = {
    "daily": frozenset(range(7)),
    "everyday": frozenset(range(7)),
    "*": frozenset(range(7)),
    "weekdays": frozenset(range(5)),
    "weekends": frozenset({5, 6}),
}
_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
#: how far ahead slot generation looks at most (a target with one slot a year still works)
MAX_LOOKAHEAD_DAYS = 800


class SlotError(ValueError):
    """A slot text that cannot be read; the message says what a valid one looks like."""


@dataclass(frozen=True)
class SlotSpec:
    """One configured slot line: the days it applies to and its wall-clock times."""

    text: str
    days: frozenset[int]  # 0 = Monday
    times: tuple[time, ...]


@dataclass(frozen=True)
class Slot:
    """One concrete slot: a UTC instant, and how its wall time fared with DST."""

    at: datetime  # UTC
    wall: time  # the configured wall-clock time
    shifted: bool = False  # the wall time did not exist that day (spring forward)
    repeated: bool = False  # the wall time happened twice that day; this is the first


class RowLike(Protocol):
    """What the plan reads from a ledger row (PostRow fits)."""

    @property
    def slug(self) -> str: ...
    @property
    def target(self) -> str: ...
    @property
    def state(self) -> str: ...
    @property
    def scheduled_for(self) -> datetime | None: ...
    @property
    def lease_until(self) -> datetime | None: ...


@dataclass(frozen=True)
class Entry:
    """One line of the calendar: an item (or nothing) for one target at one instant."""

    at: datetime  # UTC
    target: str
    slug: str | None  # None: a free slot
    kind: str  # "slot" | "publish_at"
    due: bool  # at <= now and still within grace: the next pass posts it
    slot: Slot | None = None
    order: int = 0  # position in queue order, for stable sorting

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.at.isoformat(), self.slug or "", self.target)


@dataclass(frozen=True)
class Waiting:
    """An open item with no place in the plan's horizon, and why."""

    slug: str
    target: str
    reason: str
    at: datetime | None = None


@dataclass(frozen=True)
class Missed:
    """A publish_at older than grace: not posted late, reported instead."""

    slug: str
    target: str
    at: datetime


@dataclass(frozen=True)
class Conflict:
    target: str
    at: datetime | None
    slugs: tuple[str, ...]
    message: str


@dataclass(frozen=True)
class Runway:
    """A target whose queue runs dry within the next `slots` slots."""

    target: str
    slots: int  # how many upcoming slots were looked at
    items: int  # open items without publish_at that will fill them
    dry_at: datetime  # the first slot left empty (UTC)


@dataclass
class Plan:
    now: datetime
    tz: ZoneInfo
    until: datetime
    entries: list[Entry] = field(default_factory=list)
    waiting: list[Waiting] = field(default_factory=list)
    missed: list[Missed] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)

    def due(self) -> list[Entry]:
        """Entries the next pass posts, in the order they should go out."""
        return [e for e in self.entries if e.slug is not None and e.due]

    def upcoming(self) -> list[Entry]:
        return [e for e in self.entries if e.slug is not None and not e.due]

    def next_at(self) -> datetime | None:
        times = [e.at for e in self.upcoming()]
        return min(times) if times else None


# -- slots ---------------------------------------------------------------------------------


def _days(word: str, text: str) -> frozenset[int]:
    if word in _DAY_WORDS:
        return _DAY_WORDS[word]
    out: set[int] = set()
    for part in word.split(","):
        if not part:
            continue
        first, _, last = part.partition("-")
        try:
            a = DAYS.index(first[:3]) if len(first) >= 3 else -1
            b = DAYS.index(last[:3]) if last and len(last) >= 3 else a
        except ValueError:
            a = b = -1
        if a < 0 or b < 0:
            raise SlotError(
                f"slot {text!r}: {part!r} is not a day; use mon…sun, ranges like mon-fri, "
                "lists like sat,sun, or daily / weekdays / weekends"
            )
        i = a
        while True:  # ranges may wrap: fri-mon
            out.add(i)
            if i == b:
                break
            i = (i + 1) % 7
    if not out:
        raise SlotError(f"slot {text!r}: no days given")
    return frozenset(out)


def parse_slot(text: str) -> SlotSpec:
    """Read `"mon-fri 07:30"`, `"sat,sun 10:00"`, `"daily 09:00,18:00"`, `"12:00"`."""
    words = text.strip().lower().replace(", ", ",").split()
    if not words or len(words) > 2:
        raise SlotError(
            f"slot {text!r}: write days then times, e.g. 'mon-fri 07:30' or 'sat,sun 10:00,16:00'"
        )
    day_word, time_word = (words[0], words[1]) if len(words) == 2 else ("daily", words[0])
    times: list[time] = []
    for part in time_word.split(","):
        m = _TIME.match(part)
        if not m:
            raise SlotError(f"slot {text!r}: {part!r} is not a 24-hour time like 07:30")
        times.append(time(int(m.group(1)), int(m.group(2))))
    return SlotSpec(text=text, days=_days(day_word, text), times=tuple(sorted(set(times))))


def parse_slots(texts: Iterable[str]) -> list[SlotSpec]:
    return [parse_slot(t) for t in texts]


def localize(day: date, wall: time, tz: ZoneInfo) -> Slot:
    """The instant of a wall time on a day, by the DST rule in the module docstring."""
    local = datetime.combine(day, wall, tzinfo=tz)  # fold=0
    at = local.astimezone(UTC)
    back = at.astimezone(tz).replace(tzinfo=None)
    shifted = back != local.replace(tzinfo=None)
    repeated = not shifted and local.replace(fold=1).utcoffset() != local.utcoffset()
    return Slot(at=at, wall=wall, shifted=shifted, repeated=repeated)


def iter_slots(
    specs: Sequence[SlotSpec], tz: ZoneInfo, start: datetime, max_days: int = MAX_LOOKAHEAD_DAYS
) -> Iterator[Slot]:
    """Slots at or after `start`, in time order, each instant once."""
    if not specs:
        return
    start = start.astimezone(UTC)
    day = start.astimezone(tz).date() - timedelta(days=1)
    for _ in range(max_days + 2):
        found: dict[datetime, Slot] = {}
        for spec in specs:
            if day.weekday() not in spec.days:
                continue
            for wall in spec.times:
                slot = localize(day, wall, tz)
                found.setdefault(slot.at, slot)
        for at in sorted(found):
            if at >= start:
                yield found[at]
        day += timedelta(days=1)


def slots_between(
    specs: Sequence[SlotSpec], tz: ZoneInfo, start: datetime, end: datetime
) -> list[Slot]:
    """Slots with start <= at < end."""
    out = []
    for slot in iter_slots(specs, tz, start):
        if slot.at >= end:
            break
        out.append(slot)
    return out


def target_slots(settings: Settings, target: str) -> list[SlotSpec]:
    """The target's own slots if it has them, else the schedule's."""
    own = settings.targets[target].slots
    return parse_slots(settings.schedule.slots if own is None else own)


# -- the plan -------------------------------------------------------------------------------


def targets_for(item: Item, settings: Settings) -> tuple[list[str], list[str]]:
    """The runner's own rule for an item's targets (pipeline.targets)."""
    from pipeline.targets import targets_for as rule

    return rule(item, settings)


def queue_order(items: Iterable[Item]) -> list[Item]:
    """Higher priority first, then file name."""
    return sorted(items, key=lambda i: (-i.priority, i.path.name))


def _is_open(row: RowLike | None, now: datetime) -> bool:
    if row is None or row.state == "pending":
        return True
    return row.state == "claimed" and row.lease_until is not None and row.lease_until < now


def _fixed_at(item: Item, row: RowLike | None) -> datetime:
    """A publish_at item's instant: its publish_at, or later when a rate limit deferred it."""
    assert item.publish_at is not None
    at = item.publish_at.astimezone(UTC)
    later = getattr(row, "not_before", None)  # set by Ledger.release after a long rate limit
    if row is not None and row.state == "pending" and isinstance(later, datetime) and later > at:
        return later.astimezone(UTC)
    return at


@dataclass
class _TargetInputs:
    fixed: list[tuple[int, Item]]
    floating: list[tuple[int, Item]]
    used: set[datetime]  # slot instants used up by non-pending reserved rows


def _inputs(
    settings: Settings,
    target: str,
    ordered: Sequence[Item],
    rows: Mapping[tuple[str, str], RowLike],
    now: datetime,
) -> _TargetInputs:
    fixed: list[tuple[int, Item]] = []
    floating: list[tuple[int, Item]] = []
    for idx, item in enumerate(ordered):
        if target not in targets_for(item, settings)[0]:
            continue
        if not _is_open(rows.get((item.slug, target)), now):
            continue
        (fixed if item.publish_at is not None else floating).append((idx, item))
    used = {
        r.scheduled_for.astimezone(UTC)
        for (_, t), r in rows.items()
        if t == target and r.scheduled_for is not None and not _is_open(r, now)
    }
    return _TargetInputs(fixed, floating, used)


def _free_slots(
    settings: Settings, target: str, tz: ZoneInfo, start: datetime, taken: set[datetime]
) -> Iterator[Slot]:
    for slot in iter_slots(target_slots(settings, target), tz, start):
        if slot.at not in taken:
            yield slot


def _windows(settings: Settings) -> tuple[timedelta, timedelta]:
    """How long a publish_at and a slot stay due after their time."""
    s = settings.schedule
    return timedelta(seconds=s.misfire_grace), timedelta(seconds=s.misfire_grace + s.jitter)


def _rows_by_key(rows: Iterable[RowLike]) -> dict[tuple[str, str], RowLike]:
    return {(r.slug, r.target): r for r in rows}


def _planned_targets(settings: Settings, items: Sequence[Item]) -> list[str]:
    names = list(settings.enabled_targets())
    for item in items:
        for t in targets_for(item, settings)[0]:
            if t not in names:
                names.append(t)
    return names


def make_plan(
    settings: Settings,
    items: Sequence[Item],
    rows: Iterable[RowLike],
    now: datetime,
    days: float = 7,
) -> Plan:
    """The calendar from `now - grace` to `now + days`, per the module docstring."""
    if now.tzinfo is None:
        raise ValueError("make_plan needs an aware `now`")
    now = now.astimezone(UTC)
    tz = ZoneInfo(settings.schedule.timezone)
    until = now + timedelta(days=days)
    fixed_window, slot_window = _windows(settings)
    by_key = _rows_by_key(rows)
    ordered = queue_order(items)
    plan = Plan(now=now, tz=tz, until=until)

    for item in ordered:
        for name in targets_for(item, settings)[1]:
            plan.conflicts.append(
                Conflict(
                    name,
                    None,
                    (item.slug,),
                    f"{item.slug} names target {name!r}, which "
                    "is not in the config; it is not posted there",
                )
            )

    for target in _planned_targets(settings, ordered):
        inp = _inputs(settings, target, ordered, by_key, now)
        fixed_at: dict[datetime, list[tuple[int, Item]]] = {}
        for idx, item in inp.fixed:
            at = _fixed_at(item, by_key.get((item.slug, target)))
            if at < now - fixed_window:
                plan.missed.append(Missed(item.slug, target, at))
            elif at >= until:
                local = at.astimezone(tz).strftime("%a %Y-%m-%d %H:%M %Z")
                plan.waiting.append(
                    Waiting(
                        item.slug, target, f"publish_at {local} is after the next {days:g} days", at
                    )
                )
            else:
                fixed_at.setdefault(at, []).append((idx, item))
                plan.entries.append(
                    Entry(at, target, item.slug, "publish_at", at <= now, order=idx)
                )
        for at, group in sorted(fixed_at.items()):
            if len(group) > 1:
                slugs = tuple(i.slug for _, i in group)
                local = at.astimezone(tz).strftime("%a %Y-%m-%d %H:%M %Z")
                plan.conflicts.append(
                    Conflict(
                        target,
                        at,
                        slugs,
                        f"{len(slugs)} items have publish_at {local} on "
                        f"{target}; all post then — spread them out",
                    )
                )

        taken = inp.used | set(fixed_at)
        queue = list(inp.floating)
        has_slots = bool(target_slots(settings, target))
        for slot in _free_slots(settings, target, tz, now - slot_window, taken):
            if slot.at >= until:
                break
            due = slot.at <= now
            if queue:
                idx, item = queue.pop(0)
                plan.entries.append(Entry(slot.at, target, item.slug, "slot", due, slot, idx))
            else:
                plan.entries.append(Entry(slot.at, target, None, "slot", due, slot, 10**9))
        for _, item in queue:
            reason = (
                f"no free slot on {target} in the next {days:g} days"
                if has_slots
                else f"{target} has no slots; give the item a publish_at or use `publish --now`"
            )
            plan.waiting.append(Waiting(item.slug, target, reason))

    plan.entries.sort(key=lambda e: (e.at, e.order, e.target))
    return plan


def runway(
    settings: Settings, items: Sequence[Item], rows: Iterable[RowLike], now: datetime
) -> list[Runway]:
    """Enabled targets whose next `runway_alert_slots` slots are not all filled."""
    count = settings.schedule.runway_alert_slots
    if count <= 0:
        return []
    now = now.astimezone(UTC)
    tz = ZoneInfo(settings.schedule.timezone)
    fixed_window, slot_window = _windows(settings)
    by_key = _rows_by_key(rows)
    ordered = queue_order(items)
    out: list[Runway] = []
    for target in settings.enabled_targets():
        inp = _inputs(settings, target, ordered, by_key, now)
        taken = set(inp.used)
        for _, item in inp.fixed:
            at = _fixed_at(item, by_key.get((item.slug, target)))
            if at >= now - fixed_window:
                taken.add(at)
        upcoming: list[Slot] = []
        for slot in _free_slots(settings, target, tz, now - slot_window, taken):
            upcoming.append(slot)
            if len(upcoming) >= count:
                break
        filled = len(inp.floating)
        if filled < len(upcoming):
            out.append(Runway(target, count, filled, upcoming[filled].at))
    return out


# -- presentation data (JSON-able) -----------------------------------------------------------


def _local(at: datetime, tz: ZoneInfo) -> dict[str, str]:
    loc = at.astimezone(tz)
    return {
        "at": loc.isoformat(),
        "at_utc": at.astimezone(UTC).isoformat(),
        "local": loc.strftime("%a %Y-%m-%d %H:%M %Z"),
    }


def _note(slot: Slot | None) -> str | None:
    if slot is None:
        return None
    wall = slot.wall.strftime("%H:%M")
    if slot.shifted:
        return f"{wall} does not exist that day (clocks go forward); posts once, shifted"
    if slot.repeated:
        return f"{wall} happens twice that day (clocks go back); posts once, the first time"
    return None


def plan_data(
    plan: Plan, runways: Sequence[Runway] = (), problems: Sequence[Any] = ()
) -> dict[str, Any]:
    """The plan for `quotecast plan --json` and for its table: one row per instant and item."""
    tz = plan.tz
    rows: dict[tuple[datetime, str | None, str], dict[str, Any]] = {}
    for e in plan.entries:
        key = (e.at, e.slug, e.kind)
        row = rows.get(key)
        if row is None:
            status = "free" if e.slug is None else ("due" if e.due else "scheduled")
            row = {
                **_local(e.at, tz),
                "item": e.slug,
                "targets": [],
                "kind": e.kind,
                "status": status,
            }
            note = _note(e.slot)
            if note:
                row["note"] = note
            rows[key] = row
        row["targets"].append(e.target)
    return {
        "now": plan.now.isoformat(),
        "timezone": tz.key,
        "until": plan.until.isoformat(),
        "calendar": list(rows.values()),
        "waiting": [
            {
                "item": w.slug,
                "target": w.target,
                "reason": w.reason,
                **({"publish_at": w.at.isoformat()} if w.at else {}),
            }
            for w in plan.waiting
        ],
        "missed": [
            {
                "item": m.slug,
                "target": m.target,
                **_local(m.at, tz),
                "reason": "publish_at is past by more than misfire_grace; not posted late",
            }
            for m in plan.missed
        ],
        "conflicts": [
            {
                "target": c.target,
                "items": list(c.slugs),
                "message": c.message,
                **(_local(c.at, tz) if c.at else {}),
            }
            for c in plan.conflicts
        ],
        "runway": [
            {"target": r.target, "slots": r.slots, "items": r.items, **_local(r.dry_at, tz)}
            for r in runways
        ],
        "problems": [str(p) for p in problems],
    }
