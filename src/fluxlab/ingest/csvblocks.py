"""Streaming CSV parsing into all-string blocks that know their physical line numbers.

Arrow's streaming CSV reader is fast but does not say which line a row came from.
We need exact lines for every reject, so each block gets an `_line` column:

* the input is cut into pieces of whole records (csvsplit) that Arrow parses
  single-threaded (so its invalid-row callback reports record numbers) in a
  background thread, overlapping parsing with our transforms;
* rows with the wrong number of columns are skipped by Arrow and reported to us
  with their record number; valid rows are renumbered around them;
* quoted values spanning several lines shift all later line numbers, so records
  holding newlines are remembered (checked per column on the raw value bytes, so
  files without such values pay almost nothing).

Blank lines arrive as rows whose values are all empty; readers count them as skipped.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from fluxlab.ingest.csvsplit import record_end
from fluxlab.ingest.prefetch import prefetch
from fluxlab.ingest.rejects import make_rejects

LINE_COLUMN = "_line"
DEFAULT_BLOCK_SIZE = 4 << 20
"""Bytes of CSV per block handed to the transforms (~35K Hartford rows): their working
set is many times the block; 8 MiB blocks cost ~70 MB more peak RSS and no less CPU."""
READ_BLOCK_SIZE = 2 << 20
"""Bytes Arrow parses at a time. Its streaming reader reads up to 32 blocks ahead in a
background thread, so the block size it is given bounds memory (8 MiB blocks held
~400 MB); blocks of `block_size` for the transforms are glued from these parsed pieces."""


class CsvHeaderError(ValueError):
    """The input has no usable header row."""


@dataclass
class CsvBlock:
    """One parsed block: all-string Arrow columns, their physical lines, rows rejected for shape.

    Columns stay in Arrow so callers convert only the ones they use to Polars.
    """

    batch: pa.RecordBatch
    lines: np.ndarray
    bad_rows: pa.Table
    bytes_read: int


def read_header(stream: BinaryIO, delimiter: str, source: str) -> list[str]:
    """Consume and parse the header line (the caller already skipped what precedes it)."""
    line = stream.readline()
    if not line.strip():
        raise CsvHeaderError(f"{source}: no header row found (the input is empty)")
    text = line.decode("utf-8-sig").rstrip("\r\n")
    if "\r" in text:
        raise CsvHeaderError(
            f"{source}: line 1 holds a bare carriage return: the lines end in CR alone (old "
            "Mac format); convert the file to LF or CRLF line endings (e.g. `tr '\\r' '\\n'`)"
        )
    names = next(csv.reader([text], delimiter=delimiter))
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise CsvHeaderError(f"{source}: header repeats column names {dupes}; rename them")
    return names


class _Renumberer:
    """Maps the n-th valid record to its physical line (see module docstring)."""

    def __init__(self, first_line: int) -> None:
        self.first_line = first_line  # physical line of record 1
        self.invalid: list[tuple[int, str]] = []  # (record, text) not yet reported
        self._invalid_records: list[int] = []  # every invalid record seen so far
        self.valid_seen = 0
        self._nl_records = np.empty(0, np.int64)  # records holding embedded newlines
        self._nl_counts = np.empty(0, np.int64)
        self._invalid_sorted = np.empty(0, np.int64)
        self.records_total = 0  # records (valid and invalid) of the pieces parsed so far

    def handler(self, offset: int) -> Callable[[pacsv.InvalidRow], str]:
        """Arrow's invalid-row callback for a reader whose record 1 is record offset + 1."""

        def on_invalid(row: pacsv.InvalidRow) -> str:
            record = offset + int(row.number or 0)
            self.invalid.append((record, row.text))
            self._invalid_records.append(record)
            return "skip"

        return on_invalid

    @property
    def invalid_count(self) -> int:
        return len(self._invalid_records)

    def records_for_batch(self, n: int) -> np.ndarray:
        """True record numbers of the next n valid rows."""
        self._invalid_sorted = np.array(sorted(self._invalid_records), np.int64)
        ordinal = np.arange(self.valid_seen + 1, self.valid_seen + n + 1, dtype=np.int64)
        self.valid_seen += n
        if self._invalid_sorted.size == 0:
            return ordinal
        thresholds = self._invalid_sorted - np.arange(self._invalid_sorted.size)
        return ordinal + np.searchsorted(thresholds, ordinal, side="right")

    def note_newlines(self, records: np.ndarray, counts: np.ndarray) -> None:
        keep = counts > 0
        if keep.any():
            self._nl_records = np.concatenate([self._nl_records, records[keep]])
            self._nl_counts = np.concatenate([self._nl_counts, counts[keep]])
            order = np.argsort(self._nl_records, kind="stable")
            self._nl_records = self._nl_records[order]
            self._nl_counts = self._nl_counts[order]

    def lines(self, records: np.ndarray) -> np.ndarray:
        base = records + (self.first_line - 1)
        if self._nl_records.size == 0:
            return base
        cumulative = np.concatenate([[0], np.cumsum(self._nl_counts)])
        return base + cumulative[np.searchsorted(self._nl_records, records, side="left")]

    def take_invalid(self, below_record: int | None) -> list[tuple[int, int, str]]:
        """Invalid rows with record < below_record (all if None) as (record, line, text)."""
        ready = [(s, t) for s, t in self.invalid if below_record is None or s < below_record]
        if not ready:
            return []
        self.invalid = [(s, t) for s, t in self.invalid if below_record is not None and s >= below_record]
        for s, text in ready:
            count = text.count("\n")
            if count:
                self.note_newlines(np.array([s]), np.array([count]))
        return [(s, int(self.lines(np.array([s]))[0]), t) for s, t in ready]


def _newline_counts(batch: pa.RecordBatch) -> np.ndarray | None:
    """Embedded newlines per row, or None when no value holds one (the common case)."""
    total: np.ndarray | None = None
    for column in batch.columns:
        data = column.buffers()[2]
        if data is None or not np.any(np.frombuffer(data, np.uint8) == 10):
            continue
        counts = pc.fill_null(pc.count_substring(column, "\n"), 0).to_numpy()
        total = counts.astype(np.int64) if total is None else total + counts
    return total


def iter_csv_blocks(
    stream: BinaryIO,
    *,
    source: str,
    header: list[str],
    first_line: int,
    delimiter: str = ",",
    block_size: int = DEFAULT_BLOCK_SIZE,
    bytes_read: Callable[[], int] | None = None,
) -> Iterator[CsvBlock]:
    """Parse `stream` (positioned after the header) into string blocks with `_line`.

    `first_line` is the physical line number of the first data row.
    """
    read_size = min(block_size, READ_BLOCK_SIZE)
    group = max(1, block_size // read_size)
    pieces = _parsed_pieces(stream, source=source, header=header, first_line=first_line,
                            delimiter=delimiter, read_size=read_size, prefetch_depth=2 * group,
                            bytes_read=bytes_read)
    pending: list[CsvBlock] = []
    for piece in pieces:
        pending.append(piece)
        if len(pending) >= group:
            yield _glued(pending)
            pending = []
    if pending:
        yield _glued(pending)


def _glued(pieces: list[CsvBlock]) -> CsvBlock:
    """One block from consecutive parsed pieces (their rows, lines and shape rejects)."""
    if len(pieces) == 1:
        return pieces[0]
    batches = [p.batch for p in pieces if p.batch.num_rows] or [pieces[0].batch]
    return CsvBlock(
        pa.concat_batches(batches),
        np.concatenate([p.lines for p in pieces]),
        pa.concat_tables([p.bad_rows for p in pieces]),
        pieces[-1].bytes_read,
    )


def _parsed_pieces(
    stream: BinaryIO,
    *,
    source: str,
    header: list[str],
    first_line: int,
    delimiter: str,
    read_size: int,
    prefetch_depth: int,
    bytes_read: Callable[[], int] | None,
) -> Iterator[CsvBlock]:
    """Arrow's parsed batches of `read_size` bytes, each with its lines and shape rejects."""
    renumber = _Renumberer(first_line)
    batches = _arrow_batches(stream, header, delimiter, read_size, renumber)
    expected = len(header)
    for batch in prefetch(batches, depth=prefetch_depth, name="fluxlab-csv-reader"):
        records = renumber.records_for_batch(batch.num_rows)
        counts = _newline_counts(batch)
        if counts is not None:
            renumber.note_newlines(records, counts)
        lines = renumber.lines(records)
        # invalid rows before this batch's last record are final; later ones wait
        bad = renumber.take_invalid(int(records[-1])) if records.size else []
        shape = _shape_rejects(source, bad, expected, delimiter)
        yield CsvBlock(batch, lines, shape, _bytes(bytes_read))
    bad = renumber.take_invalid(None)
    if bad:
        batch = _empty_batch(header)
        shape = _shape_rejects(source, bad, expected, delimiter)
        yield CsvBlock(batch, np.empty(0, np.int64), shape, _bytes(bytes_read))


MAX_RECORD_BYTES = 64 << 20
"""A record longer than this (or a file whose lines end in a bare CR) is left to Arrow's
own quote-aware reader, so a piece never grows without bound."""


def _arrow_batches(
    stream: BinaryIO, header: list[str], delimiter: str, read_size: int, renumber: _Renumberer
) -> Iterator[pa.RecordBatch]:
    """All-string batches of about `read_size` bytes, parsed from whole-record pieces
    (csvsplit.record_end) in Arrow's fast mode; Arrow's quote-aware streaming reader
    takes over for the rest of the input where a piece cannot be cut by quote parity."""
    carry = b""
    while True:
        data = stream.read(read_size)
        piece = carry + data if carry else data
        if not data:
            if piece:
                yield _parse_piece(piece, header, delimiter, renumber)
            return
        cut = record_end(piece, delimiter)
        if cut is None or (cut == 0 and len(piece) > MAX_RECORD_BYTES):
            yield from _streamed(_Chained(piece, stream), header, delimiter, read_size, renumber)
            return
        if cut:
            yield _parse_piece(memoryview(piece)[:cut], header, delimiter, renumber)
        carry = piece[cut:]


def _parse_piece(
    piece: bytes | memoryview, header: list[str], delimiter: str, renumber: _Renumberer
) -> pa.RecordBatch:
    """One piece of whole records, parsed as a single Arrow block."""
    invalid_before = renumber.invalid_count
    table = pacsv.read_csv(
        pa.BufferReader(pa.py_buffer(piece)),
        read_options=pacsv.ReadOptions(
            column_names=header, use_threads=False, block_size=len(piece) + 1
        ),
        parse_options=_parse_options(delimiter, renumber.handler(renumber.records_total),
                                     newlines_in_values=False),
        convert_options=_convert_options(header),
    )
    renumber.records_total += table.num_rows + renumber.invalid_count - invalid_before
    return table.combine_chunks().to_batches()[0] if table.num_rows else _empty_batch(header)


def _streamed(
    stream: BinaryIO, header: list[str], delimiter: str, read_size: int, renumber: _Renumberer
) -> pacsv.CSVStreamingReader:
    """Arrow's quote-aware streaming reader (the exact, slower way to find records).

    Its blocks are at least 1 MiB: it cannot parse a record longer than one block."""
    return pacsv.open_csv(
        stream,
        read_options=pacsv.ReadOptions(column_names=header, use_threads=False,
                                       block_size=max(read_size, 1 << 20)),
        parse_options=_parse_options(delimiter, renumber.handler(renumber.records_total),
                                     newlines_in_values=True),
        convert_options=_convert_options(header),
    )


def _parse_options(
    delimiter: str, on_invalid: Callable[[pacsv.InvalidRow], str], *, newlines_in_values: bool
) -> pacsv.ParseOptions:
    return pacsv.ParseOptions(
        delimiter=delimiter,
        newlines_in_values=newlines_in_values,
        ignore_empty_lines=False,
        invalid_row_handler=on_invalid,
    )


def _convert_options(header: list[str]) -> pacsv.ConvertOptions:
    return pacsv.ConvertOptions(
        column_types={name: pa.string() for name in header},
        strings_can_be_null=False,
        quoted_strings_can_be_null=False,
    )


def _empty_batch(header: list[str]) -> pa.RecordBatch:
    schema = pa.schema([(name, pa.string()) for name in header])
    return pa.RecordBatch.from_pylist([], schema)


class _Chained(io.RawIOBase):
    """Bytes already read, then the rest of a stream: where the streaming reader resumes."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        self._head = memoryview(head)
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._head.nbytes:
            n = min(len(buffer), self._head.nbytes)
            buffer[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._rest.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _bytes(counter: Callable[[], int] | None) -> int:
    return int(counter()) if counter is not None else 0


def _shape_rejects(
    source: str, bad: list[tuple[int, int, str]], expected: int, delimiter: str
) -> pa.Table:
    lines, values, reasons, raws = [], [], [], []
    for _record, line, text in sorted(bad, key=lambda item: item[1]):
        found = len(next(csv.reader(io.StringIO(text), delimiter=delimiter), []))
        lines.append(line)
        values.append(None)
        reasons.append(
            f"expected {expected} columns, found {found}; check quoting and delimiters"
        )
        raws.append(text)
    return make_rejects(source, lines, ["*"] * len(lines), values, reasons, raws)
