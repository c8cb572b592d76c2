"""Universe functions that reshape tables without lambdas: union, fill, keys,
keyValues, columns. (pivot lives in pivot.py, reduce and the table-extraction
functions in tablefns.py.)
"""

from __future__ import annotations

from typing import Any

import polars as pl

from fluxlab.flux.errors import FluxRuntimeError, UnsupportedError
from fluxlab.flux.registry import builtin
from fluxlab.flux.stdlib.records import literal, polars_type
from fluxlab.flux.stdlib.shape_common import (
    TABLE_ID,
    flux_type_of_column,
    flux_type_of_value,
    key_frame,
    map_frames,
    merge_by_key,
    require_stream,
)
from fluxlab.flux.table import Stream, Table

MISSING: Any = object()  # "argument not given" (null is a real value)


@builtin("universe")
def union(ctx, tables: list[Stream]) -> Stream:
    """Merge streams; tables with the same group key become one (schemas are unioned)."""
    if not isinstance(tables, list) or len(tables) < 2:
        raise FluxRuntimeError("union must have at least two streams as input")
    streams = [require_stream(s, f"tables[{i}]", "union") for i, s in enumerate(tables)]
    return merge_by_key((t for s in streams for t in s), "union")


# ------------------------------------------------------------------------------ fill


def _fill_key_column(table: Table, column: str, value: Any) -> Table:
    """fill on a group-key column: only a null key value is replaced (key included)."""
    idx = table.key.index(column)
    if table.key_values[idx] is not None or value is MISSING:
        return table
    dtype = polars_type(value)
    df = table.df.with_columns(literal(value, dtype).alias(column))
    values = list(table.key_values)
    values[idx] = value
    return Table(table.key, tuple(values), df)


def _check_fill_type(table: Table, column: str, value: Any) -> None:
    if column in table.df.columns:
        have, want = table.df.schema[column], polars_type(value)
        if have != want and have != pl.Null:
            raise FluxRuntimeError(
                f"fill column type mismatch: {flux_type_of_column(have)}/{flux_type_of_value(value)}"
            )


@builtin("universe", pipe="tables")
def fill(ctx, tables: Stream, column: str = "_value", value: Any = MISSING,
         usePrevious: bool = False) -> Stream:
    """Replace nulls in `column` with `value` or with the previous non-null value."""
    if value is MISSING and not usePrevious:
        raise FluxRuntimeError("fill: either value or usePrevious: true must be given")
    if value is not MISSING and usePrevious:
        raise FluxRuntimeError("fill: value and usePrevious cannot both be set")
    if value is None:
        raise FluxRuntimeError("fill: value must not be null")
    passthrough: dict[int, Table] = {}
    work: list[tuple[int, Table]] = []
    for i, t in enumerate(tables):
        if column in t.key:
            passthrough[i] = _fill_key_column(t, column, value)
        elif usePrevious and column not in t.df.columns:
            passthrough[i] = t
        else:
            if not usePrevious:
                _check_fill_type(t, column, value)
            work.append((i, t))
    if usePrevious:
        expr = pl.col(column).forward_fill().over(TABLE_ID)
    else:
        expr = pl.col(column).fill_null(literal(value, polars_type(value)))

    def fill_frame(df: pl.DataFrame) -> pl.DataFrame:
        if column not in df.columns:
            df = df.with_columns(pl.lit(None, dtype=polars_type(value)).alias(column))
        elif df.schema[column] == pl.Null:
            df = df.with_columns(pl.col(column).cast(polars_type(value)))
        return df.with_columns(expr.alias(column))

    filled = dict(zip([i for i, _ in work], map_frames([t for _, t in work], fill_frame), strict=True))
    ordered = [passthrough.get(i) or filled[i] for i in range(len(tables))]
    return merge_by_key(ordered, "fill")


# ------------------------------------------------------------------------------ keys, columns


def _labels_table(table: Table, column: str, labels: list[str]) -> Table:
    """Key columns repeated once per label, plus a string column of the labels."""
    keys = key_frame(table, len(labels))
    df = keys.with_columns(pl.Series(column, labels, dtype=pl.String))
    return table.with_df(df)


@builtin("universe", pipe="tables")
def keys(ctx, tables: Stream, column: str = "_value") -> Stream:
    """For each table, one row per group-key column holding the column's label."""
    return Stream(_labels_table(t, column, list(t.key)) for t in tables)


@builtin("universe", pipe="tables")
def columns(ctx, tables: Stream, column: str = "_value") -> Stream:
    """For each table, one row per column holding the column's label."""
    return Stream(_labels_table(t, column, list(t.df.columns)) for t in tables)


def _key_values_table(table: Table, key_columns: list[str]) -> Table:
    present = [c for c in key_columns if c in table.df.columns]
    if not present:
        raise FluxRuntimeError(
            f"keyValues: received table with columns {table.df.columns} "
            f"not having key columns {key_columns}"
        )
    types = {table.df.schema[c] for c in present}
    if len(types) > 1:
        raise FluxRuntimeError("keyValues: keyColumns must all be the same type")
    n = table.height
    stacked = pl.concat(
        [
            table.df.select(
                pl.int_range(n, dtype=pl.Int64).alias("__row"),
                pl.lit(j, dtype=pl.Int64).alias("__col"),
                pl.lit(name, dtype=pl.String).alias("_key"),
                pl.col(name).alias("_value"),
            )
            for j, name in enumerate(present)
        ]
    ).sort(["__row", "__col"])
    # Flux keeps one row per distinct value, shared across all key columns.
    distinct = stacked.unique(subset=["_value"], keep="first", maintain_order=True)
    body = distinct.select("_key", "_value")
    keys_df = key_frame(table, body.height, [k for k in table.key if k not in body.columns])
    return table.with_df(pl.concat([keys_df, body], how="horizontal"))


@builtin("universe", name="keyValues", pipe="tables")
def key_values(ctx, tables: Stream, keyColumns: list[str] | None = None, fn: Any = None) -> Stream:
    """Distinct values of `keyColumns` per table as `_key`/`_value` pairs."""
    if keyColumns is None:
        if fn is not None:
            raise UnsupportedError("keyValues: the fn parameter is not supported; use keyColumns")
        raise FluxRuntimeError("keyValues: keyColumns is required")
    return Stream(_key_values_table(t, list(keyColumns)) for t in tables)
