"""Line protocol files (plain or gzip) → points, via the vectorized model.lineprotocol decoder.

The file is cut into blocks at line boundaries and each block is decoded with the
right first line number, so memory stays bounded and errors keep exact lines.
"""

from __future__ import annotations

from collections.abc import Iterator

from fluxlab.ingest.readers.base import ReadChunk
from fluxlab.ingest.rejects import make_rejects
from fluxlab.ingest.sources import OpenedSource
from fluxlab.model.lineprotocol import DecodeResult, decode, line_blocks
from fluxlab.model.precision import Precision

DEFAULT_CHUNK_BYTES = 8 << 20


def read_line_protocol(
    opened: OpenedSource,
    *,
    source: str,
    precision: Precision,
    now_ns: int,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
) -> Iterator[ReadChunk]:
    line_no = 1
    for block in line_blocks(opened.stream, chunk_bytes):
        result = decode(
            block, precision=precision, default_time_ns=now_ns, first_line=line_no, source=source
        )
        line_no += result.lines_read
        yield _chunk(result, source, opened.bytes_read)


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
