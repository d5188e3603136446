"""Queue items: loading and validating queue files, `add`, and CSV import.

A queue file is either TOML or Markdown with TOML (+++) or YAML (---) front
matter; its name without extension is the item's slug. Validation is strict
and every problem names the file, the line and the field, and says what to
do. Files are only ever read here, never moved, rewritten or deleted.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import tempfile
import tomllib
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from pipeline.errors import unexpected
from pipeline.links import LinkError, check_url

MAX_FILE_BYTES = 256 * 1024
MAX_IMAGE_BYTES = 20 * 1024 * 1024
MAX_IMAGE_PIXELS = 40_000_000
QUEUE_SUFFIXES = (".toml", ".md")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".gif")
IGNORED_NAMES = {"readme.md", "readme.toml"}
MIN_YEAR, MAX_YEAR = 1900, 9000  # publish_at: anything outside is a typo
SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$")
SLUG_RULE = (
    "lower-case letters, digits, '-', '_' or '.', starting with a letter or digit, "
    "at most 100 characters"
)

# C0/C1 controls except tab and newline, plus bidi embedding/override/isolate marks
# (the directional marks LRM, RLM and ALM are allowed: they fix mixed-direction lines),
# and Unicode noncharacters (U+FDD0-FDEF, U+xFFFE/xFFFF: never text, and the bidi
# algorithm has no class for them)
_FORBIDDEN = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ufeff\ufdd0-\ufdef\ufffe\uffff"
    + "".join(f"{chr(p << 16 | 0xFFFE)}{chr(p << 16 | 0xFFFF)}" for p in range(1, 17))
    + "]"
)


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
                        "remove it (bidi overrides, control characters and noncharacters "
                        "are refused)",
                    )
                ]
            )
        return unicodedata.normalize("NFC", value)
    if isinstance(value, list):
        return [_clean_text(v, path, line, name) for v in value]
    return value


def parse_item(
    path: Path,
    queue_dir: Path,
    tz: ZoneInfo,
    check_image: bool = True,
    *,
    as_path: Path | None = None,
) -> Item:
    """Read and validate one queue file; raise ItemError listing every problem.

    `as_path` is where the file will live when `path` is a not-yet-published copy
    (`add` and `import` check exactly the bytes they are about to place there).
    """
    source, path = path, as_path or path
    slug = path.stem
    if not SLUG_RE.match(slug):
        raise ItemError(
            [Problem(path, None, None, f"file name must be a slug: {SLUG_RULE}; rename the file")]
        )
    size = source.stat().st_size
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
    raw = source.read_bytes()
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
    if publish_at is not None and not MIN_YEAR <= publish_at.year <= MAX_YEAR:
        # year 9999 in a zone west of UTC is past what a datetime can hold once in UTC
        raise ItemError(
            [
                Problem(
                    path,
                    _field_line(front, "publish_at", offset),
                    "publish_at",
                    f"year {publish_at.year} is out of range; use a date between "
                    f"{MIN_YEAR} and {MAX_YEAR}",
                )
            ]
        )

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
    try:
        return _checked_image(value, path, queue_dir, line, verify)
    except OSError as exc:  # a name too long, a NUL, a loop of links: this item's problem
        why = exc.strerror or type(exc).__name__
        raise ItemError(
            [Problem(path, line, "image", f"{value[:80]!r} cannot be read ({why}); fix the path")]
        ) from None
    except ValueError:  # e.g. an embedded NUL character
        raise ItemError(
            [Problem(path, line, "image", f"{value[:80]!r} is not a usable file path")]
        ) from None


def _checked_image(value: str, path: Path, queue_dir: Path, line: int | None, verify: bool) -> Path:
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
    for path in sorted(queue_dir.iterdir(), key=lambda p: p.name):  # one folder: by name
        name = path.name.lower()
        if name.startswith((".", "_")) or name in IGNORED_NAMES or not path.is_file():
            continue
        if path.suffix.lower() in IMAGE_SUFFIXES:
            continue
        yield path


def load_queue(
    queue_dir: Path,
    tz: ZoneInfo,
    check_images: bool = True,
    parse: Callable[[Path, Path, ZoneInfo, bool], Item] | None = None,
) -> QueueScan:
    """Every item of the queue; a bad file becomes problems, never an exception.

    `parse` stands in for parse_item, e.g. pipeline.queue_cache's memo of it.
    """
    parse = parse or parse_item
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
            scan.items.append(parse(path, queue_dir, tz, check_images))
        except ItemError as exc:
            scan.problems.extend(exc.problems)
        except OSError as exc:
            scan.problems.append(Problem(path, None, None, f"cannot read: {exc.strerror}"))
        except Exception as exc:  # a parser's surprise (e.g. nesting too deep) is this file's
            why = unexpected(
                exc, "reading this file", "check its syntax; simplify deeply nested values"
            )
            scan.problems.append(Problem(path, None, None, why))
    return scan


# -- writing new items ---------------------------------------------------------------


def slugify(text: str, max_words: int = 6, max_len: int = 80) -> str:
    """ASCII slug from text: 'Andrej Karpathy – I think' → 'andrej-karpathy-i-think'.

    Short enough that a '-2' suffix still makes a valid slug."""
    norm = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    words = re.findall(r"[a-z0-9]+", norm.lower())
    return "-".join(words[:max_words])[:max_len].strip("-") or "item"


def slug_problem(slug: str) -> str | None:
    """Why `slug` cannot name a queue file (None: it can): the loader's own rule."""
    if SLUG_RE.match(slug):
        return None
    return f"{slug!r} is not a valid slug; use {SLUG_RULE} (e.g. drucker-culture)"


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
    """Validate fields before writing them, so `add` and `import` never write a bad file.

    Surrounding whitespace is dropped first, at every door alike (a spreadsheet cell's
    stray tab and a shell argument's are the same thing)."""
    stripped = {k: _strip(v) for k, v in fields.items()}
    cleaned = {
        k: _clean_text(v, where, None, k) for k, v in stripped.items() if v not in (None, "", [])
    }
    try:
        return ItemFields.model_validate(cleaned)
    except ValidationError as exc:
        problems = []
        for e in exc.errors():
            msg = e["msg"].removeprefix("Value error, ")
            if e["type"] in ("missing", "string_too_short"):
                msg = "must not be empty"
            elif e["type"] == "extra_forbidden":
                msg = f"unknown field; known fields: {', '.join(ItemFields.model_fields)}"
            problems.append(Problem(where, None, str(e["loc"][0]) if e["loc"] else None, msg))
        raise ItemError(problems) from None


def _strip(value: Any) -> Any:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, list):
        return [v.strip() if isinstance(v, str) else v for v in value]
    return value


#: a last look at one item before it is placed in the queue: its problems (none: accept)
Vet = Callable[[Item], list[Problem]]


@dataclass(frozen=True)
class Placed:
    path: Path
    created: bool  # False: the same item was already in the queue under this name


def place_new_item(
    queue_dir: Path,
    fields: dict[str, Any],
    tz: ZoneInfo,
    slug: str | None = None,
    *,
    vet: Vet | None = None,
    reuse_same: bool = False,
) -> Placed:
    """Write a new queue file under a free slug; never overwrites, never half-written.

    The file is written to a hidden temporary name, read back by the queue loader
    (and `vet`, i.e. `check`'s per-item checks) exactly as the queue will read it,
    then linked into place: a link fails if the name was taken meanwhile, so two
    processes cannot both create it. With `reuse_same`, a name already holding the
    same item (same bytes, or same author and quote) is that item: concurrent imports
    of one CSV create it once, never as a '-2' copy.
    """
    where = queue_dir / f"{slug or '(new item)'}.toml"
    fields = {k: _strip(v) for k, v in fields.items()}
    validate_fields(fields, where)
    if slug is not None and (why := slug_problem(slug)):
        raise ItemError([Problem(where, None, "slug", why)])
    base = slug or slugify(f"{fields['author']} {fields['quote']}")
    text = to_toml(fields)
    data = text.encode("utf-8")
    queue_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".new-", suffix=".toml.tmp", dir=queue_dir)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        item = parse_item(tmp, queue_dir, tz, as_path=queue_dir / f"{base}.toml")
        problems = vet(item) if vet is not None else []
        if problems:
            raise ItemError(problems)
        key = (item.author, item.quote)
        n = 1
        while True:
            candidate = base if n == 1 else f"{base}-{n}"
            n += 1
            taken = [queue_dir / f"{candidate}{s}" for s in QUEUE_SUFFIXES]
            taken = [p for p in taken if p.exists()]
            if reuse_same and (same := _same_item(taken, data, key, queue_dir, tz)):
                return Placed(same, False)
            if taken:
                continue
            target = queue_dir / f"{candidate}.toml"
            try:
                os.link(tmp, target)  # atomic create: fails if another writer took the name
            except FileExistsError:
                if reuse_same and (same := _same_item([target], data, key, queue_dir, tz)):
                    return Placed(same, False)
                continue
            return Placed(target, True)
    finally:
        tmp.unlink(missing_ok=True)


def _same_item(
    paths: list[Path], data: bytes, key: tuple[str, str], queue_dir: Path, tz: ZoneInfo
) -> Path | None:
    """The first of `paths` holding the item we are about to write (content hash, or
    the same author and quote as import's duplicate rule)."""
    digest = hashlib.sha256(data).digest()
    for path in paths:
        try:
            if hashlib.sha256(path.read_bytes()).digest() == digest:
                return path
            other = parse_item(path, queue_dir, tz, check_image=False)
        except (ItemError, OSError):
            continue
        if (other.author, other.quote) == key:
            return path
    return None


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
            try:
                out[k] = int(v)
            except ValueError:
                raise ValueError(f"priority: {v!r} is not a whole number; use e.g. 1") from None
        else:
            out[k] = v
    return out


def import_csv(
    csv_path: Path, queue_dir: Path, tz: ZoneInfo, vet: Vet | None = None
) -> ImportReport:
    """Turn a spreadsheet export into queue files. Same CSV twice → nothing new.

    The slug comes from author and quote, so a row already imported is found by
    name and content and skipped, also when another import runs at the same time;
    refused rows are reported by row number (the header is row 1; a quoted cell
    spanning lines is one row). Cells are read by the csv module from the file
    itself, so line breaks inside quoted cells and Unicode line separators stay
    cell text.
    """
    report = ImportReport()
    try:
        csv_path.read_bytes().decode("utf-8-sig")  # refuse the whole file before writing
    except UnicodeDecodeError:
        raise ItemError(
            [Problem(csv_path, None, None, "not UTF-8; export the CSV as UTF-8")]
        ) from None
    existing = {(i.author, i.quote): i.path for i in load_queue(queue_dir, tz, False).items}
    with csv_path.open(encoding="utf-8-sig", newline="") as fh:
        _import_rows(csv.DictReader(fh), csv_path, queue_dir, tz, vet, existing, report)
    return report


def _import_rows(
    reader: csv.DictReader[str],
    csv_path: Path,
    queue_dir: Path,
    tz: ZoneInfo,
    vet: Vet | None,
    existing: dict[tuple[str, str], Path],
    report: ImportReport,
) -> None:
    rowno = 1
    rows = iter(reader)
    while True:
        rowno += 1
        try:
            row = next(rows)
        except StopIteration:
            return
        except csv.Error as exc:
            report.refused.append((rowno, f"unreadable CSV ({exc}); the rest is not imported"))
            return
        try:
            fields = _row_fields(row)
            if "publish_at" in fields:
                fields["publish_at"] = _iso_datetime(fields["publish_at"])
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
        try:
            placed = place_new_item(queue_dir, fields, tz, vet=vet, reuse_same=True)
        except ItemError as exc:
            report.refused.append((rowno, "; ".join(_short(p) for p in exc.problems)))
            continue
        existing[key] = placed.path
        if placed.created:
            report.created.append(placed.path)
        else:  # another import placed it a moment ago
            report.existing.append((rowno, placed.path))


def _iso_datetime(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"publish_at: {text!r} is not an ISO date-time; use e.g. 2026-12-01T09:00"
        ) from None


def _short(p: Problem) -> str:
    return f"{p.field}: {p.message}" if p.field else p.message
