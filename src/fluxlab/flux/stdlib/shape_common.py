"""Helpers shared by the table-reshaping stdlib modules (pivot, union, join, unpivot...).

Registers no Flux functions. The main helper is `merge_by_key`: Flux datasets merge
every table that a transformation emits under the same group key, so functions that
can produce one key from several input tables (union, pivot, unpivot, set) end with it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import polars as pl

from fluxlab.flux.errors import FluxRuntimeError, FluxTypeError
from fluxlab.flux.stdlib.records import literal
from fluxlab.flux.table import Stream, Table, flux_kind
from fluxlab.flux.values import type_name

KeyId = tuple[tuple[str, Any], ...]
TABLE_ID = "__fluxlab_table"


def key_id(table: Table) -> KeyId:
    """A hashable identity of a table's group key: its (column, value) pairs.

    Column order does not matter: Flux treats keys with the same columns and values
    as the same key whatever order the columns arrived in.
    """
    return tuple(sorted(zip(table.key, table.key_values, strict=True), key=lambda kv: kv[0]))


def key_sort_key(table: Table) -> tuple:
    """Order tables like Flux's group lookup: by key labels, then values (nulls first)."""
    parts = []
    for name, value in sorted(zip(table.key, table.key_values, strict=True), key=lambda kv: kv[0]):
        parts.append((name, value is not None, type(value).__name__, value))
    return tuple(parts)


def concat_tables(frames: list[pl.DataFrame], what: str) -> pl.DataFrame:
    """Concatenate frames whose column sets may differ (missing columns become null)."""
    if len(frames) == 1:
        return frames[0]
    try:
        return pl.concat(frames, how="diagonal")
    except (pl.exceptions.SchemaError, pl.exceptions.ComputeError) as exc:
        raise FluxRuntimeError(
            f"{what}: tables with the same group key have columns of different types ({exc})"
        ) from exc


def merge_by_key(tables: Iterable[Table], what: str) -> Stream:
    """One table per distinct group key, rows concatenated in stream order."""
    groups: dict[KeyId, list[Table]] = {}
    for t in tables:
        groups.setdefault(key_id(t), []).append(t)
    out = []
    for parts in groups.values():
        first = parts[0]
        if len(parts) == 1:
            out.append(first)
            continue
        df = concat_tables([p.df for p in parts], what)
        out.append(Table(first.key, first.key_values, df))
    return Stream(out)


def map_frames(tables: list[Table], fn: Callable[[pl.DataFrame], pl.DataFrame]) -> list[Table]:
    """Apply a frame-wide operation to many tables at once, keeping table boundaries.

    Tables with the same schema are concatenated with a table-id column, `fn` runs once
    per schema (it must keep that column and compute per table, e.g. with
    `.over(TABLE_ID)`), and the result is split back in the original table order.
    """
    buckets: dict[tuple[tuple[str, str], ...], list[int]] = {}
    for i, t in enumerate(tables):
        buckets.setdefault(tuple((n, str(d)) for n, d in t.df.schema.items()), []).append(i)
    results: list[pl.DataFrame | None] = [None] * len(tables)
    for indices in buckets.values():
        frames = [
            tables[i].df.with_columns(pl.lit(i, dtype=pl.Int64).alias(TABLE_ID)) for i in indices
        ]
        done = fn(pl.concat(frames, how="vertical"))
        parts = {
            p.get_column(TABLE_ID)[0]: p.drop(TABLE_ID)
            for p in done.partition_by(TABLE_ID, maintain_order=True)
        }
        empty = done.clear().drop(TABLE_ID)
        for i in indices:
            results[i] = parts.get(i, empty)
    return [t.with_df(df) for t, df in zip(tables, results, strict=True) if df is not None]


def key_frame(table: Table, n: int, columns: Iterable[str] | None = None) -> pl.DataFrame:
    """The table's group-key columns repeated on `n` rows (exact values when it has rows)."""
    names = list(table.key if columns is None else columns)
    if table.height:
        row = table.df.head(1).select(names)
        return row.select(pl.all().gather([0] * n)) if n != 1 else row
    schema = table.df.schema
    values = dict(zip(table.key, table.key_values, strict=True))
    exprs = [
        literal(values.get(c), schema[c]).alias(c) if c in schema else pl.lit(values.get(c)).alias(c)
        for c in names
    ]
    return pl.select(*exprs).select(pl.all().gather([0] * n)) if names else pl.DataFrame()


def require_stream(value: Any, name: str, what: str) -> Stream:
    """Check that an argument is a stream of tables."""
    if not isinstance(value, Stream):
        raise FluxTypeError(f"{what}: {name} must be a stream of tables, got {type(value).__name__}")
    return value


def require_columns(table: Table, columns: Iterable[str], what: str) -> None:
    """Raise a clear error naming the first missing column."""
    for c in columns:
        if c not in table.df.columns:
            raise FluxRuntimeError(
                f"{what}: column {c!r} does not exist in table with columns {table.df.columns}"
            )


def flux_type_of_column(dtype: pl.DataType) -> str:
    """Flux's short type name of a column (for messages): float, int, string, ..."""
    return "string" if dtype == pl.Null else flux_kind(dtype)


def flux_type_of_value(value: Any) -> str:
    """Flux's short type name of a scalar (for messages)."""
    return type_name(value)
