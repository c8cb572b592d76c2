"""Package "experimental": aggregates/selectors on `_value`, window, alignTime, set,
addDuration/subDuration and histogramQuantile.

The experimental aggregates behave like their universe counterparts restricted to
the `_value` column, so they reuse the universe implementations.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from fluxlab.flux.errors import FluxRuntimeError, FluxTypeError
from fluxlab.flux.registry import builtin
from fluxlab.flux.stdlib import aggregates as agg
from fluxlab.flux.stdlib import transforms, windows
from fluxlab.flux.stdlib.date import shift_time
from fluxlab.flux.stdlib.shape_common import merge_by_key
from fluxlab.flux.table import TIME_TYPE, Stream, Table
from fluxlab.flux.values import Duration, Time, Unsigned

_EXP = "experimental"


def _on_value(name: str, universe_fn: Any) -> None:
    def impl(ctx: Any, tables: Stream) -> Stream:
        return universe_fn(ctx, tables, "_value")

    impl.__doc__ = f"experimental.{name}: universe {name} on _value."
    builtin(_EXP, name, pipe="tables")(impl)


for _name, _fn in {
    "count": agg.count,
    "sum": agg.sum_,
    "mean": agg.mean,
    "min": agg.min_,
    "max": agg.max_,
    "first": agg.first,
    "last": agg.last,
    "mode": agg.mode,
    "skew": agg.skew,
    "spread": agg.spread,
    "unique": agg.unique,
    "distinct": agg.distinct,
}.items():
    _on_value(_name, _fn)


@builtin(_EXP, pipe="tables")
def stddev(ctx: Any, tables: Stream, mode: str = "sample") -> Stream:
    return agg.stddev(ctx, tables, "_value", mode)


@builtin(_EXP, pipe="tables")
def quantile(
    ctx: Any,
    tables: Stream,
    q: float,
    method: str = "estimate_tdigest",
    compression: float = 0.0,
) -> Stream:
    return agg.quantile(ctx, tables, q, "_value", method, compression)


@builtin(_EXP, pipe="tables")
def integral(
    ctx: Any, tables: Stream, unit: Duration = Duration.of_ns(10**9), interpolate: str = ""
) -> Stream:
    return agg.integral(ctx, tables, unit, "_value", "_time", interpolate)


@builtin(_EXP, pipe="tables")
def histogramQuantile(  # noqa: N802
    ctx: Any,
    tables: Stream,
    quantile: float,
    minValue: float = 0.0,  # noqa: N803
) -> Stream:
    return transforms.histogramQuantile(ctx, tables, quantile, minValue=minValue)


@builtin(_EXP, pipe="tables")
def window(
    ctx: Any,
    tables: Stream,
    every: Duration | None = None,
    period: Duration | None = None,
    offset: Duration | None = None,
    location: Any = None,
    createEmpty: bool = False,  # noqa: N803
) -> Stream:
    """Like universe window (the experimental variant always uses _time/_start/_stop)."""
    return windows.window(ctx, tables, every, period, offset, location, createEmpty=createEmpty)


@builtin(_EXP, pipe="tables")
def alignTime(ctx: Any, tables: Stream, alignTo: Time = Time(0)) -> Stream:  # noqa: N802, N803
    """Shift each table's _time so its first row lands on `alignTo` (spacing kept)."""
    out = []
    for t in tables:
        if t.height == 0:
            out.append(t)
            continue
        agg.require_column(t.df, "_time", "alignTime")
        t_ns = pl.col("_time").cast(pl.Int64)
        shifted = (t_ns - t_ns.first() + alignTo.ns).cast(TIME_TYPE)
        df = t.df.with_columns(shifted.alias("_time"))
        out.append(Table.from_frame(df, t.key))
    return Stream(out)


def _literal(name: str, value: Any) -> pl.Expr:
    if isinstance(value, Time):
        return pl.lit(value.ns).cast(TIME_TYPE).alias(name)
    if isinstance(value, Unsigned):
        return pl.lit(int(value), pl.UInt64).alias(name)
    if isinstance(value, bool | int | float | str) or value is None:
        return pl.lit(value).alias(name)
    raise FluxTypeError(f"experimental.set: cannot set column {name!r} to a {type(value).__name__}")


@builtin(_EXP, pipe="tables")
def set(ctx: Any, tables: Stream, o: dict[str, Any]) -> Stream:  # noqa: A001
    """Set (add or overwrite) columns to constant values; key columns update the key."""
    if not isinstance(o, dict):
        raise FluxTypeError("experimental.set: o must be a record")
    exprs = [_literal(k, v) for k, v in o.items()]
    out = []
    for t in tables:
        df = t.df.with_columns(exprs)
        values = tuple(
            o.get(k, v) if k in o else v for k, v in zip(t.key, t.key_values, strict=True)
        )
        out.append(Table(t.key, values, df) if not df.height else Table.from_frame(df, t.key))
    # Setting a key column can give two tables the same key: Flux merges them.
    return merge_by_key(out, "experimental.set")


@builtin(_EXP)
def addDuration(ctx: Any, d: Duration, to: Any, location: Any = None) -> Time:  # noqa: N802
    """`to + d` (to: a time, or now() + a duration)."""
    return shift_time(ctx, d, to, location, 1, "addDuration")


@builtin(_EXP)
def subDuration(ctx: Any, d: Duration, location: Any = None, **kw: Any) -> Time:  # noqa: N802
    """`from - d` (from: a time, or now() + a duration)."""
    if "from" not in kw:
        raise FluxRuntimeError('experimental.subDuration: missing required argument "from"')
    return shift_time(ctx, d, kw.pop("from"), location, -1, "subDuration")


@builtin(_EXP, pipe="tables")
def histogram(ctx: Any, tables: Stream, bins: list[float], normalize: bool = False) -> Stream:
    """universe histogram on _value (bounds in `le`)."""
    return transforms.histogram(ctx, tables, bins, normalize=normalize)


@builtin("experimental/table", "fill", pipe="tables")
def table_fill(ctx: Any, tables: Stream) -> Stream:
    """experimental/table.fill: an empty table gets one row of key values and nulls."""
    return Stream(agg.null_row_table(t) for t in tables)


@builtin("experimental/aggregate", "rate", pipe="tables")
def aggregate_rate(
    ctx: Any,
    tables: Stream,
    every: Duration,
    groupColumns: list[str] | None = None,  # noqa: N803
    unit: Duration = Duration.of_ns(10**9),
) -> Stream:
    """experimental/aggregate.rate: non-negative derivative, summed per window and group.

    derivative |> aggregateWindow(fn: mean |> group(groupColumns + window bounds) |> sum).
    """
    group_cols = list(groupColumns or [])

    def per_window(c: Any, args: dict[str, Any]) -> Stream:
        column = args.get("column", "_value")
        means = agg.mean(c, args["tables"], column)
        regrouped = agg.regroup(agg.concat_tables(means.tables), [*group_cols, "_start", "_stop"])
        return agg.sum_(c, regrouped, column)

    rates = transforms.derivative(ctx, tables, unit=unit, nonNegative=True)
    return windows.aggregateWindow(ctx, rates, every, per_window)
