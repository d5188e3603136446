"""`quotecast render`: preview cards in var/preview/, and a contact sheet to review them.

An item that cannot be rendered is reported with its reason; the others are
still rendered, so one bad quote never hides the rest of the queue.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from PIL import Image

from pipeline.config import Settings
from pipeline.errors import QuotecastError
from pipeline.files import atomic_write
from pipeline.items import Item, load_queue
from pipeline.render.card import FONT_LOCK, render_card_with_layout
from pipeline.render.encode import encode
from pipeline.render.fonts import Face, chain
from pipeline.render.report import layout_report
from pipeline.render.typeset import draw_block, set_line

SHEET_NAME = "contact-sheet.png"
THUMB_HEIGHT = 420
_SHEET_BG = (38, 40, 44)
_SHEET_TEXT = (170, 176, 184)
_SHEET_HEAD = (235, 238, 242)


@dataclass(frozen=True)
class Job:
    item: Item
    theme: str
    fmt: str


@dataclass
class PreviewReport:
    written: list[tuple[str, str, Path]] = field(default_factory=list)  # slug, format, file
    failed: list[tuple[str, str | None, str]] = field(default_factory=list)  # slug, format, why
    sheet: Path | None = None

    @property
    def ok(self) -> bool:
        return not self.failed


def plan(
    settings: Settings,
    slugs: Sequence[str] = (),
    formats: Sequence[str] = (),
    theme: str | None = None,
) -> tuple[list[Job], list[tuple[str, str | None, str]]]:
    """The cards to render, and the slugs that cannot be (with why)."""
    for f in formats:
        if f not in settings.formats:
            raise QuotecastError(
                f"no format named {f!r}; configured formats: {', '.join(settings.formats)}"
            )
    if theme is not None and theme not in settings.themes:
        raise QuotecastError(
            f"no theme named {theme!r}; configured themes: {', '.join(settings.themes)}"
        )
    scan = load_queue(settings.queue_path, ZoneInfo(settings.schedule.timezone))
    failed: list[tuple[str, str | None, str]] = []
    by_slug = {i.slug: i for i in scan.items}
    problems: dict[str, list[str]] = {}
    for p in scan.problems:
        problems.setdefault(p.path.stem, []).append(str(p))
    if slugs:
        items = []
        for slug in dict.fromkeys(slugs):
            if slug in by_slug:
                items.append(by_slug[slug])
            elif slug in problems:
                failed.append((slug, None, "; ".join(problems[slug])))
            else:
                failed.append(
                    (slug, None, f"no queue item named {slug!r} in {settings.queue_path}")
                )
    else:
        items = scan.items
        failed.extend((slug, None, "; ".join(msgs)) for slug, msgs in problems.items())
    fmt_names = list(formats) or list(settings.formats)
    jobs: list[Job] = []
    for item in items:
        name = theme or item.theme or settings.default_theme
        if name not in settings.themes:
            failed.append((item.slug, None, f"no theme named {name!r}"))
            continue
        jobs.extend(Job(item, name, f) for f in fmt_names)
    return jobs, failed


def render_previews(
    settings: Settings,
    slugs: Sequence[str] = (),
    formats: Sequence[str] = (),
    theme: str | None = None,
    sheet: bool = False,
    on_card: Callable[[Job, Path | None, str | None], None] | None = None,
    jobs: list[Job] | None = None,
    on_layout: Callable[[dict[str, Any]], None] | None = None,
) -> PreviewReport:
    """Render every planned card into <data>/preview/<slug>-<format>.<ext>.

    `on_card(job, path, error)` is called after each card (for progress and printing),
    `on_layout(report)` with its layout report (`render --json`).
    """
    report = PreviewReport()
    if jobs is None:
        jobs, report.failed = plan(settings, slugs, formats, theme)
    out_dir = settings.data_path / "preview"
    for job in jobs:
        fmt = settings.formats[job.fmt]
        try:
            rendered, comp = render_card_with_layout(
                job.item,
                settings.themes[job.theme],
                job.fmt,
                fmt,
                settings.brand,
                settings.base_dir,
            )
        except QuotecastError as exc:
            report.failed.append((job.item.slug, job.fmt, str(exc)))
            if on_card:
                on_card(job, None, str(exc))
            continue
        ext = rendered.card.extension
        path = out_dir / f"{job.item.slug}-{job.fmt}.{ext}"
        atomic_write(path, rendered.card.data)
        stale = path.with_suffix(".png" if ext == "jpg" else ".jpg")
        stale.unlink(missing_ok=True)
        report.written.append((job.item.slug, job.fmt, path))
        if on_layout:
            on_layout(layout_report(comp, job.item.slug, job.fmt, job.theme, str(path)))
        if on_card:
            on_card(job, path, None)
    if sheet and report.written:
        report.sheet = contact_sheet(report.written, out_dir / SHEET_NAME)
    return report


def contact_sheet(cards: Sequence[tuple[str, str, Path]], out: Path) -> Path:
    """One PNG: a row per item, its formats side by side at a common height, captioned."""
    rows: dict[str, list[tuple[str, Path]]] = {}
    for slug, fmt, path in cards:
        rows.setdefault(slug, []).append((fmt, path))
    pad, head, caption = 28, 44, 36
    thumbs: list[tuple[str, list[tuple[str, Image.Image]]]] = []
    for slug, entries in rows.items():
        row = []
        for fmt, path in entries:
            with Image.open(path) as im:
                w = round(im.width * THUMB_HEIGHT / im.height)
                row.append(
                    (fmt, im.convert("RGB").resize((w, THUMB_HEIGHT), Image.Resampling.LANCZOS))
                )
        thumbs.append((slug, row))
    width = pad + max(sum(t.width + pad for _, t in row) for _, row in thumbs)
    height = pad + len(thumbs) * (head + THUMB_HEIGHT + caption + pad)
    sheet = Image.new("RGB", (width, height), _SHEET_BG)
    with FONT_LOCK:
        _caption(sheet, thumbs, pad, head, caption)
    data, _ = encode(sheet, "png")
    atomic_write(out, data)
    return out


def _caption(
    sheet: Image.Image,
    thumbs: list[tuple[str, list[tuple[str, Image.Image]]]],
    pad: int,
    head: int,
    caption: int,
) -> None:
    face = Face("Inter-Variable.ttf", 0, 500, 20)
    y = pad
    for slug, row in thumbs:
        draw_block(sheet, set_line(slug, chain(face), 22), pad, y, {"text": _SHEET_HEAD})
        y += head
        x = pad
        for fmt, thumb in row:
            sheet.paste(thumb, (x, y))
            draw_block(
                sheet,
                set_line(fmt, chain(face), 17),
                x,
                y + THUMB_HEIGHT + 10,
                {"text": _SHEET_TEXT},
            )
            x += thumb.width + pad
        y += THUMB_HEIGHT + caption + pad
