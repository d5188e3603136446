"""Card renderer benchmark: `python benchmarks/render.py [-n N]` (or `make bench`).

Renders the story card of the seed quote N times and prints, in one run:

* ms per card for our renderer (`render_card`, warm caches; the first, cold card apart),
* a bare baseline: a blank canvas of the same size, encoded the same way (JPEG,
  same quality and settings) — the floor any renderer pays,
* a naive renderer: shrink the font one point at a time, wrapping with `textwrap`,
  until the text fits, then draw and encode the same way,

the two ratios against the targets (ours ≤ 2.0 × baseline, ≥ 4 × faster than the
shrink loop), and the peak memory of a fresh process rendering 100 different cards
(target < 200 MB), measured as peak RSS and as tracemalloc's Python-heap peak.
Exit status 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import io
import json
import resource
import statistics
import subprocess
import sys
import textwrap
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from zoneinfo import ZoneInfo

from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.config import FONTS_DIR, CardFormat, Settings, Theme, load_settings  # noqa: E402
from pipeline.items import Item, parse_item  # noqa: E402
from pipeline.render import render_card  # noqa: E402
from pipeline.render.card import compose  # noqa: E402
from pipeline.render.encode import encode  # noqa: E402

SEED = ROOT / "queue" / "karpathy-anthropic-pretraining.md"
FORMAT = "story"
THEME = "dark"
MAX_RATIO_BASELINE = 2.0
MIN_SPEEDUP_SHRINK = 4.0
MAX_PEAK_MB = 200.0


def setup() -> tuple[Settings, Item, Theme, CardFormat]:
    settings = load_settings(ROOT / "config.example.toml")
    item = parse_item(SEED, SEED.parent, ZoneInfo("UTC"), False)
    return settings, item, settings.themes[THEME], settings.formats[FORMAT]


def time_per_call(fns: dict[str, tuple[Callable[[], object], int]]) -> dict[str, float]:
    """Median ms per call of each function, calls interleaved so load drifts hit all alike.

    `fns` maps a name to (function, calls); each is called once first to warm up.
    """
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for fn, _ in fns.values():
        fn()
    rounds = max(n for _, n in fns.values())
    for r in range(rounds):
        for name, (fn, n) in fns.items():
            if r < n:
                t = time.perf_counter()
                fn()
                samples[name].append((time.perf_counter() - t) * 1000)
    return {name: statistics.median(values) for name, values in samples.items()}


def baseline(theme: Theme, fmt: CardFormat) -> bytes:
    """A blank canvas of the card's size, encoded exactly as the card is."""
    img = Image.new("RGB", (fmt.width, fmt.height), theme.background.colors[0])
    return encode(img, fmt.encoding, fmt.jpeg_quality)[0]


def shrink_loop(item: Item, theme: Theme, fmt: CardFormat, box: tuple[int, int, int]) -> bytes:
    """The naive renderer: one point smaller at a time until the textwrap'ed quote fits.

    Same text, same box and same size range as ours; each step loads the font at
    the new size, wraps by an average-character-width estimate and measures the
    wrapped block with `multiline_textbbox`, as the usual recipe does.
    """
    box_w, box_h, size = box
    text = f"“{item.quote}”"
    img = Image.new("RGB", (fmt.width, fmt.height), theme.background.colors[0])
    draw = ImageDraw.Draw(img)
    while True:
        font = ImageFont.truetype(str(FONTS_DIR / theme.quote_font), size)
        font.set_variation_by_axes([48, theme.quote_weight or 400, 0, 0])
        chars = max(1, int(box_w / (font.getlength("abcdefghijklmnopqrstuvwxyz") / 26)))
        wrapped = textwrap.fill(text, width=chars)
        spacing = round(size * (theme.line_height - 1))
        left, top, right, bottom = draw.multiline_textbbox((0, 0), wrapped, font, spacing=spacing)
        if (right - left <= box_w and bottom - top <= box_h) or size <= theme.quote_size_min:
            break
        size -= 1
    draw.multiline_text((86, fmt.safe_top + 100), wrapped, font=font, fill=theme.text_color)
    return encode(img, fmt.encoding, fmt.jpeg_quality)[0]


def memory_child(cards: int) -> None:
    """Render `cards` different cards in this process; print peak RSS and heap as JSON."""
    settings, item, _, _ = setup()
    before_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracemalloc.start()
    names = list(settings.formats)
    done = 0
    i = 0
    while done < cards:
        variant = replace(item, quote=f"{item.quote} (Take {i + 1}.)")
        theme = settings.themes[list(settings.themes)[i % len(settings.themes)]]
        for name in names:
            if done == cards:
                break
            render_card(variant, theme, name, settings.formats[name], settings.brand, ROOT)
            done += 1
        i += 1
    _, heap_peak = tracemalloc.get_traced_memory()
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = {
        "cards": done,
        "rss_mb": rss_kb / 1024,
        "rss_before_mb": before_kb / 1024,
        "heap_mb": heap_peak / 2**20,
    }
    print(json.dumps(result))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=40, help="cards per measurement (default 40)")
    parser.add_argument("--memory-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        memory_child(args.memory_child)
        return 0

    settings, item, theme, fmt = setup()
    t = time.perf_counter()
    card = render_card(item, theme, FORMAT, fmt, settings.brand, ROOT)
    cold = (time.perf_counter() - t) * 1000
    comp = compose(item, theme, fmt, settings.brand, ROOT)
    left, top, right, bottom = comp.quote_box
    box = (right - left, bottom - top, comp.quote_sizes[1])
    times = time_per_call(
        {
            "ours": (lambda: render_card(item, theme, FORMAT, fmt, settings.brand, ROOT), args.n),
            "base": (lambda: baseline(theme, fmt), args.n),
            "shrink": (lambda: shrink_loop(item, theme, fmt, box), max(5, args.n // 4)),
        }
    )
    ours, base, shrink = times["ours"], times["base"], times["shrink"]
    with Image.open(io.BytesIO(card.card.data)) as im:
        size = f"{im.width}×{im.height} {im.format}"

    child = subprocess.run(
        [sys.executable, __file__, "--memory-child", "100"],
        capture_output=True,
        text=True,
        check=True,
    )
    mem = json.loads(child.stdout.strip().splitlines()[-1])

    ratio = ours / base
    speedup = shrink / ours
    ok_ratio, ok_speed, ok_mem = (
        ratio <= MAX_RATIO_BASELINE,
        speedup >= MIN_SPEEDUP_SHRINK,
        mem["rss_mb"] < MAX_PEAK_MB,
    )
    print(f"story card of the seed quote ({size}, theme {THEME}), median of {args.n} runs")
    print(
        f"  ours (render_card)          {ours:8.2f} ms/card   (first, cold caches: {cold:.0f} ms)"
    )
    print(f"  bare baseline (blank+encode) {base:7.2f} ms/card")
    print(f"  shrink-one-point textwrap   {shrink:8.2f} ms/card")
    print(
        f"  ours / baseline             {ratio:8.2f} ×  "
        f"(target ≤ {MAX_RATIO_BASELINE}) {'OK' if ok_ratio else 'MISSED'}"
    )
    print(
        f"  shrink loop / ours          {speedup:8.2f} ×  "
        f"(target ≥ {MIN_SPEEDUP_SHRINK}) {'OK' if ok_speed else 'MISSED'}"
    )
    print(
        f"  peak memory, {mem['cards']} cards in one process: {mem['rss_mb']:.0f} MB RSS "
        f"({mem['rss_before_mb']:.0f} MB before the first card), "
        f"{mem['heap_mb']:.1f} MB Python heap (target < {MAX_PEAK_MB:.0f} MB) "
        f"{'OK' if ok_mem else 'MISSED'}"
    )
    return 0 if (ok_ratio and ok_speed and ok_mem) else 1


if __name__ == "__main__":
    sys.exit(main())
