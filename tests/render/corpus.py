"""Real quotations for the proof test: Debian's `fortunes` package (BSD-licensed fortune files).

Installed by `.ci/run` with apt-get (`fortunes`, `fortunes-min`); where it is absent the
proof test is skipped with that reason. Only attributed entries ("… -- Author") with a
short single-paragraph quote are used, so they look like what a social team queues.
"""

from __future__ import annotations

import re
from pathlib import Path

FORTUNES = Path("/usr/share/games/fortunes")
FILES = (
    "wisdom",
    "people",
    "literature",
    "science",
    "politics",
    "work",
    "education",
    "love",
    "law",
    "humorists",
    "computers",
    "miscellaneous",
    "fortunes",
    "men-women",
    "medicine",
    "platitudes",
)
_ATTRIB = re.compile(r"^\s*--\s*(.+?)\s*$")


def _entries(path: Path) -> list[str]:
    return path.read_text("utf-8", errors="replace").split("\n%\n")


def _parse(entry: str) -> tuple[str, str] | None:
    lines = [ln for ln in entry.strip("%\n").splitlines() if ln.strip()]
    if len(lines) < 2:
        return None
    m = _ATTRIB.match(lines[-1])
    if not m:
        return None
    author = m.group(1).split(",")[0].strip().strip('"')
    body = lines[:-1]
    if any(_ATTRIB.match(ln) for ln in body) or any(":" in ln[:15] for ln in body):
        return None  # dialogue or several attributions
    quote = " ".join(ln.strip() for ln in body)
    quote = re.sub(r"\s+", " ", quote).strip()
    if not (20 <= len(quote) <= 280) or not (2 <= len(author) <= 60):
        return None
    if any(c in quote for c in "\t|<>{}[]\\_#") or not quote.isprintable():
        return None
    return quote, author


def available() -> bool:
    return (FORTUNES / "wisdom").is_file()


def quotations(limit: int = 600) -> list[tuple[str, str]]:
    """Up to `limit` (quote, author) pairs, deduplicated, in a stable order."""
    seen: set[str] = set()
    out: list[tuple[str, str]] = []
    for name in FILES:
        path = FORTUNES / name
        if not path.is_file():
            continue
        for entry in _entries(path):
            parsed = _parse(entry)
            if parsed and parsed[0] not in seen:
                seen.add(parsed[0])
                out.append(parsed)
    return out[:limit]
