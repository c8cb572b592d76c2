"""The decode entry points: `decode` (scan the input, run the fast path over windows of
whole lines, send the rest to the slow path, assemble batches) and the file readers
`decode_file_chunks` and `line_blocks`. It is the only module that knows the order of the
steps; it is not named `decode.py` because the package exports a function `decode`, and
`import fluxlab.model.lineprotocol.decode` would then resolve to that function."""

from __future__ import annotations

import gzip
import time as _time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import BinaryIO

import numpy as np

from fluxlab.model.lineprotocol.assemble import _build_batch
from fluxlab.model.lineprotocol.cut import _Bytes
from fluxlab.model.lineprotocol.errors import DecodeResult
from fluxlab.model.lineprotocol.fast import _decode_fast
from fluxlab.model.lineprotocol.frames import _Context, _Scan
from fluxlab.model.lineprotocol.scan import (
    _BAD,
    _FAST,
    _K_NL,
    _SKIP,
    _SLOW,
    _blank_invalid_utf8,
    _classify_lines,
    _delimiters,
    _line_bounds,
    _newlines,
)
from fluxlab.model.lineprotocol.slow import _decode_slow
from fluxlab.model.lineprotocol.syntax import LINE_COLUMN
from fluxlab.model.precision import Precision


def decode(
    data: bytes | str,
    *,
    precision: Precision | str = Precision.NS,
    default_time_ns: int | None = None,
    first_line: int = 1,
    source: str = "<input>",
    _fast: bool = True,
) -> DecodeResult:
    """Decode line protocol into one `PointBatch` per measurement plus line errors.

    Lines without a timestamp get `default_time_ns` (the current time if None).
    Batches carry an int64 `_line` column and their rows are in line order. Lines
    of one measurement may have different keys: columns are the union, null where
    absent. A line whose field type differs from an earlier line's is rejected.
    `_fast=False` forces the exact parser for every line (used by tests).
    """
    raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    raw, bad_utf8 = _blank_invalid_utf8(raw)
    scan = _scan(raw) if _fast and len(raw) < _WINDOW_BYTES * 3 // 2 else None
    newlines = _newlines(raw) if scan is None else scan.pos[scan.kind == _K_NL][:-1]
    starts, ends = _line_bounds(raw, newlines)
    ctx = _Context(
        raw=raw,
        starts=starts,
        ends=ends,
        precision=Precision.parse(precision),
        default_time_ns=_time.time_ns() if default_time_ns is None else default_time_ns,
        first_line=first_line,
        source=source,
        scan=scan,
    )
    for index, column in bad_utf8.items():
        ctx.error(first_line + index, column, ctx.text(index), "invalid UTF-8 in line: "
                  "the input must be UTF-8 encoded")
    kinds = _classify_lines(raw, starts, ends)
    kinds[list(bad_utf8)] = _BAD
    slow = np.flatnonzero(kinds == _SLOW)
    fast = np.flatnonzero(kinds == _FAST)
    if fast.size:
        slow = np.concatenate([slow, _decode_fast_windows(fast, ctx) if _fast else fast])
    _decode_slow(slow, ctx)
    batches = [_build_batch(m, frames, ctx) for m, frames in ctx.frames.items()]
    found = [b for b in batches if b is not None]
    found.sort(key=lambda b: b.table.column(LINE_COLUMN)[0].as_py())
    ctx.errors.sort(key=lambda e: e.line)
    skipped = int(np.count_nonzero(kinds == _SKIP))
    return DecodeResult(found, ctx.errors, len(starts), skipped)


_WINDOW_BYTES = 8 << 20


def _scan(raw: bytes) -> _Scan:
    """Scan a one-window input once: the newlines come from its delimiters."""
    src = _Bytes.of(raw)
    pos, kind = _delimiters(src.buf, len(raw))
    return _Scan(src, pos, kind)


def _decode_fast_windows(rows: np.ndarray, ctx: _Context) -> np.ndarray:
    """Run the fast path over windows of about `_WINDOW_BYTES` of whole lines.

    Its temporaries are several times the input size; windows keep them small
    (cache-friendly, bounded memory) whatever the size of the input. Windows are of
    even size (a reader's block plus a partial line is one window, not two), and a
    single window is the input itself, not a copy.
    """
    begin, count = 0, len(ctx.starts)
    windows = max(1, round(ctx.size / _WINDOW_BYTES))
    if windows == 1:
        return _decode_fast(rows, ctx)
    step = -(-ctx.size // windows)
    slow: list[np.ndarray] = []
    while begin < count:
        limit = int(ctx.starts[begin]) + step
        end = max(begin + 1, int(np.searchsorted(ctx.starts, limit)))
        low, high = np.searchsorted(rows, [begin, end])
        if high > low:
            first_byte, last_byte = int(ctx.starts[begin]), int(ctx.ends[end - 1])
            window = replace(
                ctx,
                raw=ctx.raw[first_byte:last_byte],
                starts=ctx.starts[begin:end] - first_byte,
                ends=ctx.ends[begin:end] - first_byte,
                first_line=ctx.first_line + begin,
                scan=None,
            )
            slow.append(_decode_fast(rows[low:high] - begin, window) + begin)
        begin = end
    return np.concatenate(slow) if slow else np.empty(0, np.int64)


def decode_file_chunks(
    path: str | Path,
    *,
    chunk_bytes: int = 16 * 1024 * 1024,
    precision: Precision | str = Precision.NS,
    default_time_ns: int | None = None,
    source: str | None = None,
) -> Iterator[DecodeResult]:
    """Decode a plain or gzip file in chunks cut at line boundaries (bounded memory).

    Line numbers continue across chunks; lines without a timestamp all get the same
    default time (taken once, at the start).
    """
    path = Path(path)
    default = _time.time_ns() if default_time_ns is None else default_time_ns
    name = str(path) if source is None else source
    line_no = 1
    for chunk in _read_line_chunks(path, chunk_bytes):
        result = decode(
            chunk, precision=precision, default_time_ns=default, first_line=line_no, source=name
        )
        line_no += result.lines_read
        yield result


def _read_line_chunks(path: Path, chunk_bytes: int) -> Iterator[bytes]:
    """Blocks of a plain or gzip file, cut at newlines (see `line_blocks`)."""
    with path.open("rb") as probe:
        gzipped = probe.read(2) == b"\x1f\x8b"
    opener = gzip.open if gzipped else open
    with opener(path, "rb") as handle:
        yield from line_blocks(handle, chunk_bytes)


def line_blocks(stream: BinaryIO, chunk_bytes: int) -> Iterator[bytes]:
    """Blocks of about `chunk_bytes` ending at a newline (a longer line is one block)."""
    carry = b""
    while block := stream.read(chunk_bytes):
        cut = block.rfind(b"\n")
        if cut < 0:
            carry += block
            continue
        if cut + 1 == len(block) and not carry:
            yield block
        else:  # one copy: the carried partial line and the block up to its last newline
            yield b"".join((carry, memoryview(block)[: cut + 1]))
        carry = block[cut + 1 :]
    if carry:
        yield carry
