"""Issue 17, the crash matrix: real `quotecast publish --now` processes SIGKILLed at random
moments and mid-request, while the networks sometimes store a post and then reset the
connection. A clean pass afterwards must leave 0 duplicates and 0 losses, every post that may
be out `unknown` (never pending or failed), and `status` telling a person what to do.

Two fakes: Mastodon (stores statuses, honours Idempotency-Key, can be searched: find()) and a
webhook sink (stores deliveries, cannot be searched). Bounded: at most MAX_ROUNDS rounds of
PER_ROUND processes, every wait has a timeout; the seed is printed so a failure can be replayed.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from datetime import UTC, datetime

import pytest

from pipeline.ledger import Ledger
from tests.conftest import Project
from tests.fakes import Fault
from tests.fakes.server import FakeServer
from tests.integration.harness import Net, add_items, configure, env_of, running, wait_for

pytestmark = pytest.mark.slow

RANDOM_KILLS = 20  # kills at random moments (any request count, start-up included)...
MID_REQUEST = 8  # ...plus these, each timed to land while the network holds its request
MAX_ROUNDS = 20
PER_ROUND = 4
FIRST_ITEMS = 8
NEW_PER_ROUND = 2  # quotes keep arriving while processes crash: there is always work


def _drop_fault(fake: FakeServer, route: str, fault: Fault) -> None:
    """Take back a fault no request consumed (its process ended first)."""
    with fake.lock:
        queue = fake._faults.get(route)  # the fakes offer inject() but no withdraw
        if queue and fault in queue:
            queue.remove(fault)
    if fault.hold is not None:
        fault.hold.set()


def _requests(nets: dict[str, Net]) -> int:
    return sum(len(n.fake.requests) for n in nets.values())


def _kill(proc: subprocess.Popen[str]) -> bool:
    """SIGKILL if still running; True if the kill landed."""
    alive = proc.poll() is None
    if alive:
        proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    return alive


def _leases_over(project: Project) -> None:
    """Wait (real time: other processes' leases) until no claim or send is held."""
    ledger = Ledger.open(project.var)
    try:
        held = [r.lease_until for r in ledger.rows(states=("claimed", "sending")) if r.lease_until]
    finally:
        ledger.close()
    if held:
        delay = (max(held) - datetime.now(UTC)).total_seconds()
        if delay > 0:
            time.sleep(delay + 0.1)


def test_kill_9_matrix_ends_clean(bare_project: Project) -> None:
    seed = int(os.environ.get("CRASH_MATRIX_SEED", random.randrange(1 << 30)))
    rng = random.Random(seed)
    print(f"crash matrix seed {seed} (replay: CRASH_MATRIX_SEED={seed})")
    project = bare_project
    with running("mastodon", "webhook") as nets:
        configure(project, nets.values(), publish={"request_timeout": 30.0})
        items = [f"item-{n:02d}" for n in range(FIRST_ITEMS)]
        add_items(project, *items)
        env = env_of(nets.values())
        kills = mid_request = rounds = resets = 0
        while (
            kills - mid_request < RANDOM_KILLS or mid_request < MID_REQUEST
        ) and rounds < MAX_ROUNDS:
            rounds += 1
            new = [f"item-{len(items) + n:02d}" for n in range(NEW_PER_ROUND)]
            add_items(project, *new)
            items += new
            placed: list[tuple[Net, Fault]] = []
            for net in nets.values():
                if rng.random() < 0.4:  # the network stores a post, then the connection dies
                    placed.append((net, net.fake.inject(net.create, Fault.reset_after_commit())))
                    resets += 1
            # while mid-request kills are wanted, each network holds one post request
            holds = [
                net.fake.inject(net.create, Fault.held())
                for net in nets.values()
                if mid_request < MID_REQUEST
            ]
            placed += [(net, h) for net, h in zip(nets.values(), holds, strict=False)]
            before = _requests(nets)
            # PER_ROUND processes at once, each killed once the fakes saw a random number of
            # requests (0: during start-up) and every held request has arrived
            procs = [
                (project.popen("publish", "--now", "--all", "--yes", env=env), rng.randrange(0, 9))
                for _ in range(PER_ROUND)
            ]
            try:

                def due(holds: list[Fault] = holds, before: int = before) -> bool:
                    seen = _requests(nets) - before
                    waiting = [p for p, wanted in procs if p.poll() is None and seen < wanted]  # noqa: B023
                    alive = any(p.poll() is None for p, _ in procs)  # noqa: B023
                    return not alive or (all(h.arrived.is_set() for h in holds) and not waiting)

                wait_for(due, 60, "the round's kill moments")
                mid_request += sum(h.arrived.is_set() for h in holds)
                for p, _ in procs:
                    kills += _kill(p)
            finally:
                for p, _ in procs:
                    if p.poll() is None:
                        _kill(p)
                for net, fault in placed:  # the network finishes a held post after the kill
                    if fault.arrived.is_set():
                        if fault.hold is not None:
                            fault.hold.set()
                        assert fault.done.wait(30)
                    else:
                        _drop_fault(net.fake, net.create, fault)

        # the clean pass, once every lease of the killed processes is over
        _leases_over(project)
        final = project.run("publish", "--now", "--all", "--yes", env=env)
        assert "Traceback" not in final.stderr, final.stderr
        status = project.run("status", env=env)
        assert status.returncode == 0 and "Traceback" not in status.stderr, status.stderr

        ledger = Ledger.open(project.var)
        try:
            rows = {(r.slug, r.target): r for r in ledger.rows()}
        finally:
            ledger.close()
        duplicates = losses = unknown = mislabelled = 0
        for slug in items:
            for name, net in nets.items():
                held = net.held_for(slug)
                r = rows.get((slug, name))
                state = r.state if r else "missing"
                duplicates += max(0, len(held) - 1)
                if state == "unknown":
                    unknown += 1
                    assert f"quotecast resolve {slug} {name}" in status.stdout
                elif state != "posted" or not held:
                    losses += 1  # neither posted on the network nor waiting for a person
                if held and state not in ("posted", "unknown"):
                    mislabelled += 1
        counts = (
            f"seed={seed} rounds={rounds} kills={kills} (random {kills - mid_request}, "
            f"mid-request {mid_request}) "
            f"resets-after-store={resets} posts={len(items) * len(nets)} "
            f"duplicates={duplicates} losses={losses} unknown={unknown}"
        )
        print(counts)
        assert kills - mid_request >= RANDOM_KILLS and mid_request >= MID_REQUEST, counts
        assert duplicates == 0 and losses == 0 and mislabelled == 0, counts
        assert "needs you" in status.stdout or unknown == 0, status.stdout
        assert "quotecast retry" not in status.stdout, status.stdout
