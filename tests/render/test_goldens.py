"""Golden images: a handful of items × formats compared with a small pixel tolerance.

Goldens live in tests/render/goldens/ at half the card's size (small files,
and blind to sub-pixel anti-aliasing noise while any layout change still shows).
When a change to the cards is intended, regenerate them on purpose and review
the new PNGs before committing them:

    make goldens        # = QUOTECAST_REGENERATE_GOLDENS=1 pytest tests/render -k golden
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from PIL import Image, ImageChops, ImageStat

from pipeline.config import Settings
from pipeline.items import Item, parse_item
from pipeline.render import render_card
from tests.render.conftest import ROOT, case_item

GOLDENS = Path(__file__).parent / "goldens"
REGENERATE_VAR = "QUOTECAST_REGENERATE_GOLDENS"


def _regenerate() -> bool:
    """Whether QUOTECAST_REGENERATE_GOLDENS=1 was set for this run.

    tests/conftest.py deletes every QUOTECAST_* variable at import (so a developer's
    settings never leak into tests), before this module is read; the process's
    initial environment, which that cannot change, still has it on Linux.
    """
    if os.environ.get(REGENERATE_VAR) == "1":
        return True
    try:
        initial = Path("/proc/self/environ").read_bytes().split(b"\0")
    except OSError:
        return False
    return f"{REGENERATE_VAR}=1".encode() in initial


REGENERATE = _regenerate()
MAX_MEAN_DIFF = 1.0  # mean absolute difference per channel, 0–255
MAX_BAD_SHARE = 0.002  # share of pixels allowed to differ by more than BAD_LEVEL
BAD_LEVEL = 48

# (golden name, queue file or listed case, theme, format)
CARDS = [
    ("seed-story-dark", "karpathy-anthropic-pretraining", "dark", "story"),
    ("seed-landscape-dark", "karpathy-anthropic-pretraining", "dark", "landscape"),
    ("seed-square-light", "karpathy-anthropic-pretraining", "light", "square"),
    ("lovelace-portrait-light", "lovelace-analytical-engine", "light", "portrait"),
    ("drucker-square-dark", "drucker-culture-strategy", "dark", "square"),
    ("arabic-portrait-dark", "case:arabic", "dark", "portrait"),
    ("emoji-square-dark", "case:emoji", "dark", "square"),
    ("latin-cjk-landscape-light", "case:latin-cjk", "light", "landscape"),
]


def _item(source: str) -> Item:
    if source.startswith("case:"):
        return case_item(source.removeprefix("case:"))
    path = ROOT / "queue" / f"{source}.md"
    if not path.exists():
        path = path.with_suffix(".toml")
    return parse_item(path, path.parent, ZoneInfo("UTC"), False)


def _half(data: bytes) -> Image.Image:
    with Image.open(io.BytesIO(data)) as im:
        rgb = im.convert("RGB")
    return rgb.resize((rgb.width // 2, rgb.height // 2), Image.Resampling.LANCZOS)


@pytest.mark.parametrize(("name", "source", "theme", "fmt"), CARDS, ids=[c[0] for c in CARDS])
def test_golden(
    name: str, source: str, theme: str, fmt: str, settings: Settings, tmp_path: Path
) -> None:
    rc = render_card(
        _item(source),
        settings.themes[theme],
        fmt,
        settings.formats[fmt],
        settings.brand,
        settings.base_dir,
    )
    actual = _half(rc.card.data)
    golden = GOLDENS / f"{name}.png"
    if REGENERATE:
        GOLDENS.mkdir(exist_ok=True)
        actual.save(golden, optimize=True)
        pytest.skip(f"regenerated {golden.name}")
    assert golden.exists(), f"no golden {golden}; create it with `make goldens` and review it"
    with Image.open(golden) as im:
        expected = im.convert("RGB")
    assert expected.size == actual.size, "card size changed"
    diff = ImageChops.difference(actual, expected)
    mean = sum(ImageStat.Stat(diff).mean) / 3
    worst = diff.convert("L").point(lambda v: 255 if v > BAD_LEVEL else 0).histogram()[255]
    share = worst / (diff.width * diff.height)
    if mean > MAX_MEAN_DIFF or share > MAX_BAD_SHARE:
        actual.save(tmp_path / f"{name}-actual.png")
        diff.point(lambda v: min(255, v * 4)).save(tmp_path / f"{name}-diff.png")
        pytest.fail(
            f"{name} differs from its golden (mean {mean:.2f}, {share:.2%} of pixels off); "
            f"see {tmp_path}; if the change is intended, run `make goldens` and review"
        )
