"""The daemon (`quotecast run`): APScheduler 3 wiring around the pure plan.

Why this shape:

* No job store. At start, at every rescan and after every pass, the plan is derived
  again from config + queue + ledger. The queue folder is watched (watchfiles:
  inotify and friends; polled every `schedule.watch_interval` seconds where it
  cannot be) and a change rescans at once; every `schedule.rescan_interval` seconds a
  cheap ledger check rescans when another process changed a post, and at least every
  ten intervals anyway. Parsed queue files are kept by size and mtime, so a rescan
  re-parses only what changed: an idle daemon costs next to nothing. The
  scheduler's one-shot jobs are made to match the plan (`pipeline.schedule`): one
  DateTrigger job per future instant that has something to post (slot instants get
  `jitter`). A restart rebuilds the same jobs; posts due within grace at start go
  out at once (a "catch-up" pass).
* Every pass goes through `pipeline.runner.Runner` with a `due` predicate from the
  plan, so `publish --now` and the daemon can run at once: ledger claims decide.
  Just before a pass each due post is reserved for its slot in the ledger
  (`scheduled_for`); that is how the next plan knows the slot was used.
* After a pass that posted, the bio site is rebuilt on a thread of its own
  (`hooks.SiteRebuilder`): the pass is done when its posts are recorded.
* Passes run one at a time on their own executor; heartbeat and rescans run beside
  them, so a long pass never makes the daemon look dead.
* SIGTERM/SIGINT set the stop Event: the runner finishes the post in flight and
  records it, a retry back-off in progress is cut short (nothing is in flight during
  a back-off; that post goes back to pending), and the process exits 0. A pass that
  has not ended after `schedule.stop_timeout` seconds makes the process exit 1; the
  next start reconciles what was left `sending`.
* An item that cannot be prepared (render/caption error) is recorded `failed` so
  that it does not hold every later slot; `quotecast retry` re-queues it once fixed.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.events import EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.base import SchedulerNotRunningError
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.date import DateTrigger

from pipeline.alerts import Alerter
from pipeline.config import Settings
from pipeline.hooks import SiteRebuilder
from pipeline.items import QueueScan, load_queue
from pipeline.ledger import Ledger, PostRow, default_owner, utcnow
from pipeline.ledger_faults import LedgerFault, describe
from pipeline.planning import current_plan as current_plan
from pipeline.planning import snapshot
from pipeline.publishers.base import TransientError
from pipeline.publishing import post_picks
from pipeline.queue_cache import shared
from pipeline.runner import PassReport, Runner
from pipeline.schedule import Entry, Plan, runway
from pipeline.selection import Pick, due_now

log = logging.getLogger("quotecast.daemon")

PASS_PREFIX = "pass@"
CATCH_UP = "catch-up"
HEARTBEAT = "daemon"


class StopRequested(TransientError):
    """Raised from a retry back-off when the daemon is asked to stop."""

    kind = "interrupted"


def _local(at: datetime, tz: ZoneInfo) -> str:
    return at.astimezone(tz).strftime("%a %Y-%m-%d %H:%M:%S %Z")


class Daemon:
    """One scheduler process. `run()` blocks until stopped and returns the exit status."""

    def __init__(
        self,
        settings: Settings,
        ledger: Ledger | None = None,
        *,
        owner: str | None = None,
        clock: Callable[[], datetime] = utcnow,
        rng: random.Random | None = None,
        notifier: Any = None,
    ) -> None:
        self.settings = settings
        self.sched = settings.schedule
        self._own_ledger = ledger is None
        self.ledger = ledger or Ledger.open(settings.data_path, settings.ledger_address)
        self.owner = owner or default_owner()
        self.clock = clock
        self.rng = rng or random.Random()
        self.tz = ZoneInfo(self.sched.timezone)
        self.stop = threading.Event()
        self.alerts = Alerter(settings, self.ledger, notifier)
        self.started_at = clock()
        self.last_pass_at: datetime | None = None
        self.last_pass: dict[str, int] = {}
        self.next_at: datetime | None = None
        self.passes = 0
        # posts this process already tried for their slot: not tried again within its grace
        # (a post held back by an auth failure waits for the next slot, not the next minute)
        self._attempted: dict[tuple[str, str, str], datetime] = {}
        self._said: set[str] = set()
        self._tokens_at: float | None = None  # monotonic time of the last token check
        self._pass_lock = threading.Lock()
        self._sync_lock = threading.Lock()
        self._beat_lock = threading.Lock()
        self._main_done = threading.Event()
        self._stopped = False
        self._fingerprint: tuple[tuple[str, int, int], ...] | None = None
        self._last_rescan = float("-inf")
        # queue files parsed once and kept by (size, mtime): a rescan re-parses what changed
        self._cache = shared(settings.data_path)
        self._watching = False  # True while watchfiles reports queue changes
        self._ledger_sig: tuple[int, str | None] | None = None
        self.site = SiteRebuilder(settings)
        self._signals = 0
        self._run_at: dict[str, datetime] = {}  # pass job id → when it fires
        self.scheduler = BlockingScheduler(
            timezone=UTC,
            executors={"default": ThreadPoolExecutor(4), "passes": ThreadPoolExecutor(1)},
            job_defaults={
                "coalesce": True,
                "max_instances": 1,
                "misfire_grace_time": max(1, self.sched.misfire_grace),
            },
        )
        self.scheduler.add_listener(self._on_missed, EVENT_JOB_MISSED)

    # -- lifecycle -------------------------------------------------------------------------------
    def run(self, install_signals: bool = True) -> int:
        if install_signals:
            signal.signal(signal.SIGTERM, self._on_signal)
            signal.signal(signal.SIGINT, self._on_signal)
        stopper = threading.Thread(target=self._stopper, name="quotecast-stopper", daemon=True)
        stopper.start()
        try:
            self._warn_if_another_daemon()
            log.info(
                "daemon started (pid %d, zone %s, grace %ds, jitter %ds)",
                os.getpid(),
                self.sched.timezone,
                self.sched.misfire_grace,
                self.sched.jitter,
                extra={"outcome": "started"},
            )
            with self._pass_lock:
                self.reconcile_stuck()  # what a killed predecessor left `sending`
            self.rescan("start")
            self._start_watching()
            self.scheduler.add_job(
                self.beat,
                "interval",
                seconds=self.sched.heartbeat_interval,
                id="heartbeat",
                executor="default",
            )
            self.beat()
            if not self.stop.is_set():
                self.scheduler.start()  # blocks until the stopper shuts it down
        finally:
            self._main_done.set()
        return self._finish()

    def request_stop(self, why: str = "asked to stop") -> None:
        if not self.stop.is_set():
            log.info(
                "stopping: %s; finishing the post in flight", why, extra={"outcome": "stopping"}
            )
        self.stop.set()

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        self._signals += 1
        name = signal.Signals(signum).name
        if self._signals > 1:
            log.error("%s again: exiting now; a post in flight is reconciled at next start", name)
            logging.shutdown()
            os._exit(1)
        self.request_stop(f"received {name}")

    def _stopper(self) -> None:
        self.stop.wait()
        while not self._main_done.is_set():
            try:
                self.scheduler.shutdown(wait=False)
                return
            except SchedulerNotRunningError:
                time.sleep(0.02)  # not started yet: run() checks `stop` before starting

    def _finish(self) -> int:
        """After the scheduler stopped: wait (bounded) for the pass in flight, then close."""
        if not self._pass_lock.acquire(timeout=self.sched.stop_timeout):
            log.error(
                "a pass is still running after %.0fs; exiting without it (the next start "
                "reconciles the post in flight)",
                self.sched.stop_timeout,
            )
            return 1
        try:
            self.beat(state="stopped")
        finally:
            self._pass_lock.release()
        if not self.site.join(self.sched.stop_timeout):
            log.warning("the bio site is still being built; exiting without it (`quotecast bio`)")
        if self._own_ledger:
            self.ledger.close()
        log.info("daemon stopped", extra={"outcome": "stopped"})
        return 0

    def _on_missed(self, event: JobExecutionEvent) -> None:
        """APScheduler woke too late for a job (suspend, clock jump): say so; the plan moves on."""
        if str(event.job_id).startswith(PASS_PREFIX):
            log.warning(
                "pass for %s missed by more than misfire_grace (machine asleep or busy); "
                "its posts move to the next slots",
                _local(event.scheduled_run_time, self.tz),
                extra={"outcome": "missed"},
            )

    def _warn_if_another_daemon(self) -> None:
        beat = self.ledger.heartbeat(HEARTBEAT)
        if beat is None:
            return
        owner, at, info = beat
        if info.get("state") == "running" and owner != self.owner:
            age = (self.clock() - at).total_seconds()
            if age <= float(info.get("stale_after", 0)):
                log.warning(
                    "another daemon (%s) beat %.0fs ago; both will run and ledger claims keep "
                    "each post single",
                    owner,
                    age,
                )

    # -- heartbeat -------------------------------------------------------------------------------
    def beat(self, state: str = "running") -> None:
        interval = self.sched.heartbeat_interval
        info: dict[str, Any] = {
            "state": state,
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started_at": self.started_at.isoformat(),
            "interval": interval,
            "stale_after": max(3 * interval, interval + 60),
            "passes": self.passes,
            "timezone": self.sched.timezone,
        }
        if self.last_pass_at is not None:
            info["last_pass_at"] = self.last_pass_at.isoformat()
            info["last_pass"] = self.last_pass
        if self.next_at is not None and state == "running":
            info["next_pass_at"] = self.next_at.isoformat()
        with self._beat_lock:
            if self._stopped:
                return
            try:
                self.ledger.beat(HEARTBEAT, self.owner, info, self.clock())
            except Exception as exc:  # a busy ledger must not kill the timer thread
                log.warning("heartbeat not written: %s", describe(exc) or exc)
                return
            if state == "stopped":
                self._stopped = True

    # -- rescans ---------------------------------------------------------------------------------
    def _fingerprint_queue(self) -> tuple[tuple[str, int, int], ...]:
        folder: Path = self.settings.queue_path
        out = []
        try:
            with os.scandir(folder) as entries:
                for e in entries:
                    try:
                        st = e.stat()
                    except OSError:
                        continue
                    out.append((e.name, st.st_mtime_ns, st.st_size))
        except OSError:
            return ()
        return tuple(sorted(out))

    def _watch(self) -> None:
        """Polling fallback (no inotify): compare the folder's names, sizes and times."""
        if self.stop.is_set():
            return
        settled = self._settle_stuck()
        fp = self._fingerprint_queue()
        changed = fp != self._fingerprint
        if changed or settled or time.monotonic() - self._last_rescan >= self.sched.rescan_interval:
            self.rescan("queue changed" if changed else "timer")

    def _start_watching(self) -> None:
        """Queue changes from the kernel (watchfiles: inotify, FSEvents…), else polling."""
        folder = self.settings.queue_path
        watchfiles: Any = None
        with contextlib.suppress(ImportError):  # a declared dependency; polling without it
            import watchfiles
        if watchfiles is not None and folder.is_dir():
            before = self._fingerprint_queue()
            self._watching = True
            thread = threading.Thread(
                target=self._watch_loop, args=(watchfiles,), name="quotecast-watch"
            )
            thread.daemon = True
            thread.start()
            time.sleep(0.2)  # the watcher's set-up; a change made meanwhile is caught here
            if self._watching and self._fingerprint_queue() != before:
                self.rescan("queue changed")
        if self._watching:
            self.scheduler.add_job(
                self._tick,
                "interval",
                seconds=self.sched.rescan_interval,
                id="watch",
                executor="default",
            )
        else:
            self._add_polling()

    def _add_polling(self) -> None:
        self._fingerprint = self._fingerprint_queue()
        self.scheduler.add_job(
            self._watch,
            "interval",
            seconds=self.sched.watch_interval,
            id="watch",
            executor="default",
            replace_existing=True,
        )

    def _watch_loop(self, watchfiles: Any) -> None:
        folder = self.settings.queue_path
        try:
            for _changes in watchfiles.watch(
                folder,
                stop_event=self.stop,
                debounce=400,
                rust_timeout=60_000,
                yield_on_timeout=False,
                raise_interrupt=False,
                ignore_permission_denied=True,
            ):
                if self.stop.is_set():
                    break
                self.rescan("queue changed")
        except Exception as exc:
            self._watching = False
            if not self.stop.is_set():
                log.warning(
                    "cannot watch %s (%s); checking it every %.0fs instead",
                    folder,
                    exc,
                    self.sched.watch_interval,
                )
                self._add_polling()

    def _tick(self) -> None:
        """The timer beside the watcher: plan again when another process changed the ledger
        (e.g. `publish --now`, `retry`), and in any case every 10 rescan intervals."""
        if self.stop.is_set():
            return
        settled = self._settle_stuck()
        try:
            sig = self.ledger.signature()
        except Exception as exc:
            log.warning("ledger not readable (%s); planning again anyway", exc)
            sig = None
        idle = time.monotonic() - self._last_rescan
        if (
            settled
            or sig is None
            or sig != self._ledger_sig
            or idle >= 10 * self.sched.rescan_interval
        ):
            self.rescan("timer")

    def _settle_stuck(self) -> int:
        """The timer's reconciliation: a send left `sending` by a killed `publish --now` is
        settled within one interval even when nothing is due (a running pass does it itself)."""
        if not self._pass_lock.acquire(blocking=False):
            return 0
        try:
            return self.reconcile_stuck()
        finally:
            self._pass_lock.release()

    def rescan(self, why: str = "timer") -> Plan | None:
        """Plan again, make the jobs match, send the alerts that are due."""
        if self.stop.is_set():
            return None
        self._last_rescan = time.monotonic()
        if not self._watching:
            self._fingerprint = self._fingerprint_queue()
        now = self.clock()
        try:
            plan, scan, rows = snapshot(self.settings, self.ledger, now, cache=self._cache)
            self._ledger_sig = self.ledger.signature()
        except Exception as exc:
            fault = describe(exc)
            if fault is None:
                log.exception("rescan failed (%s); trying again at the next one", why)
            else:  # the ledger is down, full or damaged: one line, not a traceback
                log.error("rescan failed (%s): %s; trying again at the next one", why, fault)
            return None
        if why == "queue changed":
            log.info("queue changed: %d items, planning again", len(scan.items))
        self._tell_news(plan, scan)
        self._sync(plan, now)
        self._alert(plan, scan, rows, now)
        self._tokens(now)
        return plan

    def _tokens(self, now: datetime) -> None:
        """Once a day: record each target's token expiry (networks that report it) and
        warn 14 days ahead; a failure here never stops publishing."""
        if self._tokens_at is not None and time.monotonic() - self._tokens_at < 3600:
            return  # the ledger decides "due" (a day); this only keeps rescans cheap
        self._tokens_at = time.monotonic()
        try:
            from pipeline.tokens import refresh

            for c in refresh(self.settings, self.ledger, now, only_due=True):
                if c.error:
                    log.warning("token check of %s failed: %s", c.target, c.error)
            if self.alerts.enabled:
                self.alerts.check_tokens(self.ledger.tokens(), now)
        except Exception:
            log.exception("token check failed; trying again later")

    def _say_once(self, key: str, level: int, msg: str, *args: Any, **extra: str) -> None:
        if key not in self._said:
            self._said.add(key)
            log.log(level, msg, *args, extra=extra or None)

    def _tell_news(self, plan: Plan, scan: QueueScan) -> None:
        for p in scan.problems:
            self._say_once(f"problem:{p}", logging.WARNING, "queue problem (not posted): %s", p)
        for m in plan.missed:
            self._say_once(
                f"missed:{m.slug}:{m.target}:{m.at.isoformat()}",
                logging.WARNING,
                "%s → %s: missed: publish_at %s is past by more than misfire_grace; not posted",
                m.slug,
                m.target,
                _local(m.at, self.tz),
                item=m.slug,
                target=m.target,
                outcome="missed",
            )
        for c in plan.conflicts:
            self._say_once(f"conflict:{c.message}", logging.WARNING, "conflict: %s", c.message)

    def _alert(self, plan: Plan, scan: QueueScan, rows: list[PostRow], now: datetime) -> None:
        if not self.alerts.enabled:
            return
        try:
            self.alerts.check_rows(rows)
            self.alerts.check_missed(plan.missed)
            self.alerts.check_runway(runway(self.settings, scan.items, rows, now))
        except Exception:
            log.exception("alert check failed; trying again at the next rescan")

    def _sync(self, plan: Plan, now: datetime) -> None:
        """Make the scheduler's pass jobs match the plan (the plan is the only truth)."""
        wanted: dict[str, tuple[datetime, bool, list[Entry]]] = {}
        for e in plan.entries:
            if e.slug is None:
                continue
            jid = PASS_PREFIX + e.at.isoformat()
            at, slot_only, entries = wanted.get(jid, (e.at, True, []))
            entries.append(e)
            wanted[jid] = (at, slot_only and e.kind == "slot", entries)
        with self._sync_lock:
            existing = {j.id: j for j in self.scheduler.get_jobs() if j.id.startswith(PASS_PREFIX)}
            for jid in existing.keys() - wanted.keys():
                with contextlib.suppress(JobLookupError):
                    self.scheduler.remove_job(jid)
            for jid, (at, slot_only, entries) in wanted.items():
                if jid in existing or at <= now:
                    continue
                delay = self.rng.uniform(0, self.sched.jitter) if slot_only else 0.0
                run_at = at + timedelta(seconds=delay)
                self.scheduler.add_job(
                    self._pass_job,
                    DateTrigger(run_date=run_at, timezone=UTC),
                    args=("slot",),
                    id=jid,
                    executor="passes",
                    replace_existing=True,
                )
                self._run_at[jid] = run_at
                posts = ", ".join(f"{e.slug} → {e.target}" for e in entries)
                log.info("scheduled %s: %s", _local(run_at, self.tz), posts)
            live = {j.id for j in self.scheduler.get_jobs()}
            self._run_at = {k: v for k, v in self._run_at.items() if k in live}
            runs = [at for at in self._run_at.values() if at > now]
            self.next_at = min(runs) if runs else None
            catch_up = [
                e
                for e in plan.due()
                if e.key not in self._attempted and PASS_PREFIX + e.at.isoformat() not in existing
            ]
            if catch_up and self.scheduler.get_job(CATCH_UP) is None:
                self.scheduler.add_job(
                    self._pass_job,
                    DateTrigger(run_date=now, timezone=UTC),
                    args=("catch-up",),
                    id=CATCH_UP,
                    executor="passes",
                    max_instances=3,  # they queue on the pass lock; later ones find nothing due
                    misfire_grace_time=None,
                    replace_existing=True,
                )

    # -- stuck sends ----------------------------------------------------------------------------
    def reconcile_stuck(self) -> int:
        """Settle `sending` rows whose lease ran out (a process died mid-send), even when
        nothing is due. Call with the pass lock held. Returns how many were settled."""
        try:
            if not self.ledger.stuck_sending(self.clock()):
                return 0
            scan = load_queue(self.settings.queue_path, self.tz)
            runner = Runner(
                self.settings, self.ledger, owner=self.owner, stop=self.stop, sleep=self._sleep
            )
            try:
                outcomes = runner.reconcile(scan)
            finally:
                runner.close()
        except Exception as exc:  # a busy or failing ledger: try again at the next tick
            log.error("reconciling stuck posts failed: %s", describe(exc) or type(exc).__name__)
            return 0
        for o in outcomes:
            log.info(
                "%s → %s: reconciled: %s%s",
                o.slug,
                o.target,
                o.result,
                f" ({o.error})" if o.error else "",
                extra={"item": o.slug, "target": o.target, "outcome": f"reconciled-{o.result}"},
            )
        return len(outcomes)

    # -- passes ----------------------------------------------------------------------------------
    def _pass_job(self, why: str) -> None:
        try:
            self.run_pass(why)
        except LedgerFault as exc:  # full disk, read-only or unreachable ledger: one line
            log.error("pass stopped: %s", exc, extra={"outcome": "stopped"})
        except Exception:  # never let one bad pass kill the scheduler thread
            log.exception("pass failed unexpectedly; the next rescan plans again")

    def run_pass(self, why: str = "slot") -> PassReport | None:
        """Post what the plan says is due now. Returns the runner's report (None: nothing)."""
        report: PassReport | None = None
        with self._pass_lock:
            if self.stop.is_set():
                return None
            now = self.clock()
            plan, scan, _ = snapshot(self.settings, self.ledger, now, cache=self._cache)
            self._tell_news(plan, scan)
            old = now - timedelta(days=1, seconds=self.sched.misfire_grace + self.sched.jitter)
            for key in [k for k, at in self._attempted.items() if at < old]:
                del self._attempted[key]
            due = [e for e in due_now(plan) if e.key not in self._attempted]
            if not due:
                self.reconcile_stuck()  # a pass always starts by settling stuck sends
            if due:
                report = self._post(due, scan, why)
                self.passes += 1
                self.last_pass_at = self.clock()
                self.last_pass = {
                    k: report.count(k)
                    for k in ("posted", "failed", "unknown", "deferred", "skipped", "error")
                }
                self.last_pass["already_posted"] = report.already_posted
                log.info(
                    "pass done (%s): %d posted, %d failed, %d unknown, %d deferred, %d skipped",
                    why,
                    report.count("posted"),
                    report.count("failed") + report.count("error"),
                    report.count("unknown"),
                    report.count("deferred"),
                    report.count("skipped"),
                    extra={"outcome": "pass"},
                )
        if report is not None:
            self.rescan("after pass")
            self.beat()
        return report

    def _post(self, due: list[Entry], scan: QueueScan, why: str) -> PassReport:
        picks = [Pick(e.slug, e.target, e.at, e.kind) for e in due if e.slug is not None]
        for e in due:
            self._attempted[e.key] = e.at
        n = len({(p.slug, p.target) for p in picks})
        log.info("pass (%s): %d post(s) due", why, n, extra={"outcome": "due"})
        runner = Runner(
            self.settings, self.ledger, owner=self.owner, stop=self.stop, sleep=self._sleep
        )
        try:  # the same reserve-then-post as `publish --now`
            report = post_picks(runner, picks, scan)
        finally:
            runner.close()
        self._settle(report)
        if report.posted:  # on its own thread: the pass is done when the posts are recorded
            self.site.request()
        return report

    def _sleep(self, seconds: float) -> None:
        """The runner's retry back-off, cut short by a stop request."""
        if self.stop.wait(seconds):
            raise StopRequested("the daemon is stopping; back to pending, retried after restart")

    def _settle(self, report: PassReport) -> None:
        """What the runner leaves to its caller: interrupted, unpreparable and skipped posts."""
        for o in report.outcomes:
            extra = {"item": o.slug, "target": o.target, "outcome": o.result}
            if o.result == "failed" and (o.error or "").startswith(StopRequested.kind + ":"):
                self.ledger.retry_failed(o.slug, o.target)
                extra["outcome"] = "requeued"
                log.info(
                    "%s → %s: requeued: stopped during a retry wait", o.slug, o.target, extra=extra
                )
            elif o.result == "error":  # a target that cannot be set up (the runner records
                # a card or caption that cannot be made itself; its row is failed already)
                network = self.settings.targets[o.target].network
                lease = self.settings.publish.lease_seconds
                if self.ledger.record_unpreparable(
                    o.slug, o.target, network, self.owner, lease, str(o.error)
                ):
                    log.error("%s → %s: failed: prepare: %s", o.slug, o.target, o.error)
            elif o.result == "skipped":
                log.info(
                    "%s → %s: skipped: %s",
                    o.slug,
                    o.target,
                    o.error,
                    extra={**extra, "error": o.error or ""},
                )


def serve(settings: Settings, log_format: str = "text", verbose: int = 0) -> int:
    """`quotecast run`: log to stdout, run the daemon, return its exit status."""
    from pipeline.logs import configure

    level = "DEBUG" if verbose > 1 else ("INFO" if verbose else settings.log_level)
    secrets = list(settings.notify) + settings.dotenv_secret_values()
    configure(level=level, fmt=log_format, extra_secrets=secrets, stream=sys.stdout)
    if verbose < 2:  # APScheduler's own lines would double every event; misses are ours
        logging.getLogger("apscheduler").setLevel(logging.ERROR)
    if verbose < 1:  # adapters' own "posted" lines repeat the runner's one line per post
        logging.getLogger("pipeline.publishers").setLevel(logging.WARNING)
    daemon = Daemon(settings)
    code = daemon.run()
    if code != 0:  # a pass is stuck past stop_timeout: do not wait for its thread
        logging.shutdown()
        sys.stdout.flush()
        os._exit(code)
    return code
