"""What a publishing pass posts: one pure choice shared by every way of publishing.

Why: `publish --now` used to post every pending item, so one keystroke spent weeks of
planned posts. Now each form asks this module, and so does the daemon, so they cannot
disagree:

* due (`publish --now`, and every daemon pass): exactly what the plan says is due at
  `now` — `publish_at` passed within `misfire_grace`, and slot-planned items whose slot
  has come (`schedule.make_plan`). Running it by hand never pre-empts the calendar.
* named (`publish --now SLUG…`, the studio's "publish now"): those items, whatever
  their schedule.
* all (`publish --now --all`): every pending post.

`--dry-run` lists the choice of the same form. Nothing here reads the clock, the queue
folder or the ledger: `choose` is a function of (settings, items, ledger rows, now).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

from pipeline.errors import QuotecastError
from pipeline.schedule import (
    Entry,
    Missed,
    Plan,
    RowLike,
    is_open,
    make_plan,
    queue_order,
    target_slots,
)
from pipeline.targeting import NO_TARGETS, posts_nowhere, targets_for

if TYPE_CHECKING:
    from pipeline.config import Settings
    from pipeline.items import Item

Form = Literal["due", "named", "all"]

#: how far ahead the due form looks for "next" (the daemon plans the same span)
HORIZON_DAYS = 7
#: `--all` asks before posting more than this many posts at once
CONFIRM_OVER = 10


class SelectionError(QuotecastError):
    """The command line names something that does not exist, or asks two things at once."""

    exit_code = 2


@dataclass(frozen=True)
class Pick:
    """One (item, target) to post in this pass."""

    slug: str
    target: str
    #: the plan's instant (slot or publish_at) for a due post: reserved in the ledger
    #: before posting, so the next plan knows the slot was used. None: asked for by hand.
    at: datetime | None = None
    kind: str = "asked"  # "slot" | "publish_at" | "asked"


@dataclass(frozen=True)
class Upcoming:
    """The next planned post, named when nothing is due."""

    at: datetime  # UTC
    slug: str
    targets: tuple[str, ...]
    kind: str  # "slot" | "publish_at"


@dataclass
class Selection:
    form: Form
    tz: str
    picks: list[Pick] = field(default_factory=list)
    already_posted: int = 0  # posts in scope that went out earlier
    pending: int = 0  # posts in scope still to go out, due or not
    has_slots: bool = False  # a picked target posts on slots: --all pre-empts a calendar
    upcoming: Upcoming | None = None  # due form: what comes next
    missed: list[Missed] = field(default_factory=list)  # due form: never posted late
    unslotted: list[tuple[str, str]] = field(default_factory=list)  # (slug, target), no slots
    nowhere: list[str] = field(default_factory=list)  # items with targets = []
    #: named and all forms: posts in scope that ended `failed` or `unknown` earlier; they
    #: wait for a person (`retry` or `resolve`), and a pass that names them says so
    stopped: list[tuple[str, str, str]] = field(default_factory=list)  # (slug, target, state)
    #: named and all forms: every (item, target) they cover, whatever its state now. The
    #: pass may post any of them that is pending when it gets there — e.g. a post the
    #: pass's own reconciliation just proved was never sent.
    scope: list[tuple[str, str]] = field(default_factory=list)

    def pairs(self) -> set[tuple[str, str]]:
        """What the pass may post: the due picks, or the whole scope of a named/all form."""
        return {(p.slug, p.target) for p in self.picks} | set(self.scope)

    def by_target(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for p in self.picks:
            counts[p.target] = counts.get(p.target, 0) + 1
        return counts

    def needs_confirmation(self) -> bool:
        """`--all` asks first when it would pre-empt a schedule or post many at once."""
        return (
            self.form == "all"
            and bool(self.picks)
            and (self.has_slots or len(self.picks) > CONFIRM_OVER)
        )

    def summary(self) -> str:
        """'6 posts (3 to outbox, 3 to outbox_story)'."""
        n = len(self.picks)
        parts = ", ".join(f"{c} to {t}" for t, c in self.by_target().items())
        return f"{n} post{'s' if n != 1 else ''}" + (f" ({parts})" if parts else "")

    def nothing(self) -> str:
        """What `publish` says when this selection posts nothing (the same with --dry-run)."""
        earlier = f"; {self.already_posted} already posted earlier" if self.already_posted else ""
        if self.form != "due" or not self.pending:
            return f"nothing new to publish{earlier}"
        if self.upcoming is None:
            return f"nothing is due now, and nothing is planned in the next {HORIZON_DAYS} days"
        u = self.upcoming
        return (
            f"nothing is due now; next: {u.slug} → {', '.join(u.targets)} at "
            f"{local_time(u.at, self.tz)} ({'publish_at' if u.kind == 'publish_at' else 'slot'})"
        )

    def notes(self) -> list[str]:
        """Posts this form leaves alone, and how to send them anyway."""
        out = [f"not posted: {slug}: {NO_TARGETS}" for slug in self.nowhere]
        if len(self.stopped) > 5:
            out.append(
                f"not posted: {len(self.stopped)} posts are failed or unknown; `quotecast status`"
                " lists them with what to do (`retry` or `resolve`)"
            )
        else:
            for slug, target, state in self.stopped:
                then = (
                    f"`quotecast resolve {slug} {target}` once you know whether it is out"
                    if state == "unknown"
                    else f"`quotecast retry {slug} --target {target}` once it is fixed"
                )
                out.append(
                    f"not posted: {slug} → {target} is {state} (`quotecast status` says why); "
                    + then
                )
        for m in self.missed:
            out.append(
                f"missed: {m.slug} → {m.target}: publish_at {local_time(m.at, self.tz)} is past "
                f"by more than misfire_grace, so it is not posted late; "
                f"`quotecast publish --now {m.slug}` posts it"
            )
        if self.unslotted:
            slugs = list(dict.fromkeys(s for s, _ in self.unslotted))
            targets = list(dict.fromkeys(t for _, t in self.unslotted))
            out.append(
                f"waiting: {len(slugs)} item(s) ({', '.join(slugs[:5])}"
                f"{', …' if len(slugs) > 5 else ''}) have no publish_at and "
                f"{', '.join(targets)} {'has' if len(targets) == 1 else 'have'} no slots; "
                "`quotecast publish --now SLUG…` or `--now --all` posts them"
            )
        return out


def local_time(at: datetime, tz: str) -> str:
    from zoneinfo import ZoneInfo

    return at.astimezone(ZoneInfo(tz)).strftime("%a %Y-%m-%d %H:%M %Z")


def due_now(plan: Plan, targets: Iterable[str] | None = None) -> list[Entry]:
    """The plan's due entries, in posting order: what a daemon pass posts at `plan.now`."""
    wanted = set(targets) if targets else None
    return [e for e in plan.due() if wanted is None or e.target in wanted]


def choose(
    settings: Settings,
    items: Sequence[Item],
    rows: Iterable[RowLike],
    now: datetime,
    *,
    slugs: Sequence[str] = (),
    everything: bool = False,
    targets: Sequence[str] = (),
    invalid: Iterable[str] = (),
) -> Selection:
    """The posts one form of `publish` sends at `now`.

    `invalid` are slugs of queue files that failed validation: naming one is not an
    unknown slug (the pass reports the file's problem instead).
    """
    if now.tzinfo is None:
        raise ValueError("choose needs an aware `now`")
    if slugs and everything:
        raise SelectionError("give SLUGs or --all, not both")
    for t in targets:
        if t not in settings.targets:
            raise SelectionError(
                f"no target named {t!r}; configured targets: {', '.join(settings.targets)}"
            )
    now = now.astimezone(UTC)
    rows = list(rows)
    by_key = {(r.slug, r.target): r for r in rows}
    wanted_targets = set(targets) or None
    tz = settings.schedule.timezone

    if slugs:
        known = {i.slug for i in items} | set(invalid)
        missing = [s for s in dict.fromkeys(slugs) if s not in known]
        if missing:
            names = ", ".join(repr(s) for s in missing)
            raise SelectionError(
                f"no queue item named {names} in {settings.queue_path}; "
                "`quotecast status` lists the items"
            )
        by_slug = {i.slug: i for i in items}
        scope = [by_slug[s] for s in dict.fromkeys(slugs) if s in by_slug]
        form: Form = "named"
    else:
        scope = queue_order(items)
        form = "all" if everything else "due"

    sel = Selection(form=form, tz=tz)
    sel.nowhere = [i.slug for i in scope if posts_nowhere(i)]
    open_pairs: list[tuple[Item, str]] = []
    for item in scope:
        for target in targets_for(item, settings)[0]:
            if wanted_targets and target not in wanted_targets:
                continue
            if form != "due":
                sel.scope.append((item.slug, target))
            row = by_key.get((item.slug, target))
            if row is not None and row.state == "posted":
                sel.already_posted += 1
            elif form != "due" and row is not None and row.state in ("failed", "unknown"):
                sel.stopped.append((item.slug, target, row.state))
            elif is_open(row, now):
                open_pairs.append((item, target))

    sel.pending = len(open_pairs)
    plan = make_plan(settings, items, rows, now, HORIZON_DAYS)
    if form != "due":
        # a named post that is due anyway takes its slot, as the daemon's would: left
        # unreserved, the slot would stay free and the next item would go out in it too
        due = {(e.slug, e.target): e for e in due_now(plan)}
        sel.picks = []
        for item, target in open_pairs:
            e = due.get((item.slug, target))
            at, kind = (e.at, e.kind) if e else (None, "asked")
            sel.picks.append(Pick(item.slug, target, at, kind))
    else:
        sel.picks = [
            Pick(e.slug, e.target, e.at, e.kind)
            for e in due_now(plan, targets)
            if e.slug is not None
        ]
        sel.upcoming = _upcoming(plan, wanted_targets)
        sel.missed = [m for m in plan.missed if not wanted_targets or m.target in wanted_targets]
        planned = {(e.slug, e.target) for e in plan.entries} | {
            (w.slug, w.target) for w in plan.waiting if w.at is not None
        }
        sel.unslotted = [
            (item.slug, t)
            for item, t in open_pairs
            if item.publish_at is None
            and (item.slug, t) not in planned
            and not target_slots(settings, t)
        ]
    sel.has_slots = any(target_slots(settings, t) for t in {p.target for p in sel.picks})
    return sel


def _upcoming(plan: Plan, targets: set[str] | None) -> Upcoming | None:
    """The earliest planned post after now; beyond the horizon, the earliest publish_at."""
    entries = [e for e in plan.upcoming() if not targets or e.target in targets]
    if entries:
        first = min(entries, key=lambda e: (e.at, e.order))
        assert first.slug is not None
        same = [e.target for e in entries if e.at == first.at and e.slug == first.slug]
        return Upcoming(first.at, first.slug, tuple(same), first.kind)
    later = [w for w in plan.waiting if w.at is not None and (not targets or w.target in targets)]
    if later:
        w = min(later, key=lambda w: (w.at or plan.until, w.slug))
        assert w.at is not None
        same = [x.target for x in later if x.at == w.at and x.slug == w.slug]
        return Upcoming(w.at, w.slug, tuple(same), "publish_at")
    return None
