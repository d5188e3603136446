"""Atomic file writes: a reader never sees half a file."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def atomic_write(path: Path, data: bytes, mode: int = 0o644, *, durable: bool = True) -> None:
    """Write to a temp file in the same folder, fsync, then rename over `path`.

    mkstemp creates 0600 files; `mode` makes them readable like any other file
    (a web server must be able to serve the bio site as synced). `durable=False` skips
    the fsync, for caches whose reader treats a damaged file as a miss.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _synced_temp(path, data, mode, durable)
    try:
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _synced_temp(path: Path, data: bytes, mode: int, durable: bool = True) -> str:
    """`data` in a hidden, fsynced temp file beside `path` (same file system, so it can be
    renamed or linked into place); removed again if writing it fails."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            if durable:
                os.fsync(fh.fileno())
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return tmp


def create_new(path: Path, data: bytes, mode: int = 0o644) -> bool:
    """Create `path` with `data` all at once, never replacing anything already there.

    Returns False if `path` exists (a dangling symlink counts: nothing is written through
    it). The data goes to a temp file first and is hard-linked into place, which fails
    rather than overwrites; on any error nothing is left behind, so running again works.
    """
    if os.path.lexists(path):
        return False
    tmp = _synced_temp(path, data, mode)
    try:
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        except OSError:  # a file system without hard links: rename, after a last look
            if os.path.lexists(path):
                return False
            os.replace(tmp, path)
        return True
    finally:
        Path(tmp).unlink(missing_ok=True)  # linked or refused: the temp name goes
