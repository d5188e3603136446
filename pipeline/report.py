"""What commands print: pass summaries, status and history, for people and for --json."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.table import Table

from pipeline.config import Settings
from pipeline.items import load_queue
from pipeline.ledger import AttemptRow, Ledger, utcnow
from pipeline.runner import PassReport, targets_for

console = Console(highlight=False, soft_wrap=True)


def _rel(path: Any) -> str:
    from pathlib import Path

    p = Path(str(path))
    try:
        return str(p.relative_to(Path.cwd()))
    except ValueError:
        return str(p)


def print_pass_report(report: PassReport, s: Settings, dry_run: bool = False) -> None:
    for p in report.problems:
        console.print(f"[red]skipped[/red] {p}")
    for o in report.outcomes:
        if o.result == "posted":
            console.print(f"[green]posted[/green]  {o.slug} → {o.target}  {o.url or ''}")
        elif o.result == "dry-run":
            console.print(
                f"[cyan]would post[/cyan] {o.slug} → {o.target}  card {_rel(o.card_path)}"
            )
        elif o.result == "skipped":
            console.print(f"[yellow]skipped[/yellow] {o.slug} → {o.target}: {o.error}")
        else:
            console.print(f"[red]{o.result}[/red]  {o.slug} → {o.target}: {o.error}")
    posted = report.by_target("posted")
    if dry_run:
        console.print(f"dry run: {report.count('dry-run')} posts prepared, nothing claimed or sent")
        return
    if posted:
        parts = ", ".join(f"{n} to {t}" for t, n in posted.items())
        console.print(f"[bold]published {sum(posted.values())} posts[/bold] ({parts})")
    else:
        extra = f"; {report.already_posted} already posted earlier" if report.already_posted else ""
        console.print(f"[bold]nothing new to publish[/bold]{extra}")
    data = s.data_path
    console.print(f"  cards:  {_rel(data / 'cards')}/")
    if any(t.network == "outbox" for t in s.targets.values()):
        console.print(f"  outbox: {_rel(data / 'outbox')}/")
    console.print(f"  ledger: {_rel(data / 'ledger.sqlite3')}  (quotecast status)")
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
    for item in scan.items:
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
    ledger.close()
    return {
        "posts": out,
        "needs_attention": [e for e in out if e["state"] in ("failed", "unknown")],
        "problems": [str(p) for p in scan.problems],
        "daemon": daemon,
        "counts": _counts(out),
    }


def daemon_status(beat_at: datetime, info: dict[str, Any], now: datetime) -> str:
    """alive | stale (no heartbeat for longer than it promised) | stopped (exited cleanly)."""
    if info.get("state") == "stopped":
        return "stopped"
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
        table.add_row(e["item"], e["target"], f"[{colour}]{e['state']}[/{colour}]", when, detail)
    console.print(table)
    counts = ", ".join(f"{n} {k}" for k, n in sorted(data["counts"].items()))
    console.print(counts or "the queue is empty")
    for e in data["needs_attention"]:
        how = (
            f"quotecast resolve {e['item']} {e['target']} --posted URL | --not-posted"
            if e["state"] == "unknown"
            else f"quotecast retry {e['item']} --target {e['target']}"
        )
        console.print(
            f"[bold red]needs you:[/bold red] {e['item']} → {e['target']} is {e['state']}: "
            f"{e.get('error', '')}\n    then: {how}"
        )
    for p in data["problems"]:
        console.print(f"[red]problem:[/red] {p}")
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
            f"daemon: [green]alive[/green] (pid {d.get('pid', '?')} on {d.get('host', '?')}, "
            f"heartbeat {_when(d['last_beat'])}); {last}{nxt}"
        )
    elif status == "stopped":
        console.print(
            f"daemon: [yellow]stopped[/yellow] cleanly at {_when(d['last_beat'])}; {last}"
        )
    else:
        console.print(
            f"daemon: [bold red]stale[/bold red]: no heartbeat since {_when(d['last_beat'])} "
            f"({d['owner']}); is `quotecast run` still running? {last}"
        )


def print_plan(data: dict[str, Any]) -> None:
    """`quotecast plan`: the calendar, then what waits, what was missed, what conflicts."""
    table = Table(title=f"quotecast plan ({data['timezone']})", show_lines=False)
    for col in ("when", "item", "targets", "status"):
        table.add_column(col, overflow="fold")
    colours = {"due": "bold green", "scheduled": "white", "free": "dim"}
    for e in data["calendar"]:
        colour = colours.get(e["status"], "white")
        item = e["item"] or "(free slot)"
        if e["kind"] == "publish_at":
            item += "  [cyan](publish_at)[/cyan]"
        when = e["local"] + (f"\n[yellow]{e['note']}[/yellow]" if e.get("note") else "")
        status = "due now" if e["status"] == "due" else e["status"]
        table.add_row(when, item, ", ".join(e["targets"]), f"[{colour}]{status}[/{colour}]")
    console.print(table)
    for w in data["waiting"]:
        console.print(f"[yellow]waiting:[/yellow] {w['item']} → {w['target']}: {w['reason']}")
    for m in data["missed"]:
        console.print(
            f"[bold red]missed:[/bold red] {m['item']} → {m['target']} at {m['local']}: "
            f"{m['reason']}"
        )
    for c in data["conflicts"]:
        console.print(f"[bold red]conflict:[/bold red] {c['message']}")
    for r in data["runway"]:
        console.print(
            f"[yellow]runs dry:[/yellow] {r['target']} has {r['items']} item(s) for its next "
            f"{r['slots']} slots; first empty slot {r['local']}"
        )
    for p in data["problems"]:
        console.print(f"[red]problem:[/red] {p}")
    if not data["calendar"] and not data["waiting"]:
        console.print("nothing planned: no slots and nothing queued")


def print_history(rows: list[AttemptRow]) -> None:
    table = Table(title="attempts, newest first")
    for col in ("time", "item", "target", "#", "outcome", "detail"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(
            r.at.strftime("%Y-%m-%d %H:%M:%S"),
            r.slug,
            r.target,
            str(r.attempt),
            r.outcome,
            r.error or r.url or r.remote_id or "",
        )
    console.print(table)
