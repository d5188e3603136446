"""A daemon pass is done when its posts are recorded; the bio site follows on its own thread."""

from __future__ import annotations

import os
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pipeline.daemon import Daemon
from pipeline.ledger import Ledger
from pipeline.runner import PassReport
from tests.daemon.helpers import config_text, make_project, write_item


def test_the_pass_returns_while_the_site_is_still_being_deployed(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    # the deploy blocks reading a FIFO until the test writes to it: a slow deploy, no sleeping
    config = config_text("UTC", ("daily 00:00",), misfire_grace=86400)
    root.mkdir(parents=True)
    os.mkfifo(root / "gate")
    s = make_project(root, config + '\n[site]\ndeploy = "cat gate"\n')
    write_item(s.queue_path, "q1", publish_at=datetime.now(UTC) - timedelta(seconds=5))
    d = Daemon(s, Ledger.open(s.data_path))
    reports: list[PassReport | None] = []
    passing = threading.Thread(target=lambda: reports.append(d.run_pass()))
    passing.start()
    passing.join(120)
    assert not passing.is_alive() and reports[0] is not None
    assert reports[0].count("posted") == 1
    assert Ledger.open(s.data_path).get("q1", "outbox").state == "posted"  # type: ignore[union-attr]
    assert not d.site.join(0)  # the build's deploy still waits on the gate
    with open(root / "gate", "w") as gate:  # lets `cat` finish: the deploy succeeds
        gate.write("go\n")
    assert d.site.join(120)
    assert (root / "var" / "site" / "index.html").is_file() and d.site.builds == 1
    d.ledger.close()
