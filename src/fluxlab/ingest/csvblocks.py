"""Streaming CSV parsing into all-string blocks that know their physical line numbers.

Arrow's streaming CSV reader is fast but does not say which line a row came from.
We need exact lines for every reject, so each block gets an `_line` column:

* the reader runs single-threaded (so its invalid-row callback reports record
  numbers) in a background thread, overlapping parsing with our transforms;
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
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

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

    def on_invalid(self, row: pacsv.InvalidRow) -> str:
        self.invalid.append((int(row.number or 0), row.text))
        self._invalid_records.append(int(row.number or 0))
        return "skip"

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
    reader = pacsv.open_csv(
        stream,
        read_options=pacsv.ReadOptions(
            column_names=header, use_threads=False, block_size=read_size
        ),
        parse_options=pacsv.ParseOptions(
            delimiter=delimiter,
            newlines_in_values=True,
            ignore_empty_lines=False,
            invalid_row_handler=renumber.on_invalid,
        ),
        convert_options=pacsv.ConvertOptions(
            column_types={name: pa.string() for name in header},
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )
    expected = len(header)
    for batch in prefetch(reader, depth=prefetch_depth, name="fluxlab-csv-reader"):
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
        empty = pa.schema([(n, pa.string()) for n in header]).empty_table().to_batches()
        batch = empty[0] if empty else pa.RecordBatch.from_pylist([], pa.schema([(n, pa.string()) for n in header]))
        shape = _shape_rejects(source, bad, expected, delimiter)
        yield CsvBlock(batch, np.empty(0, np.int64), shape, _bytes(bytes_read))


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
