"""What commands print: pass summaries, status and history, for people and for --json."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from pipeline.config import Settings
from pipeline.item_refs import reference_problems
from pipeline.items import load_queue
from pipeline.ledger import AttemptRow, Ledger, utcnow
from pipeline.runner import PassReport
from pipeline.selection import Selection
from pipeline.targeting import targets_for

# Text from networks, files and people is data, never markup: every value that is not
# our own is passed through `_lit` (`[/b]` in a server's error must print as is), and
# emoji codes are not replaced.
console = Console(highlight=False, soft_wrap=True, emoji=False)  # ":x:" stays ":x:"


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


def status_data(s: Settings) -> dict[str, Any]:
    """Every (item, target) with its state, plus the rows that need a person."""
    tz = ZoneInfo(s.schedule.timezone)
    scan = load_queue(s.queue_path, tz, check_images=False)
    ledger = Ledger.open(s.data_path, s.ledger_address)
    rows = {(r.slug, r.target): r for r in ledger.rows()}
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
    beat = ledger.heartbeat("daemon")
    daemon: dict[str, Any] | None = None
    if beat is not None:
        owner, at, info = beat
        daemon = {"owner": owner, "last_beat": at.isoformat(), **info}
        daemon["status"] = daemon_status(at, info, utcnow())
        daemon["alive"] = daemon["status"] == "alive"
    tokens = _token_entries(ledger)
    stuck = {(r.slug, r.target): r for r in ledger.stuck_sending()}
    ledger.close()
    for e in out:  # a send whose process died: shown until a pass or the daemon settles it
        r = stuck.get((e["item"], e["target"]))
        if r is not None and e["state"] == "sending" and r.lease_until is not None:
            e["stuck"] = True
            e["error"] = (
                f"stuck in sending since {_when(r.updated_at.isoformat())} UTC (lease ended "
                f"{_when(r.lease_until.isoformat())}): its process stopped mid-send"
            )
    return {
        "tokens": tokens,
        "posts": out,
        "needs_attention": [
            e for e in out if e["state"] in ("failed", "unknown") or e.get("stuck")
        ],
        "problems": [str(p) for p in problems],
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


def daemon_status(beat_at: datetime, info: dict[str, Any], now: datetime) -> str:
    """alive | stale (no heartbeat for longer than it promised) | stopped (exited cleanly)."""
    if info.get("state") == "stopped":
        return "stopped"
    from pipeline.liveness import process_gone

    if process_gone(info):
        return "stale"
    stale_after = float(info.get("stale_after", 180))
    return "alive" if (now - beat_at).total_seconds() <= stale_after else "stale"


def _row_entry(r: Any) -> dict[str, Any]:
    e: dict[str, Any] = {"state": r.state, "attempts": r.attempts}
    if r.posted_at:
        e["posted_at"] = r.posted_at.isoformat()
    if r.url:
        e["url"] = r.url
    if r.last_error and r.state != "posted":
        e["error"] = r.last_error
    e["updated_at"] = r.updated_at.isoformat()
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


def print_status(data: dict[str, Any]) -> None:
    table = Table(title="quotecast status", show_lines=False)
    table.add_column("item", overflow="fold")
    table.add_column("target", no_wrap=True)
    table.add_column("state", no_wrap=True)
    table.add_column("when (UTC)", no_wrap=True)
    table.add_column("url / error", overflow="fold")
    for e in data["posts"]:
        colour = _COLOURS.get(e["state"], "white")
        when = _when(
            e.get("posted_at") or (e.get("updated_at") if e["state"] != "pending" else None)
        )
        detail = (
            _show_url(e["url"])
            if e.get("url")
            else e.get("error") or (f"at {e['publish_at']}" if e.get("publish_at") else "")
        )
        table.add_row(
            _lit(e["item"]),
            _lit(e["target"]),
            f"[{colour}]{e['state']}[/{colour}]",
            when,
            _lit(str(detail)),
        )
    console.print(table)
    counts = ", ".join(f"{n} {k}" for k, n in sorted(data["counts"].items()))
    console.print(_lit(counts) or "the queue is empty")
    for e in data["needs_attention"]:
        if e["state"] == "unknown":
            how = f"quotecast resolve {e['item']} {e['target']} --posted URL | --not-posted"
        elif e["state"] == "sending":  # never retry: it may be out; a pass looks it up first
            how = "quotecast publish --now (or a running daemon) looks it up on the network"
        else:
            how = f"quotecast retry {e['item']} --target {e['target']}"
        console.print(
            f"[bold red]needs you:[/bold red] {_lit(e['item'])} → {_lit(e['target'])} is "
            f"{e['state']}: {_lit(str(e.get('error', '')))}\n    then: {_lit(how)}"
        )
    for p in data["problems"]:
        console.print(f"[red]problem:[/red] {_lit(str(p))}")
    for t in data.get("tokens", []):
        if t["warning"]:
            console.print(f"[bold yellow]token:[/bold yellow] {_lit(t['warning'])}")
    d = data.get("daemon")
    if d:
        print_daemon(d)
    else:
        console.print("daemon: never ran (start it with `quotecast run`)")


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


def print_history(rows: list[AttemptRow]) -> None:
    table = Table(title="attempts, newest first")
    for col in ("time", "item", "target", "#", "outcome", "detail"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(
            r.at.strftime("%Y-%m-%d %H:%M:%S"),
            _lit(r.slug),
            _lit(r.target),
            str(r.attempt),
            _lit(r.outcome),
            _lit(r.error or r.url or r.remote_id or ""),
        )
    console.print(table)
