"""Byte-level scans of the raw input done once per decode: blanking lines that are not
UTF-8, finding newlines and line bounds, classifying lines (skip, fast candidate, slow,
bad), and locating every delimiter byte with its kind code. Both paths build on these
offsets, so they sit below the fast and slow paths rather than inside either."""

from __future__ import annotations

import numpy as np

_NL, _SP, _COMMA, _EQ, _QUOTE, _BSLASH = 10, 32, 44, 61, 34, 92
_CLASS_TABLE = bytes(
    {_NL: 1, _SP: 2, _COMMA: 3, _EQ: 4, _QUOTE: 5, _BSLASH: 6}.get(i, 0) for i in range(256)
)
_CLASS_CODES = np.frombuffer(_CLASS_TABLE, np.uint8)
_K_NL, _K_SP, _K_COMMA, _K_EQ, _K_QUOTE, _K_BSLASH = 1, 2, 3, 4, 5, 6


def _blank_invalid_utf8(raw: bytes) -> tuple[bytes, dict[int, int]]:
    """Overwrite lines that are not UTF-8 with spaces; return their 0-based bad column.

    Blanked lines are reported as errors and kept out of both parsers, so every
    string the vectorized path builds is valid UTF-8.
    """
    if raw.isascii():
        return raw, {}
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        return raw, {}
    bad: dict[int, int] = {}
    parts = raw.split(b"\n")
    for index, part in enumerate(parts):
        try:
            part.decode("utf-8")
        except UnicodeDecodeError as exc:
            bad[index] = len(part[: exc.start].decode("utf-8", errors="replace"))
            parts[index] = b" " * len(part)
    return b"\n".join(parts), bad


_SCAN_BLOCK = 1 << 18
"""Bytes compared per step: the masks stay in cache and NumPy releases the GIL."""


def _delimiters(buf: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Offsets and kind codes of every byte of `buf[:size]` that can delimit (newline,
    space, comma, equals sign, double quote, backslash), then a closing newline at
    `size` (a window ends right after its last line's text).

    `buf` must extend past `size` (the padded window). Comparisons run a cache-sized
    block at a time, so the scan releases the GIL and its temporaries stay small.
    """
    found: list[np.ndarray] = []
    hit = np.empty(min(size, _SCAN_BLOCK), np.bool_)
    tmp = np.empty_like(hit)
    for at in range(0, size, _SCAN_BLOCK):
        block = buf[at : min(size, at + _SCAN_BLOCK)]
        mask, scratch = hit[: len(block)], tmp[: len(block)]
        np.equal(block, _NL, out=mask)
        for byte in (_SP, _COMMA, _EQ, _QUOTE, _BSLASH):
            np.equal(block, byte, out=scratch)
            mask |= scratch
        found.append(np.flatnonzero(mask) + at)
    found.append(np.array([size], np.int64))
    pos = np.concatenate(found)
    kind = _CLASS_CODES[buf[pos]]
    kind[-1] = _K_NL
    return pos, kind


def _newlines(raw: bytes, block: int = 4 << 20) -> np.ndarray:
    """Offsets of every newline, scanned a few MiB at a time (cache-sized temporaries)."""
    buf = np.frombuffer(raw, np.uint8)
    found = [np.flatnonzero(buf[at : at + block] == _NL) + at for at in range(0, len(buf), block)]
    return np.concatenate(found) if found else np.empty(0, np.int64)


def _line_bounds(raw: bytes, newlines: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end byte offsets of every line (end excludes the newline and a CR).

    A final newline ends the last line rather than starting an empty one.
    """
    buf = np.frombuffer(raw, np.uint8)
    ends = newlines if raw.endswith(b"\n") else np.append(newlines, len(raw))
    if not raw:
        ends = np.empty(0, np.int64)
    starts = np.empty(len(ends), np.int64)
    if len(ends):
        starts[0] = 0
        starts[1:] = ends[:-1] + 1
    ends = ends.astype(np.int64)
    has_cr = (ends > starts) & (buf[np.maximum(ends - 1, 0)] == ord("\r"))
    return starts, ends - has_cr


_SKIP, _FAST, _SLOW, _BAD = 0, 1, 2, 3


def _classify_lines(raw: bytes, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Per line: skip (blank or comment), fast candidate or slow (leading whitespace)."""
    buf = np.frombuffer(raw, np.uint8)
    kinds = np.full(len(starts), _FAST, np.int8)
    empty = ends <= starts
    first = buf[np.minimum(starts, max(len(buf) - 1, 0))] if len(buf) else np.zeros(0, np.uint8)
    kinds[empty] = _SKIP
    kinds[~empty & (first == ord("#"))] = _SKIP
    indented = ~empty & ((first == ord(" ")) | (first == ord("\t")))
    for index in np.flatnonzero(indented):
        stripped = raw[starts[index] : ends[index]].lstrip(b" \t")
        kinds[index] = _SKIP if not stripped or stripped.startswith(b"#") else _SLOW
    return kinds
