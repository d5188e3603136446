"""Two `quotecast publish --now` processes at once, with injected faults, over ten items and
two networks: every item is posted exactly once per network, and nothing ends failed."""

from __future__ import annotations

import re
import time

from tests.conftest import Project
from tests.fakes import Fault
from tests.fakes.x_api import problem
from tests.integration.harness import (
    BLUESKY_CREATE,
    X_CREATE,
    add_items,
    configure,
    env_of,
    open_ledger,
    running,
)

SLUGS = [f"item-{n:02d}" for n in range(10)]


def test_two_processes_and_faults_post_every_item_exactly_once(bare_project: Project) -> None:
    project = bare_project
    with running("x", "bluesky") as nets:
        configure(project, nets.values(), publish={"max_attempts": 8})
        add_items(project, *SLUGS)
        env = env_of(nets.values())
        # faults for whichever process's requests come first
        x_faults = [
            Fault.error(500, problem(500, "Internal Error", "boom").body),
            Fault.error(429, problem(429, "Too Many Requests", "slow").body, {"Retry-After": "1"}),
            Fault.error(503, problem(503, "Service Unavailable", "later").body),
            Fault.reset_after_commit(),  # X stored it; find() must see it, no second post
            Fault.error(500, problem(500, "Internal Error", "boom").body),
        ]
        reset = str(int(time.time()) + 1)
        bsky_faults = [
            Fault.error(500, {"error": "InternalServerError", "message": "boom"}),
            Fault.reset_before_commit(),  # nothing stored: the record key proves absence
            Fault.error(429, {"error": "RateLimitExceeded"}, {"ratelimit-reset": reset}),
            Fault.reset_after_commit(),  # stored: the record key finds it
            Fault.error(502, {"error": "BadGateway", "message": "proxy"}),
        ]
        nets["x"].fake.inject(X_CREATE, *x_faults)
        nets["bluesky"].fake.inject(BLUESKY_CREATE, *bsky_faults)

        started = time.monotonic()
        procs = [project.popen("publish", "--now", "--all", "--yes", env=env) for _ in range(2)]
        results = [p.communicate(timeout=90) for p in procs]
        elapsed = time.monotonic() - started
        for proc, (out, err) in zip(procs, results, strict=True):
            assert proc.returncode == 0, out + err
            assert "Traceback" not in err

        for name, net in nets.items():
            assert net.fake.pending_faults(net.create) == 0, name  # every fault was met
        ledger = open_ledger(project)
        try:
            rows = ledger.rows()
            history = ledger.history()
        finally:
            ledger.close()
        assert len(rows) == 20
        assert {r.state for r in rows} == {"posted"}, [(r.slug, r.target, r.state) for r in rows]
        for r in rows:
            assert nets[r.target].held_for(r.slug) == [r.remote_id], (r.slug, r.target)
        for name, net in nets.items():
            assert len(net.held()) == len(SLUGS), name
        assert not [h for h in history if h.outcome in ("failed", "unknown", "permanent")]
        retried = [h for h in history if h.outcome in ("transient", "rate_limited")]
        assert len(retried) >= 7  # the injected faults were retried, not fatal
        # each post was reported as posted by exactly one of the two processes
        lines = [
            m.groups()
            for out, _ in results
            for m in re.finditer(r"^posted\s+(\S+) → (\S+)", out, re.M)
        ]
        assert sorted(lines) == sorted((r.slug, r.target) for r in rows)
        assert elapsed < 60
