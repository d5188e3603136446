"""Issue 17, cases 3 and 4: CSV cells are read by the csv module (line separators and
quoted line breaks stay cell text, row numbers are records), and overlapping imports of
one CSV create each item once."""

from __future__ import annotations

import csv
import io
from zoneinfo import ZoneInfo

from pipeline.items import load_queue
from tests.conftest import Project

UTC = ZoneInfo("UTC")

# a config whose only target is disabled: `import` checks names and fields, renders nothing
NO_TARGETS = """
data_dir = "var"
queue_dir = "queue"

[targets.outbox]
network = "outbox"
format = "square"
enabled = false
"""


def test_line_separators_and_quoted_line_breaks_stay_in_their_cells(
    bare_project: Project,
) -> None:
    rows = [
        ["quote", "author", "role"],
        ["Work hard.", "Grace Hopper", "Rear Admiral\u2028Officer"],  # U+2028 in a cell
        ["First line\nsecond line.", "Ada Lovelace", "Mathematician\u2029Writer"],
        ["", "Nobody", ""],  # row 4: refused, and called row 4
    ]
    buffer = io.StringIO(newline="")
    csv.writer(buffer).writerows(rows)
    path = bare_project.root / "quotes.csv"
    path.write_text(buffer.getvalue(), encoding="utf-8", newline="")

    r = bare_project.run("import", str(path))
    assert "Traceback" not in r.stderr, r.stderr
    assert "row 4: refused: quote:" in r.stdout, r.stdout
    assert "2 created, 0 already queued, 1 refused" in r.stdout, r.stdout
    items = {i.author: i for i in load_queue(bare_project.queue, UTC).items}
    assert set(items) == {"Grace Hopper", "Ada Lovelace"}  # no bogus "Officer" item
    assert items["Grace Hopper"].role == "Rear Admiral\u2028Officer"
    assert items["Ada Lovelace"].quote == "First line\nsecond line."
    assert items["Ada Lovelace"].role == "Mathematician\u2029Writer"


def test_overlapping_imports_create_each_item_once(bare_project: Project) -> None:
    bare_project.write_config(NO_TARGETS)
    n = 300
    path = bare_project.root / "many.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["quote", "author"])
        for i in range(n):
            w.writerow([f"Quote number {i}.", "Same Author"])
    procs = [bare_project.popen("import", str(path)) for _ in range(4)]
    outputs = [p.communicate(timeout=120) for p in procs]
    for p, (out, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0 and "Traceback" not in err, out + err
    names = sorted(p.name for p in bare_project.queue.iterdir())
    assert not [p for p in names if p.startswith(".")]  # no temporary file left behind
    scan = load_queue(bare_project.queue, UTC)
    assert scan.problems == []
    quotes = [i.quote for i in scan.items]
    assert len(quotes) == n and len(set(quotes)) == n, len(quotes)  # each once, no "-2" copy
    created = sum(int(out.rsplit(" created", 1)[0].rsplit("\n", 1)[-1]) for out, _ in outputs)
    assert created == n  # the processes agree on who created what


def test_an_unusable_image_path_refuses_its_row_only(bare_project: Project) -> None:
    """A file name too long for the system (ENAMETOOLONG) stopped the whole import."""
    bare_project.write_config(NO_TARGETS)
    path = bare_project.root / "images.csv"
    path.write_text(
        f"quote,author,image\nFirst.,A,{'x' * 5000}.png\nSecond.,B,\n", encoding="utf-8"
    )
    r = bare_project.run("import", str(path))
    assert "Traceback" not in r.stderr and "error:" not in r.stderr, r.stderr
    assert "row 2: refused: image: " in r.stdout, r.stdout
    assert "1 created, 0 already queued, 1 refused" in r.stdout, r.stdout
