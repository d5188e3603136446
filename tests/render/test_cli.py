"""`quotecast render` run as a real subprocess, and `quotecast check` reporting render errors."""

from __future__ import annotations

import json
import os
import re
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from pipeline import checks
from pipeline.config import load_settings
from pipeline.render.cache import VERDICTS_FILE
from tests.conftest import Project

BAD_GLYPH = 'quote = "Tibetan: བཀྲ་ཤིས"\nauthor = "Someone"\n'
TOO_LONG = 'quote = "{}"\nauthor = "Someone"\ntheme = "big"\n'
BIG_THEME = "\n[themes.big]\nquote_size_min = 90\nquote_size_max = 120\n"
READABLE_THEME = "\n[themes.strict]\nquote_size_readable = 90\n"


def test_render_writes_every_format_and_prints_paths(project: Project) -> None:
    out = project.run("render", "karpathy-anthropic-pretraining")
    assert out.returncode == 0, out.stderr
    paths = [Path(line) for line in out.stdout.splitlines() if line.strip()]
    preview = project.var / "preview"
    formats = load_settings(project.config).formats
    assert {"story", "portrait", "square", "landscape"} <= set(formats)
    expected = {
        preview
        / f"karpathy-anthropic-pretraining-{name}.{'jpg' if f.encoding == 'jpeg' else 'png'}"
        for name, f in formats.items()
    }
    assert {p.resolve() for p in paths} == {p.resolve() for p in expected}
    for p in expected:
        with Image.open(p) as im:
            im.verify()


def test_render_format_and_theme_options(project: Project) -> None:
    out = project.run(
        "render", "drucker-culture-strategy", "--format", "square", "--theme", "light"
    )
    assert out.returncode == 0, out.stderr
    assert [Path(x).name for x in out.stdout.split()] == ["drucker-culture-strategy-square.png"]
    bad = project.run("render", "--format", "poster")
    assert bad.returncode == 1 and "no format named 'poster'" in bad.stderr
    assert "story" in bad.stderr  # it lists the formats that exist


def test_a_bad_item_is_named_and_the_others_still_render(project: Project) -> None:
    project.add_item("zz-tibetan.toml", BAD_GLYPH)
    out = project.run("render", "--format", "square", "--sheet")
    assert out.returncode == 1
    assert "zz-tibetan" in out.stderr and "U+0F56" in out.stderr
    written = sorted(Path(x).name for x in out.stdout.split())
    assert written == [
        "contact-sheet.png",
        "drucker-culture-strategy-square.png",
        "karpathy-anthropic-pretraining-square.png",
        "lovelace-analytical-engine-square.png",
    ]
    assert "3 cards" in out.stderr and "1 could not be rendered" in out.stderr


def test_contact_sheet_shows_all_formats_side_by_side(project: Project) -> None:
    out = project.run("render", "--sheet")
    assert out.returncode == 0, out.stderr
    sheet = project.var / "preview" / "contact-sheet.png"
    assert str(sheet) in out.stdout or sheet.name in out.stdout
    with Image.open(sheet) as im:
        # three items stacked, four formats (story + portrait + square + landscape) wide
        assert im.width > im.height * 1.0
        assert im.width > 4 * 200 and im.height > 3 * 300


def test_unknown_slug_is_named(project: Project) -> None:
    out = project.run("render", "nope", "drucker-culture-strategy", "-f", "story")
    assert out.returncode == 1
    assert "no queue item named 'nope'" in out.stderr
    assert out.stdout.strip().endswith("drucker-culture-strategy-story.jpg")


def test_check_reports_missing_glyph_and_too_long_quotes(project: Project) -> None:
    project.config.write_text(project.config.read_text() + BIG_THEME)
    project.add_item("tibetan.toml", BAD_GLYPH)
    project.add_item("long.toml", TOO_LONG.format("Word after word. " * 50))
    result = project.cli("check")
    assert result.exit_code == 1
    assert "tibetan.toml" in result.output and "U+0F56" in result.output
    assert "long.toml" in result.output and "is too long" in result.output
    assert re.search(r"has 849 characters and about \d+ fit", result.output)


def test_render_json_prints_one_layout_report_per_card(project: Project) -> None:
    out = project.run("render", "--json", "--format", "square", "--format", "story")
    assert out.returncode == 0, out.stderr
    reports = [json.loads(line) for line in out.stdout.splitlines()]
    assert len(reports) == 3 * 2  # three queue items, two formats; nothing else on stdout
    for rep in reports:
        assert {"slug", "format", "theme", "path", "width", "height", "blocks"} <= set(rep)
        assert rep["format"] in ("square", "story") and Path(rep["path"]).is_file()
        with Image.open(rep["path"]) as im:
            assert (im.width, im.height) == (rep["width"], rep["height"])
        quote = rep["blocks"]["quote"]
        assert quote["lines"][0][0] in "“«「" and quote["lines"][-1][-1] in "”»」"
        assert len(quote["hyphenated"]) == len(quote["lines"])
        for name in ("quote", "author", "label", "handle"):
            block = rep["blocks"][name]
            x0, y0, x1, y1 = block["box"]
            assert 0 <= x0 < x1 <= rep["width"] and 0 <= y0 < y1 <= rep["height"]
            assert block["cap_height_px"] < block["font_px"]
            assert block["contrast"] >= block["contrast_target"]
    square = next(r for r in reports if r["format"] == "square")
    # the report is what was drawn: the quote's box holds ink in the written card
    with Image.open(square["path"]) as im:
        crop = im.convert("L").crop(tuple(square["blocks"]["quote"]["box"]))
        lo, hi = crop.getextrema()
        assert isinstance(lo, int) and isinstance(hi, int) and hi - lo > 100


def test_check_warns_below_the_readable_size_and_check_render_renders(project: Project) -> None:
    project.config.write_text(project.config.read_text() + READABLE_THEME)
    project.add_item(
        "longish.toml", TOO_LONG.format("Word after word. " * 18).replace("big", "strict")
    )
    result = project.cli("check")
    assert result.exit_code == 0, result.output
    assert "warning:" in result.output and "longish.toml" in result.output
    assert "below the readable 90 px" in result.output
    cards = project.var / "cards"
    before = set(cards.glob("*")) if cards.exists() else set()
    rendered = project.cli("check", "--render")
    assert rendered.exit_code == 0, rendered.output
    assert "warning:" in rendered.output
    assert (set(cards.glob("*")) if cards.exists() else set()) == before  # no cache writes


def test_check_remembers_layout_verdicts_beside_the_cards(project: Project) -> None:
    first = project.cli("check")
    assert first.exit_code == 0, first.output
    store = project.var / "cards" / VERDICTS_FILE
    verdicts = json.loads(store.read_text())
    assert verdicts and all(size > 40 for size in verdicts.values())
    assert not list((project.var / "cards").glob(".*.tmp"))  # written whole, once
    # a remembered verdict is what the next check reads
    store.write_text(json.dumps(dict.fromkeys(verdicts, 12)))
    again = project.cli("check")
    assert again.exit_code == 0 and "set at 12 px" in again.output
    project.add_item("fresh.toml", 'quote = "A new quote for a new layout."\nauthor = "Someone"\n')
    third = project.cli("check")
    assert third.exit_code == 0, third.output
    after = json.loads(store.read_text())
    assert set(verdicts) < set(after)  # the new item's verdicts are added, none lost
    assert all(after[k] == 12 for k in verdicts)
    store.write_text("{not json")  # a damaged store is only a miss
    fourth = project.cli("check")
    assert fourth.exit_code == 0 and "set at 12 px" not in fourth.output
    assert json.loads(store.read_text()).keys() == after.keys()


def test_a_large_queue_is_checked_in_workers_with_the_same_findings(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Above PARALLEL_FROM items `check` forks workers: the same problems, warnings and ok
    lines in the same order as checking one by one, and every verdict reaches the store."""
    project.config.write_text(project.config.read_text() + BIG_THEME + READABLE_THEME)
    n = checks.PARALLEL_FROM + 7
    for i in range(n):
        if i % 50 == 3:
            text = TOO_LONG.format("far too long for the big theme " * 12)
        elif i % 50 == 9:
            text = TOO_LONG.format("Word after word. " * 18).replace("big", "strict")
        else:
            text = f'quote = "Item {i}: short, and different from the rest."\nauthor = "A {i}"\n'
        project.add_item(f"n{i:04d}.toml", text)
    settings = load_settings(project.config)
    pools: list[int] = []

    class CountedPool(ProcessPoolExecutor):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            pools.append(kwargs["max_workers"])
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(checks, "ProcessPoolExecutor", CountedPool)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)  # as on CI, whatever this machine
    parallel = checks.run_checks(settings)
    assert pools == [2]
    store = settings.data_path / "cards" / VERDICTS_FILE
    found = json.loads(store.read_text())
    store.unlink()
    monkeypatch.setattr(checks, "PARALLEL_FROM", 10**9)
    serial = checks.run_checks(settings)
    assert parallel.problems and parallel.warnings  # the mix above has both
    assert [str(p) for p in parallel.problems] == [str(p) for p in serial.problems]
    assert parallel.warnings == serial.warnings and parallel.ok_lines == serial.ok_lines
    assert found == json.loads(store.read_text())
    assert len(found) >= n  # one per item and format, the too-long ones excepted
