"""Conversions between Polars columns/rows and Flux values (records, arrays).

Stdlib functions that hand rows to Flux lambdas (`reduce`, `join.*`'s `as`,
`experimental.join`'s `fn`) or return columns as arrays (`findColumn`) need Flux
values: times as `Time` with full nanosecond precision, durations as `Duration`,
unsigned integers as `Unsigned`. Polars' own Python conversion would truncate
times to microseconds, so times and durations are read through their int64 view.
This module registers no Flux functions.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

import polars as pl

from fluxlab.flux.errors import FluxTypeError
from fluxlab.flux.table import DURATION_TYPE, TIME_TYPE, Table
from fluxlab.flux.values import Duration, Time, Unsigned, type_name

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def series_values(series: pl.Series) -> list[Any]:
    """The values of a column as Flux values (one pass over the column)."""
    dtype = series.dtype
    if isinstance(dtype, pl.Datetime):
        ints = series.dt.cast_time_unit("ns").cast(pl.Int64).to_list()
        return [None if v is None else Time(v) for v in ints]
    if isinstance(dtype, pl.Duration):
        ints = series.dt.cast_time_unit("ns").cast(pl.Int64).to_list()
        return [None if v is None else Duration.of_ns(v) for v in ints]
    if dtype == pl.UInt64:
        return [None if v is None else Unsigned(v) for v in series.to_list()]
    return series.to_list()


def frame_records(df: pl.DataFrame) -> list[dict[str, Any]]:
    """Every row of a frame as a Flux record (column order kept)."""
    columns = {name: series_values(df.get_column(name)) for name in df.columns}
    names = list(columns)
    return [dict(zip(names, row, strict=True)) for row in zip(*columns.values(), strict=True)]


def to_flux(value: Any) -> Any:
    """A Python value as held in `Table.key_values` converted to a Flux value."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        delta = value - _EPOCH
        return Time((delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000)
    if isinstance(value, dt.timedelta):
        ns = (value.days * 86_400 + value.seconds) * 1_000_000_000 + value.microseconds * 1000
        return Duration.of_ns(ns)
    return value


def key_record(table: Table) -> dict[str, Any]:
    """The group key of a table as a Flux record, exact when the table has rows."""
    if table.height:
        first = table.df.head(1)
        return {
            name: series_values(first.get_column(name))[0] if name in first.columns else to_flux(v)
            for name, v in zip(table.key, table.key_values, strict=True)
        }
    return {name: to_flux(v) for name, v in zip(table.key, table.key_values, strict=True)}


def polars_type(value: Any) -> pl.DataType | None:
    """The column type that holds a Flux value (None for null: type unknown)."""
    match value:
        case None:
            return None
        case bool():
            return pl.Boolean()
        case Unsigned():
            return pl.UInt64()
        case int():
            return pl.Int64()
        case float():
            return pl.Float64()
        case str():
            return pl.String()
        case Time():
            return TIME_TYPE
        case Duration():
            return DURATION_TYPE
    raise FluxTypeError(f"a table column cannot hold a value of type {type_name(value)}")


def _storage(value: Any) -> Any:
    if isinstance(value, Time):
        return value.ns
    if isinstance(value, Duration):
        return value.total_ns()
    return value


def values_series(name: str, values: Sequence[Any], dtype: pl.DataType | None = None) -> pl.Series:
    """A column from Flux values; every non-null value must have the same type."""
    if dtype is None:
        for v in values:
            dtype = polars_type(v)
            if dtype is not None:
                break
    if dtype is None:
        return pl.Series(name, [None] * len(values), dtype=pl.Null)
    for v in values:
        t = polars_type(v)
        if t is not None and t != dtype:
            raise FluxTypeError(
                f"column {name!r} mixes values of type {type_name(v)} with {dtype} values"
            )
    raw = [_storage(v) for v in values]
    if dtype in (TIME_TYPE, DURATION_TYPE):
        return pl.Series(name, raw, dtype=pl.Int64).cast(dtype)
    return pl.Series(name, raw, dtype=dtype)


def records_frame(records: Iterable[dict[str, Any]], columns: Sequence[str] | None = None) -> pl.DataFrame:
    """A frame from Flux records; columns missing from a record are null."""
    records = list(records)
    if columns is None:
        seen: dict[str, None] = {}
        for rec in records:
            seen.update(dict.fromkeys(rec))
        columns = list(seen)
    return pl.DataFrame([values_series(c, [rec.get(c) for rec in records]) for c in columns])


def literal(value: Any, dtype: pl.DataType) -> pl.Expr:
    """A Polars literal of a Flux (or key) value with the given column type."""
    value = to_flux(value)
    if isinstance(value, Time | Duration):
        return pl.lit(_storage(value), dtype=pl.Int64).cast(dtype)
    return pl.lit(value, dtype=dtype)
