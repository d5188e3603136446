"""The ledger: the one place where publishing state lives.

Per (item, target) a row moves pending → claimed → sending → posted, or to
failed (permanent, with the reason) or unknown (the process died while
sending and the network cannot tell). Claims are conditional UPDATEs inside
one transaction with a lease and an owner, so two processes never both hold
a post. Every attempt is appended to `attempts`. SQLite (WAL) by default;
any SQLAlchemy URL (PostgreSQL) when several machines share the work.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    and_,
    create_engine,
    event,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError, NoSuchModuleError

from pipeline.errors import DataDirError, QuotecastError
from pipeline.ledger_faults import (
    MADE_MARKER,
    LedgerFault,
    check_sqlite_file,
    describe,
    shown_url,
)

SCHEMA_VERSION = 1
STATES = ("pending", "claimed", "sending", "posted", "failed", "unknown")

metadata = MetaData()

meta_table = Table(
    "meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

posts = Table(
    "posts",
    metadata,
    Column("slug", String(100), primary_key=True),
    Column("target", String(100), primary_key=True),
    Column("network", String(40), nullable=False),
    Column("state", String(16), nullable=False, index=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("owner", String(200)),
    Column("lease_until", String(40)),
    Column("idempotency_key", String(64)),
    Column("content_hash", String(64)),
    Column("remote_id", Text),
    Column("url", Text),
    Column("last_error", Text),
    Column("error_kind", String(20)),
    Column("not_before", String(40)),  # a rate limit deferred this post until then
    Column("scheduled_for", String(40)),
    Column("scheduled_tz", String(64)),
    Column("card_path", Text),
    Column("caption", Text),
    Column("alt_text", Text),
    Column("link", Text),
    Column("created_at", String(40), nullable=False),
    Column("updated_at", String(40), nullable=False),
    Column("posted_at", String(40)),
)

attempts = Table(
    "attempts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("slug", String(100), nullable=False, index=True),
    Column("target", String(100), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("owner", String(200)),
    Column("at", String(40), nullable=False),
    Column("outcome", String(20), nullable=False),
    Column("error", Text),
    Column("remote_id", Text),
    Column("url", Text),
)

heartbeats = Table(
    "heartbeats",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("owner", String(200), nullable=False),
    Column("beat_at", String(40), nullable=False),
    Column("info", Text),
)

#: alerts already sent (one row per alert key), so a message goes out once across processes
alerts_sent = Table(
    "alerts_sent",
    metadata,
    Column("key", String(300), primary_key=True),
    Column("sent_at", String(40), nullable=False),
)


#: when each idempotency key was first sent: a network that forgets keys (Mastodon keeps
#: them an hour) makes a resend safe only within that time after the first send
sends = Table(
    "sends",
    metadata,
    Column("slug", String(100), primary_key=True),
    Column("target", String(100), primary_key=True),
    Column("idempotency_key", String(64), primary_key=True),
    Column("first_at", String(40), nullable=False),
)

#: each target's access-token expiry as its network last reported it (check --online, daemon)
tokens = Table(
    "tokens",
    metadata,
    Column("target", String(100), primary_key=True),
    Column("network", String(40), nullable=False),
    Column("expires_at", String(40)),  # NULL: the network says it never expires
    Column("checked_at", String(40), nullable=False),
    Column("note", Text),
)


@dataclass(frozen=True)
class TokenRow:
    target: str
    network: str
    expires_at: datetime | None
    checked_at: datetime
    note: str | None


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(dt: datetime) -> str:
    """One sortable text form for every stored time: UTC, microseconds."""
    if dt.tzinfo is None:
        raise ValueError("naive datetime reached the ledger")
    return dt.astimezone(UTC).isoformat(timespec="microseconds")


def parse_iso(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def default_owner() -> str:
    """Who holds a claim: host, pid and a random part (pids are reused)."""
    return f"{socket.gethostname()}:{os.getpid()}:{os.urandom(3).hex()}"


@dataclass(frozen=True)
class PostRow:
    slug: str
    target: str
    network: str
    state: str
    attempts: int
    owner: str | None
    lease_until: datetime | None
    idempotency_key: str | None
    content_hash: str | None
    remote_id: str | None
    url: str | None
    last_error: str | None
    error_kind: str | None
    not_before: datetime | None
    scheduled_for: datetime | None
    scheduled_tz: str | None
    card_path: str | None
    caption: str | None
    alt_text: str | None
    link: str | None
    created_at: datetime
    updated_at: datetime
    posted_at: datetime | None

    @classmethod
    def from_mapping(cls, m: Any) -> PostRow:
        d = dict(m)
        for k in (
            "lease_until",
            "not_before",
            "scheduled_for",
            "created_at",
            "updated_at",
            "posted_at",
        ):
            d[k] = parse_iso(d[k])
        return cls(**d)

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in self.__dict__.items():
            out[k] = iso(v) if isinstance(v, datetime) else v
        return out


@dataclass(frozen=True)
class AttemptRow:
    id: int
    slug: str
    target: str
    attempt: int
    owner: str | None
    at: datetime
    outcome: str
    error: str | None
    remote_id: str | None
    url: str | None

    def as_json(self) -> dict[str, Any]:
        return {k: (iso(v) if isinstance(v, datetime) else v) for k, v in self.__dict__.items()}


class LedgerError(QuotecastError):
    pass


class Ledger:
    """State of every (item, target), behind a small set of atomic operations."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- opening -----------------------------------------------------------------
    @classmethod
    def open(cls, data_dir: Path, url: str | None = None) -> Ledger:
        """Open (and create or migrate) the ledger; SQLite under data_dir by default."""
        if url is None:
            try:
                data_dir.mkdir(parents=True, exist_ok=True)
                probe = data_dir / f".write-test-{os.getpid()}-{os.urandom(4).hex()}"
                probe.write_bytes(b"")
                probe.unlink(missing_ok=True)
            except OSError as exc:
                raise DataDirError(
                    f"{data_dir}: data folder is not writable ({exc.strerror}); "
                    "fix its permissions or set data_dir in config.toml"
                ) from None
            url = f"sqlite:///{data_dir / 'ledger.sqlite3'}"
        engine = _make_engine(url)
        if engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:"):
            path = Path(engine.url.database)
            if not check_sqlite_file(path):  # never a new ledger over a lost one
                _create_sqlite(path)
        ledger = cls(engine)
        ledger._migrate()
        return ledger

    def _migrate(self) -> None:
        try:
            with self.engine.begin() as conn:
                if self.engine.dialect.name == "postgresql":
                    # first starts of several processes at once: one creates, the others wait
                    conn.exec_driver_sql("SELECT pg_advisory_xact_lock(1717017)")
                elif self.engine.dialect.name == "sqlite":
                    check = conn.exec_driver_sql("PRAGMA quick_check(1)").scalar()
                    if check != "ok":
                        detail = " ".join(str(check).replace("*", "").split())[:160]
                        raise LedgerFault(
                            f"{self.engine.url.database}: the ledger is damaged ({detail}); "
                            "restore it from a backup"
                        )
                metadata.create_all(conn)
                row = conn.execute(
                    select(meta_table.c.value).where(meta_table.c.key == "schema_version")
                ).first()
                if row is None:
                    conn.execute(
                        insert(meta_table).values(key="schema_version", value=str(SCHEMA_VERSION))
                    )
                elif int(row[0]) > SCHEMA_VERSION:
                    raise LedgerError(
                        f"ledger schema version {row[0]} is newer than this quotecast "
                        f"({SCHEMA_VERSION}); upgrade quotecast"
                    )
        except DBAPIError as exc:
            raise LedgerFault(f"cannot open the ledger: {describe(exc)}") from None

    def close(self) -> None:
        self.engine.dispose()

    # -- claims and transitions ---------------------------------------------------
    def ensure(self, slug: str, target: str, network: str, now: datetime | None = None) -> None:
        """Create the pending row for (slug, target) if it does not exist yet."""
        now_s = iso(now or utcnow())
        values = dict(
            slug=slug,
            target=target,
            network=network,
            state="pending",
            attempts=0,
            created_at=now_s,
            updated_at=now_s,
        )
        with self.engine.begin() as conn:
            exists = conn.execute(
                select(posts.c.state).where(posts.c.slug == slug, posts.c.target == target)
            ).first()
            if exists is None:
                conn.execute(_insert_ignore(self.engine, posts).values(**values))

    def claim(
        self,
        slug: str,
        target: str,
        network: str,
        owner: str,
        lease_seconds: int,
        now: datetime | None = None,
    ) -> bool:
        """Atomically take (slug, target) for `owner`; False if posted or held by another."""
        now = now or utcnow()
        self.ensure(slug, target, network, now)
        with self.engine.begin() as conn:
            res = conn.execute(
                update(posts)
                .where(
                    posts.c.slug == slug,
                    posts.c.target == target,
                    or_(
                        posts.c.state == "pending",
                        and_(posts.c.state == "claimed", posts.c.lease_until < iso(now)),
                    ),
                )
                .values(
                    state="claimed",
                    owner=owner,
                    lease_until=iso(now + timedelta(seconds=lease_seconds)),
                    updated_at=iso(now),
                )
            )
            return res.rowcount == 1

    def mark_sending(
        self,
        slug: str,
        target: str,
        owner: str,
        idempotency_key: str,
        content_hash: str,
        lease_seconds: int,
        details: dict[str, str | None] | None = None,
        now: datetime | None = None,
    ) -> int:
        """Before each network call: state `sending`, attempt number +1. Returns the attempt."""
        now = now or utcnow()
        with self.engine.begin() as conn:
            row = conn.execute(
                select(posts.c.attempts, posts.c.owner, posts.c.state).where(
                    posts.c.slug == slug, posts.c.target == target
                )
            ).first()
            if row is None or row.owner != owner or row.state not in ("claimed", "sending"):
                raise LedgerError("claim lost before sending (another process took it over)")
            attempt = int(row.attempts) + 1
            conn.execute(
                update(posts)
                .where(posts.c.slug == slug, posts.c.target == target, posts.c.owner == owner)
                .values(
                    state="sending",
                    attempts=attempt,
                    idempotency_key=idempotency_key,
                    content_hash=content_hash,
                    lease_until=iso(now + timedelta(seconds=lease_seconds)),
                    updated_at=iso(now),
                    **(details or {}),
                )
            )
        return attempt

    def record_attempt(
        self,
        slug: str,
        target: str,
        attempt: int,
        outcome: str,
        error: str | None = None,
        owner: str | None = None,
        now: datetime | None = None,
    ) -> None:
        """Append one failed attempt (its error) without changing the post's state."""
        with self.engine.begin() as conn:
            conn.execute(
                insert(attempts).values(
                    slug=slug,
                    target=target,
                    attempt=attempt,
                    owner=owner,
                    at=iso(now or utcnow()),
                    outcome=outcome,
                    error=error,
                )
            )
            conn.execute(
                update(posts)
                .where(posts.c.slug == slug, posts.c.target == target)
                .values(last_error=error, error_kind=outcome, updated_at=iso(now or utcnow()))
            )

    def _finish(
        self,
        slug: str,
        target: str,
        owner: str | None,
        state: str,
        outcome: str,
        values: dict[str, Any],
        now: datetime | None,
        error: str | None = None,
    ) -> bool:
        now_s = iso(now or utcnow())
        with self.engine.begin() as conn:
            cond = [posts.c.slug == slug, posts.c.target == target]
            if owner is not None:
                cond.append(posts.c.owner == owner)
            row = conn.execute(select(posts.c.attempts).where(*cond)).first()
            if row is None:
                return False
            conn.execute(
                update(posts)
                .where(*cond)
                .values(state=state, owner=None, lease_until=None, updated_at=now_s, **values)
            )
            conn.execute(
                insert(attempts).values(
                    slug=slug,
                    target=target,
                    attempt=int(row.attempts),
                    owner=owner,
                    at=now_s,
                    outcome=outcome,
                    error=error,
                    remote_id=values.get("remote_id"),
                    url=values.get("url"),
                )
            )
        return True

    def record_posted(
        self,
        slug: str,
        target: str,
        owner: str | None,
        remote_id: str,
        url: str | None,
        posted_at: datetime,
        outcome: str = "posted",
        now: datetime | None = None,
    ) -> bool:
        """The network has it: state, receipt and attempt in one transaction."""
        return self._finish(
            slug,
            target,
            owner,
            "posted",
            outcome,
            dict(
                remote_id=remote_id,
                url=url,
                posted_at=iso(posted_at),
                last_error=None,
                error_kind=None,
                not_before=None,
            ),
            now,
        )

    def record_failed(
        self,
        slug: str,
        target: str,
        owner: str | None,
        reason: str,
        kind: str,
        now: datetime | None = None,
    ) -> bool:
        return self._finish(
            slug,
            target,
            owner,
            "failed",
            kind,
            dict(last_error=reason, error_kind=kind),
            now,
            error=reason,
        )

    def record_unpreparable(
        self, slug: str, target: str, network: str, owner: str, lease_seconds: int, reason: str
    ) -> bool:
        """Record a post whose card or caption cannot be made as `failed` ("prepare: …"),
        so it does not hold the queue and `status` says why; False when the row is not
        pending (posted, held by another process, or already failed)."""
        if not self.claim(slug, target, network, owner, lease_seconds):
            return False
        return self.record_failed(slug, target, owner, f"prepare: {reason}", "prepare")

    def record_unknown(
        self, slug: str, target: str, owner: str | None, reason: str, now: datetime | None = None
    ) -> bool:
        return self._finish(
            slug,
            target,
            owner,
            "unknown",
            "unknown",
            dict(last_error=reason, error_kind="unknown"),
            now,
            error=reason,
        )

    def extend_lease(
        self, slug: str, target: str, owner: str, seconds: float, now: datetime | None = None
    ) -> bool:
        """Keep a held post ours for `seconds` more (e.g. across a long retry wait)."""
        now = now or utcnow()
        with self.engine.begin() as conn:
            res = conn.execute(
                update(posts)
                .where(*_held_by(slug, target, owner))
                .values(lease_until=iso(now + timedelta(seconds=seconds)), updated_at=iso(now))
            )
            return res.rowcount == 1

    def release(
        self,
        slug: str,
        target: str,
        owner: str,
        reason: str | None = None,
        now: datetime | None = None,
        not_before: datetime | None = None,
    ) -> bool:
        """Give a claim back (nothing was sent): the post is pending again.

        With `not_before`, passes leave it alone until then (a long rate limit).
        """
        with self.engine.begin() as conn:
            res = conn.execute(
                update(posts)
                .where(*_held_by(slug, target, owner))
                .values(
                    state="pending",
                    owner=None,
                    lease_until=None,
                    last_error=reason,
                    not_before=iso(not_before) if not_before else None,
                    updated_at=iso(now or utcnow()),
                )
            )
            return res.rowcount == 1

    def take_expired_sending(
        self, owner: str, lease_seconds: int, now: datetime | None = None
    ) -> list[PostRow]:
        """Claim `sending` rows whose lease expired, for reconciliation by this owner."""
        now = now or utcnow()
        taken: list[PostRow] = []
        for row in self.rows(states=("sending",)):
            if row.lease_until is None or row.lease_until >= now:
                continue
            with self.engine.begin() as conn:
                res = conn.execute(
                    update(posts)
                    .where(
                        posts.c.slug == row.slug,
                        posts.c.target == row.target,
                        posts.c.state == "sending",
                        posts.c.lease_until == iso(row.lease_until),
                    )
                    .values(
                        owner=owner,
                        lease_until=iso(now + timedelta(seconds=lease_seconds)),
                        updated_at=iso(now),
                    )
                )
            if res.rowcount == 1:
                taken.append(self.get(row.slug, row.target))  # type: ignore[arg-type]
        return taken

    # -- operator actions ----------------------------------------------------------
    def resolve(self, slug: str, target: str, posted_url: str | None) -> PostRow:
        """Settle an `unknown` post: posted (with its URL) or not posted (pending again)."""
        row = self.get(slug, target)
        if row is None:
            raise LedgerError(f"no post {slug} → {target} in the ledger; see `quotecast status`")
        if row.state != "unknown":
            raise LedgerError(
                f"{slug} → {target} is {row.state}, not unknown; only unknown posts are resolved"
            )
        now = utcnow()
        if posted_url is not None:
            self._finish(
                slug,
                target,
                None,
                "posted",
                "resolved",
                dict(url=posted_url, remote_id=posted_url, posted_at=iso(now), last_error=None),
                now,
            )
        else:
            self._finish(slug, target, None, "pending", "resolved", dict(last_error=None), now)
        result = self.get(slug, target)
        assert result is not None
        return result

    def retry_failed(self, slug: str | None = None, target: str | None = None) -> list[PostRow]:
        """Re-queue failed posts; posted ones are never touched."""
        cond = [posts.c.state == "failed"]
        if slug:
            cond.append(posts.c.slug == slug)
        if target:
            cond.append(posts.c.target == target)
        with self.engine.begin() as conn:
            rows = conn.execute(select(posts).where(*cond)).mappings().all()
            conn.execute(
                update(posts)
                .where(*cond)
                .values(
                    state="pending",
                    error_kind=None,
                    last_error=None,  # the attempts table keeps the history
                    not_before=None,
                    updated_at=iso(utcnow()),
                )
            )
        return [PostRow.from_mapping(r) for r in rows]

    def stuck_sending(self, now: datetime | None = None) -> list[PostRow]:
        """`sending` rows whose lease ran out: their process died (or hangs) mid-send, and
        the next pass or the daemon's timer must look them up. `status` shows them."""
        q = (
            select(posts)
            .where(posts.c.state == "sending", posts.c.lease_until < iso(now or utcnow()))
            .order_by(posts.c.lease_until)
        )
        with self.engine.connect() as conn:
            return [PostRow.from_mapping(m) for m in conn.execute(q).mappings()]

    def unknown_rows(self, slug: str | None = None, target: str | None = None) -> list[PostRow]:
        """`unknown` posts (maybe out), which `retry` must refuse: only `resolve` settles them."""
        return [
            r for r in self.rows(states=("unknown",), slug=slug) if not target or r.target == target
        ]

    def set_schedule(self, slug: str, target: str, when: datetime | None, tz: str | None) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(posts)
                .where(posts.c.slug == slug, posts.c.target == target)
                .values(scheduled_for=iso(when) if when else None, scheduled_tz=tz)
            )

    def reserve(
        self,
        slug: str,
        target: str,
        network: str,
        when: datetime,
        tz: str,
        now: datetime | None = None,
    ) -> bool:
        """Record the slot a pending post is about to go out in (the daemon, before a pass).

        Only a pending row is touched, so a post another process already sent keeps the
        time it was scheduled for (or none). Returns whether the reservation was written.
        """
        self.ensure(slug, target, network, now)
        with self.engine.begin() as conn:
            res = conn.execute(
                update(posts)
                .where(posts.c.slug == slug, posts.c.target == target, posts.c.state == "pending")
                .values(scheduled_for=iso(when), scheduled_tz=tz)
            )
            return res.rowcount == 1

    # -- first sends and token expiry (additive; see `sends` and `tokens`) -------------------
    def note_send(self, slug: str, target: str, key: str, now: datetime | None = None) -> datetime:
        """Remember when `key` was first sent for (slug, target); returns that first time."""
        with self.engine.begin() as conn:
            conn.execute(
                _insert_ignore(self.engine, sends).values(
                    slug=slug, target=target, idempotency_key=key, first_at=iso(now or utcnow())
                )
            )
        first = self.first_send(slug, target, key)
        assert first is not None
        return first

    def first_send(self, slug: str, target: str, key: str | None) -> datetime | None:
        """When `key` was first sent for (slug, target), if this ledger saw it."""
        if not key:
            return None
        with self.engine.connect() as conn:
            value = conn.execute(
                select(sends.c.first_at).where(
                    sends.c.slug == slug,
                    sends.c.target == target,
                    sends.c.idempotency_key == key,
                )
            ).scalar()
        return parse_iso(value)

    def record_token(
        self,
        target: str,
        network: str,
        expires_at: datetime | None,
        note: str = "",
        now: datetime | None = None,
    ) -> None:
        """Store what the network said about a target's token (replacing the last answer)."""
        values = dict(
            network=network,
            expires_at=iso(expires_at) if expires_at else None,
            checked_at=iso(now or utcnow()),
            note=note,
        )
        with self.engine.begin() as conn:
            res = conn.execute(update(tokens).where(tokens.c.target == target).values(**values))
            if res.rowcount == 0:
                conn.execute(_insert_ignore(self.engine, tokens).values(target=target, **values))

    def tokens(self) -> list[TokenRow]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(tokens).order_by(tokens.c.target)).mappings().all()
        out = []
        for m in rows:
            checked = parse_iso(m["checked_at"])
            assert checked is not None
            out.append(
                TokenRow(m["target"], m["network"], parse_iso(m["expires_at"]), checked, m["note"])
            )
        return out

    # -- alerts sent -------------------------------------------------------------------
    def first_alert(self, key: str, now: datetime | None = None) -> bool:
        """Atomically note that alert `key` is being sent; False if it already was."""
        stmt = _insert_ignore(self.engine, alerts_sent).values(
            key=key[:300], sent_at=iso(now or utcnow())
        )
        try:
            with self.engine.begin() as conn:
                if self.engine.dialect.name == "postgresql":
                    # psycopg reports rowcount -1 for INSERT … ON CONFLICT DO NOTHING: ask for
                    # the inserted key instead
                    return conn.execute(stmt.returning(alerts_sent.c.key)).first() is not None
                res = conn.execute(stmt)
        except IntegrityError:  # dialects without "insert or ignore"
            return False
        return res.rowcount == 1

    def forget_alert(self, key: str) -> None:
        """Allow alert `key` again (it could not be delivered, or its condition ended)."""
        with self.engine.begin() as conn:
            conn.execute(alerts_sent.delete().where(alerts_sent.c.key == key[:300]))

    def alert_keys(self, prefix: str) -> list[str]:
        with self.engine.connect() as conn:
            q = select(alerts_sent.c.key).where(alerts_sent.c.key.startswith(prefix))
            return [str(k) for k in conn.execute(q).scalars()]

    # -- reading ---------------------------------------------------------------------
    def get(self, slug: str, target: str) -> PostRow | None:
        with self.engine.connect() as conn:
            m = (
                conn.execute(select(posts).where(posts.c.slug == slug, posts.c.target == target))
                .mappings()
                .first()
            )
        return PostRow.from_mapping(m) if m else None

    def rows(self, states: Sequence[str] | None = None, slug: str | None = None) -> list[PostRow]:
        q = select(posts).order_by(posts.c.slug, posts.c.target)
        if states:
            q = q.where(posts.c.state.in_(tuple(states)))
        if slug:
            q = q.where(posts.c.slug == slug)
        with self.engine.connect() as conn:
            return [PostRow.from_mapping(m) for m in conn.execute(q).mappings()]

    def history(self, slug: str | None = None, limit: int | None = None) -> list[AttemptRow]:
        q = select(attempts).order_by(attempts.c.id.desc())
        if slug:
            q = q.where(attempts.c.slug == slug)
        if limit:
            q = q.limit(limit)
        with self.engine.connect() as conn:
            out = []
            for m in conn.execute(q).mappings():
                d = dict(m)
                d["at"] = parse_iso(d["at"])
                out.append(AttemptRow(**d))
        return out

    def iter_history(
        self, slug: str | None = None, limit: int | None = None
    ) -> Iterator[AttemptRow]:
        """history(), one row at a time: a listing of every attempt never holds them all."""
        q = select(attempts).order_by(attempts.c.id.desc())
        if slug:
            q = q.where(attempts.c.slug == slug)
        if limit:
            q = q.limit(limit)
        with self.engine.connect() as conn:
            result = conn.execution_options(stream_results=True, yield_per=500).execute(q)
            for m in result.mappings():
                d = dict(m)
                d["at"] = parse_iso(d["at"])
                yield AttemptRow(**d)

    def states(self, only: Sequence[str]) -> dict[tuple[str, str], str]:
        """(slug, target) → state of the rows in `only`: a light read of many rows."""
        q = select(posts.c.slug, posts.c.target, posts.c.state).where(
            posts.c.state.in_(tuple(only))
        )
        with self.engine.connect() as conn:
            return {(r.slug, r.target): r.state for r in conn.execute(q)}

    def signature(self) -> tuple[int, str | None]:
        """(rows, newest update): changes whenever any process changed a post row."""
        with self.engine.connect() as conn:
            n, newest = conn.execute(select(func.count(), func.max(posts.c.updated_at))).one()
        return int(n), newest

    def posted(self) -> Iterator[PostRow]:
        """Posted rows, newest first (the bio page's order)."""
        rows = self.rows(states=("posted",))
        yield from sorted(rows, key=lambda r: r.posted_at or r.updated_at, reverse=True)

    # -- heartbeat -------------------------------------------------------------------
    def beat(
        self, name: str, owner: str, info: dict[str, Any], now: datetime | None = None
    ) -> None:
        now_s = iso(now or utcnow())
        with self.engine.begin() as conn:
            res = conn.execute(
                update(heartbeats)
                .where(heartbeats.c.name == name)
                .values(owner=owner, beat_at=now_s, info=json.dumps(info))
            )
            if res.rowcount == 0:
                conn.execute(
                    _insert_ignore(self.engine, heartbeats).values(
                        name=name, owner=owner, beat_at=now_s, info=json.dumps(info)
                    )
                )

    def heartbeat(self, name: str) -> tuple[str, datetime, dict[str, Any]] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(heartbeats).where(heartbeats.c.name == name)).first()
        if row is None:
            return None
        beat = parse_iso(row.beat_at)
        assert beat is not None
        return row.owner, beat, json.loads(row.info or "{}")


def _create_sqlite(path: Path) -> None:
    """Make a new SQLite ledger whole, then put it in place in one step.

    Why: a ledger file that exists is never empty, so an empty one is always damage (see
    ledger_faults.check_sqlite_file), even when several processes start for the first time.
    """
    tmp = path.with_name(f".{path.name}.new-{os.getpid()}-{os.urandom(3).hex()}")
    engine = create_engine(f"sqlite:///{tmp}")
    try:
        with engine.begin() as conn:
            metadata.create_all(conn)
            conn.execute(insert(meta_table).values(key="schema_version", value=str(SCHEMA_VERSION)))
        engine.dispose()
        try:
            os.link(tmp, path)  # fails if another process put its ledger there first: fine
            (path.parent / MADE_MARKER).write_text(f"{iso(utcnow())} {path.name}\n")
        except FileExistsError:
            pass
        except OSError:  # a filesystem without hard links
            if not path.exists():
                os.replace(tmp, path)
    finally:
        engine.dispose()
        for leftover in (tmp, tmp.with_name(tmp.name + "-journal")):
            leftover.unlink(missing_ok=True)


def _held_by(slug: str, target: str, owner: str) -> tuple[Any, ...]:
    """The row of (slug, target) while `owner` holds it (claimed or sending)."""
    return (
        posts.c.slug == slug,
        posts.c.target == target,
        posts.c.owner == owner,
        posts.c.state.in_(("claimed", "sending")),
    )


def _insert_ignore(engine: Engine, table: Table) -> Any:
    if engine.dialect.name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(table).on_conflict_do_nothing()
    if engine.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table).on_conflict_do_nothing()
    return insert(table)


def _make_engine(url: str) -> Engine:
    if not url.startswith("sqlite"):
        try:
            return create_engine(url, pool_pre_ping=True)
        except NoSuchModuleError:
            raise LedgerFault(
                f"ledger_url {shown_url(url)}: unknown kind of database; use a "
                "postgresql+psycopg:// URL (install quotecast[postgres])"
            ) from None
        except ArgumentError:
            raise LedgerFault(
                "QUOTECAST_LEDGER_URL (ledger_url) is not a database URL; use e.g. "
                "postgresql+psycopg://user@host:5432/quotecast"
            ) from None
        except ImportError as exc:
            raise LedgerFault(
                f"ledger_url {shown_url(url)}: its database driver is not installed "
                f"({exc.name}); for PostgreSQL install quotecast[postgres] and use a "
                "postgresql+psycopg:// URL"
            ) from None
    engine = create_engine(url, connect_args={"timeout": 30, "isolation_level": None})

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        # SQLite answers "locked" at once, without its busy handler, when another process
        # holds the file while the journal mode is switched (two first runs at once): wait
        for pause in (0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 0.0):
            try:
                cur.execute("PRAGMA journal_mode=WAL")
                break
            except sqlite3.OperationalError as exc:
                if not pause or "locked" not in str(exc):
                    raise
                time.sleep(pause)
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        # take the write lock up front so concurrent claimers queue instead of failing
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine
