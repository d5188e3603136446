"""Card renderer benchmark: `python benchmarks/render.py [-n N] [--no-browser]` (`make bench`).

Renders N *distinct* story cards (different quotations, so no layout or glyph cache
is reused from one card to the next) in a warm process and prints, measured in one run:

* ms per distinct card for our renderer (`render_card`: layout, paint, encode),
* a bare baseline: a blank canvas of the same size encoded the same way — the floor,
* warm headless Chromium (Debian /usr/bin/chromium through Playwright, as the bio
  browser tests use it) rendering an equivalent HTML template (same fonts, size,
  colours, text) to a JPEG screenshot of the same size and quality,
* the ratios against the targets (ours ≤ 2.5 × baseline; Chromium ≥ 4 × slower than ours),
* the peak memory of a fresh process rendering 100 distinct cards in every format, read
  as VmHWM from /proc/self/status (ru_maxrss would report the parent's peak, which a
  child inherits).

The quotations come from Debian's `fortunes` package when installed, else from
numbered variants of the seed quote. Exit status 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import html
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.config import FONTS_DIR, CardFormat, Settings, Theme, load_settings  # noqa: E402
from pipeline.items import Item, parse_item  # noqa: E402
from pipeline.render import render_card  # noqa: E402
from pipeline.render.encode import encode  # noqa: E402

SEED = ROOT / "queue" / "karpathy-anthropic-pretraining.md"
FORTUNES = Path("/usr/share/games/fortunes/wisdom")
CHROMIUM = Path("/usr/bin/chromium")
FORMAT = "story"
THEME = "dark"
MAX_RATIO_BASELINE = 2.5
MIN_SPEEDUP_CHROMIUM = 4.0
MAX_PEAK_MB = 200.0


def setup() -> tuple[Settings, Item, Theme, CardFormat]:
    settings = load_settings(ROOT / "config.example.toml")
    item = parse_item(SEED, SEED.parent, ZoneInfo("UTC"), False)
    return settings, item, settings.themes[THEME], settings.formats[FORMAT]


def distinct_items(seed: Item, n: int) -> list[Item]:
    """n items with different quotations (real ones when the fortunes corpus is present)."""
    quotes: list[str] = []
    if FORTUNES.is_file():
        for entry in FORTUNES.read_text("utf-8", errors="replace").split("\n%\n"):
            lines = [ln.strip() for ln in entry.splitlines() if ln.strip()]
            if len(lines) >= 2 and lines[-1].startswith("--"):
                text = " ".join(lines[:-1])
                if 40 <= len(text) <= 240 and text not in quotes:
                    quotes.append(text)
    while len(quotes) < n:
        quotes.append(f"{seed.quote} (Take {len(quotes) + 1}.)")
    return [replace(seed, slug=f"bench-{i}", quote=q) for i, q in enumerate(quotes[:n])]


def timed(fn: Callable[[Any], object], args: list[Any]) -> float:
    """Median ms of fn(a) over the args, one call each."""
    samples = []
    for a in args:
        t = time.perf_counter()
        fn(a)
        samples.append((time.perf_counter() - t) * 1000)
    return statistics.median(samples)


def baseline(theme: Theme, fmt: CardFormat) -> bytes:
    """A blank canvas of the card's size, encoded exactly as the card is."""
    img = Image.new("RGB", (fmt.width, fmt.height), theme.background.colors[0])
    return encode(img, fmt.encoding, fmt.jpeg_quality)[0]


def template(item: Item, theme: Theme, fmt: CardFormat) -> str:
    """The equivalent HTML card: same fonts (file URLs), sizes, colours and text."""
    c0, c1 = (theme.background.colors * 2)[:2]
    fonts = FONTS_DIR.resolve().as_uri()
    return f"""<!doctype html><html><head><style>
@font-face {{ font-family: Q; src: url({fonts}/{theme.quote_font}); }}
@font-face {{ font-family: A; src: url({fonts}/{theme.attribution_font}); }}
html, body {{ margin: 0; width: {fmt.width}px; height: {fmt.height}px; }}
body {{ background: linear-gradient({theme.background.angle}deg, {c0}, {c1});
  display: flex; flex-direction: column; justify-content: center;
  padding: {fmt.safe_top + 40}px 86px {fmt.safe_bottom + 40}px; box-sizing: border-box; }}
.label {{ font: 650 33px A; letter-spacing: .14em; color: {theme.accent_color}; }}
blockquote {{ margin: 32px 0; font: 400 96px/1.16 Q; color: {theme.text_color};
  text-wrap: balance; hanging-punctuation: first last; hyphens: manual; }}
.author {{ font: 650 42px A; color: {theme.text_color}; }}
.role {{ font: 400 33px A; color: {theme.muted_color}; }}
.handle {{ position: absolute; bottom: {fmt.safe_bottom + 40}px; font: 500 33px A;
  color: {theme.muted_color}; }}
</style></head><body><div class="label">QUOTES</div>
<blockquote>“{html.escape(item.quote)}”</blockquote>
<div class="author">{html.escape(item.author)}</div>
<div class="role">{html.escape(item.role or "")}</div>
<div class="handle">@quotecast</div></body></html>"""


def chromium_ms(items: list[Item], theme: Theme, fmt: CardFormat) -> float | None:
    """Median ms per distinct card in a warm headless Chromium, or None when unavailable."""
    if not CHROMIUM.exists():
        return None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    args = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=args)
        try:
            page = browser.new_page(viewport={"width": fmt.width, "height": fmt.height})

            def one(item: Item) -> bytes:
                page.set_content(template(item, theme, fmt), wait_until="load")
                page.evaluate("document.fonts.ready.then(() => 0)")
                return page.screenshot(type="jpeg", quality=fmt.jpeg_quality)

            for item in items[:3]:  # warm up: browser, fonts, page
                one(item)
            return timed(one, items)
        finally:
            browser.close()


def vm_hwm_mb() -> float:
    """This process's own peak resident size (VmHWM), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def memory_child(cards: int) -> None:
    """Render `cards` distinct cards across every format and theme; print VmHWM as JSON."""
    settings, seed, _, _ = setup()
    before = vm_hwm_mb()
    names = list(settings.formats)
    themes = list(settings.themes)
    for i, item in enumerate(distinct_items(seed, cards)):
        name = names[i % len(names)]
        theme = settings.themes[themes[i % len(themes)]]
        render_card(item, theme, name, settings.formats[name], settings.brand, ROOT)
    print(json.dumps({"cards": cards, "hwm_mb": vm_hwm_mb(), "hwm_before_mb": before}))


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("-n", type=int, default=60, help="distinct cards measured (default 60)")
    parser.add_argument("--no-browser", action="store_true", help="skip the Chromium comparison")
    parser.add_argument("--memory-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        memory_child(args.memory_child)
        return 0

    settings, seed, theme, fmt = setup()
    items = distinct_items(seed, args.n + 3)
    warm, measured = items[:3], items[3:]

    def ours(item: Item) -> object:
        return render_card(item, theme, FORMAT, fmt, settings.brand, ROOT)

    t = time.perf_counter()
    ours(warm[0])
    cold = (time.perf_counter() - t) * 1000
    for item in warm[1:]:
        ours(item)
    # interleaved, card by card, so the load of a shared machine hits both alike
    base_ms: list[float] = []
    mine_ms: list[float] = []
    for item in measured:
        base_ms.append(timed(lambda _: baseline(theme, fmt), [None]))
        mine_ms.append(timed(ours, [item]))
    base, mine = statistics.median(base_ms), statistics.median(mine_ms)
    tight = timed(lambda _: baseline(theme, fmt), measured)  # the floor with warm CPU caches
    browser = None if args.no_browser else chromium_ms(measured, theme, fmt)

    child = subprocess.run(
        [sys.executable, __file__, "--memory-child", "100"],
        capture_output=True,
        text=True,
        check=True,
    )
    mem = json.loads(child.stdout.strip().splitlines()[-1])

    ratio = mine / base
    ok_ratio = ratio <= MAX_RATIO_BASELINE
    ok_mem = mem["hwm_mb"] < MAX_PEAK_MB
    print(
        f"{len(measured)} distinct story cards ({fmt.width}×{fmt.height} {fmt.encoding}, "
        f"theme {THEME}), medians in one warm process"
    )
    print(f"  ours (render_card, distinct)   {mine:8.2f} ms/card   (first, cold: {cold:.0f} ms)")
    print(f"  bare baseline (blank+encode)   {base:8.2f} ms/card   (interleaved with ours)")
    print(
        f"  bare baseline, tight loop      {tight:8.2f} ms/card   "
        f"(ours / this: {mine / tight:.2f} ×, for reference)"
    )
    print(
        f"  ours / baseline                {ratio:8.2f} ×  (target ≤ {MAX_RATIO_BASELINE}) "
        f"{'OK' if ok_ratio else 'MISSED'}"
    )
    ok_browser = True
    if browser is None:
        print("  headless Chromium              skipped (no /usr/bin/chromium or playwright)")
    else:
        speedup = browser / mine
        ok_browser = speedup >= MIN_SPEEDUP_CHROMIUM
        print(f"  headless Chromium (warm)       {browser:8.2f} ms/card")
        print(
            f"  Chromium / ours                {speedup:8.2f} ×  "
            f"(target ≥ {MIN_SPEEDUP_CHROMIUM}) {'OK' if ok_browser else 'MISSED'}"
        )
    print(
        f"  peak memory, {mem['cards']} distinct cards in a fresh process: "
        f"{mem['hwm_mb']:.0f} MB VmHWM ({mem['hwm_before_mb']:.0f} MB before the first card) "
        f"(target < {MAX_PEAK_MB:.0f} MB) {'OK' if ok_mem else 'MISSED'}"
    )
    return 0 if (ok_ratio and ok_browser and ok_mem) else 1


if __name__ == "__main__":
    sys.exit(main())
