"""The `quotecast` command: thin commands over the library.

Heavy modules (Pillow, SQLAlchemy, network clients) are imported inside the
commands so `quotecast --help` stays instant. Errors meant for people are
QuotecastError subclasses, printed as one line without a traceback.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from pipeline.config import Settings

F = TypeVar("F", bound=Callable[..., Any])


class Ctx:
    """Options shared by every command; settings are loaded on first use."""

    def __init__(self, config: str | None, verbose: int, log_format: str) -> None:
        self.config = config
        self.verbose = verbose
        self.log_format = log_format
        #: the daemon logs every event at the configured level; one-shot commands print a
        #: summary instead and log only warnings unless -v is given
        self.daemon = False
        self._settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            from pipeline.config import load_settings

            self._settings = load_settings(self.config)
            level = self._settings.log_level if self.daemon else "WARNING"
            setup_logging(
                level, self.verbose, self.log_format, self._settings.dotenv_secret_values()
            )
        return self._settings


def setup_logging(level: str, verbose: int, fmt: str, secrets: list[str] | None = None) -> None:
    from pipeline.logs import configure

    configure(
        level="DEBUG" if verbose > 1 else ("INFO" if verbose else level),
        fmt=fmt,
        extra_secrets=secrets,
    )


def handle_errors(fn: F) -> F:
    """Turn expected errors into one clear line and an exit status."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from pipeline.errors import QuotecastError

        try:
            return fn(*args, **kwargs)
        except QuotecastError as exc:
            click.secho(f"error: {exc}", fg="red", err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)
        except OSError as exc:  # a folder that cannot be written, a full disk: no traceback
            where = f"{exc.filename}: " if exc.filename else ""
            click.secho(
                f"error: {where}{exc.strerror or type(exc).__name__}; check that the path "
                "exists and is writable (data_dir and queue_dir in config.toml)",
                fg="red",
                err=True,
            )
            sys.exit(1)

    return wrapper  # type: ignore[return-value]


pass_ctx = click.make_pass_decorator(Ctx)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option(
    "--config",
    "-c",
    metavar="PATH",
    envvar="QUOTECAST_CONFIG",
    help="Config file (default: ./config.toml; env QUOTECAST_CONFIG).",
)
@click.option("-v", "--verbose", count=True, help="More logging (-vv for debug).")
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Log line format (json for machines).",
)
@click.version_option(package_name="quotecast", prog_name="quotecast")
@click.pass_context
def cli(ctx: click.Context, config: str | None, verbose: int, log_format: str) -> None:
    """quotecast: turn quotes dropped into queue/ into branded image cards and publish
    them exactly once, now or on a schedule.

    \b
    Typical flow:
      quotecast check            validate config and every queue file
      quotecast render           preview cards in var/preview/
      quotecast publish --now    post everything pending
      quotecast plan             the posting calendar for the next days
      quotecast run              the daemon: post at the schedule's slots
      quotecast status           what went out, what needs you
    """
    ctx.obj = Ctx(config, verbose, log_format)


def main() -> None:
    cli(prog_name="quotecast")


# -- set-up ------------------------------------------------------------------------------


@cli.command()
@handle_errors
@pass_ctx
def init(ctx: Ctx) -> None:
    """Write config.toml from the example and create queue/ (never overwrites)."""
    from pipeline.config import EXAMPLE_CONFIG

    target = Path(ctx.config) if ctx.config else Path("config.toml")
    try:
        # "x": create only; never overwrites, not even through a race or a dangling link
        with target.open("x", encoding="utf-8") as fh:
            fh.write(EXAMPLE_CONFIG.read_text(encoding="utf-8"))
        click.echo(f"wrote {target}")
    except FileExistsError:
        click.echo(f"{target} already exists; left unchanged")
    queue = target.parent / "queue"
    if queue.exists():
        click.echo(f"{queue}/ already exists; left unchanged")
    else:
        queue.mkdir(parents=True)
        click.echo(f"created {queue}/")
    click.echo(
        "next: put secrets in .env (see README), drop a quote in queue/, run `quotecast check`"
    )


@cli.command()
@click.option(
    "--render", "full_render", is_flag=True, help="Also render and encode every card (slower)."
)
@handle_errors
@pass_ctx
def check(ctx: Ctx, full_render: bool) -> None:
    """Validate the config and every queue file; list problems as file:line: field: message."""
    from pipeline.checks import run_checks

    s = ctx.settings
    result = run_checks(s, full_render=full_render)
    for line in result.ok_lines:
        click.echo(line)
    for warning in result.warnings:
        click.secho(f"warning: {warning}", fg="yellow")
    for problem in result.problems:
        click.secho(str(problem), fg="red")
    n = len(result.problems)
    if n:
        click.secho(
            f"{n} problem{'s' if n != 1 else ''}; the files named above will not be posted "
            f"until fixed ({result.item_count} valid item{'s' if result.item_count != 1 else ''})",
            fg="red",
        )
        sys.exit(1)
    click.secho(f"config and {result.item_count} queue items OK", fg="green")


@cli.command()
@click.option("--quote", required=True, help="The quotation, without quotation marks.")
@click.option("--author", required=True, help="Who said it.")
@click.option("--role", help="The speaker's descriptor, e.g. 'Former Tesla AI head'.")
@click.option("--link", help="http(s) link to the source or article.")
@click.option("--tag", "tags", multiple=True, help="A tag (repeatable); becomes a hashtag.")
@click.option("--category", "categories", multiple=True, help="Category label (repeatable).")
@click.option("--publish-at", help="ISO date-time, e.g. 2026-12-01T09:00 (schedule timezone).")
@click.option("--slug", help="File name without extension (default: from author and quote).")
@handle_errors
@pass_ctx
def add(
    ctx: Ctx,
    quote: str,
    author: str,
    role: str | None,
    link: str | None,
    tags: tuple[str, ...],
    categories: tuple[str, ...],
    publish_at: str | None,
    slug: str | None,
) -> None:
    """Write a new, valid queue file with a unique slug."""
    from datetime import datetime

    from pipeline.errors import QuotecastError
    from pipeline.items import ItemError, write_new_item

    s = ctx.settings
    fields: dict[str, Any] = {
        "quote": quote,
        "author": author,
        "role": role,
        "link": link,
        "tags": list(tags),
        "category": list(categories),
    }
    if publish_at:
        try:
            fields["publish_at"] = datetime.fromisoformat(publish_at)
        except ValueError:
            raise QuotecastError(
                f"--publish-at: {publish_at!r} is not an ISO date-time; use e.g. 2026-12-01T09:00"
            ) from None
    try:
        path = write_new_item(s.queue_path, fields, slug=slug)
    except ItemError as exc:
        raise QuotecastError(
            "; ".join(f"--{p.field}: {p.message}" if p.field else p.message for p in exc.problems)
        ) from None
    click.echo(f"wrote {path}")


@cli.command(name="import")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@handle_errors
@pass_ctx
def import_(ctx: Ctx, csv_file: Path) -> None:
    """Turn a CSV export (header row naming the fields) into queue files."""
    from zoneinfo import ZoneInfo

    from pipeline.errors import QuotecastError
    from pipeline.items import ItemError, import_csv

    s = ctx.settings
    try:
        report = import_csv(csv_file, s.queue_path, ZoneInfo(s.schedule.timezone))
    except ItemError as exc:
        raise QuotecastError("; ".join(str(p) for p in exc.problems)) from None
    for path in report.created:
        click.echo(f"created {path}")
    for rowno, path in report.existing:
        click.echo(f"{csv_file}: row {rowno}: already in the queue as {path.name}; skipped")
    for rowno, msg in report.refused:
        click.secho(f"{csv_file}: row {rowno}: refused: {msg}", fg="red")
    click.echo(
        f"{len(report.created)} created, {len(report.existing)} already queued, "
        f"{len(report.refused)} refused"
    )
    if report.refused:
        sys.exit(1)


# -- publishing --------------------------------------------------------------------------


@cli.command()
@click.argument("slugs", nargs=-1)
@click.option("--now", "now", is_flag=True, help="Publish everything pending now.")
@click.option("--target", "-t", "targets", multiple=True, help="Only these targets (repeatable).")
@click.option("--dry-run", is_flag=True, help="Render and caption only; claim and write nothing.")
@handle_errors
@pass_ctx
def publish(
    ctx: Ctx, slugs: tuple[str, ...], now: bool, targets: tuple[str, ...], dry_run: bool
) -> None:
    """Run one publishing pass: render, caption, claim, publish, record."""
    from pipeline.errors import QuotecastError
    from pipeline.report import print_pass_report

    if not now and not dry_run:
        raise QuotecastError(
            "say --now to publish at once (the daemon `quotecast run` publishes on schedule), "
            "or --dry-run to preview"
        )
    s = ctx.settings
    from pipeline.runner import run_pass

    report = run_pass(s, slugs=slugs or None, targets=targets or None, dry_run=dry_run)
    if report.posted and not dry_run:
        from pipeline.hooks import after_posting

        after_posting(s)
    print_pass_report(report, s, dry_run=dry_run)
    if not report.ok:
        sys.exit(1)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@handle_errors
@pass_ctx
def status(ctx: Ctx, as_json: bool) -> None:
    """Per item and target: state, time and URL; plus what needs a person."""
    from pipeline.report import print_status, status_data

    data = status_data(ctx.settings)
    if as_json:
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        print_status(data)


@cli.command()
@click.argument("slug", required=False)
@click.option("--limit", default=50, show_default=True, help="Most recent attempts to show.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@handle_errors
@pass_ctx
def history(ctx: Ctx, slug: str | None, limit: int, as_json: bool) -> None:
    """Every attempt recorded in the ledger, newest first."""
    from pipeline.ledger import Ledger
    from pipeline.report import print_history

    ledger = Ledger.open(ctx.settings.data_path, ctx.settings.ledger_address)
    rows = ledger.history(slug, limit)
    if as_json:
        click.echo(json.dumps([r.as_json() for r in rows], indent=2, ensure_ascii=False))
    else:
        print_history(rows)


@cli.command()
@click.argument("slug")
@click.argument("target")
@click.option("--posted", "posted_url", metavar="URL", help="It did go out: its public URL.")
@click.option("--not-posted", is_flag=True, help="It did not go out: send it again next pass.")
@handle_errors
@pass_ctx
def resolve(ctx: Ctx, slug: str, target: str, posted_url: str | None, not_posted: bool) -> None:
    """Settle an `unknown` post after checking the account by hand."""
    from pipeline.errors import QuotecastError
    from pipeline.ledger import Ledger

    if bool(posted_url) == not_posted:
        raise QuotecastError("say exactly one of --posted URL or --not-posted")
    if posted_url is not None:
        from pipeline.links import LinkError, check_url

        try:
            posted_url = check_url(posted_url)
        except LinkError as exc:
            raise QuotecastError(f"--posted: {exc}") from None
    row = Ledger.open(ctx.settings.data_path, ctx.settings.ledger_address).resolve(
        slug, target, posted_url
    )
    click.echo(f"{slug} → {target}: now {row.state}")


@cli.command()
@click.argument("slug", required=False)
@click.option("--target", "-t", help="Only this target.")
@handle_errors
@pass_ctx
def retry(ctx: Ctx, slug: str | None, target: str | None) -> None:
    """Re-queue failed posts; targets that already succeeded are not touched."""
    from pipeline.ledger import Ledger

    rows = Ledger.open(ctx.settings.data_path, ctx.settings.ledger_address).retry_failed(
        slug, target
    )
    for r in rows:
        click.echo(f"{r.slug} → {r.target}: pending again (was: {r.last_error})")
    click.echo(f"{len(rows)} post{'s' if len(rows) != 1 else ''} re-queued")


# -- schedule ----------------------------------------------------------------------------


@cli.command()
@click.option(
    "--days", default=7, show_default=True, type=click.IntRange(1, 366), help="Days ahead."
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@handle_errors
@pass_ctx
def plan(ctx: Ctx, days: int, as_json: bool) -> None:
    """The posting calendar (brand's time zone): items, targets, what waits, conflicts."""
    from pipeline.daemon import current_plan
    from pipeline.report import print_plan

    data = current_plan(ctx.settings, days)
    if as_json:
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        print_plan(data)


@cli.command()
@click.option(
    "--log-format",
    "run_log_format",
    type=click.Choice(["text", "json"]),
    default=None,
    help="Log line format (default: the global --log-format).",
)
@handle_errors
@pass_ctx
def run(ctx: Ctx, run_log_format: str | None) -> None:
    """Run the scheduler daemon: post at the slots until SIGTERM or SIGINT.

    One log line per event on stdout. The plan is rebuilt from config, queue and
    ledger at start, so a restart never double-posts; `publish --now` may run beside it.
    """
    from pipeline.daemon import serve

    sys.exit(serve(ctx.settings, run_log_format or ctx.log_format, ctx.verbose))


# -- link-in-bio ---------------------------------------------------------------------------


@cli.command()
@click.option("--no-deploy", is_flag=True, help="Build only; do not run site.deploy.")
@handle_errors
@pass_ctx
def bio(ctx: Ctx, no_deploy: bool) -> None:
    """Build the link-in-bio site under var/site/ from the ledger, then run site.deploy.

    A failed deploy leaves the built site in place and exits with status 1.
    """
    from pipeline.bio import build_and_deploy

    result = build_and_deploy(ctx.settings, run_deploy=not no_deploy)
    b = result.build
    pages = f", {b.pages} item page{'s' if b.pages != 1 else ''}" if b.pages else ""
    click.echo(f"built {b.index} ({b.cards} card{'s' if b.cards != 1 else ''}{pages})")
    if result.deploy is not None:
        if not result.deploy.ok:
            click.secho(
                f"error: {result.deploy.message}; the site is built but not deployed",
                fg="red",
                err=True,
            )
            sys.exit(1)
        click.echo(result.deploy.message)


# -- previews ------------------------------------------------------------------------------


@cli.command()
@click.argument("slugs", nargs=-1)
@click.option("--format", "-f", "formats", multiple=True, help="Only this format (repeatable).")
@click.option("--theme", "-t", help="Use this theme instead of each item's own.")
@click.option("--sheet", is_flag=True, help="Also write contact-sheet.png of every card.")
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print each card's layout report (sizes, lines, boxes, contrast) as one JSON line.",
)
@handle_errors
@pass_ctx
def render(
    ctx: Ctx,
    slugs: tuple[str, ...],
    formats: tuple[str, ...],
    theme: str | None,
    sheet: bool,
    as_json: bool,
) -> None:
    """Preview cards in var/preview/ as <slug>-<format>.<ext> (no SLUG: every valid item).

    An item that cannot be rendered is named with the reason; the others are still rendered.
    With --json, stdout carries only the layout reports, one JSON object per line.
    """
    import json

    from rich.console import Console
    from rich.progress import Progress

    from pipeline.render.preview import Job, render_previews
    from pipeline.render.preview import plan as plan_cards

    s = ctx.settings
    jobs, failed = plan_cards(s, slugs, formats, theme)
    for slug, _, why in failed:
        click.secho(f"error: {slug}: {why}", fg="red", err=True)

    def layout(report: dict[str, object]) -> None:
        click.echo(json.dumps(report, ensure_ascii=False))

    on_layout = layout if as_json else None

    def show(job: Job, path: Path | None, error: str | None) -> None:
        if path is not None:
            if not as_json:
                click.echo(str(path))
        else:
            click.secho(f"error: {job.item.slug} ({job.fmt}): {error}", fg="red", err=True)

    if len(jobs) > 4:
        with Progress(console=Console(stderr=True), transient=True) as bar:
            task = bar.add_task("rendering cards", total=len(jobs))

            def step(job: Job, path: Path | None, error: str | None) -> None:
                show(job, path, error)
                bar.advance(task)

            report = render_previews(s, sheet=sheet, on_card=step, jobs=jobs, on_layout=on_layout)
    else:
        report = render_previews(s, sheet=sheet, on_card=show, jobs=jobs, on_layout=on_layout)
    report.failed[:0] = failed
    if report.sheet is not None:
        click.echo(str(report.sheet), err=as_json)
    n, bad = len(report.written), len(report.failed)
    click.echo(
        f"{n} card{'s' if n != 1 else ''} in {s.data_path / 'preview'}"
        + (f"; {bad} could not be rendered (named above)" if bad else ""),
        err=True,
    )
    if bad:
        sys.exit(1)
