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
    from pipeline.items import Problem
    from pipeline.selection import Selection

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
            from pipeline.config import load_settings, require_config_path

            self._settings = load_settings(require_config_path(self.config))
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
        except Exception as exc:  # the ledger's database failed (server gone, disk, damage)
            if not type(exc).__module__.startswith(("sqlalchemy", "psycopg", "sqlite3")):
                raise
            from pipeline.ledger_faults import describe

            click.secho(f"error: {describe(exc) or type(exc).__name__}", fg="red", err=True)
            sys.exit(2)

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
      quotecast publish --now    post what is due now (SLUG…: those; --all: everything)
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
    from pipeline.project_init import init_project

    target = Path(ctx.config) if ctx.config else Path("config.toml")
    for line in init_project(target):
        click.echo(line)
    click.echo(
        "next: put secrets in .env (see README), drop a quote in queue/, run `quotecast check`"
    )


@cli.command()
@click.option(
    "--online",
    is_flag=True,
    help="Also ask the networks about each target's access token and record its expiry.",
)
@click.option(
    "--render", "full_render", is_flag=True, help="Also render and encode every card (slower)."
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@handle_errors
@pass_ctx
def check(ctx: Ctx, online: bool, full_render: bool, as_json: bool) -> None:
    """Validate the config and every queue file; list problems as file:line: field: message."""
    from pipeline.checks import run_checks

    s = ctx.settings
    result = run_checks(s, full_render=full_render)
    if online:
        result.problems.extend(_check_tokens(s, result.warnings))
    if as_json:
        from pipeline import machine

        click.echo(machine.dump(machine.check(result)))
        sys.exit(1 if result.problems else 0)
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


def _check_tokens(s: Settings, warnings: list[str]) -> list[Any]:
    """`check --online`: each target's token expiry, recorded; failures become problems."""
    from pipeline.items import Problem
    from pipeline.ledger import Ledger, utcnow
    from pipeline.tokens import WARN_DAYS, expiring, refresh, warning_text

    ledger = Ledger.open(s.data_path, s.ledger_address)
    try:
        now = utcnow()
        checks = refresh(s, ledger, now)
        rows = {r.target: r for r in ledger.tokens()}
    finally:
        ledger.close()
    problems = []
    where = s.config_path or Path("config.toml")
    for c in checks:
        if c.error:
            problems.append(Problem(where, None, f"targets.{c.target}", f"token: {c.error}"))
        elif not c.supported:
            click.echo(f"token  {c.target}: {c.network} does not report its expiry")
        elif c.expires_at is None:
            click.echo(f"token  {c.target}: never expires ({c.note})")
        else:
            click.echo(f"token  {c.target}: expires {c.expires_at:%Y-%m-%d %H:%M} UTC ({c.note})")
    soon = expiring([rows[c.target] for c in checks if c.target in rows], now, WARN_DAYS)
    warnings.extend(warning_text(r, now) for r in soon)
    return problems


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
    from zoneinfo import ZoneInfo

    from pipeline.errors import QuotecastError
    from pipeline.intake import vet_with_check
    from pipeline.items import ItemError, place_new_item

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
        placed = place_new_item(
            s.queue_path, fields, ZoneInfo(s.schedule.timezone), slug=slug, vet=vet_with_check(s)
        )
    except ItemError as exc:
        raise QuotecastError("; ".join(_add_problem(p) for p in exc.problems)) from None
    click.echo(f"wrote {placed.path}")


_ADD_OPTIONS = {"tags": "--tag", "category": "--category", "publish_at": "--publish-at"}


def _add_problem(p: Problem) -> str:
    """A problem with a new item, named by the `add` option that gave the field."""
    if not p.field:
        return p.message
    option = _ADD_OPTIONS.get(p.field, f"--{p.field}" if p.field.isidentifier() else p.field)
    return f"{option}: {p.message}"


@cli.command(name="import")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@handle_errors
@pass_ctx
def import_(ctx: Ctx, csv_file: Path, as_json: bool) -> None:
    """Turn a CSV export (header row naming the fields) into queue files."""
    from zoneinfo import ZoneInfo

    from pipeline.errors import QuotecastError
    from pipeline.intake import vet_with_check
    from pipeline.items import ItemError, import_csv

    s = ctx.settings
    try:
        tz = ZoneInfo(s.schedule.timezone)
        report = import_csv(csv_file, s.queue_path, tz, vet=vet_with_check(s))
    except ItemError as exc:
        raise QuotecastError("; ".join(str(p) for p in exc.problems)) from None
    if as_json:
        from pipeline import machine

        click.echo(machine.dump(machine.import_(report, csv_file)))
        sys.exit(1 if report.refused else 0)
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
@click.option(
    "--now",
    "now",
    is_flag=True,
    help="Publish now: what is due (no SLUG), these items (SLUG…), or everything (--all).",
)
@click.option(
    "--all", "everything", is_flag=True, help="Every pending post, ahead of the schedule."
)
@click.option("--target", "-t", "targets", multiple=True, help="Only these targets (repeatable).")
@click.option(
    "--dry-run", is_flag=True, help="List what the same form would post; claim and send nothing."
)
@click.option("--yes", "-y", is_flag=True, help="Do not ask before --all (for scripts).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@handle_errors
@pass_ctx
def publish(
    ctx: Ctx,
    slugs: tuple[str, ...],
    now: bool,
    everything: bool,
    targets: tuple[str, ...],
    dry_run: bool,
    yes: bool,
    as_json: bool,
) -> None:
    """Publish on request: render, caption, claim, publish, record.

    \b
      publish --now          what is due now: a publish_at that has passed (within
                             misfire_grace) or a slot that has come — exactly what
                             the daemon would post; else names the next slot
      publish --now SLUG…    these items now, whatever their schedule
      publish --now --all    every pending post; first asks on a terminal when the
                             schedule has slots or more than 10 posts would go out,
                             and without a terminal refuses unless --yes is given
      publish --dry-run …    lists what the same form would post; sends nothing

    The daemon (`quotecast run`) may run beside it: ledger claims post each item once.
    """
    from pipeline.errors import QuotecastError

    if not now and not dry_run:
        raise QuotecastError(
            "say --now to publish what is due now (SLUG… for those items, --all for "
            "everything pending), or --dry-run to preview; the daemon `quotecast run` "
            "publishes on schedule"
        )
    s = ctx.settings
    from pipeline.publishing import Request, execute, open_ledger, select
    from pipeline.report import print_pass_report

    request = Request(slugs=slugs, everything=everything, targets=targets, dry_run=dry_run)
    ledger = open_ledger(s, dry_run)
    try:
        selection, scan = select(s, ledger, request)
        if not dry_run and not yes and selection.needs_confirmation():
            _confirm_all(selection)
        report = execute(s, ledger, selection, scan, dry_run=dry_run, rebuild_site=False)
    finally:
        if ledger is not None:
            ledger.close()
    # the pass is done when its posts are recorded: say so first, then update the bio site
    if as_json:
        from pipeline import machine

        click.echo(machine.dump(machine.publish(report, dry_run, selection)))
    else:
        print_pass_report(report, s, dry_run=dry_run, selection=selection)
    if report.posted and not dry_run:
        from pipeline.hooks import after_posting

        sys.stdout.flush()
        after_posting(s, scan)
    if not report.ok:
        sys.exit(1)


def _confirm_all(selection: Selection) -> None:
    """Ask before `--all` spends the calendar; refuse (exit 2) when nobody can answer."""
    from pipeline.selection import CONFIRM_OVER, SelectionError

    why = (
        "ahead of the schedule's slots"
        if selection.has_slots
        else f"more than {CONFIRM_OVER} at once"
    )
    what = f"--all would publish {selection.summary()} now, {why}"
    if not sys.stdin.isatty():
        raise SelectionError(
            f"{what}; add --yes to confirm (stdin is not a terminal, so nobody can be asked)"
        )
    # the question and its answer go to the terminal (stderr), never into redirected output
    if not click.confirm(f"{what}. Publish them?", default=False, err=True):
        click.echo("nothing published", err=True)
        sys.exit(1)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--all", "show_all", is_flag=True, help="Every post, not only the most recent.")
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    help="Most recent posts to list (default: 20; --json: all).",
)
@click.option("--since", metavar="WHEN", help="Only posts changed since: 2026-12-01, 24h, 7d.")
@click.option(
    "--state",
    "states",
    multiple=True,
    type=click.Choice(["pending", "claimed", "sending", "posted", "failed", "unknown"]),
    help="Only posts in this state (repeatable).",
)
@handle_errors
@pass_ctx
def status(
    ctx: Ctx,
    as_json: bool,
    show_all: bool,
    limit: int | None,
    since: str | None,
    states: tuple[str, ...],
) -> None:
    """Counts and what needs a person first, then the most recent posts, one line each."""
    from pipeline.report import parse_since, print_status, status_data

    if limit is None and not show_all and not as_json:
        limit = 20
    data = status_data(
        ctx.settings,
        limit=None if show_all else limit,
        since=parse_since(since) if since else None,
        states=states,
    )
    if as_json:
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        print_status(data, hint="--all for every post; --limit, --since, --state to choose")


@cli.command()
@handle_errors
@pass_ctx
def health(ctx: Ctx) -> None:
    """Exit 0 if the daemon's heartbeat is fresh, else 1 (for container health checks)."""
    from pipeline.health import daemon_health

    result = daemon_health(ctx.settings)
    click.echo(result.message)
    if not result.alive:
        sys.exit(1)


@cli.command()
@click.argument("slug", required=False)
@click.option(
    "--limit", default=50, show_default=True, help="Most recent attempts to show (0: all)."
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@handle_errors
@pass_ctx
def history(ctx: Ctx, slug: str | None, limit: int, as_json: bool) -> None:
    """Every attempt recorded in the ledger, newest first (streamed, one line each)."""
    from pipeline.ledger import Ledger
    from pipeline.report import print_history

    ledger = Ledger.open(ctx.settings.data_path, ctx.settings.ledger_address)
    try:
        rows = ledger.iter_history(slug, limit)
        if as_json:  # a JSON array written row by row
            click.echo("[", nl=False)
            for i, r in enumerate(rows):
                text = json.dumps(r.as_json(), indent=2, ensure_ascii=False)
                click.echo(("," if i else "") + "\n  " + text.replace("\n", "\n  "), nl=False)
            click.echo("\n]")
        else:
            print_history(rows)
    finally:
        ledger.close()


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
    """Re-queue failed posts; targets that already succeeded are not touched.

    `unknown` posts may be out already: they are refused and left to `quotecast resolve`.
    """
    from pipeline.ledger import Ledger

    ledger = Ledger.open(ctx.settings.data_path, ctx.settings.ledger_address)
    maybe_out = ledger.unknown_rows(slug, target)
    rows = ledger.retry_failed(slug, target)
    for r in rows:
        click.echo(f"{r.slug} → {r.target}: pending again (was: {r.last_error})")
    for r in maybe_out:
        click.secho(
            f"{r.slug} → {r.target} is unknown (it may have been posted), not re-queued: check "
            f"the account, then `quotecast resolve {r.slug} {r.target} --posted URL` "
            "or `--not-posted`",
            fg="yellow",
            err=True,
        )
    click.echo(f"{len(rows)} post{'s' if len(rows) != 1 else ''} re-queued")
    if maybe_out and not rows:
        sys.exit(1)


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
    from pipeline.planning import current_plan
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
