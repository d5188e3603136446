"""Queue items: loading and validating queue files, `add`, and CSV import.

A queue file is either TOML or Markdown with TOML (+++) or YAML (---) front
matter; its name without extension is the item's slug. Validation is strict
and every problem names the file, the line and the field, and says what to
do. Files are only ever read here, never moved, rewritten or deleted.
"""

from __future__ import annotations

import csv
import json
import os
import re
import tomllib
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from pipeline.links import LinkError, check_url

MAX_FILE_BYTES = 256 * 1024
MAX_IMAGE_BYTES = 20 * 1024 * 1024
MAX_IMAGE_PIXELS = 40_000_000
QUEUE_SUFFIXES = (".toml", ".md")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".gif")
IGNORED_NAMES = {"readme.md", "readme.toml"}
SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$")

# C0/C1 controls except tab and newline, plus bidi embedding/override/isolate marks
# (the directional marks LRM, RLM and ALM are allowed: they fix mixed-direction lines)
_FORBIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ufeff]")


class ItemFields(BaseModel):
    """The schema of one queue file. Unknown fields are errors (they are typos)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    quote: str = Field(min_length=1, max_length=1000)
    author: str = Field(min_length=1, max_length=200)
    role: str | None = Field(default=None, max_length=300)
    link: str | None = Field(default=None, max_length=2000)
    headline: str | None = Field(default=None, max_length=300)
    tags: list[str] = Field(default_factory=list, max_length=30)
    category: list[str] = Field(default_factory=list, max_length=10)
    publish_at: datetime | None = None
    targets: list[str] | None = None
    theme: str | None = None
    image: str | None = None
    priority: int = Field(default=0, ge=-1000, le=1000)
    caption: str | None = Field(default=None, max_length=3000)  # Jinja2 caption template

    @field_validator("category", mode="before")
    @classmethod
    def _one_or_many(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v

    @field_validator("tags")
    @classmethod
    def _tags(cls, v: list[str]) -> list[str]:
        for tag in v:
            if not tag.strip() or len(tag) > 60:
                raise ValueError("each tag must be 1–60 characters")
        return v

    @field_validator("link")
    @classmethod
    def _link(cls, v: str | None) -> str | None:
        if v is None:
            return v
        try:
            return check_url(v)
        except LinkError as exc:
            raise ValueError(str(exc)) from None


@dataclass(frozen=True)
class Item:
    """One validated queued quote. Identity is the slug; state lives in the ledger."""

    slug: str
    path: Path
    quote: str
    author: str
    role: str | None = None
    link: str | None = None
    headline: str | None = None
    tags: tuple[str, ...] = ()
    category: tuple[str, ...] = ()
    publish_at: datetime | None = None  # always timezone-aware
    targets: tuple[str, ...] | None = None
    theme: str | None = None
    image: Path | None = None
    priority: int = 0
    body: str = ""
    caption: str | None = None  # caption template overriding target and network defaults

    @property
    def label(self) -> str | None:
        """The category shown on the card: the first one."""
        return self.category[0] if self.category else None


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one file, said so that a person can fix it."""

    path: Path
    line: int | None
    field: str | None
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else f"{self.path}"
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )


@dataclass
class QueueScan:
    items: list[Item] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    def by_slug(self) -> dict[str, Item]:
        return {i.slug: i for i in self.items}


class ItemError(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems


# -- parsing -------------------------------------------------------------------------


def _split_front_matter(text: str, path: Path) -> tuple[str, str, str, int]:
    """Return (syntax, front matter, body, line offset of the front matter)."""
    lines = text.splitlines(keepends=True)
    if not lines:
        raise ItemError(
            [Problem(path, 1, None, "empty file; add front matter with quote and author")]
        )
    fence = lines[0].strip()
    if fence not in ("+++", "---"):
        raise ItemError(
            [
                Problem(
                    path,
                    1,
                    None,
                    "Markdown queue files start with front matter: a line '+++' (TOML) or "
                    "'---' (YAML), the fields, then the same line again",
                )
            ]
        )
    for i in range(1, len(lines)):
        if lines[i].strip() == fence:
            return (
                "toml" if fence == "+++" else "yaml",
                "".join(lines[1:i]),
                "".join(lines[i + 1 :]),
                1,
            )
    raise ItemError([Problem(path, 1, None, f"front matter opened with {fence!r} is never closed")])


def _parse_toml(text: str, path: Path, offset: int) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc)
        m = re.search(r"line (\d+)", msg)
        line = int(m.group(1)) + offset if m else None
        msg = re.sub(r"\s*\(at line \d+, column \d+\)", "", msg)
        raise ItemError(
            [Problem(path, line, None, f"invalid TOML: {msg}; fix the syntax on that line")]
        ) from None


def _parse_yaml(text: str, path: Path, offset: int) -> dict[str, Any]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 + offset if mark is not None else None
        problem = getattr(exc, "problem", None) or "syntax error"
        raise ItemError(
            [Problem(path, line, None, f"invalid YAML: {problem}; fix the syntax on that line")]
        ) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ItemError(
            [Problem(path, offset + 1, None, "front matter must be a mapping of fields")]
        )
    return data


def _field_line(text: str, key: str, offset: int) -> int | None:
    m = re.search(rf"^\s*\"?{re.escape(key)}\"?\s*[:=]", text, re.M)
    return text.count("\n", 0, m.start()) + 1 + offset if m else None


def _clean_text(value: Any, path: Path, line: int | None, name: str) -> Any:
    """NFC-normalise strings; refuse control and bidi-override characters."""
    if isinstance(value, str):
        bad = _FORBIDDEN.search(value)
        if bad:
            ch = bad.group()
            raise ItemError(
                [
                    Problem(
                        path,
                        line,
                        name,
                        f"contains the invisible control character U+{ord(ch):04X}; "
                        "remove it (bidi overrides and control characters are refused)",
                    )
                ]
            )
        return unicodedata.normalize("NFC", value)
    if isinstance(value, list):
        return [_clean_text(v, path, line, name) for v in value]
    return value


def parse_item(path: Path, queue_dir: Path, tz: ZoneInfo, check_image: bool = True) -> Item:
    """Read and validate one queue file; raise ItemError listing every problem."""
    slug = path.stem
    if not SLUG_RE.match(slug):
        raise ItemError(
            [
                Problem(
                    path,
                    None,
                    None,
                    "file name must be a slug: lower-case letters, digits, '-', '_' or '.'; "
                    "rename the file",
                )
            ]
        )
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise ItemError(
            [
                Problem(
                    path,
                    None,
                    None,
                    f"file is {size / 1_000_000:.1f} MB; queue files are limited to "
                    f"{MAX_FILE_BYTES // 1024} KB — keep long commentary elsewhere and link to it",
                )
            ]
        )
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise ItemError(
            [Problem(path, line, None, "not valid UTF-8 text; save the file as UTF-8")]
        ) from None
    text = text.removeprefix("\ufeff")
    body = ""
    offset = 0
    if path.suffix == ".toml":
        front = text
        data = _parse_toml(front, path, 0)
    else:
        syntax, front, body, offset = _split_front_matter(text, path)
        data = (_parse_toml if syntax == "toml" else _parse_yaml)(front, path, offset)

    cleaned: dict[str, Any] = {}
    for key, value in data.items():
        cleaned[key] = _clean_text(value, path, _field_line(front, str(key), offset), str(key))
    body = _clean_text(body, path, None, "body").strip()

    try:
        fields = ItemFields.model_validate(cleaned)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            name = str(err["loc"][0]) if err["loc"] else None
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                known = ", ".join(ItemFields.model_fields)
                msg = f"unknown field; check the spelling (known fields: {known})"
            elif err["type"] == "missing":
                msg = "required field is missing; add it"
            elif err["type"] == "string_too_short":
                msg = "must not be empty"
            at = _field_line(front, name, offset) if name else None
            problems.append(Problem(path, at, name, msg))
        raise ItemError(problems) from None

    publish_at = fields.publish_at
    if publish_at is not None and publish_at.tzinfo is None:
        publish_at = publish_at.replace(tzinfo=tz)

    image = None
    if fields.image:
        image = _check_image(
            fields.image, path, queue_dir, _field_line(front, "image", offset), check_image
        )

    return Item(
        slug=slug,
        path=path,
        quote=fields.quote,
        author=fields.author,
        role=fields.role or None,
        link=fields.link,
        headline=fields.headline,
        tags=tuple(fields.tags),
        category=tuple(fields.category),
        publish_at=publish_at,
        targets=tuple(fields.targets) if fields.targets is not None else None,
        theme=fields.theme,
        image=image,
        priority=fields.priority,
        body=body,
        caption=fields.caption,
    )


def _check_image(value: str, path: Path, queue_dir: Path, line: int | None, verify: bool) -> Path:
    """Confine the speaker image to the queue folder and refuse decompression bombs."""
    root = queue_dir.resolve()
    candidate = (path.parent / value).resolve()
    if not candidate.is_relative_to(root):
        raise ItemError(
            [
                Problem(
                    path,
                    line,
                    "image",
                    f"{value!r} is outside the queue folder; put the image inside "
                    f"{queue_dir} and give its path relative to the queue file",
                )
            ]
        )
    if not candidate.is_file():
        raise ItemError(
            [Problem(path, line, "image", f"{value!r} does not exist in the queue folder")]
        )
    if candidate.stat().st_size > MAX_IMAGE_BYTES:
        raise ItemError(
            [Problem(path, line, "image", f"{value!r} is larger than 20 MB; resize it")]
        )
    if verify:
        import warnings

        from PIL import Image

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                with Image.open(candidate) as im:
                    if im.width * im.height > MAX_IMAGE_PIXELS:
                        raise Image.DecompressionBombError("too many pixels")
                    im.verify()
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise ItemError(
                [
                    Problem(
                        path, line, "image", f"{value!r} has too many pixels; resize it below 40 MP"
                    )
                ]
            ) from None
        except Exception:
            raise ItemError(
                [
                    Problem(
                        path, line, "image", f"{value!r} is not a readable PNG, JPEG, WebP or GIF"
                    )
                ]
            ) from None
    return candidate


def queue_files(queue_dir: Path) -> Iterator[Path]:
    """Queue files in name order; hidden files, READMEs and images are skipped."""
    if not queue_dir.is_dir():
        return
    for path in sorted(queue_dir.iterdir()):
        name = path.name.lower()
        if name.startswith((".", "_")) or name in IGNORED_NAMES or not path.is_file():
            continue
        if path.suffix.lower() in IMAGE_SUFFIXES:
            continue
        yield path


def load_queue(queue_dir: Path, tz: ZoneInfo, check_images: bool = True) -> QueueScan:
    """Every item of the queue; a bad file becomes problems, never an exception."""
    scan = QueueScan()
    seen: dict[str, Path] = {}
    for path in queue_files(queue_dir):
        if path.suffix not in QUEUE_SUFFIXES:
            scan.problems.append(
                Problem(path, None, None, "not a queue file; use .toml or .md (it is ignored)")
            )
            continue
        if path.stem in seen:
            scan.problems.append(
                Problem(
                    path,
                    None,
                    None,
                    f"same slug as {seen[path.stem].name}; rename one of them (neither is posted)",
                )
            )
            scan.items = [i for i in scan.items if i.slug != path.stem]
            continue
        seen[path.stem] = path
        try:
            scan.items.append(parse_item(path, queue_dir, tz, check_images))
        except ItemError as exc:
            scan.problems.extend(exc.problems)
        except OSError as exc:
            scan.problems.append(Problem(path, None, None, f"cannot read: {exc.strerror}"))
    return scan


# -- writing new items ---------------------------------------------------------------


def slugify(text: str, max_words: int = 6) -> str:
    """ASCII slug from text: 'Andrej Karpathy – I think' → 'andrej-karpathy-i-think'."""
    norm = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    words = re.findall(r"[a-z0-9]+", norm.lower())
    return "-".join(words[:max_words]) or "item"


def _toml_value(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def to_toml(fields: dict[str, Any]) -> str:
    """A flat queue file: quote and author first, in schema order, empty values left out."""
    order = list(ItemFields.model_fields)
    lines = [
        f"{key} = {_toml_value(fields[key])}"
        for key in order
        if key in fields and fields[key] not in (None, "", [], ())
    ]
    return "\n".join(lines) + "\n"


def validate_fields(fields: dict[str, Any], where: Path) -> ItemFields:
    """Validate fields before writing them, so `add` and `import` never write a bad file."""
    cleaned = {
        k: _clean_text(v, where, None, k) for k, v in fields.items() if v not in (None, "", [])
    }
    try:
        return ItemFields.model_validate(cleaned)
    except ValidationError as exc:
        problems = [
            Problem(
                where,
                None,
                str(e["loc"][0]) if e["loc"] else None,
                e["msg"].removeprefix("Value error, "),
            )
            for e in exc.errors()
        ]
        raise ItemError(problems) from None


def write_new_item(queue_dir: Path, fields: dict[str, Any], slug: str | None = None) -> Path:
    """Write a new queue file with a unique slug; never overwrites. Atomic."""
    validate_fields(fields, queue_dir / "(new item)")
    queue_dir.mkdir(parents=True, exist_ok=True)
    base = slug or slugify(f"{fields['author']} {fields['quote']}")
    candidate = base
    n = 2
    while any((queue_dir / f"{candidate}{s}").exists() for s in QUEUE_SUFFIXES):
        candidate = f"{base}-{n}"
        n += 1
    target = queue_dir / f"{candidate}.toml"
    tmp = queue_dir / f".{candidate}.toml.tmp"
    tmp.write_text(to_toml(fields), encoding="utf-8")
    try:
        os.link(tmp, target)  # fails if a concurrent writer took the name
    finally:
        tmp.unlink()
    return target


@dataclass
class ImportReport:
    created: list[Path] = field(default_factory=list)
    existing: list[tuple[int, Path]] = field(default_factory=list)
    refused: list[tuple[int, str]] = field(default_factory=list)


_LIST_FIELDS = {"tags", "category", "targets"}


def _row_fields(row: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in row.items():
        if key is None:
            raise ValueError("row has more cells than the header has names")
        k = key.strip().lower()
        if not k:
            continue
        v = (value or "").strip()
        if not v:
            continue
        if k in _LIST_FIELDS:
            out[k] = [p.strip() for p in re.split(r"[;|]", v) if p.strip()]
        elif k == "priority":
            out[k] = int(v)
        else:
            out[k] = v
    return out


def import_csv(csv_path: Path, queue_dir: Path, tz: ZoneInfo) -> ImportReport:
    """Turn a spreadsheet export into queue files. Same CSV twice → nothing new.

    The slug comes from author and quote, so a row already imported is found by
    name and content and skipped; refused rows are reported by row number
    (the header is row 1).
    """
    report = ImportReport()
    try:
        text = csv_path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise ItemError(
            [Problem(csv_path, None, None, "not UTF-8; export the CSV as UTF-8")]
        ) from None
    reader = csv.DictReader(text.splitlines())
    existing = {(i.author, i.quote): i.path for i in load_queue(queue_dir, tz, False).items}
    for rowno, row in enumerate(reader, start=2):
        try:
            fields = _row_fields(row)
            if "publish_at" in fields:
                fields["publish_at"] = datetime.fromisoformat(fields["publish_at"])
            parsed = validate_fields(fields, csv_path)
        except ItemError as exc:
            report.refused.append((rowno, "; ".join(_short(p) for p in exc.problems)))
            continue
        except ValueError as exc:
            report.refused.append((rowno, str(exc)))
            continue
        key = (
            unicodedata.normalize("NFC", parsed.author),
            unicodedata.normalize("NFC", parsed.quote),
        )
        if key in existing:
            report.existing.append((rowno, existing[key]))
            continue
        path = write_new_item(queue_dir, fields)
        existing[key] = path
        report.created.append(path)
    return report


def _short(p: Problem) -> str:
    return f"{p.field}: {p.message}" if p.field else p.message
