"""`quotecast check`: everything that would stop an item, found before it is scheduled.

`add` and `import` run the same per-item checks (`check_item`) before writing a
queue file, so nothing accepted at the door is refused later.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from pipeline.captions import write_caption
from pipeline.config import Settings
from pipeline.errors import UNUSUAL_TEXT, QuotecastError, is_system_error, unexpected
from pipeline.item_refs import reference_problems, theme_problem
from pipeline.items import Item, Problem, load_queue
from pipeline.render import render_card


@dataclass
class CheckResult:
    item_count: int = 0
    problems: list[Problem] = field(default_factory=list)
    ok_lines: list[str] = field(default_factory=list)


@dataclass
class ItemCheck:
    targets: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def run_checks(settings: Settings, render: bool = True) -> CheckResult:
    """Validate every queue file, then render and caption each valid item per target."""
    result = CheckResult()
    scan = load_queue(settings.queue_path, ZoneInfo(settings.schedule.timezone))
    result.problems.extend(scan.problems)
    for item in scan.items:
        try:
            checked = check_item(item, settings, render)
        except Exception as exc:  # one item's surprise must not hide the others' results
            if is_system_error(exc):
                raise
            why = unexpected(exc, "checking this item", UNUSUAL_TEXT)
            checked = ItemCheck(problems=[Problem(item.path, None, None, why)])
        result.problems.extend(checked.problems)
        if not checked.problems:
            result.item_count += 1
            targets = checked.targets
            result.ok_lines.append(f"ok  {item.slug}  → {', '.join(targets) or '(no targets)'}")
    return result


def check_item(item: Item, settings: Settings, render: bool = True) -> ItemCheck:
    """Everything that would stop this item: its target and theme names, and a card
    and a caption for each of its targets."""
    out = ItemCheck(problems=reference_problems(item, settings))
    if theme_problem(item, settings):
        return out
    targets = [t for t in (item.targets or settings.enabled_targets()) if t in settings.targets]
    out.targets = targets
    rendered: set[tuple[str, str]] = set()
    for target in targets:
        conf = settings.targets[target]
        fmt_name, fmt = settings.format_for(target)
        theme_name, theme = settings.theme_for(item.theme, target)
        if render and (theme_name, fmt_name) not in rendered:
            rendered.add((theme_name, fmt_name))
            try:
                render_card(item, theme, fmt_name, fmt, settings.brand, settings.base_dir)
            except QuotecastError as exc:
                out.problems.append(Problem(item.path, None, f"quote ({fmt_name})", str(exc)))
            except Exception as exc:  # e.g. Pillow's "raster overflow" on a huge glyph
                if is_system_error(exc):
                    raise
                why = unexpected(exc, "drawing the card", UNUSUAL_TEXT)
                out.problems.append(Problem(item.path, None, f"card ({fmt_name})", why))
        try:
            write_caption(item, target, conf.network, settings)
        except QuotecastError as exc:
            out.problems.append(Problem(item.path, None, f"caption ({target})", str(exc)))
        except Exception as exc:
            if is_system_error(exc):
                raise
            why = unexpected(exc, "writing the caption", UNUSUAL_TEXT)
            out.problems.append(Problem(item.path, None, f"caption ({target})", why))
    return out
