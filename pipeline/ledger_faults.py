"""Ledger faults a person must see as one line: a damaged file, a full or read-only disk,
an unusable ledger URL, a database server that went away.

Why a module of its own: the ledger is the memory of what went out. A ledger that cannot be
read must never be replaced by an empty one (every item would be posted again), and a ledger
that stops accepting writes must stop the pass, saying what was already posted.
"""

from __future__ import annotations

import errno
from pathlib import Path

from pipeline.errors import QuotecastError

SQLITE_MAGIC = b"SQLite format 3\x00"
#: OSErrors that mean the data folder's disk cannot take writes (not one bad file)
DISK_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO})
#: written beside a new SQLite ledger: the folder had a ledger, whatever its targets
MADE_MARKER = ".ledger-made"
#: what in a data folder shows that it had a ledger before (a dry run writes only cards)
POSTED_SIGNS = (MADE_MARKER, "outbox", "ledger.sqlite3-wal", "ledger.sqlite3-journal")


class LedgerFault(QuotecastError):
    """The ledger cannot be opened, read or written; nothing more is posted until fixed."""

    exit_code = 2


def _restore_hint(path: Path) -> str:
    return (
        f"restore {path.name} from a backup; quotecast will not start a new ledger over it "
        "(that would post every item again)"
    )


def check_sqlite_file(path: Path) -> bool:
    """Whether the ledger file exists; refuse one that is not a whole SQLite database, or a
    missing one in a data folder that was already used for posting.

    A new ledger is created whole and then moved in place, so an existing file is never
    legitimately empty.
    """
    data_dir = path.parent
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        signs = [name for name in POSTED_SIGNS if _non_empty(data_dir / name)]
        if signs:
            raise LedgerFault(
                f"{path}: the ledger is missing, but {data_dir} had one ({', '.join(signs)} "
                f"are there); {_restore_hint(path)}, or move {data_dir} aside to start afresh"
            ) from None
        return False
    if size == 0:
        raise LedgerFault(f"{path}: the ledger file is empty (0 bytes); {_restore_hint(path)}")
    with path.open("rb") as fh:
        header = fh.read(100)
    if len(header) < 100 or not header.startswith(SQLITE_MAGIC):
        raise LedgerFault(
            f"{path}: not an SQLite database (damaged or overwritten); {_restore_hint(path)}"
        )
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(header[28:32], "big")
    pages_valid = header[24:28] == header[92:96]  # "in-header database size" is current
    # with a write-ahead log, a checkpoint cut short (crash, full disk) may leave the file
    # shorter than its header says; SQLite completes it from the log, which quick_check reads
    if pages_valid and pages and size < pages * page_size and not _non_empty(_wal(path)):
        raise LedgerFault(
            f"{path}: the ledger file is truncated ({size:,} of {pages * page_size:,} bytes); "
            f"{_restore_hint(path)}"
        )
    return True


def _wal(path: Path) -> Path:
    return path.with_name(path.name + "-wal")


def _non_empty(path: Path) -> bool:
    try:
        if path.is_dir():
            return any(path.iterdir())
        return path.is_file() and path.stat().st_size > 0
    except OSError:
        return False


def shown_url(url: str) -> str:
    """A ledger URL fit to print: the password hidden, or nothing if it cannot be parsed."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "(unparseable)"


def describe(exc: BaseException) -> str | None:
    """One line for a ledger fault raised by SQLAlchemy/the driver or the disk; None if `exc`
    is not one. Never quotes SQL parameters (they may hold captions) nor a URL's password."""
    from sqlalchemy import exc as sa

    if isinstance(exc, LedgerFault):
        return str(exc)
    if isinstance(exc, OSError):
        return _disk_line(exc.errno, exc.strerror or type(exc).__name__, exc.filename)
    if not isinstance(exc, sa.SQLAlchemyError):
        return None
    orig = getattr(exc, "orig", None)
    text = " ".join(str(orig if orig is not None else exc).split())[:200]
    low = text.lower()
    if "disk is full" in low or "no space" in low:
        return _disk_line(errno.ENOSPC, "database or disk is full", None)
    if "readonly" in low or "read-only" in low:
        return _disk_line(errno.EROFS, "the ledger is read-only", None)
    if "malformed" in low or "not a database" in low or "disk i/o" in low:
        return f"the ledger is damaged ({text}); restore it from a backup"
    if isinstance(exc, sa.OperationalError | sa.InterfaceError) or (
        isinstance(exc, sa.DBAPIError) and exc.connection_invalidated
    ):
        return (
            f"the ledger database cannot be reached ({text.split(chr(10))[0]}); check that the "
            "database server is running and QUOTECAST_LEDGER_URL, then run again"
        )
    return f"the ledger failed: {type(orig or exc).__name__}: {text}"


def _disk_line(code: int | None, what: str, filename: object) -> str:
    where = f"{filename}: " if filename else ""
    if code in (errno.ENOSPC, errno.EDQUOT):
        return f"{where}{what}: the disk is full; free some space, then run again"
    if code in (errno.EROFS, errno.EACCES, errno.EPERM):
        return (
            f"{where}{what}: cannot write there (read-only or no permission); make the data "
            "folder and the ledger writable, then run again"
        )
    return f"{where}{what}; check that the data folder exists and is writable"
