"""`quotecast health`: the container health check reads only the daemon's heartbeat."""

from __future__ import annotations

from datetime import timedelta

from pipeline.ledger import Ledger, utcnow
from tests.conftest import Project


def _beat(p: Project, seconds_ago: float, state: str = "running") -> None:
    ledger = Ledger.open(p.var)
    info = {"state": state, "stale_after": 90}
    ledger.beat("daemon", "host:1", info, utcnow() - timedelta(seconds=seconds_ago))
    ledger.close()


def test_health_is_1_before_the_daemon_ever_ran(bare_project: Project) -> None:
    r = bare_project.cli("health")
    assert r.exit_code == 1 and "never ran" in r.output, r.output


def test_health_is_0_while_the_heartbeat_is_fresh_and_1_once_stale(
    bare_project: Project,
) -> None:
    _beat(bare_project, 5)
    r = bare_project.cli("health")
    assert r.exit_code == 0 and "daemon alive" in r.output, r.output
    _beat(bare_project, 600)
    r = bare_project.cli("health")
    assert r.exit_code == 1 and "daemon stale" in r.output, r.output
    _beat(bare_project, 1, state="stopped")
    r = bare_project.cli("health")
    assert r.exit_code == 1 and "daemon stopped" in r.output, r.output
