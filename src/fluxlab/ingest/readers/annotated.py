"""Annotated CSV (`influx write --format csv`, Flux query output) → points.

Annotation and header rows are few and read line by line; data rows of each table
stream through Arrow's CSV parser in blocks (see ingest.segments and
ingest.annotations for the rules).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from fluxlab.ingest.annotations import TableSpec, split_row
from fluxlab.ingest.csvblocks import DEFAULT_BLOCK_SIZE, CsvBlock, iter_csv_blocks
from fluxlab.ingest.prefetch import TRANSFORM_WORKERS, ordered_map
from fluxlab.ingest.readers.base import ReadChunk, planned_chunk
from fluxlab.ingest.segments import LookaheadStream, SegmentStream
from fluxlab.ingest.sources import OpenedSource


def read_annotated_csv(
    opened: OpenedSource,
    *,
    source: str,
    precision_ns: int = 1,
    now_ns: int | None = None,
    block_size: int = DEFAULT_BLOCK_SIZE,
) -> Iterator[ReadChunk]:
    """Stream the tables of an annotated CSV file."""
    look = LookaheadStream(opened.stream)
    delimiter = _read_separator(look)
    now = time.time_ns() if now_ns is None else now_ns
    table: TableSpec | None = None
    spec = TableSpec(source, precision_ns, now)
    while not look.at_eof:
        pending = spec if table is None else table.new_table()
        skipped: list[int] = []
        saw_column_annotation = False
        while look.peek_byte() == b"#":
            line = look.lines_consumed + 1
            row = split_row(_decode(look.readline()), delimiter)
            before = pending.has_column_annotations
            if not pending.add_annotation(row, line):
                skipped.append(line)
            saw_column_annotation |= pending.has_column_annotations and not before
        if table is not None and not saw_column_annotation:
            _carry_table_annotations(table, pending)  # same table continues, no header
        else:
            skipped.extend(_skip_blank_lines(look))
            if look.at_eof:
                yield ReadChunk([], skipped_lines=skipped, bytes_read=opened.bytes_read)
                return
            labels = split_row(_decode(look.readline()), delimiter)
            pending.set_header(labels)
            table = pending
        if skipped:
            yield ReadChunk([], skipped_lines=skipped, bytes_read=opened.bytes_read)
        yield from _read_table_data(look, table, delimiter, block_size, opened)


def _carry_table_annotations(table: TableSpec, pending: TableSpec) -> None:
    table.constants.extend(pending.constants)
    table.timezone = pending.timezone


def _read_table_data(
    look: LookaheadStream,
    table: TableSpec,
    delimiter: str,
    block_size: int,
    opened: OpenedSource,
) -> Iterator[ReadChunk]:
    width = max(len(table.columns), 1)
    raw_names = [f"c{i}" for i in range(width)]
    first_line = look.lines_consumed + 1
    if look.at_eof or look.peek_byte() in (b"", b"#"):
        return
    blocks = iter_csv_blocks(
        SegmentStream(look),  # type: ignore[arg-type]
        source=table.source,
        header=raw_names,
        first_line=first_line,
        delimiter=delimiter,
        block_size=block_size,
        bytes_read=lambda: opened.bytes_read,
    )

    def transform(block: CsvBlock) -> ReadChunk:
        plan = table.row_plan(raw_names, block.batch)
        plan.delimiter = delimiter
        return planned_chunk(block, plan, table.source)

    yield from ordered_map(transform, blocks, workers=TRANSFORM_WORKERS)


def _read_separator(look: LookaheadStream) -> str:
    """An Excel-style first line `sep=;` sets the delimiter."""
    if look.peek(4) != b"sep=":
        return ","
    line = look.readline()
    text = _decode(line).strip()
    if text.startswith("sep=") and len(text) == 5:
        return text[4]
    raise ValueError(f"unexpected first line {text!r}: annotated CSV starts with '#' rows or a header")


def _skip_blank_lines(look: LookaheadStream) -> list[int]:
    skipped = []
    while look.peek_byte() in (b"\n", b"\r"):
        line = look.lines_consumed + 1
        look.readline()
        skipped.append(line)
    return skipped


def _decode(line: bytes) -> str:
    return line.decode("utf-8-sig").rstrip("\r\n")
