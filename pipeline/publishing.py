"""Publishing on request: choose (pipeline.selection), reserve, post, record.

The CLI's `publish` and the daemon's passes post through `post_picks`, so a post that
goes out because it is due is reserved for its slot the same way whoever sends it (the
next plan then knows the slot was used, and does not hand it to the next item).
`publish_item` is the one-item "publish now" a front door (the CLI's
`publish --now SLUG`, a studio button) calls.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from pipeline.config import Settings
from pipeline.items import QueueScan, load_queue
from pipeline.ledger import Ledger, utcnow
from pipeline.queue_cache import load_queue_cached
from pipeline.runner import PassReport, Runner
from pipeline.selection import Pick, Selection, choose


@dataclass
class Request:
    """One `publish` command line: which form, limited to which targets."""

    slugs: Sequence[str] = ()
    everything: bool = False
    targets: Sequence[str] = ()
    dry_run: bool = False


def open_ledger(settings: Settings, dry_run: bool) -> Ledger | None:
    """The ledger; for a dry run only one that already exists (a dry run creates nothing)."""
    url, path = settings.ledger_address, settings.data_path / "ledger.sqlite3"
    if dry_run and url is None and not path.exists():
        return None
    return Ledger.open(settings.data_path, settings.ledger_address)


def select(
    settings: Settings, ledger: Ledger | None, request: Request, now: datetime | None = None
) -> tuple[Selection, QueueScan]:
    """Read the queue and the ledger once and choose what this request posts.

    The queue goes through the parse cache the bio build and the daemon share (a file is
    parsed again whenever its size, mtime or inode moved, or it changed in the last two
    seconds), except on a dry run, which writes nothing, not even the cache."""
    tz = ZoneInfo(settings.schedule.timezone)
    if request.dry_run:
        scan = load_queue(settings.queue_path, tz)
    else:
        scan = load_queue_cached(settings.queue_path, tz, settings.data_path)
    rows = ledger.rows() if ledger is not None else []
    selection = choose(
        settings,
        scan.items,
        rows,
        now or utcnow(),
        slugs=request.slugs,
        everything=request.everything,
        targets=request.targets,
        invalid=[p.path.stem for p in scan.problems],
    )
    return selection, scan


def post_picks(
    runner: Runner,
    picks: Sequence[Pick],
    scan: QueueScan,
    dry_run: bool = False,
    allowed: set[tuple[str, str]] | None = None,
) -> PassReport:
    """Post these picks, in their order; due ones are reserved for their slot first.

    `allowed` widens what the pass may post to (item, target) pairs that are pending
    when the runner reaches them (named and all forms); by default only the picks.
    """
    settings, ledger = runner.settings, runner.ledger
    if ledger is not None and not dry_run:
        for p in picks:
            if p.at is not None:
                network = settings.targets[p.target].network
                ledger.reserve(p.slug, p.target, network, p.at, settings.schedule.timezone)
    pairs = {(p.slug, p.target) for p in picks} | (allowed or set())
    rank = {slug: i for i, slug in enumerate(dict.fromkeys(p.slug for p in picks))}
    items = sorted(scan.items, key=lambda it: rank.get(it.slug, len(rank)))
    ordered = QueueScan(items=items, problems=list(scan.problems))
    return runner.run(
        due=lambda item, target: (item.slug, target) in pairs, scan=ordered, dry_run=dry_run
    )


def execute(
    settings: Settings,
    ledger: Ledger | None,
    selection: Selection,
    scan: QueueScan,
    dry_run: bool = False,
    stop: threading.Event | None = None,
    rebuild_site: bool = True,
) -> PassReport:
    """Run one pass over the selection (a dry run renders and captions, claims nothing).
    `rebuild_site=False` leaves the bio build to the caller, so it can report first."""
    runner = Runner(settings, ledger, stop=stop)
    try:
        report = post_picks(
            runner, selection.picks, scan, dry_run=dry_run, allowed=selection.pairs()
        )
    finally:
        runner.close()
    # the runner counts posted rows it passes over; a due pass passes over none of them
    report.already_posted = max(report.already_posted, selection.already_posted)
    if rebuild_site and report.posted and not dry_run:
        from pipeline.hooks import after_posting

        after_posting(settings, scan)
    return report


def publish_item(
    settings: Settings, slug: str, targets: Sequence[str] = (), dry_run: bool = False
) -> tuple[Selection, PassReport]:
    """Publish one item now, whatever its schedule: `publish --now SLUG`, a studio button."""
    request = Request(slugs=[slug], targets=targets, dry_run=dry_run)
    ledger = open_ledger(settings, dry_run)
    try:
        selection, scan = select(settings, ledger, request)
        return selection, execute(settings, ledger, selection, scan, dry_run)
    finally:
        if ledger is not None:
            ledger.close()
