"""What commands print: pass summaries, status and history, for people and for --json."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.table import Table

from pipeline.config import Settings
from pipeline.items import load_queue
from pipeline.ledger import AttemptRow, Ledger
from pipeline.runner import PassReport, targets_for

console = Console(highlight=False)


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
            console.print(f"[cyan]would post[/cyan] {o.slug} → {o.target}  card {_rel(o.card_path)}")
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
    ledger = Ledger.open(s.data_path)
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
    ledger.close()
    return {
        "posts": out,
        "needs_attention": [e for e in out if e["state"] in ("failed", "unknown")],
        "problems": [str(p) for p in scan.problems],
        "daemon": daemon,
        "counts": _counts(out),
    }


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
    return datetime.fromisoformat(value).strftime("%Y-%m-%d %H:%M UTC")


def print_status(data: dict[str, Any]) -> None:
    table = Table(title="quotecast status", show_lines=False)
    for col in ("item", "target", "state", "when", "url / error"):
        table.add_column(col, overflow="fold")
    for e in data["posts"]:
        colour = _COLOURS.get(e["state"], "white")
        when = _when(e.get("posted_at") or (e.get("updated_at") if e["state"] != "pending" else None))
        detail = e.get("url") or e.get("error") or (
            f"at {e['publish_at']}" if e.get("publish_at") else ""
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
        console.print(f"daemon: last heartbeat {_when(d['last_beat'])} ({d['owner']})")
    else:
        console.print("daemon: never ran (start it with `quotecast run`)")


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
