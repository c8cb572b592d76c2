"""Universe functions that evaluate Flux lambdas over tables: reduce, and the
functions that pull a table, a column or a record out of a stream (tableFind,
getColumn, getRecord, findColumn, findRecord).

A single table taken out of a stream is represented by `fluxlab.flux.table.Table`.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from fluxlab.flux.errors import FluxRuntimeError, FluxTypeError
from fluxlab.flux.registry import builtin
from fluxlab.flux.stdlib.records import (
    frame_records,
    key_record,
    polars_type,
    series_values,
    values_series,
)
from fluxlab.flux.stdlib.reduce_fast import vector_reduce
from fluxlab.flux.stdlib.shape_common import key_frame
from fluxlab.flux.table import Stream, Table
from fluxlab.flux.values import type_name

# ------------------------------------------------------------------------------ reduce


def _fold(ctx, table: Table, fn: Any, identity: dict[str, Any]) -> dict[str, Any]:
    """Fold the rows of one table; each call gets the row `r` and the `accumulator`."""
    acc = dict(identity)
    for row in frame_records(table.df):
        result = ctx.call(fn, r=row, accumulator=acc)
        if not isinstance(result, dict):
            raise FluxTypeError(f"reduce: fn must return a record, got {type_name(result)}")
        acc = result
    return acc


def _reduce_table(ctx, table: Table, fn: Any, identity: dict[str, Any]) -> Table:
    """One output row: the group key plus the final accumulator."""
    acc = vector_reduce(ctx, table, fn, identity)
    if acc is None:
        acc = _fold(ctx, table, fn, identity)
    fields = [name for name in acc if name not in table.key]
    keys = key_frame(table, 1)
    body = pl.DataFrame(
        [values_series(name, [acc[name]], _identity_type(identity.get(name))) for name in fields]
    )
    return table.with_df(pl.concat([keys, body], how="horizontal") if fields else keys)


def _identity_type(value: Any) -> pl.DataType | None:
    return polars_type(value) if value is not None else None


@builtin("universe", pipe="tables")
def reduce(ctx, tables: Stream, fn: Any, identity: dict[str, Any]) -> Stream:
    """Aggregate each table into one row with a Flux reducer function."""
    if not isinstance(identity, dict):
        raise FluxTypeError(f"reduce: identity must be a record, got {type_name(identity)}")
    return Stream(_reduce_table(ctx, t, fn, identity) for t in tables)


# ------------------------------------------------------------------------------ table extraction


def _find_table(ctx, tables: Stream, fn: Any) -> Table | None:
    for t in tables:
        if ctx.call(fn, key=key_record(t)) is True:
            return t
    return None


def _as_table(value: Any, what: str) -> Table:
    if isinstance(value, Table):
        return value
    if isinstance(value, Stream) and len(value) == 1:
        return value.tables[0]
    raise FluxTypeError(f"{what}: expected a table, got {type_name(value)}")


@builtin("universe", name="tableFind", pipe="tables")
def table_find(ctx, tables: Stream, fn: Any) -> Table:
    """The first table whose group key satisfies `fn`."""
    found = _find_table(ctx, tables, fn)
    if found is None:
        raise FluxRuntimeError("tableFind: no table found")
    return found


@builtin("universe", name="getColumn", pipe="table")
def get_column(ctx, table: Any, column: str) -> list[Any]:
    """The values of one column of a table as an array."""
    t = _as_table(table, "getColumn")
    if column not in t.df.columns:
        raise FluxRuntimeError(f"getColumn: cannot find column {column!r}")
    return series_values(t.df.get_column(column))


@builtin("universe", name="getRecord", pipe="table")
def get_record(ctx, table: Any, idx: int) -> dict[str, Any]:
    """Row `idx` of a table as a record."""
    t = _as_table(table, "getRecord")
    if not 0 <= idx < t.height:
        raise FluxRuntimeError(f"getRecord: index out of bounds: {idx} (table has {t.height} rows)")
    return frame_records(t.df.slice(idx, 1))[0]


@builtin("universe", name="findColumn", pipe="tables")
def find_column(ctx, tables: Stream, fn: Any, column: str) -> list[Any]:
    """A column of the first table matching `fn` as an array ([] when there is none)."""
    found = _find_table(ctx, tables, fn)
    if found is None or column not in found.df.columns:
        return []
    return series_values(found.df.get_column(column))


@builtin("universe", name="findRecord", pipe="tables")
def find_record(ctx, tables: Stream, fn: Any, idx: int) -> dict[str, Any]:
    """Row `idx` of the first table matching `fn` ({} when there is none)."""
    found = _find_table(ctx, tables, fn)
    if found is None or not 0 <= idx < found.height:
        return {}
    return frame_records(found.df.slice(idx, 1))[0]
