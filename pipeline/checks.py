"""`quotecast check`: everything that would stop an item, found before it is scheduled."""

from __future__ import annotations

from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from pipeline.captions import write_caption
from pipeline.config import Settings
from pipeline.errors import QuotecastError
from pipeline.items import Problem, load_queue
from pipeline.render import render_card
from pipeline.render.cache import fitted_size


@dataclass
class CheckResult:
    item_count: int = 0
    problems: list[Problem] = field(default_factory=list)
    ok_lines: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def run_checks(settings: Settings, render: bool = True, full_render: bool = False) -> CheckResult:
    """Validate every queue file, then lay out (or with `full_render`, render and encode)
    and caption each valid item per target.

    The layout alone finds everything a render would refuse (fit, glyph coverage) at a
    fraction of the cost; a quote set below the theme's readable size is a warning.
    """
    result = CheckResult()
    scan = load_queue(settings.queue_path, ZoneInfo(settings.schedule.timezone))
    result.problems.extend(scan.problems)
    for item in scan.items:
        bad = False
        for name in item.targets or ():
            if name not in settings.targets:
                known = ", ".join(settings.targets)
                result.problems.append(
                    Problem(
                        item.path, None, "targets", f"no target named {name!r}; use one of {known}"
                    )
                )
                bad = True
        if item.theme and item.theme not in settings.themes:
            known = ", ".join(settings.themes)
            result.problems.append(
                Problem(
                    item.path, None, "theme", f"no theme named {item.theme!r}; use one of {known}"
                )
            )
            continue
        targets = [t for t in (item.targets or settings.enabled_targets()) if t in settings.targets]
        rendered: set[tuple[str, str]] = set()
        for target in targets:
            conf = settings.targets[target]
            fmt_name, fmt = settings.format_for(target)
            theme_name, theme = settings.theme_for(item.theme, target)
            if render and (theme_name, fmt_name) not in rendered:
                rendered.add((theme_name, fmt_name))
                try:
                    if full_render:
                        render_card(item, theme, fmt_name, fmt, settings.brand, settings.base_dir)
                    size = fitted_size(
                        item,
                        theme,
                        fmt_name,
                        fmt,
                        settings.brand,
                        settings.base_dir,
                        settings.data_path / "cards",
                    )
                    at_1080 = size * 1080 / fmt.width
                    if at_1080 < theme.quote_size_readable:
                        result.warnings.append(
                            f"{item.path}: quote ({fmt_name}): set at {size} px, "
                            f"below the readable {theme.quote_size_readable} px (at 1080 wide) "
                            f"for {len(item.quote)} characters; consider shortening it"
                        )
                except QuotecastError as exc:
                    result.problems.append(
                        Problem(item.path, None, f"quote ({fmt_name})", str(exc))
                    )
                    bad = True
            try:
                write_caption(item, target, conf.network, settings)
            except QuotecastError as exc:
                result.problems.append(Problem(item.path, None, f"caption ({target})", str(exc)))
                bad = True
        if not bad:
            result.item_count += 1
            result.ok_lines.append(f"ok  {item.slug}  → {', '.join(targets) or '(no targets)'}")
    return result
