"""Crash test: `quotecast publish --now` is SIGKILLed while its create-post request is held
open by the fake; the fake then completes the post. After the lease expires, the next pass
reconciles: exactly one post on every network, the ledger `posted` with the network's id
where the adapter can look (X, Mastodon, Bluesky), `unknown` where it cannot (webhook).

The four adapters crash at once (one `--target` subprocess each, one shared ledger), so the
test waits for one lease, not four.
"""

from __future__ import annotations

import signal
import subprocess

from tests.conftest import Project
from tests.fakes import Fault
from tests.integration.harness import (
    NETWORKS,
    WITH_FIND,
    add_items,
    attempts,
    configure,
    env_of,
    row,
    running,
    states,
    wait_until_leases_expire,
)


def _kill(proc: subprocess.Popen[str]) -> tuple[str, str]:
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    out, err = proc.communicate(timeout=10)
    return out, err


def test_sigkill_mid_request_then_the_next_pass_reconciles(bare_project: Project) -> None:
    project = bare_project
    with running(*NETWORKS) as nets:
        # the held request must outlive the wait for all four processes (slow on a loaded
        # machine), and the lease must outlive the kill and the early pass below
        configure(project, nets.values(), publish={"request_timeout": 60.0, "lease_seconds": 15})
        add_items(project, "alpha")
        env = env_of(nets.values())
        holds = {n: net.fake.inject(net.create, Fault.held()) for n, net in nets.items()}
        procs = {
            n: project.popen("publish", "--now", "--all", "--yes", "--target", n, env=env)
            for n in nets
        }
        try:
            for n, fault in holds.items():
                if not fault.arrived.wait(30):
                    out, err = _kill(procs[n])
                    raise AssertionError(f"{n}: the post request never arrived\n{out}\n{err}")
            for n, proc in procs.items():
                assert proc.poll() is None, f"{n} exited early: {_kill(proc)}"
                _kill(proc)
                assert proc.returncode == -signal.SIGKILL
        finally:
            for proc in procs.values():
                if proc.poll() is None:
                    _kill(proc)

        # the dead processes left their rows `sending`; the networks now finish the posts
        assert states(project) == {("alpha", n): "sending" for n in NETWORKS}
        for n, fault in holds.items():
            assert fault.hold is not None
            fault.hold.set()
            assert fault.done.wait(10), n
        for n, net in nets.items():
            assert len(net.held_for("alpha")) == 1, n

        # before the lease expires nobody touches a post that may still be in flight
        early = project.run("publish", "--now", "--all", "--yes", env=env)
        assert early.returncode == 0, early.stdout + early.stderr
        assert "nothing new to publish" in early.stdout
        assert states(project) == {("alpha", n): "sending" for n in NETWORKS}

        wait_until_leases_expire(project)
        late = project.run("publish", "--now", "--all", "--yes", env=env)
        assert late.returncode == 1, late.stdout + late.stderr  # the webhook is unknown
        assert "Traceback" not in late.stderr

        for n, net in nets.items():
            held = net.held_for("alpha")
            assert len(held) == 1 and len(net.held()) == 1, n  # exactly one post
            assert net.create_requests() == 1, n  # nothing was sent again
            got = row(project, "alpha", n)
            assert got is not None
            history = [(a.attempt, a.outcome) for a in attempts(project, "alpha", n)]
            if n in WITH_FIND:
                assert got.state == "posted", (n, got.last_error)
                assert got.remote_id == held[0], n  # the right id: the one the network holds
                assert history == [(1, "reconciled")], n
                assert f"posted  alpha → {n}" in late.stdout
            else:
                assert got.state == "unknown"
                assert got.last_error is not None and "quotecast resolve" in got.last_error
                assert history == [(1, "unknown")]
                assert "unknown  alpha → webhook" in late.stdout

        # and a further pass changes nothing
        last = project.cli("publish", "--now", "--all", "--yes", env=env)
        assert last.exit_code == 0, last.output
        assert "nothing new to publish; 3 already posted earlier" in last.output
        for n, net in nets.items():
            assert len(net.held()) == 1 and net.create_requests() == 1, n
