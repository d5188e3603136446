"""Issue 17 cases 7 and 9 on PostgreSQL: concurrent first starts, a server stopped mid-run,
and alerts that are really sent. A throw-away server from tests/pg.py; real CLI processes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.ledger import Ledger
from tests.alerts.test_alerts import Endpoint
from tests.conftest import Project
from tests.daemon.helpers import config_text
from tests.daemon.test_daemon_e2e import Daemon
from tests.fakes import Fault
from tests.hard.test_ledger_integrity import OUTBOX_CONFIG, one_error_line
from tests.integration.harness import add_items, configure, running, wait_for
from tests.pg import PgServer

pytestmark = pytest.mark.slow


#: the real CLI, started only when the test says go (so that first starts really overlap)
GATED = (
    "import sys; import pipeline.cli, pipeline.ledger, pipeline.report, pipeline.config; "
    "print('ready', flush=True); sys.stdin.readline(); "
    "sys.argv[0] = 'quotecast'; pipeline.cli.main()"
)


def started_together(project: Project, env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    """`quotecast ARGS` with its imports done, waiting on stdin for the go."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("QUOTECAST_")}
    proc = subprocess.Popen(
        [sys.executable, "-c", GATED, *args],
        cwd=project.root,
        env={**full_env, **env},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline() == "ready\n", proc.stderr.read() if proc.stderr else ""
    return proc


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_concurrent_first_starts_create_the_schema_once(
    bare_project: Project, kind: str, request: pytest.FixtureRequest
) -> None:
    bare_project.write_config(OUTBOX_CONFIG)
    add_items(bare_project, "alpha")
    env = {"QUOTECAST_LEDGER_URL": request.getfixturevalue("pg_url")} if kind != "sqlite" else {}
    # six overlapping first starts made 2 of 6 fail on PostgreSQL before the fix
    count = 6 if kind == "postgresql" else 4
    procs = [started_together(bare_project, env, "status", "--json") for _ in range(count)]
    for proc in procs:  # every process is imported and waiting: let them all go at once
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    for proc in procs:
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0 and "Traceback" not in err, err
    if kind == "sqlite":
        leftovers = [p.name for p in bare_project.var.iterdir() if ".new-" in p.name]
        assert leftovers == []


def test_postgresql_stopped_mid_run_is_one_line(
    bare_project: Project,
    pg_server: PgServer,
    pg_url: str,
) -> None:
    project = bare_project
    with running("mastodon") as nets:
        net = nets["mastodon"]
        configure(project, [net])
        add_items(project, "alpha", "beta")
        env = {**net.env, "QUOTECAST_LEDGER_URL": pg_url}
        held = net.fake.inject(net.create, Fault(), Fault.held())
        proc = project.popen("publish", "--now", "--all", "--yes", env=env)
        try:
            assert held.arrived.wait(60), "beta's post request never arrived"
            pg_server.stop()
            assert held.hold is not None
            held.hold.set()
            out, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
            pg_server.start()
        assert proc.returncode == 2, out + err
        line = one_error_line(subprocess.CompletedProcess([], 2, out, err), "cannot be reached")
        assert "posted 1 before it stopped (alpha → mastodon)" in line
        assert "beta → mastodon was in progress" in line
        # with the server back, nothing is lost and nothing doubled
        ledger = Ledger.open(project.var, pg_url)
        try:
            states = {r.slug: r.state for r in ledger.rows()}
        finally:
            ledger.close()
        assert states == {"alpha": "posted", "beta": "sending"}
        assert len(net.held()) == 2


def test_alerts_on_postgresql_are_sent(tmp_path: Path, pg_url: str) -> None:
    endpoint = Endpoint()
    try:
        root = tmp_path / "proj"
        (root / "queue").mkdir(parents=True)
        (root / "config.toml").write_text(config_text("UTC", notify=(endpoint.url,)))
        ledger = Ledger.open(root / "var", pg_url)
        try:  # a post that failed earlier: the daemon's first rescan must alert it, once
            ledger.claim("alpha", "outbox", "outbox", "me", 60)
            ledger.record_failed("alpha", "outbox", "me", "permanent: 400 bad image", "permanent")
        finally:
            ledger.close()
        daemon = Daemon(root, {"QUOTECAST_LEDGER_URL": pg_url})
        try:
            wait_for(lambda: len(endpoint.received) >= 1, 20, "the alert to arrive")
            daemon.wait_for(lambda: daemon.logged("daemon started"))
            assert daemon.terminate() == 0
        finally:
            daemon.kill()
        assert [r["title"] for r in endpoint.received] == [endpoint.titles()[0]]
        assert "alpha → outbox" in endpoint.received[0]["title"]
        ledger = Ledger.open(root / "var", pg_url)
        try:
            assert ledger.alert_keys("") != []  # recorded as sent, and it was sent
        finally:
            ledger.close()
    finally:
        endpoint.server.shutdown()
        endpoint.server.server_close()
