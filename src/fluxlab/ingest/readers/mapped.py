"""Generic CSV + mapping file → points (see ingest.mapping for the mapping format)."""

from __future__ import annotations

from collections.abc import Iterator

from fluxlab.ingest.csvblocks import DEFAULT_BLOCK_SIZE, iter_csv_blocks, read_header
from fluxlab.ingest.mapping import Mapping
from fluxlab.ingest.prefetch import TRANSFORM_WORKERS, ordered_map
from fluxlab.ingest.readers.base import ReadChunk, planned_chunk
from fluxlab.ingest.sources import OpenedSource


def read_mapped_csv(
    opened: OpenedSource,
    mapping: Mapping,
    *,
    source: str,
    block_size: int = DEFAULT_BLOCK_SIZE,
) -> Iterator[ReadChunk]:
    """Stream `opened` in blocks; the header is checked against the mapping first."""
    stream = opened.stream
    for _ in range(mapping.skip_lines):
        stream.readline()
    header = read_header(stream, mapping.delimiter, source)
    mapping.validate_header(header, source)
    plan = mapping.row_plan(header)
    blocks = iter_csv_blocks(
        stream,
        source=source,
        header=header,
        first_line=mapping.skip_lines + 2,
        delimiter=mapping.delimiter,
        block_size=block_size,
        bytes_read=lambda: opened.bytes_read,
    )
    yield from ordered_map(lambda block: planned_chunk(block, plan, source), blocks,
                           workers=TRANSFORM_WORKERS)
