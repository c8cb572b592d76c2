"""Line protocol files (plain or gzip) → points, via the vectorized model.lineprotocol decoder.

The file is cut into blocks at line boundaries and each block is decoded with the
right first line number, so memory stays bounded and errors keep exact lines.
Blocks are decoded by a small thread pool: the decoder spends its time in NumPy,
Polars and Arrow kernels that release the GIL, so two blocks decode at once (and
alongside the store's write). Results come back in input order and at most
`workers + 1` blocks are in flight, so memory stays a few blocks whatever the file size.
"""

from __future__ import annotations

from collections.abc import Iterator

from fluxlab.ingest.prefetch import ordered_map
from fluxlab.ingest.readers.base import ReadChunk
from fluxlab.ingest.rejects import make_rejects
from fluxlab.ingest.sources import OpenedSource
from fluxlab.model.lineprotocol import DecodeResult, decode, line_blocks
from fluxlab.model.precision import Precision

DEFAULT_CHUNK_BYTES = 8 << 20
DECODE_WORKERS = 2
"""Blocks decoded at once: one per core of a small machine (the store's write overlaps)."""


def read_line_protocol(
    opened: OpenedSource,
    *,
    source: str,
    precision: Precision,
    now_ns: int,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    workers: int = DECODE_WORKERS,
) -> Iterator[ReadChunk]:
    """Decoded chunks of the file, in order (see the module docstring)."""

    def numbered() -> Iterator[tuple[bytes, int, int, int]]:
        line_no = 1
        for block in line_blocks(opened.stream, chunk_bytes):
            lines = _line_count(block)
            yield block, line_no, lines, opened.bytes_read
            line_no += lines

    def work(item: tuple[bytes, int, int, int]) -> ReadChunk:
        block, first_line, lines, bytes_read = item
        result = decode(
            block, precision=precision, default_time_ns=now_ns, first_line=first_line,
            source=source,
        )
        if result.lines_read != lines:  # the decoder and `_line_count` must agree
            raise AssertionError(f"{source}: block line count {lines} != {result.lines_read}")
        return _chunk(result, source, bytes_read)

    yield from ordered_map(work, numbered(), workers=max(1, workers), ahead=workers + 1,
                           name="fluxlab-lp-decode")


def _line_count(block: bytes) -> int:
    """Lines in a block as the decoder counts them (a final line may lack its newline);
    known before decoding, so the next block can start with the right line number."""
    return block.count(b"\n") + (0 if not block or block.endswith(b"\n") else 1)


def _chunk(result: DecodeResult, source: str, bytes_read: int) -> ReadChunk:
    errors = result.errors
    rejects = make_rejects(
        source,
        [e.line for e in errors],
        [f"char {e.column}" for e in errors],
        [None] * len(errors),
        [e.message for e in errors],
        [e.text for e in errors],
    )
    return ReadChunk(result.batches, rejects, [], result.lines_skipped, bytes_read)
