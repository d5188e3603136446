"""What commands print: pass summaries, status and history, for people and for --json."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from pipeline.config import Settings
from pipeline.errors import DataDirError
from pipeline.item_refs import reference_problems
from pipeline.queue_cache import load_queue_cached
from pipeline.targeting import targets_for

if TYPE_CHECKING:
    from pipeline.ledger import AttemptRow, Ledger
    from pipeline.runner import PassReport
    from pipeline.selection import Selection

# Text from networks, files and people is data, never markup: every value that is not
# our own is passed through `_lit` (`[/b]` in a server's error must print as is), and
# emoji codes are not replaced.
console = Console(highlight=False, soft_wrap=True, emoji=False)  # ":x:" stays ":x:"


def utcnow() -> datetime:
    return datetime.now(UTC)


def _lit(text: object) -> str:
    """Markup that prints exactly `text`. (Rich's `escape` doubles a trailing backslash so
    that a tag may follow; nothing follows here, so the backslash stays single.)"""
    return escape(f"{text} ")[:-1]


def ledger_name(s: Settings) -> str:
    """The ledger a person would look at: the SQLite file, or the database URL without
    its password."""
    if not s.ledger_address:
        return _rel(s.data_path / "ledger.sqlite3")
    from sqlalchemy.engine import make_url

    try:
        return make_url(s.ledger_address).render_as_string(hide_password=True)
    except Exception:  # an unreadable URL is reported where the ledger is opened
        return "ledger_url (QUOTECAST_LEDGER_URL)"


def _rel(path: Any) -> str:
    from pathlib import Path

    p = Path(str(path))
    try:
        return str(p.relative_to(Path.cwd()))
    except ValueError:
        return str(p)


def print_pass_report(
    report: PassReport, s: Settings, dry_run: bool = False, selection: Selection | None = None
) -> None:
    """One line per post, then the totals; with a dry run, what the same form would post."""
    for note in selection.notes() if selection else ():
        console.print(f"[yellow]{escape(note)}[/yellow]")
    for p in report.problems:
        console.print(f"[red]skipped[/red] {_lit(str(p))}")
    for o in report.outcomes:
        if o.result == "posted":
            console.print(
                f"[green]posted[/green]  {_lit(o.slug)} → {_lit(o.target)}  " + _lit(o.url or "")
            )
        elif o.result == "dry-run":
            console.print(
                f"[cyan]would post[/cyan] {_lit(o.slug)} → {_lit(o.target)}  "
                f"card {_lit(_rel(o.card_path))}"
            )
        elif o.result == "skipped":
            console.print(
                f"[yellow]skipped[/yellow] {_lit(o.slug)} → {_lit(o.target)}: " + _lit(str(o.error))
            )
        else:
            console.print(
                f"[red]{o.result}[/red]  {_lit(o.slug)} → {_lit(o.target)}: " + _lit(str(o.error))
            )
    posted = report.by_target("dry-run" if dry_run else "posted")
    if posted:
        n = sum(posted.values())
        parts = _lit(", ".join(f"{c} to {t}" for t, c in posted.items()))
        verb = "would publish" if dry_run else "published"
        console.print(f"[bold]{verb} {n} post{'s' if n != 1 else ''}[/bold] ({parts})")
    else:
        extra = f"; {report.already_posted} already posted earlier" if report.already_posted else ""
        nothing = (
            selection.nothing()
            if selection is not None and not selection.picks
            else f"nothing new to publish{extra}"
        )
        console.print(f"[bold]{escape(nothing)}[/bold]")
    if dry_run:
        console.print("dry run: nothing claimed or sent")
        return
    for r in report.in_flight:  # never silent: a dead process's post waits for its lease
        until = f" until {r.lease_until:%Y-%m-%d %H:%M} UTC" if r.lease_until else ""
        console.print(
            f"[yellow]still sending[/yellow] {_lit(r.slug)} → {_lit(r.target)}: "
            f"held by {_lit(r.owner)}{until}; "
            "if that process is gone, the next pass after then looks it up on the network"
        )
    data = s.data_path
    console.print(f"  cards:  {_lit(_rel(data / 'cards'))}/")
    if any(t.network == "outbox" for t in s.targets.values()):
        console.print(f"  outbox: {_lit(_rel(data / 'outbox'))}/")
    console.print(f"  ledger: {_lit(ledger_name(s))}  (quotecast status)")
    if report.problems:
        console.print(
            f"[red]{len(report.problems)} queue problem(s)[/red]: run `quotecast check` for details"
        )


def _creatable(folder: Path) -> None:
    """The data folder is missing: refuse, as opening the ledger would, when it can never be
    made (a file where one of its parents should be)."""
    parent = folder.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise DataDirError(
            f"{folder}: data folder cannot be created ({parent} is not a folder); "
            "set data_dir in config.toml"
        )


def status_data(
    s: Settings,
    *,
    limit: int | None = None,
    since: datetime | None = None,
    states: Sequence[str] = (),
) -> dict[str, Any]:
    """Counts, what needs a person, and the posts (most recent first), filtered and limited.

    `counts` and `needs_attention` always cover everything; `posts` holds the rows
    that pass `states` and `since` (their newest time at or after it), the newest
    `limit` of them; `total` says how many passed the filters.
    """
    tz = ZoneInfo(s.schedule.timezone)
    scan = load_queue_cached(s.queue_path, tz, s.data_path, check_images=False)
    rows: dict[tuple[str, str], Any] = {}
    beat = None
    tokens: list[dict[str, Any]] = []
    stuck: dict[tuple[str, str], Any] = {}
    if s.ledger_address is None and not s.data_path.exists():
        # no data folder and no server ledger: nothing was ever posted, and the database
        # layer (a fifth of a second to import) is not needed to say so; a data_dir below
        # a file is still said
        _creatable(s.data_path)
    else:
        from pipeline.ledger import Ledger

        ledger = Ledger.open(s.data_path, s.ledger_address)
        try:
            rows = _status_rows(ledger)
            beat = ledger.heartbeat("daemon")
            tokens = _token_entries(ledger)
            stuck = {(r.slug, r.target): r for r in ledger.stuck_sending()}
        finally:
            ledger.close()
    out: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    problems = list(scan.problems)
    for item in scan.items:
        problems.extend(reference_problems(item, s))  # a theme typo: said here, not hidden
        names, _ = targets_for(item, s)
        for t in names:
            seen.add((item.slug, t))
            r = rows.get((item.slug, t))
            entry: dict[str, Any] = {"item": item.slug, "target": t, "state": "pending"}
            if item.publish_at:
                entry["publish_at"] = item.publish_at.isoformat()
            if r is not None:
                entry.update(_row_entry(r))
            out.append(entry)
    for key, r in rows.items():
        if key not in seen:
            entry = {"item": r.slug, "target": r.target, **_row_entry(r), "in_queue": False}
            out.append(entry)
    daemon: dict[str, Any] | None = None
    if beat is not None:
        owner, at, info = beat
        daemon = {"owner": owner, "last_beat": at.isoformat(), **info}
        daemon["status"] = daemon_status(at, info, utcnow())
        daemon["alive"] = daemon["status"] == "alive"
    for e in out:  # a send whose process died: shown until a pass or the daemon settles it
        r = stuck.get((e["item"], e["target"]))
        if r is not None and e["state"] == "sending" and r.lease_until is not None:
            e["stuck"] = True
            e["error"] = (
                f"stuck in sending since {_when(r.updated_at.isoformat())} UTC (lease ended "
                f"{_when(r.lease_until.isoformat())}): its process stopped mid-send"
            )
    shown = _recent(out, since, states)
    return {
        "tokens": tokens,
        "posts": shown[:limit] if limit else shown,
        "total": len(shown),
        "needs_attention": [
            e for e in out if e["state"] in ("failed", "unknown") or e.get("stuck")
        ],
        "problems": [str(p) for p in problems],
        "waiting": [e for e in out if e.get("not_before")],
        "daemon": daemon,
        "counts": _counts(out),
    }


def _token_entries(ledger: Ledger) -> list[dict[str, Any]]:
    """Each target's recorded token expiry, with a warning 14 days ahead (see tokens.py)."""
    from pipeline.tokens import expiring, warning_text

    now = utcnow()
    rows = ledger.tokens()
    soon = {r.target for r in expiring(rows, now)}
    return [
        {
            "target": r.target,
            "network": r.network,
            "expires_at": r.expires_at.isoformat() if r.expires_at else None,
            "checked_at": r.checked_at.isoformat(),
            "warning": warning_text(r, now) if r.target in soon else None,
        }
        for r in rows
    ]


def _stamp(e: dict[str, Any]) -> str:
    """The entry's newest time (ISO, UTC): posted, else last change; pending: none."""
    return str(e.get("posted_at") or e.get("updated_at") or "")


def _recent(
    entries: list[dict[str, Any]], since: datetime | None, states: Sequence[str]
) -> list[dict[str, Any]]:
    """Newest first; entries without a time (never tried) after them, in queue order."""
    picked = [e for e in entries if not states or e["state"] in states]
    if since is not None:
        picked = [e for e in picked if _stamp(e) and datetime.fromisoformat(_stamp(e)) >= since]
    timed = sorted((e for e in picked if _stamp(e)), key=_stamp, reverse=True)
    return timed + [e for e in picked if not _stamp(e)]


def daemon_status(beat_at: datetime, info: dict[str, Any], now: datetime) -> str:
    """alive | stale (no heartbeat for longer than it promised) | stopped (exited cleanly)."""
    if info.get("state") == "stopped":
        return "stopped"
    from pipeline.liveness import process_gone

    if process_gone(info):
        return "stale"
    stale_after = float(info.get("stale_after", 180))
    return "alive" if (now - beat_at).total_seconds() <= stale_after else "stale"


def _status_rows(ledger: Ledger) -> dict[tuple[str, str], Any]:
    """Only the columns status shows, as light rows: 20,000 posts in a few MB."""
    from sqlalchemy import select

    from pipeline.ledger import posts

    cols = [posts.c[k] for k in STATUS_COLUMNS]
    with ledger.engine.connect() as conn:
        return {(r.slug, r.target): r for r in conn.execute(select(*cols))}


STATUS_COLUMNS = (
    *("slug", "target", "network", "state", "attempts", "owner", "lease_until"),
    *("not_before", "posted_at", "url", "last_error", "error_kind", "updated_at"),
)


def _iso(value: Any) -> str:
    """Stored times (UTC text) in the form status always printed: isoformat() of the time."""
    return (value if isinstance(value, datetime) else datetime.fromisoformat(value)).isoformat()


def _row_entry(r: Any) -> dict[str, Any]:
    e: dict[str, Any] = {"state": r.state, "attempts": r.attempts}
    if r.posted_at:
        e["posted_at"] = _iso(r.posted_at)
    if r.url:
        e["url"] = r.url
    if r.last_error and r.state != "posted":
        e["error"] = r.last_error
    if r.state == "pending" and getattr(r, "not_before", None) is not None:
        e["not_before"] = _iso(r.not_before)  # deferred by a rate limit or quota
    e["updated_at"] = _iso(r.updated_at)
    return e


def _counts(entries: list[dict[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for e in entries:
        counts[e["state"]] = counts.get(e["state"], 0) + 1
    return counts


_COLOURS = {
    "posted": "green",
    "pending": "white",
    "claimed": "cyan",
    "sending": "cyan",
    "failed": "red",
    "unknown": "magenta",
}


def _when(value: str | None) -> str:
    if not value:
        return ""
    return datetime.fromisoformat(value).strftime("%Y-%m-%d %H:%M")


def _show_url(url: str) -> str:
    """Outbox receipts are file URIs: show them as paths a person can open."""
    if url.startswith("file://"):
        from urllib.parse import unquote, urlsplit

        return _rel(unquote(urlsplit(url).path))
    return url


def shorten(text: str, width: int, keep_end: bool = False) -> str:
    """At most `width` characters: cut with "…" at the end, or at the start for paths and
    URLs, whose end (the file, the post id) is the part that tells them apart."""
    if len(text) <= width:
        return text
    if width <= 1:
        return "…"[:width]
    return "…" + text[-(width - 1) :] if keep_end else text[: width - 1] + "…"


def status_line(e: dict[str, Any], width: int) -> Text:
    """One post on one line of `width` columns: state, time, item → target, url or error."""
    state = e["state"]
    when = _when(e.get("posted_at") or (e.get("updated_at") if state != "pending" else None))
    url = e.get("url")
    detail = (
        _show_url(url)
        if url
        else e.get("error") or (f"at {_when(e['publish_at'])}" if e.get("publish_at") else "")
    )
    head = f"{state:<8} {when or '—':<16} "
    room = max(width - len(head), 24)
    # the item and target get what they need, up to half the room when there is a detail
    most = room if not detail else max(room - min(len(detail), room // 2) - 2, room // 2)
    target = shorten(e["target"], 14)
    item = shorten(e["item"], max(most - len(target) - 3, 8))
    line = Text(head, no_wrap=True, overflow="ellipsis")
    line.stylize(_COLOURS.get(state, "white"), 0, len(state))
    line.append(f"{item} → {target}")
    left = width - len(line.plain) - 2
    if detail and left >= 4:
        line.append("  " + shorten(detail, left, keep_end=bool(url)))
    return line


def print_status(data: dict[str, Any], hint: str = "") -> None:
    """Counts and what needs a person first, then the most recent posts, one line each."""
    width = console.width
    counts = ", ".join(f"{n:,} {k}" for k, n in sorted(data["counts"].items()))
    total = sum(data["counts"].values())
    console.print(
        Text(f"quotecast status: {total:,} posts ({counts})" if total else "the queue is empty")
    )
    for e in data["needs_attention"]:
        if e["state"] == "unknown":
            how = f"quotecast resolve {e['item']} {e['target']} --posted URL | --not-posted"
        elif e["state"] == "sending":  # never retry: it may be out; a pass looks it up first
            how = "quotecast publish --now (or a running daemon) looks it up on the network"
        else:
            how = f"quotecast retry {e['item']} --target {e['target']}"
        line = Text("needs you: ", style="bold red")
        line.append(f"{e['item']} → {e['target']} is {e['state']}: {e.get('error', '')}")
        console.print(line)
        console.print(Text(f"    then: {how}"))
    for p in data["problems"]:
        console.print(Text("problem: ", style="red") + Text(str(p)))
    for e in data.get("waiting", []):  # said in full: which limit, and until when
        line = Text("waiting: ", style="yellow")
        line.append(f"{e['item']} → {e['target']} until {_when(e['not_before'])} UTC")
        line.append(f": {e.get('error', '')}")
        console.print(line)
    for t in data.get("tokens", []):
        if t["warning"]:
            console.print(Text("token: ", style="bold yellow") + Text(t["warning"]))
    d = data.get("daemon")
    if d:
        print_daemon(d)
    else:
        console.print("daemon: never ran (start it with `quotecast run`)")
    posts = data["posts"]
    if not posts:
        if total:
            console.print(Text("no posts match" + (f" ({hint})" if hint else "")))
        return
    more = data.get("total", len(posts)) - len(posts)
    title = f"most recent {len(posts):,} of {data.get('total', len(posts)):,}" if more else ""
    console.print(Text(title + (f" ({hint})" if hint and more else ""), style="bold"))
    for e in posts:
        console.print(status_line(e, width), no_wrap=True, overflow="ellipsis", crop=True)


def print_daemon(d: dict[str, Any]) -> None:
    status = d.get("status", "alive")
    last = f"last pass {_when(d['last_pass_at'])}" if d.get("last_pass_at") else "no pass yet"
    if d.get("last_pass"):
        counts = ", ".join(f"{n} {k}" for k, n in d["last_pass"].items() if n)
        last += f" ({counts or 'nothing to do'})"
    if status == "alive":
        nxt = f"; next {_when(d['next_pass_at'])}" if d.get("next_pass_at") else ""
        console.print(
            f"daemon: [green]alive[/green] (pid {d.get('pid', '?')} on "
            f"{_lit(str(d.get('host', '?')))}, heartbeat {_when(d['last_beat'])}); "
            f"{_lit(last + nxt)}"
        )
    elif status == "stopped":
        console.print(
            f"daemon: [yellow]stopped[/yellow] cleanly at {_when(d['last_beat'])}; {_lit(last)}"
        )
    else:
        console.print(
            f"daemon: [bold red]stale[/bold red]: no heartbeat since {_when(d['last_beat'])} "
            f"({_lit(str(d['owner']))}); is `quotecast run` still running? {_lit(last)}"
        )


def print_plan(data: dict[str, Any]) -> None:
    """`quotecast plan`: the calendar, then what waits, what was missed, what conflicts."""
    table = Table(title=f"quotecast plan ({_lit(data['timezone'])})", show_lines=False)
    for col in ("when", "item", "targets", "status"):
        table.add_column(col, overflow="fold")
    colours = {"due": "bold green", "scheduled": "white", "free": "dim"}
    for e in data["calendar"]:
        colour = colours.get(e["status"], "white")
        item = _lit(e["item"] or "(free slot)")
        if e["kind"] == "publish_at":
            item += "  [cyan](publish_at)[/cyan]"
        when = Text(e["local"])
        if e.get("note"):
            when.append("\n" + e["note"], style="yellow")
        status = "due now" if e["status"] == "due" else e["status"]
        targets = _lit(", ".join(e["targets"]))
        table.add_row(when, item, targets, f"[{colour}]{status}[/{colour}]")
    console.print(table)
    for w in data["waiting"]:
        console.print(
            "[yellow]waiting:[/yellow] " + _lit(f"{w['item']} → {w['target']}: {w['reason']}")
        )
    for m in data["missed"]:
        console.print(
            "[bold red]missed:[/bold red] "
            + _lit(f"{m['item']} → {m['target']} at {m['local']}: {m['reason']}")
        )
    for c in data["conflicts"]:
        console.print(f"[bold red]conflict:[/bold red] {_lit(c['message'])}")
    for r in data["runway"]:
        console.print(
            "[yellow]runs dry:[/yellow] "
            + _lit(
                f"{r['target']} has {r['items']} item(s) for its next "
                f"{r['slots']} slots; first empty slot {r['local']}"
            )
        )
    for p in data["problems"]:
        console.print(f"[red]problem:[/red] {_lit(str(p))}")
    if not data["calendar"] and not data["waiting"]:
        console.print("nothing planned: no slots and nothing queued")


def history_line(r: AttemptRow, width: int) -> Text:
    """One attempt on one line: time, item → target, attempt number, outcome, detail."""
    detail = r.error or (_show_url(r.url) if r.url else r.remote_id) or ""
    tail = f"  #{r.attempt}  {r.outcome}"
    room = max(width - 21 - len(tail), 24)
    most = room if not detail else max(room - min(len(detail), room // 2) - 2, room // 2)
    target = shorten(r.target, 14)
    item = shorten(r.slug, max(most - len(target) - 3, 8))
    line = Text(f"{r.at:%Y-%m-%d %H:%M:%S}  {item} → {target}  #{r.attempt}  ")
    line.append(r.outcome, style=_COLOURS.get(r.outcome, "white"))
    left = width - len(line.plain) - 2
    if detail and left >= 4:
        line.append("  " + shorten(detail, left, keep_end=not r.error))
    return line


def print_history(rows: Iterable[AttemptRow]) -> int:
    """Stream attempts, newest first, one line each; returns how many were printed."""
    width = console.width
    n = 0
    batch: list[Text] = []
    for r in rows:
        if n == 0:
            console.print(Text("attempts, newest first", style="bold"))
        batch.append(history_line(r, width))
        n += 1
        if len(batch) == 200:  # printed in batches: still streamed, without a call per line
            console.print(Text("\n").join(batch), no_wrap=True, crop=True)
            batch = []
    if batch:
        console.print(Text("\n").join(batch), no_wrap=True, crop=True)
    if n == 0:
        console.print("no attempts recorded yet")
    return n


def parse_since(value: str) -> datetime:
    """`--since`: an ISO date or date-time (schedule-free: UTC unless it says), or 30m/24h/7d."""
    import re
    from datetime import UTC, timedelta

    from pipeline.errors import QuotecastError

    m = re.fullmatch(r"\s*(\d+)\s*([mhd])\s*", value)
    if m:
        unit = {"m": "minutes", "h": "hours", "d": "days"}[m.group(2)]
        return utcnow() - timedelta(**{unit: int(m.group(1))})
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        raise QuotecastError(
            f"--since: {value!r} is neither a date (2026-12-01), a date-time "
            "(2026-12-01T09:00) nor an age (30m, 24h, 7d)"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)
