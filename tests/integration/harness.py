"""Shared pieces of the integration tests: fakes per network, project config, ledger reads.

Every fake speaks its network's real API on 127.0.0.1 and accepts only the canary-bearing
credentials below, which reach quotecast exactly as a user gives them: environment
variables `QUOTECAST_<TARGET>_<SECRET>`. Target names equal network names.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pipeline.config import load_settings
from pipeline.items import Item, load_queue
from pipeline.ledger import AttemptRow, Ledger, PostRow
from pipeline.runner import Runner
from tests.conftest import Project
from tests.fakes import CANARY
from tests.fakes.bluesky_api import CREATE_RECORD, FakeBluesky
from tests.fakes.mastodon_api import FakeMastodon
from tests.fakes.server import FakeServer
from tests.fakes.webhook_sink import WebhookSink
from tests.fakes.x_api import FakeX, XCredentials

NETWORKS = ("x", "mastodon", "bluesky", "webhook")
#: adapters whose find() can see a post on the network (the webhook cannot)
WITH_FIND = ("x", "mastodon", "bluesky")

X_CREATE = "POST /2/tweets"
MASTODON_CREATE = "POST /api/v1/statuses"
BLUESKY_CREATE = CREATE_RECORD
WEBHOOK_CREATE = "POST /hook"

BSKY_HANDLE = "quotecast.test"

#: [publish] for tests: tiny backoffs, a 5 s lease (the minimum), a 1 s request timeout
PUBLISH = {
    "max_attempts": 4,
    "backoff_initial": 0.01,
    "backoff_max": 0.05,
    "max_total_seconds": 60.0,
    "lease_seconds": 5,
    "request_timeout": 1.0,
}


@dataclass
class Net:
    """One network's fake, the options pointing a target at it, and its secrets."""

    network: str
    fake: FakeServer
    create: str  # the route of the request that makes the post
    options: dict[str, Any]
    env: dict[str, str]  # the credentials the fake accepts
    bad_env: dict[str, str]  # a credential the fake refuses (401)
    held_fn: Callable[[], list[tuple[str, str]]] = field(repr=False)

    @property
    def has_find(self) -> bool:
        return self.network in WITH_FIND

    def held(self) -> list[tuple[str, str]]:
        """(remote id, text) of every post the fake holds, oldest first."""
        return self.held_fn()

    def held_for(self, slug: str) -> list[str]:
        """Remote ids of the posts of one item (its link carries the slug)."""
        pattern = re.compile(rf"/q/{re.escape(slug)}(?![\w-])")
        return [rid for rid, text in self.held() if pattern.search(text)]

    def create_requests(self) -> int:
        return len(self.fake.requests_to(self.create))


def start_net(network: str) -> Net:
    """Start the fake of `network` with canary credentials."""
    if network == "x":
        creds = XCredentials(
            consumer_key=f"{CANARY}-x-api-key",
            consumer_secret=f"{CANARY}-x-api-secret",
            access_token=f"{CANARY}-x-access-token",
            access_token_secret=f"{CANARY}-x-access-token-secret",
        )
        x = FakeX(credentials=creds).start()
        env = {
            "QUOTECAST_X_API_KEY": creds.consumer_key,
            "QUOTECAST_X_API_SECRET": creds.consumer_secret,
            "QUOTECAST_X_ACCESS_TOKEN": creds.access_token,
            "QUOTECAST_X_ACCESS_TOKEN_SECRET": creds.access_token_secret,
        }
        return Net(
            "x",
            x,
            X_CREATE,
            {"api_base": x.url},
            env,
            {**env, "QUOTECAST_X_API_SECRET": f"{CANARY}-x-wrong-secret"},
            lambda: [(p.id, p.submitted_text) for p in list(x.posts)],
        )
    if network == "mastodon":
        m = FakeMastodon(token=f"{CANARY}-mastodon-token").start()
        return Net(
            "mastodon",
            m,
            MASTODON_CREATE,
            {"api_base": m.url, "media_poll_interval": 0.05},
            {"QUOTECAST_MASTODON_ACCESS_TOKEN": m.token},
            {"QUOTECAST_MASTODON_ACCESS_TOKEN": f"{CANARY}-mastodon-revoked"},
            lambda: [(s.id, s.text) for s in list(m.posts)],
        )
    if network == "bluesky":
        b = FakeBluesky(handle=BSKY_HANDLE, password=f"{CANARY}-bsky-app-password").start()
        return Net(
            "bluesky",
            b,
            BLUESKY_CREATE,
            {"api_base": b.url, "handle": BSKY_HANDLE},
            {"QUOTECAST_BLUESKY_APP_PASSWORD": b.password},
            {"QUOTECAST_BLUESKY_APP_PASSWORD": f"{CANARY}-bsky-wrong-password"},
            lambda: [(r.uri, str(r.value.get("text"))) for r in b.posts()],
        )
    if network == "webhook":
        w = WebhookSink(secret=f"{CANARY}-webhook-signing").start()
        assert w.secret is not None
        return Net(
            "webhook",
            w,
            WEBHOOK_CREATE,
            {"url": f"{w.url}/hook"},
            {"QUOTECAST_WEBHOOK_SIGNING_SECRET": w.secret},
            {"QUOTECAST_WEBHOOK_SIGNING_SECRET": f"{CANARY}-webhook-wrong"},
            lambda: [(d.id, str(d.payload.get("caption"))) for d in list(w.posts)],
        )
    raise ValueError(network)


@contextmanager
def running(*networks: str) -> Iterator[dict[str, Net]]:
    nets = {n: start_net(n) for n in networks}
    try:
        yield nets
    finally:
        for net in nets.values():
            net.fake.stop()


def env_of(nets: Iterable[Net]) -> dict[str, str]:
    out: dict[str, str] = {}
    for net in nets:
        out.update(net.env)
    return out


# -- project ----------------------------------------------------------------------------------


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string of ASCII text is a TOML basic string
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + "}"
    raise TypeError(type(value))


def configure(
    project: Project,
    nets: Iterable[Net],
    *,
    outbox: bool = False,
    publish: dict[str, Any] | None = None,
    extra_targets: dict[str, tuple[str, dict[str, Any]]] | None = None,
) -> None:
    """config.toml with one target per fake (named as its network), small cards and backoffs.

    extra_targets: name -> (network, options), e.g. a second target on the same fake.
    """
    lines = [
        'data_dir = "var"',
        'queue_dir = "queue"',
        "[formats.tiny]",
        "width = 320",
        "height = 180",
    ]
    targets = [(n.network, n.network, n.options) for n in nets]
    targets += [(name, net, opts) for name, (net, opts) in (extra_targets or {}).items()]
    if outbox:
        targets.append(("outbox", "outbox", {}))
    for name, network, options in targets:
        lines += [f"[targets.{name}]", f'network = "{network}"', 'format = "tiny"']
        if options:
            lines.append(f"options = {_toml(options)}")
    lines.append("[publish]")
    lines += [f"{k} = {_toml(v)}" for k, v in {**PUBLISH, **(publish or {})}.items()]
    project.write_config("\n".join(lines) + "\n")


def add_items(project: Project, *slugs: str) -> None:
    """Queue one short, distinct quote per slug; its link carries the slug."""
    for n, slug in enumerate(slugs):
        project.add_item(
            f"{slug}.toml",
            f'quote = "Quote {n} of {slug}: small steps, every day."\n'
            f'author = "Ada Tester"\n'
            f'link = "https://example.com/q/{slug}"\n'
            f'tags = ["focus"]\n',
        )


# -- in-process runner and ledger ---------------------------------------------------------------


@contextmanager
def runner(
    project: Project, sleep: Callable[[float], None] | None = None, owner: str | None = None
) -> Iterator[Runner]:
    """A Runner over the project's config and ledger (secrets from os.environ)."""
    settings = load_settings(project.config)
    ledger = Ledger.open(settings.data_path)
    r = Runner(settings, ledger, owner=owner, sleep=sleep)
    try:
        yield r
    finally:
        r.close()
        ledger.close()


def item_of(r: Runner, slug: str) -> Item:
    return load_queue(r.settings.queue_path, r.tz).by_slug()[slug]


def open_ledger(project: Project) -> Ledger:
    return Ledger.open(project.var)


def row(project: Project, slug: str, target: str) -> PostRow | None:
    ledger = open_ledger(project)
    try:
        return ledger.get(slug, target)
    finally:
        ledger.close()


def attempts(project: Project, slug: str, target: str) -> list[AttemptRow]:
    """The attempts table for one post, oldest first."""
    ledger = open_ledger(project)
    try:
        return [a for a in reversed(ledger.history(slug)) if a.target == target]
    finally:
        ledger.close()


def states(project: Project) -> dict[tuple[str, str], str]:
    db = sqlite3.connect(project.var / "ledger.sqlite3")
    try:
        return {(s, t): st for s, t, st in db.execute("SELECT slug, target, state FROM posts")}
    finally:
        db.close()


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


def wait_until_leases_expire(project: Project) -> None:
    """Sleep until every `sending` row's lease is in the past (real time: other processes)."""
    ledger = open_ledger(project)
    try:
        leases = [r.lease_until for r in ledger.rows(states=("sending",)) if r.lease_until]
    finally:
        ledger.close()
    assert leases, "no sending row with a lease"
    delay = (max(leases) - datetime.now(UTC)).total_seconds()
    if delay > 0:
        time.sleep(delay + 0.1)
