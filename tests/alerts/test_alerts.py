"""Alerts through apprise to a JSON endpoint on 127.0.0.1: each one once, none lost."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from pipeline.alerts import Alerter
from pipeline.config import Settings
from pipeline.daemon import Daemon
from pipeline.ledger import Ledger
from pipeline.runner import Runner
from tests.daemon.helpers import config_text, make_project, write_item


class Endpoint:
    """Collects JSON bodies POSTed to it; answers `status` (200 unless told otherwise)."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.status = 200
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if endpoint.status == 200:
                    endpoint.received.append({"path": self.path, **json.loads(body)})
                self.send_response(endpoint.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    @property
    def url(self) -> str:
        return f"json://127.0.0.1:{self.server.server_address[1]}/alerts"

    def titles(self) -> list[str]:
        return [r["title"] for r in self.received]


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    ep = Endpoint()
    yield ep
    ep.server.shutdown()
    ep.server.server_close()


def _project(tmp_path: Path, endpoint: Endpoint, **schedule: Any) -> tuple[Settings, Ledger]:
    targets = (
        '[targets.outbox]\nnetwork = "outbox"\nformat = "square"\n\n'
        '[targets.x]\nnetwork = "x"\nformat = "landscape"\n'
        '[targets.x.options]\napi_base = "http://127.0.0.1:9"\n'
    )
    s = make_project(
        tmp_path / "proj", config_text("UTC", targets=targets, notify=(endpoint.url,), **schedule)
    )
    return s, Ledger.open(s.data_path)


def test_a_failed_and_an_unknown_post_alert_once_each(tmp_path: Path, endpoint: Endpoint) -> None:
    s, ledger = _project(tmp_path, endpoint)
    for slug, state in (("a", "failed"), ("b", "unknown")):
        ledger.claim(slug, "outbox", "outbox", "me", 60)
        if state == "failed":
            ledger.record_failed(slug, "outbox", "me", "permanent: 400 bad image", "permanent")
        else:
            ledger.record_unknown(slug, "outbox", "me", "unknown: connection reset")
    alerter = Alerter(s, ledger)
    assert alerter.check_rows(ledger.rows()) == 2
    assert alerter.check_rows(ledger.rows()) == 0  # a second check (or process) sends nothing
    assert Alerter(s, ledger).check_rows(ledger.rows()) == 0
    [failed, unknown] = endpoint.received
    assert failed["path"] == "/alerts" and failed["type"] == "failure"
    assert "a → outbox" in failed["title"] and "400 bad image" in failed["message"]
    assert "quotecast retry a --target outbox" in failed["message"]
    assert "quotecast resolve b outbox" in unknown["message"]
    # retried and failing again is a new failure: alerted again
    ledger.retry_failed("a", "outbox")
    ledger.claim("a", "outbox", "outbox", "me", 60)
    ledger.record_failed(
        "a",
        "outbox",
        "me",
        "permanent: still bad",
        "permanent",
        now=datetime.now(UTC) + timedelta(seconds=1),
    )
    assert alerter.check_rows(ledger.rows()) == 1


def test_an_auth_failure_alerts_once_per_target_per_pass_not_per_item(
    tmp_path: Path, endpoint: Endpoint
) -> None:
    s, ledger = _project(tmp_path, endpoint)  # x has no credentials at all
    for slug in ("a", "b", "c"):
        write_item(s.queue_path, slug)
    alerter = Alerter(s, ledger)
    for n in (1, 2):  # two passes
        report = Runner(s, ledger).run(targets=["x"])
        assert report.count("failed") == 1 and report.count("skipped") == 3 - n
        assert alerter.check_rows(ledger.rows()) == 1
    titles = endpoint.titles()
    assert titles == ["quotecast: x refused its credentials"] * 2
    assert "QUOTECAST_X_" in endpoint.received[0]["message"]  # says which variable to set
    assert "quotecast retry --target x" in endpoint.received[0]["message"]


def test_an_undeliverable_alert_is_tried_again(tmp_path: Path, endpoint: Endpoint) -> None:
    s, ledger = _project(tmp_path, endpoint)
    ledger.claim("a", "outbox", "outbox", "me", 60)
    ledger.record_failed("a", "outbox", "me", "permanent: nope", "permanent")
    endpoint.status = 500
    alerter = Alerter(s, ledger)
    assert alerter.check_rows(ledger.rows()) == 0
    endpoint.status = 200
    assert alerter.check_rows(ledger.rows()) == 1
    assert len(endpoint.received) == 1


def test_runway_alert_once_until_the_queue_is_filled_again(
    tmp_path: Path, endpoint: Endpoint
) -> None:
    s, ledger = _project(tmp_path, endpoint, runway_alert_slots=2)
    s.targets["x"].enabled = False
    write_item(s.queue_path, "only-one")
    d = Daemon(s, ledger)
    d.rescan("start")
    d.rescan("timer")
    assert endpoint.titles() == ["quotecast: queue runs dry on outbox"]
    assert endpoint.received[0]["type"] == "warning"
    assert "Only 1 item(s) are queued for the next 2 slots" in endpoint.received[0]["message"]
    write_item(s.queue_path, "two")
    d.rescan("queue changed")  # filled: re-armed, no alert
    (s.queue_path / "two.toml").unlink()
    (s.queue_path / "only-one.toml").unlink()
    d.rescan("queue changed")  # dry again: alerted again
    assert len(endpoint.received) == 2


def test_a_missed_publish_at_is_alerted_once_and_the_daemon_sends_row_alerts(
    tmp_path: Path, endpoint: Endpoint
) -> None:
    s, ledger = _project(tmp_path, endpoint, misfire_grace=60)
    s.targets["x"].enabled = False
    write_item(s.queue_path, "late", publish_at=datetime.now(UTC) - timedelta(hours=1))
    ledger.claim("old", "outbox", "outbox", "me", 60)
    ledger.record_unknown("old", "outbox", "me", "unknown: reset after sending")
    d = Daemon(s, ledger)
    d.rescan("start")
    d.rescan("timer")
    d2 = Daemon(s, ledger)  # a restart sends nothing again
    d2.rescan("start")
    titles = sorted(endpoint.titles())
    assert titles == [
        "quotecast: missed publish time: late → outbox",
        "quotecast: post may or may not be out: old → outbox",
    ]
    assert "will not be posted late" in next(
        r["message"] for r in endpoint.received if "missed" in r["title"]
    )


def test_notify_urls_never_reach_the_log(
    tmp_path: Path, endpoint: Endpoint, caplog: pytest.LogCaptureFixture
) -> None:
    s, ledger = _project(tmp_path, endpoint)
    s.notify = ["notaurl-with-secret-token-123", endpoint.url]
    ledger.claim("a", "outbox", "outbox", "me", 60)
    ledger.record_failed("a", "outbox", "me", "permanent: nope", "permanent")
    with caplog.at_level("INFO"):
        assert Alerter(s, ledger).check_rows(ledger.rows()) == 1
    assert "secret-token" not in caplog.text and "notify URL #1" in caplog.text
