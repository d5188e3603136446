"""One publishing pass: reconcile → load → plan → render → caption → claim → publish → record.

`quotecast publish --now` and every daemon slot run exactly this, so both can
run at once: the ledger's claims decide who sends what. A failure of one
item or one target never stops the others.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy.exc import SQLAlchemyError

from pipeline.captions import write_caption
from pipeline.config import Settings
from pipeline.errors import UNUSUAL_TEXT, QuotecastError, is_system_error, unexpected
from pipeline.item_refs import theme_problem
from pipeline.items import Item, Problem, QueueScan
from pipeline.ledger import Ledger, LedgerError, PostRow, default_owner, utcnow
from pipeline.ledger_faults import DISK_ERRNOS, LedgerFault, describe
from pipeline.posts import Post, Receipt
from pipeline.publishers import publisher_class
from pipeline.publishers.base import (
    AmbiguousError,
    AuthError,
    DuplicateError,
    Limits,
    Publisher,
    PublishError,
    RateLimitedError,
    TargetContext,
    TransientError,
)
from pipeline.publishers.retry import RetryPolicy
from pipeline.queue_cache import load_queue_cached
from pipeline.render.cache import render_cached
from pipeline.targeting import targets_for

log = logging.getLogger("quotecast")


@dataclass
class Outcome:
    """What happened to one (item, target) in this pass."""

    slug: str
    target: str
    result: str  # posted | failed | unknown | skipped | dry-run | error
    url: str | None = None
    error: str | None = None
    card_path: Path | None = None
    caption: str | None = None


@dataclass
class PassReport:
    outcomes: list[Outcome] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    already_posted: int = 0
    #: `sending` rows left alone: their lease still runs (a live process, or a dead one's)
    in_flight: list[PostRow] = field(default_factory=list)

    def count(self, result: str) -> int:
        return sum(1 for o in self.outcomes if o.result == result)

    @property
    def posted(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.result == "posted"]

    def by_target(self, result: str = "posted") -> dict[str, int]:
        counts: dict[str, int] = {}
        for o in self.outcomes:
            if o.result == result:
                counts[o.target] = counts.get(o.target, 0) + 1
        return counts

    @property
    def ok(self) -> bool:
        return not any(o.result in ("failed", "unknown", "error") for o in self.outcomes)


class _Retryable(TransientError):
    """An ambiguous send that find() proved did not happen: safe to send again."""


class Runner:
    """Holds the pieces of a pass: settings, ledger, publishers made once per target."""

    def __init__(
        self,
        settings: Settings,
        ledger: Ledger | None,
        owner: str | None = None,
        stop: threading.Event | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self.settings = settings
        self.ledger = ledger
        self.owner = owner or default_owner()
        self.stop = stop or threading.Event()
        self.policy = RetryPolicy(settings.publish)
        self.sleep = sleep
        self._publishers: dict[str, Publisher] = {}
        self.tz = ZoneInfo(settings.schedule.timezone)

    # -- pieces ----------------------------------------------------------------------
    def publisher(self, target: str) -> Publisher:
        if target not in self._publishers:
            conf = self.settings.targets[target]
            cls = publisher_class(conf.network)
            options = dict(conf.options)
            options.setdefault("request_timeout", self.settings.publish.request_timeout)
            ctx = TargetContext(
                name=target,
                network=conf.network,
                options=options,
                secrets=self.settings.target_secrets(target, cls.secret_names),
                data_dir=self.settings.data_path,
            )
            self._publishers[target] = cls(ctx)
        return self._publishers[target]

    def close(self) -> None:
        for pub in self._publishers.values():
            try:
                pub.close()
            except Exception:  # closing must never hide the pass's result
                log.debug("error closing a publisher", exc_info=True)

    def build_post(
        self, item: Item, target: str, limits: Limits | None = None
    ) -> tuple[Post, Path]:
        """Render and caption one item for one target. Pure apart from the card cache.

        `limits` are the publisher instance's (per-target overrides); without one
        (dry runs, no credentials needed) the network's class limits apply.
        """
        s = self.settings
        conf = s.targets[target]
        lim = limits or publisher_class(conf.network).limits
        fmt_name, fmt = s.format_for(target)
        _, theme = s.theme_for(item.theme, target)
        rendered, path = render_cached(
            item,
            theme,
            fmt_name,
            fmt,
            s.brand,
            s.base_dir,
            s.data_path / "cards",
            max_bytes=lim.image_max_bytes,
        )
        caption = write_caption(item, target, conf.network, s)
        alt = rendered.alt_text
        if len(alt) > lim.alt_text_max:
            alt = alt[: lim.alt_text_max - 1].rstrip() + "…"
        post = Post(
            slug=item.slug,
            target=target,
            network=conf.network,
            caption=caption.text,
            alt_text=alt,
            link=caption.link,
            card=rendered.card,
            facets=caption.facets,
        )
        return post, path

    # -- the pass ----------------------------------------------------------------------
    def run(
        self,
        slugs: Iterable[str] | None = None,
        targets: Iterable[str] | None = None,
        dry_run: bool = False,
        due: Callable[[Item, str], bool] | None = None,
        scan: QueueScan | None = None,
    ) -> PassReport:
        report = PassReport()
        s = self.settings
        wanted_slugs = set(slugs) if slugs else None
        wanted_targets = set(targets) if targets else None
        for t in wanted_targets or ():
            if t not in s.targets:
                raise QuotecastError(
                    f"no target named {t!r}; configured targets: {', '.join(s.targets)}"
                )
        if scan is None:
            scan = load_queue_cached(s.queue_path, self.tz, s.data_path)
        report.problems.extend(scan.problems)
        items = scan.items
        if wanted_slugs:
            known = {i.slug for i in items} | {p.path.stem for p in scan.problems}
            for slug in sorted(wanted_slugs - known):
                raise QuotecastError(f"no queue item named {slug!r} in {s.queue_path}")
            items = [i for i in items if i.slug in wanted_slugs]

        if self.ledger is not None and not dry_run:
            with _stop_on_ledger_fault(report, None):
                report.outcomes.extend(self.reconcile(scan))

        blocked: dict[str, str] = {}  # target → auth error for the rest of this pass
        # one read of every row up front: the many posts settled long ago are skipped without
        # a query each; a post that may need work is read again just before it is tried
        settled = (
            self.ledger.states(("posted", "failed", "unknown", "sending")) if self.ledger else {}
        )
        for item in items:
            names, unknown = targets_for(item, s)
            for name in unknown:
                report.problems.append(
                    Problem(item.path, None, "targets", f"no target named {name!r} in the config")
                )
            for target in names:
                if wanted_targets and target not in wanted_targets:
                    continue
                if due is not None and not due(item, target):
                    continue
                if self.stop.is_set():
                    return report
                state = settled.get((item.slug, target))
                # posted, failed or unknown: not this pass; a send in flight is read below,
                # so the pass says it is still sending instead of passing over it in silence
                if state is not None and state != "sending":
                    if state == "posted":
                        report.already_posted += 1
                    continue
                row = self.ledger.get(item.slug, target) if self.ledger else None
                if (
                    row is not None
                    and row.state != "pending"
                    and not (
                        row.state == "claimed" and row.lease_until and row.lease_until < utcnow()
                    )
                ):
                    if row.state == "posted":
                        report.already_posted += 1
                    elif row.state == "sending":  # another process's, or a dead one's
                        report.in_flight.append(row)
                    continue
                if row is not None and row.not_before and row.not_before > utcnow():
                    report.outcomes.append(
                        Outcome(item.slug, target, "deferred", error=row.last_error)
                    )
                    continue
                if target in blocked:
                    report.outcomes.append(
                        Outcome(item.slug, target, "skipped", error=blocked[target])
                    )
                    continue
                with _stop_on_ledger_fault(report, (item.slug, target)):
                    outcome = self._one(item, target, dry_run)
                report.outcomes.append(outcome)
                if (
                    outcome.result == "failed"
                    and outcome.error
                    and outcome.error.startswith(("auth", "blocked"))
                ):
                    blocked[target] = outcome.error
        return report

    def _unpreparable(self, item: Item, target: str, msg: str, dry_run: bool) -> Outcome:
        """One item that cannot be rendered or captioned: one line, and (for real) `failed`
        with the reason in the ledger, so `status` says why and `retry` takes it back once
        the file is fixed; the daemon and `publish --now` alike."""
        log.error("%s → %s: cannot prepare: %s", item.slug, target, msg)
        if not dry_run and self.ledger is not None:
            network = self.settings.targets[target].network
            lease = self.settings.publish.lease_seconds
            self.ledger.record_unpreparable(item.slug, target, network, self.owner, lease, msg)
        return Outcome(item.slug, target, "error", error=msg)

    def _one(self, item: Item, target: str, dry_run: bool) -> Outcome:
        pub: Publisher | None = None
        if not dry_run:
            try:
                pub = self.publisher(target)
            except Exception as exc:  # e.g. a client library that refuses its options
                msg = f"cannot set up target {target!r}: {exc}; fix its [targets.{target}] options"
                log.error("%s → %s: %s", item.slug, target, msg)
                return Outcome(item.slug, target, "error", error=msg)
        if why := theme_problem(item, self.settings):
            return self._unpreparable(item, target, f"{item.path}: theme: {why}", dry_run)
        try:
            post, path = self.build_post(item, target, pub.limits if pub else None)
        except QuotecastError as exc:  # named by its file, like every other bad input
            return self._unpreparable(item, target, f"{item.path}: {exc}", dry_run)
        except Exception as exc:  # one item's surprise (a font, a template) never stops the pass
            if is_system_error(exc):
                raise
            log.debug("%s → %s: preparing failed", item.slug, target, exc_info=True)
            msg = f"{item.path}: " + unexpected(exc, "preparing the card and caption", UNUSUAL_TEXT)
            return self._unpreparable(item, target, msg, dry_run)
        if pub is None:
            return Outcome(item.slug, target, "dry-run", card_path=path, caption=post.caption)
        assert self.ledger is not None
        network = self.settings.targets[target].network
        if not self.ledger.claim(
            item.slug, target, network, self.owner, self.settings.publish.lease_seconds
        ):
            return Outcome(item.slug, target, "skipped", error="claimed by another process")
        return self.send(pub, post, path)

    def send(self, pub: Publisher, post: Post, card_path: Path) -> Outcome:
        """Mark sending, publish with retries, and record the end state."""
        assert self.ledger is not None
        ledger, owner, s = self.ledger, self.owner, self.settings
        details = {
            "card_path": str(card_path),
            "caption": post.caption,
            "alt_text": post.alt_text,
            "link": post.link,
        }

        tried = [0]  # the ledger's number of the latest try (it counts across passes)
        # set once a try may have reached the network and find() did not prove otherwise:
        # from then on no ending but "posted" or `unknown` is true (never `failed`, never
        # pending again), whatever the later tries answer
        maybe_out = [""]

        def attempt() -> Receipt:
            tried[0] = ledger.mark_sending(
                post.slug,
                post.target,
                owner,
                post.idempotency_key,
                post.content_hash,
                s.publish.lease_seconds,
                details,
            )
            first_sent = ledger.note_send(post.slug, post.target, post.idempotency_key)
            try:
                return _publish_guarded(pub, post)
            except AmbiguousError as exc:
                found, looked = _safe_find(pub, post)
                if found is not None:
                    return found
                # an authoritative miss covers every earlier try too (same key, same post)
                maybe_out[0] = "" if looked and pub.find_is_authoritative else str(exc)
                if _may_send_again(pub, looked, first_sent):
                    raise _Retryable(f"{exc} (not found on the network; sending again)") from exc
                raise
            except DuplicateError as exc:
                found, _ = _safe_find(pub, post)
                if found is not None:
                    return found
                maybe_out[0] = str(exc)
                raise AmbiguousError(
                    f"{exc}; the network reports a duplicate but the post cannot be found"
                ) from exc

        def failed_attempt(n: int, exc: PublishError, wait: float) -> None:
            n = tried[0] or n
            ledger.record_attempt(post.slug, post.target, n, exc.kind, str(exc), owner)
            # keep the post ours through the wait: an expired lease would let another
            # process "reconcile" a post that is only waiting for its next try
            ledger.extend_lease(post.slug, post.target, owner, wait + s.publish.lease_seconds)
            log.warning(
                "%s → %s: attempt %d failed (%s), retrying in %.1fs",
                post.slug,
                post.target,
                n,
                exc,
                wait,
            )

        try:
            if self.sleep is not None:
                receipt = self.policy.call(attempt, failed_attempt, sleep=self.sleep)
            else:
                receipt = self.policy.call(attempt, failed_attempt)
        except AmbiguousError as exc:
            msg = f"unknown: {exc}"
            ledger.record_unknown(post.slug, post.target, owner, msg)
            log.error("%s → %s: unknown: %s", post.slug, post.target, exc)
            return Outcome(post.slug, post.target, "unknown", error=msg)
        except PublishError as exc:
            if not maybe_out[0]:
                return self._gave_up(post, exc)
            msg = (
                f"unknown: {exc}; an earlier try may have reached the network "
                f"({maybe_out[0]}) and it could not be found; check the account, then "
                "`quotecast resolve`"
            )
            ledger.record_unknown(post.slug, post.target, owner, msg)
            log.error("%s → %s: %s", post.slug, post.target, msg)
            return Outcome(post.slug, post.target, "unknown", error=msg)
        except LedgerError as exc:
            log.error("%s → %s: %s", post.slug, post.target, exc)
            return Outcome(post.slug, post.target, "skipped", error=str(exc))
        ledger.record_posted(
            post.slug, post.target, owner, receipt.remote_id, receipt.url, receipt.posted_at
        )
        log.info("%s → %s: posted %s", post.slug, post.target, receipt.url or receipt.remote_id)
        return Outcome(post.slug, post.target, "posted", url=receipt.url, card_path=card_path)

    def _gave_up(self, post: Post, exc: PublishError) -> Outcome:
        """Record a send that ended in an error while nothing of it can be out."""
        assert self.ledger is not None
        ledger, owner, slug, target = self.ledger, self.owner, post.slug, post.target
        if isinstance(exc, RateLimitedError) and exc.retry_after is not None:
            # a quota or rate limit that lasts longer than this pass: wait, don't fail
            until = utcnow() + timedelta(seconds=exc.retry_after)
            msg = f"rate_limited: {exc}; will retry after {until:%Y-%m-%d %H:%M} UTC"
            row = ledger.get(slug, target)
            attempt_no = row.attempts if row else 0
            ledger.record_attempt(slug, target, attempt_no, "rate_limited", msg, owner)
            ledger.release(slug, target, owner, msg, not_before=until)
            log.warning("%s → %s: deferred: %s", slug, target, msg)
            return Outcome(slug, target, "deferred", error=msg)
        if isinstance(exc, AuthError):
            msg, kind = f"auth: {exc}", "auth"
        elif isinstance(exc, TransientError):
            msg, kind = f"{exc.kind}: gave up after the retry budget: {exc}", exc.kind
        else:
            msg, kind = f"{exc.kind}: {exc}", exc.kind
        ledger.record_failed(slug, target, owner, msg, kind)
        log.error("%s → %s: failed: %s", slug, target, msg)
        return Outcome(slug, target, "failed", error=msg)

    # -- reconciliation --------------------------------------------------------------
    def reconcile(self, scan: QueueScan) -> list[Outcome]:
        """Settle `sending` rows whose owner died: found → posted; proven absent → retry;
        cannot tell → unknown, for a person to resolve."""
        assert self.ledger is not None
        outcomes: list[Outcome] = []
        items = scan.by_slug()
        for row in self.ledger.take_expired_sending(
            self.owner, self.settings.publish.lease_seconds
        ):
            outcomes.append(self._reconcile_row(row, items.get(row.slug)))
        return outcomes

    def _reconcile_row(self, row: PostRow, item: Item | None) -> Outcome:
        assert self.ledger is not None
        if item is None or row.target not in self.settings.targets:
            msg = "unknown: was sending when its process died; the item or target is gone"
            self.ledger.record_unknown(row.slug, row.target, self.owner, msg)
            return Outcome(row.slug, row.target, "unknown", error=msg)
        try:
            pub = self.publisher(row.target)
            post, _ = self.build_post(item, row.target, pub.limits)
        except Exception as exc:
            msg = f"unknown: was sending when its process died; cannot rebuild the post: {exc}"
            self.ledger.record_unknown(row.slug, row.target, self.owner, msg)
            return Outcome(row.slug, row.target, "unknown", error=msg)
        if post.content_hash != row.content_hash:
            msg = "unknown: was sending when its process died, and the item changed since"
            self.ledger.record_unknown(row.slug, row.target, self.owner, msg)
            return Outcome(row.slug, row.target, "unknown", error=msg)
        found, looked = _safe_find(pub, post)
        if found is not None:
            self.ledger.record_posted(
                row.slug,
                row.target,
                self.owner,
                found.remote_id,
                found.url,
                found.posted_at,
                outcome="reconciled",
            )
            log.info(
                "%s → %s: reconciled: found on the network %s", row.slug, row.target, found.url
            )
            return Outcome(row.slug, row.target, "posted", url=found.url)
        # a row from before the ledger kept first sends: its creation is no later than them
        first_sent = self.ledger.first_send(row.slug, row.target, row.idempotency_key)
        proven_absent = looked and pub.find_is_authoritative
        if _may_send_again(pub, looked, first_sent or row.created_at):
            self.ledger.release(
                row.slug, row.target, self.owner, "previous send did not arrive; sending again"
            )
            log.info(
                "%s → %s: reconciled: not on the network, will send again", row.slug, row.target
            )
            return Outcome(row.slug, row.target, "skipped", error="released for another attempt")
        msg = (
            "unknown: was sending when its process died and the network cannot tell whether it "
            "arrived"
            + (
                " (too long ago to rely on its idempotency key)"
                if pub.retry_is_idempotent and not proven_absent
                else ""
            )
            + "; check the account, then `quotecast resolve`"
        )
        self.ledger.record_unknown(row.slug, row.target, self.owner, msg)
        log.error("%s → %s: %s", row.slug, row.target, msg)
        return Outcome(row.slug, row.target, "unknown", error=msg)


class PassStopped(LedgerFault):
    """The ledger (or the disk under it) stopped taking writes: the pass ends here."""


@contextmanager
def _stop_on_ledger_fault(report: PassReport, current: tuple[str, str] | None) -> Iterator[None]:
    """Turn a ledger or disk fault into one line that also says what was posted before it."""
    try:
        yield
    except (SQLAlchemyError, OSError, LedgerFault) as exc:
        if isinstance(exc, OSError) and exc.errno not in DISK_ERRNOS:
            raise  # not the disk (e.g. Pillow's OSError for one card): not this guard's call
        line = describe(exc) or str(exc)
        posted = [f"{o.slug} → {o.target}" for o in report.posted]
        done = (
            f"posted {len(posted)} before it stopped ({', '.join(posted)})"
            if posted
            else "nothing was posted in this pass"
        )
        if current is not None:
            done += (
                f"; {current[0]} → {current[1]} was in progress: if it was sent, the next "
                "pass finds it or marks it unknown"
            )
        raise PassStopped(f"{line}; the pass stopped: {done}") from None


def _publish_guarded(pub: Publisher, post: Post) -> Receipt:
    """publish(), with a client library's unexpected exception turned into an ambiguous send.

    An adapter maps every error it knows; anything else (a library bug, a new
    exception type) may have happened before or after the network got the
    request, so it is handled like a reset: looked up, then retried or `unknown`.
    Only the exception's type is kept: its text may quote a request, secrets and all.
    """
    try:
        return pub.publish(post)
    except PublishError:
        raise
    except Exception as exc:
        log.debug("unexpected error from the %s publisher", pub.network, exc_info=False)
        raise AmbiguousError(
            f"unexpected {type(exc).__name__} from the {pub.network} client"
        ) from None


def _safe_find(pub: Publisher, post: Post) -> tuple[Receipt | None, bool]:
    """The post if find() sees it, and whether find() could look at all."""
    try:
        return pub.find(post), True
    except PublishError as exc:
        log.warning("%s → %s: find failed: %s", post.slug, post.target, exc)
        return None, False
    except Exception as exc:  # a library's surprise proves nothing; its text may hold secrets
        log.warning(
            "%s → %s: find failed: unexpected %s from the %s client",
            post.slug,
            post.target,
            type(exc).__name__,
            pub.network,
        )
        return None, False


def _may_send_again(pub: Publisher, looked: bool, first_sent: datetime | None) -> bool:
    """After find() came back empty: an authoritative miss proves absence, a failed find
    proves nothing — only an idempotent send is safe then, and only while the network
    still remembers the key sent first at `first_sent`."""
    return pub.resend_is_idempotent(first_sent, utcnow()) or (looked and pub.find_is_authoritative)


def run_pass(
    settings: Settings,
    slugs: Iterable[str] | None = None,
    targets: Iterable[str] | None = None,
    dry_run: bool = False,
    due: Callable[[Item, str], bool] | None = None,
    stop: threading.Event | None = None,
    now: datetime | None = None,
) -> PassReport:
    """Open the ledger, run one pass, close everything."""
    ledger = None if dry_run else Ledger.open(settings.data_path, settings.ledger_address)
    runner = Runner(settings, ledger, stop=stop)
    try:
        return runner.run(slugs=slugs, targets=targets, dry_run=dry_run, due=due)
    finally:
        runner.close()
        if ledger is not None:
            ledger.close()
