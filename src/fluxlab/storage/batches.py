"""Preparing PointBatches for storage: type checks, rejections, chunking.

Everything here is Arrow compute on whole columns; no per-row Python.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fluxlab.model.points import TIME_COLUMN, FieldType, PointBatch
from fluxlab.storage.catalog import Measurement
from fluxlab.storage.errors import BatchError
from fluxlab.storage.results import FieldTypeConflict

LINE_COLUMN = "_line"
ROW_COLUMN = "_rn"


def normalize(batch: PointBatch) -> PointBatch:
    """Same batch with canonical Arrow types: int64 time, string tags, the 5 field types.

    Dictionary, large and view strings are decoded to plain strings; anything else
    that InfluxDB has no type for is an error naming the column.
    """
    table = batch.table
    arrays: dict[str, pa.ChunkedArray] = {TIME_COLUMN: _time_column(batch)}
    for tag in batch.tags:
        arrays[tag] = _as_string(table.column(tag), f"tag {tag!r}", batch.measurement)
    for name in batch.fields:
        arrays[name] = _field_column(table.column(name), name, batch.measurement)
    if LINE_COLUMN in table.column_names:
        arrays[LINE_COLUMN] = table.column(LINE_COLUMN).cast(pa.int64())
    return PointBatch(batch.measurement, pa.table(arrays), tuple(batch.tags), tuple(batch.fields))


def _time_column(batch: PointBatch) -> pa.ChunkedArray:
    col = batch.table.column(TIME_COLUMN)
    if pa.types.is_timestamp(col.type):
        col = col.cast(pa.timestamp("ns")).cast(pa.int64())
    elif not pa.types.is_integer(col.type):
        raise BatchError(
            f"measurement {batch.measurement!r}: time column must be int64 ns, got {col.type}"
        )
    col = col.cast(pa.int64())
    if col.null_count:
        raise BatchError(
            f"measurement {batch.measurement!r}: {col.null_count} rows have no time; "
            "give every point a timestamp (the reader should use 'now' when the source has none)"
        )
    return col


def _as_string(col: pa.ChunkedArray, what: str, measurement: str) -> pa.ChunkedArray:
    if pa.types.is_dictionary(col.type):
        col = col.cast(col.type.value_type)
    if col.type == pa.string():
        return col
    if pa.types.is_large_string(col.type) or pa.types.is_string_view(col.type):
        return col.cast(pa.string())
    if pa.types.is_null(col.type):
        return col.cast(pa.string())
    raise BatchError(f"measurement {measurement!r}: {what} must be a string column, got {col.type}")


def _field_column(col: pa.ChunkedArray, name: str, measurement: str) -> pa.ChunkedArray:
    if pa.types.is_dictionary(col.type):
        col = col.cast(col.type.value_type)
    if pa.types.is_large_string(col.type) or pa.types.is_string_view(col.type):
        return col.cast(pa.string())
    try:
        FieldType.from_arrow(col.type)
    except TypeError:
        raise BatchError(
            f"measurement {measurement!r}: field {name!r} has Arrow type {col.type}; "
            "fields must be float64, int64, uint64, string or bool"
        ) from None
    return col


def field_types(batch: PointBatch) -> dict[str, FieldType]:
    return batch.field_types()


@dataclass
class Screened:
    """A batch after removing rows the store must refuse, and what was refused."""

    batch: PointBatch
    conflicts: list[FieldTypeConflict]
    rejected_conflicts: int
    without_fields: int
    beyond_retention: int


def screen(batch: PointBatch, existing: Measurement | None, oldest_ns: int | None) -> Screened:
    """Drop type-conflicting rows, rows without any field value, rows beyond retention.

    InfluxDB rejects a whole point when one of its fields has the wrong type, so the
    mask is per row. All-null columns are dropped too: a key with no value must not
    fix a field's type or create an empty tag.
    """
    table = batch.table
    types = batch.field_types()
    conflicts: list[FieldTypeConflict] = []
    bad = pa.array(np.zeros(table.num_rows, dtype=bool))
    for name, attempted in types.items():
        col = existing.fields.get(name) if existing else None
        if col is None or col.field_type == attempted:
            continue
        assert col.field_type is not None
        valid = pc.is_valid(table.column(name))
        count = pc.sum(valid).as_py() or 0
        if count:
            conflicts.append(
                FieldTypeConflict(
                    batch.measurement, name, col.field_type, attempted, count,
                    _first_line(table, valid),
                )
            )
            bad = pc.or_(bad, valid)
    rejected_conflicts = pc.sum(bad).as_py() or 0
    keep = pc.invert(bad)
    fields = [f for f in batch.fields if not _conflicts(f, conflicts)]
    no_field = _rows_without_fields(table, fields)
    without_fields = pc.sum(pc.and_(keep, no_field)).as_py() or 0
    keep = pc.and_(keep, pc.invert(no_field))
    beyond = 0
    if oldest_ns is not None:
        old = pc.less(table.column(TIME_COLUMN), pa.scalar(oldest_ns, pa.int64()))
        beyond = pc.sum(pc.and_(keep, old)).as_py() or 0
        keep = pc.and_(keep, pc.invert(old))
    if rejected_conflicts or without_fields or beyond:
        table = table.filter(keep)
    table = table.drop_columns([c.field for c in conflicts])
    tags = tuple(t for t in batch.tags if table.column(t).null_count < table.num_rows)
    fields = [f for f in fields if table.column(f).null_count < table.num_rows]
    kept = [TIME_COLUMN, *tags, *fields]
    if LINE_COLUMN in table.column_names:
        kept.append(LINE_COLUMN)
    screened = PointBatch(batch.measurement, table.select(kept), tags, tuple(fields))
    return Screened(screened, conflicts, rejected_conflicts, without_fields, beyond)


def _conflicts(name: str, conflicts: list[FieldTypeConflict]) -> bool:
    return any(c.field == name for c in conflicts)


def _rows_without_fields(table: pa.Table, fields: list[str]) -> pa.Array:
    if not fields:
        return pa.array(np.ones(table.num_rows, dtype=bool))
    mask = pc.is_null(table.column(fields[0]))
    for name in fields[1:]:
        mask = pc.and_(mask, pc.is_null(table.column(name)))
    return mask.combine_chunks() if isinstance(mask, pa.ChunkedArray) else mask


def _first_line(table: pa.Table, mask: pa.ChunkedArray | pa.Array) -> int | None:
    if LINE_COLUMN not in table.column_names:
        return None
    lines = table.column(LINE_COLUMN).filter(mask)
    return lines[0].as_py() if len(lines) else None


def chunked(batches: Iterable[PointBatch], chunk_rows: int) -> Iterator[PointBatch]:
    """Re-cut the input into commit chunks of at most chunk_rows rows.

    Consecutive small batches of the same measurement and compatible types are merged
    (fewer transactions); large batches are sliced (bounded memory, bounded rollback).
    If the input iterator raises, the rows it produced before are still yielded.
    """
    pending = _Pending()
    iterator = iter(batches)
    while True:
        try:
            batch = next(iterator)
        except StopIteration:
            break
        except Exception:
            if pending.rows:  # what the reader produced before failing is still stored
                yield pending.take()
            raise
        if batch.num_rows == 0:
            continue
        batch = normalize(batch)
        if pending.rows and not pending.accepts(batch):
            yield pending.take()
        for start in range(0, batch.num_rows, chunk_rows):
            piece = _slice(batch, start, chunk_rows)
            if pending.rows and pending.rows + piece.num_rows > chunk_rows:
                yield pending.take()
            pending.add(piece)
    if pending.rows:
        yield pending.take()


class _Pending:
    """Batches waiting to be merged into one chunk, with their combined schema."""

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self.batches: list[PointBatch] = []
        self.rows = 0
        self.tags: set[str] = set()
        self.types: dict[str, FieldType] = {}
        self.has_line = False

    def accepts(self, b: PointBatch) -> bool:
        """Can b join without changing any column's type or role?"""
        first = self.batches[0]
        if b.measurement != first.measurement:
            return False
        if (LINE_COLUMN in b.table.column_names) != self.has_line:
            return False
        if self.tags & set(b.fields) or set(self.types) & set(b.tags):
            return False
        return all(self.types.get(k, t) == t for k, t in b.field_types().items())

    def add(self, b: PointBatch) -> None:
        if not self.batches:
            self.has_line = LINE_COLUMN in b.table.column_names
        self.batches.append(b)
        self.rows += b.num_rows
        self.tags.update(b.tags)
        self.types.update(b.field_types())

    def take(self) -> PointBatch:
        chunk = _concat(self.batches)
        self._reset()
        return chunk


def _slice(batch: PointBatch, start: int, length: int) -> PointBatch:
    if start == 0 and batch.num_rows <= length:
        return batch
    return PointBatch(
        batch.measurement, batch.table.slice(start, length), batch.tags, batch.fields
    )


def _concat(batches: list[PointBatch]) -> PointBatch:
    if len(batches) == 1:
        return batches[0]
    table = pa.concat_tables([b.table for b in batches], promote_options="default")
    tags = tuple(dict.fromkeys(t for b in batches for t in b.tags))
    fields = tuple(dict.fromkeys(f for b in batches for f in b.fields))
    return PointBatch(batches[0].measurement, table, tags, fields)
