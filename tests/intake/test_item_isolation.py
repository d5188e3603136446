"""Issue 17, case 2: one bad queue file never stops the pass, and what `add` accepts
`check` accepts. Run through the real CLI, as an operator meets it."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

from tests.conftest import Project

BAD_THEME = 'quote = "One."\nauthor = "A"\ntheme = "nope"\n'
# U+FDFD (one huge ligature glyph) made Pillow raise "OSError: raster overflow"
HUGE_GLYPH = 'quote = "Two."\nauthor = "\ufdfd"\n'
GOOD = 'quote = "Three."\nauthor = "C"\n'


def _lines_naming(text: str, name: str) -> list[str]:
    return [line for line in text.splitlines() if name in line]


def test_a_bad_item_is_reported_and_the_pass_goes_on(bare_project: Project) -> None:
    bare_project.add_item("a.toml", BAD_THEME)
    bare_project.add_item("b.toml", HUGE_GLYPH)
    bare_project.add_item("c.toml", GOOD)

    r = bare_project.run("publish", "--now", "--all", "--yes")
    out = r.stdout + r.stderr
    assert "Traceback" not in out, out
    assert r.returncode == 1, out  # something could not be posted
    posted = {p.stem for p in (bare_project.var / "outbox" / "outbox").glob("*.json")}
    assert "c" in posted, out  # the item after the bad ones still went out
    assert "a" not in posted
    assert any("theme: no theme named 'nope'" in line for line in _lines_naming(out, "a.toml"))
    assert "b" not in posted  # U+FDFD cannot be drawn: refused with one line naming the file
    assert _lines_naming(r.stdout, "b.toml"), out
    assert "error: OSError" not in out

    data = json.loads(bare_project.run("status", "--json").stdout)
    rows = {(e["item"], e["target"]): e for e in data["needs_attention"]}
    assert rows[("b", "outbox")]["state"] == "failed", data  # recorded, not left pending
    assert "b.toml" in (rows[("b", "outbox")].get("error") or ""), data

    r = bare_project.run("status")
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stdout + r.stderr
    assert "a.toml: theme: no theme named 'nope'" in " ".join(r.stdout.split()), r.stdout

    r = bare_project.run("check")
    out = r.stdout + r.stderr
    assert "Traceback" not in out and "error: OSError" not in out, out
    assert r.returncode == 1, out
    assert "a.toml: theme: no theme named 'nope'; use one of dark" in r.stdout, out
    assert "ok  c  → outbox" in r.stdout, out  # everything else was still checked
    assert ("b" in posted) == ("ok  b  → outbox" in r.stdout), out  # check agrees with publish


def test_add_accepts_only_what_check_accepts(bare_project: Project) -> None:
    r = bare_project.run("add", "--quote", "Two.", "--author", "\ufdfd")
    assert "Traceback" not in r.stderr, r.stderr
    written = list(bare_project.queue.glob("*.toml"))
    if r.returncode == 0:
        assert len(written) == 1
        c = bare_project.run("check")
        assert c.returncode == 0, c.stdout + c.stderr  # accepted at the door: never refused later
    else:
        assert written == []  # refused: nothing written, one line saying why
        assert r.stderr.startswith("error: ") and len(r.stderr.strip().splitlines()) == 1


def test_import_refuses_a_row_that_check_would_refuse(bare_project: Project) -> None:
    csv = bare_project.root / "q.csv"
    csv.write_text("quote,author,theme\nOne.,A,nope\nThree.,C,\n", encoding="utf-8")
    r = bare_project.run("import", str(csv))
    assert r.returncode == 1, r.stdout + r.stderr
    assert "row 2: refused: theme: no theme named 'nope'" in r.stdout
    assert "1 created, 0 already queued, 1 refused" in r.stdout
    c = bare_project.run("check")
    assert c.returncode == 0, c.stdout + c.stderr


def test_a_file_its_parser_chokes_on_is_that_file_s_problem(bare_project: Project) -> None:
    """Nesting too deep for the YAML or TOML parser (RecursionError) stops no command."""
    bare_project.add_item(
        "deep.md", "---\nquote: " + "[" * 5000 + "]" * 5000 + "\nauthor: A\n---\n"
    )
    bare_project.add_item("deeper.toml", "quote = " + "[" * 5000 + "]" * 5000 + '\nauthor = "A"\n')
    bare_project.add_item("c.toml", GOOD)
    r = bare_project.run("check")
    assert "Traceback" not in r.stderr, r.stderr
    assert r.returncode == 1 and "ok  c  → outbox" in r.stdout, r.stdout + r.stderr
    assert "deep.md: reading this file failed unexpectedly (RecursionError" in r.stdout
    assert "deeper.toml: reading this file failed unexpectedly (RecursionError" in r.stdout


def test_a_date_out_of_range_is_that_item_s_problem(bare_project: Project) -> None:
    """Year 9999 west of UTC overflowed when converted to UTC: `plan` (and the daemon's
    plan) ended in a traceback."""
    bare_project.add_item(
        "far.toml", 'quote = "Q"\nauthor = "A"\npublish_at = 9999-12-31T23:59:59\n'
    )
    bare_project.add_item("c.toml", GOOD)
    env = {"QUOTECAST_SCHEDULE__TIMEZONE": "Pacific/Honolulu"}
    for args in (("plan",), ("check",), ("status",)):
        r = bare_project.run(*args, env=env)
        assert "Traceback" not in r.stderr, (args, r.stderr)
        flat = " ".join(r.stdout.split())
        assert "far.toml:3: publish_at: year 9999 is out of range" in flat, (args, r.stdout)


def test_naming_a_failed_item_says_it_waits_for_retry(bare_project: Project) -> None:
    """`publish --now b` after b could not be prepared: never a silent "nothing new"."""
    bare_project.add_item("b.toml", HUGE_GLYPH)
    first = bare_project.run("publish", "--now", "b")
    assert first.returncode == 1, first.stdout + first.stderr
    again = bare_project.run("publish", "--now", "b")
    assert "not posted: b → outbox is failed" in again.stdout, again.stdout
    assert "quotecast retry b --target outbox" in again.stdout, again.stdout
    data = json.loads(bare_project.run("publish", "--now", "b", "--json").stdout)
    assert any("b → outbox is failed" in n for n in data["notes"]), data


def test_the_daemon_posts_the_rest_and_records_each_bad_item(bare_project: Project) -> None:
    """Case 2 as the operator met it: the daemon's pass went on past a bad theme and an
    undrawable glyph (it used to log "pass failed unexpectedly" and post nothing after)."""
    from tests.daemon.test_daemon_e2e import Daemon

    soon = (datetime.now(UTC) + timedelta(seconds=2)).isoformat()
    for name, text in (("a.toml", BAD_THEME), ("b.toml", HUGE_GLYPH), ("c.toml", GOOD)):
        bare_project.add_item(name, text + f"publish_at = {soon}\n")
    daemon = Daemon(bare_project.root, {})
    try:
        outbox = bare_project.var / "outbox" / "outbox"
        daemon.wait_for(lambda: (outbox / "c.json").exists(), 60)
        daemon.wait_for(lambda: any(line.get("outcome") == "due" for line in daemon.lines), 10)
        time.sleep(1)  # the pass settles what it could not prepare
        assert daemon.terminate() == 0
    finally:
        daemon.kill()
    log = daemon.output()
    assert "pass failed unexpectedly" not in log and "Traceback" not in log, log
    posted = {p.stem for p in outbox.glob("*.json")}
    assert posted == {"c"}, (posted, log)
    status = bare_project.run("status")
    flat = " ".join(status.stdout.split())
    assert "a.toml: theme: no theme named 'nope'" in flat, status.stdout
    assert "b → outbox is failed: prepare:" in flat and "b.toml" in flat, status.stdout
