"""Which code points a font file maps to a glyph, read from its `cmap` table.

Pillow cannot tell whether a font has a glyph (a missing one silently becomes
.notdef, the "tofu" box), so fallback and the missing-glyph error need this.
Only the two subtable formats that carry Unicode in practice are read:
format 4 (BMP segments) and format 12 (full-range groups).
"""

from __future__ import annotations

import struct
from bisect import bisect_right
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

# (platform, encoding, format) in order of preference: full repertoire first
_PREFERRED = ((3, 10, 12), (0, 4, 12), (0, 6, 12), (3, 1, 4), (0, 3, 4), (0, 2, 4), (0, 1, 4))


@dataclass(frozen=True)
class Coverage:
    """Sorted, disjoint, inclusive code-point ranges with a glyph."""

    starts: tuple[int, ...]
    ends: tuple[int, ...]

    def __contains__(self, cp: object) -> bool:
        if not isinstance(cp, int):
            return False
        i = bisect_right(self.starts, cp) - 1
        return i >= 0 and cp <= self.ends[i]

    def covers(self, text: str) -> bool:
        return all(ord(ch) in self for ch in text)


def _read(fh: BinaryIO, offset: int, length: int) -> bytes:
    fh.seek(offset)
    data = fh.read(length)
    if len(data) != length:
        raise ValueError("truncated font file")
    return data


def _face_offset(fh: BinaryIO, index: int) -> int:
    head = _read(fh, 0, 12)
    if head[:4] != b"ttcf":
        return 0
    count = struct.unpack(">I", head[8:12])[0]
    if not 0 <= index < count:
        raise ValueError(f"collection has {count} faces, no index {index}")
    return int(struct.unpack(">I", _read(fh, 12 + 4 * index, 4))[0])


def _cmap_bytes(fh: BinaryIO, face: int) -> bytes:
    num_tables = struct.unpack(">H", _read(fh, face + 4, 2))[0]
    records = _read(fh, face + 12, 16 * num_tables)
    for i in range(num_tables):
        tag, _checksum, offset, length = struct.unpack(">4sIII", records[16 * i : 16 * i + 16])
        if tag == b"cmap":
            return _read(fh, offset, length)
    raise ValueError("font has no cmap table")


def _format4(sub: bytes) -> list[tuple[int, int]]:
    seg_count = struct.unpack(">H", sub[6:8])[0] // 2
    ends = struct.unpack(f">{seg_count}H", sub[14 : 14 + 2 * seg_count])
    base = 16 + 2 * seg_count
    starts = struct.unpack(f">{seg_count}H", sub[base : base + 2 * seg_count])
    deltas = struct.unpack(f">{seg_count}h", sub[base + 2 * seg_count : base + 4 * seg_count])
    ro_base = base + 4 * seg_count
    range_offsets = struct.unpack(f">{seg_count}H", sub[ro_base : ro_base + 2 * seg_count])
    out: list[tuple[int, int]] = []
    for i in range(seg_count):
        start, end, delta, ro = starts[i], ends[i], deltas[i], range_offsets[i]
        if start == 0xFFFF:
            continue
        if ro == 0:
            # glyph = (cp + delta) mod 65536; only one code point can map to glyph 0
            hole = (-delta) % 0x10000
            if start <= hole <= end:
                if start < hole:
                    out.append((start, hole - 1))
                if hole < end:
                    out.append((hole + 1, end))
            else:
                out.append((start, end))
            continue
        for cp in range(start, end + 1):
            at = ro_base + 2 * i + ro + 2 * (cp - start)
            if at + 2 > len(sub):
                break
            glyph = struct.unpack(">H", sub[at : at + 2])[0]
            if glyph and (glyph + delta) % 0x10000:
                out.append((cp, cp))
    return out


def _format12(sub: bytes) -> list[tuple[int, int]]:
    groups = struct.unpack(">I", sub[12:16])[0]
    out: list[tuple[int, int]] = []
    for g in range(groups):
        start, end, glyph = struct.unpack(">III", sub[16 + 12 * g : 28 + 12 * g])
        if glyph == 0:
            start += 1
        if start <= end:
            out.append((start, end))
    return out


def _merge(ranges: list[tuple[int, int]]) -> Coverage:
    ranges.sort()
    starts: list[int] = []
    ends: list[int] = []
    for start, end in ranges:
        if ends and start <= ends[-1] + 1:
            ends[-1] = max(ends[-1], end)
        else:
            starts.append(start)
            ends.append(end)
    return Coverage(tuple(starts), tuple(ends))


def read_coverage(path: Path, index: int = 0) -> Coverage:
    """Code points with a real glyph in face `index` of a .ttf/.otf/.ttc file."""
    with path.open("rb") as fh:
        face = _face_offset(fh, index)
        cmap = _cmap_bytes(fh, face)
    count = struct.unpack(">H", cmap[2:4])[0]
    found: dict[tuple[int, int, int], bytes] = {}
    for i in range(count):
        platform, encoding, offset = struct.unpack(">HHI", cmap[4 + 8 * i : 12 + 8 * i])
        fmt = struct.unpack(">H", cmap[offset : offset + 2])[0]
        if fmt == 4:
            length = struct.unpack(">H", cmap[offset + 2 : offset + 4])[0]
        elif fmt == 12:
            length = struct.unpack(">I", cmap[offset + 4 : offset + 8])[0]
        else:
            continue
        found[(platform, encoding, fmt)] = cmap[offset : offset + length]
    for key in _PREFERRED:
        if key in found:
            sub = found[key]
            return _merge(_format12(sub) if key[2] == 12 else _format4(sub))
    raise ValueError("font has no Unicode cmap subtable")
