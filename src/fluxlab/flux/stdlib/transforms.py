"""Row-wise transformations over ordered rows: difference, derivative, moving averages,
EMA family, momentum indicators, state duration/count, histogramQuantile.

Each runs as window expressions (`.over(TID)`) on the tables of a stream
concatenated per schema, so a stream of many small tables costs one Polars pass.
Only Kaufman's adaptive moving average, a recurrence with a per-row coefficient,
uses a loop (over numpy arrays of one table).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import polars as pl

from fluxlab.flux.errors import FluxRuntimeError
from fluxlab.flux.registry import builtin
from fluxlab.flux.stdlib.aggregates import (
    NUMERIC,
    TID,
    key_literals,
    require_column,
    require_numeric,
    split_by_tid,
    tagged_frames,
)
from fluxlab.flux.table import Stream, Table
from fluxlab.flux.values import Duration

_IDX = "__flux_i"
_ONE_SECOND = Duration.of_ns(10**9)

FrameOp = Callable[[pl.DataFrame], pl.DataFrame]


def per_frame(tables: Stream, op: FrameOp) -> Stream:
    """Apply `op` to each TID-tagged frame (with a per-table row number `_IDX`)."""
    results = []
    for b in tagged_frames(tables):
        indexed = b.frame.with_columns(pl.int_range(pl.len()).over(TID).alias(_IDX))
        results.append(b.result(op(indexed).drop(_IDX, strict=False)))
    return split_by_tid(tables, results)


def _prev_nonnull(e: pl.Expr) -> pl.Expr:
    """The last non-null value before each row, within its table."""
    return e.shift(1).forward_fill().over(TID)


def _unit_ns(unit: Duration, fname: str) -> int:
    if not isinstance(unit, Duration) or unit.months or unit.total_ns() <= 0:
        raise FluxRuntimeError(f"{fname}: unit must be a positive fixed duration")
    return unit.total_ns()


# ====================================================================== difference


@builtin("universe", pipe="tables")
def difference(
    ctx: Any,
    tables: Stream,
    nonNegative: bool = False,  # noqa: N803
    columns: list[str] | None = None,
    keepFirst: bool = False,  # noqa: N803
    initialZero: bool = False,  # noqa: N803
) -> Stream:
    """v - previous non-null v (uint becomes int); the first row is dropped unless keepFirst."""
    cols = columns or ["_value"]

    def op(df: pl.DataFrame) -> pl.DataFrame:
        exprs = []
        for c in cols:
            dtype = require_column(df, c, "difference")
            if isinstance(dtype, pl.Datetime):
                raise FluxRuntimeError(
                    "difference does not support time columns. try the elapsed function"
                )
            if dtype not in NUMERIC:
                continue  # other columns pass through, as in Flux
            out_t = pl.Float64 if dtype == pl.Float64 else pl.Int64
            v = pl.col(c).cast(out_t)
            diff = v - _prev_nonnull(v)
            if nonNegative:
                fallback = pl.when(v >= 0).then(v) if initialZero else pl.lit(None, out_t)
                diff = pl.when(diff < 0).then(fallback).otherwise(diff)
            exprs.append(diff.alias(c))
        out = df.with_columns(exprs)
        return out if keepFirst else out.filter(pl.col(_IDX) > 0)

    return per_frame(tables, op)


@builtin("universe", pipe="tables")
def derivative(
    ctx: Any,
    tables: Stream,
    unit: Duration = _ONE_SECOND,
    nonNegative: bool = False,  # noqa: N803
    columns: list[str] | None = None,
    timeColumn: str = "_time",  # noqa: N803
) -> Stream:
    """Rate of change per `unit` between subsequent non-null values, as doubles."""
    cols = columns or ["_value"]
    unit_ns = _unit_ns(unit, "derivative")

    def op(df: pl.DataFrame) -> pl.DataFrame:
        require_column(df, timeColumn, "derivative")
        # A row at the same time as the row before it has no rate: Flux drops it.
        same_time = pl.col(timeColumn) == pl.col(timeColumn).shift(1).over(TID)
        df = df.filter(~same_time.fill_null(False))
        df = df.with_columns(pl.int_range(pl.len()).over(TID).alias(_IDX))
        t = pl.col(timeColumn).cast(pl.Int64).cast(pl.Float64)
        exprs = []
        for c in cols:
            if require_column(df, c, "derivative") not in (pl.Int64, pl.UInt64, pl.Float64):
                continue  # non-numeric columns pass through unchanged
            v = pl.col(c).cast(pl.Float64)
            t_prev = _prev_nonnull(pl.when(v.is_not_null()).then(t))
            rate = (v - _prev_nonnull(v)) / (t - t_prev) * unit_ns
            if nonNegative:
                rate = pl.when(rate < 0).then(None).otherwise(rate)
            exprs.append(rate.alias(c))
        return df.with_columns(exprs).filter(pl.col(_IDX) > 0)

    return per_frame(tables, op)


@builtin("universe", pipe="tables")
def cumulativeSum(ctx: Any, tables: Stream, columns: list[str] | None = None) -> Stream:  # noqa: N802
    """Running sum of non-null values; a null row repeats the sum so far (0 at first).

    A listed column the table lacks is skipped, as the reference does: the table passes
    through unchanged rather than failing the query.
    """
    cols = columns or ["_value"]

    def op(df: pl.DataFrame) -> pl.DataFrame:
        numeric = [c for c in cols if df.schema.get(c) in NUMERIC]
        return df.with_columns(pl.col(c).fill_null(0).cum_sum().over(TID).alias(c) for c in numeric)

    return per_frame(tables, op)


@builtin("universe", pipe="tables")
def increase(ctx: Any, tables: Stream, columns: list[str] | None = None) -> Stream:
    """Total non-negative growth of a counter that may reset.

    difference(nonNegative, keepFirst, initialZero) |> cumulativeSum, as Flux defines it.
    """
    cols = columns or ["_value"]
    diffs = difference(ctx, tables, True, cols, True, True)
    return cumulativeSum(ctx, diffs, cols)


@builtin("universe", pipe="tables")
def elapsed(
    ctx: Any,
    tables: Stream,
    unit: Duration = _ONE_SECOND,
    timeColumn: str = "_time",  # noqa: N803
    columnName: str = "elapsed",  # noqa: N803
) -> Stream:
    """Time since the previous row in `unit`s (int); the first row is dropped."""
    unit_ns = _unit_ns(unit, "elapsed")

    def op(df: pl.DataFrame) -> pl.DataFrame:
        require_column(df, timeColumn, "elapsed")
        t = pl.col(timeColumn).cast(pl.Int64)
        gap = (t - t.shift(1).over(TID)) // unit_ns
        return df.with_columns(gap.alias(columnName)).filter(pl.col(_IDX) > 0)

    return per_frame(tables, op)


# ====================================================================== moving averages


def _check_n(n: int, fname: str) -> None:
    if not isinstance(n, int) or n <= 0:
        raise FluxRuntimeError(f"{fname}: n must be a positive integer")


@builtin("universe", pipe="tables")
def movingAverage(ctx: Any, tables: Stream, n: int) -> Stream:  # noqa: N802
    """Mean of the last n values (nulls skipped) from the n-th row on, as doubles."""
    _check_n(n, "movingAverage")

    def op(df: pl.DataFrame) -> pl.DataFrame:
        require_numeric(df, "_value", "movingAverage")
        v = pl.col("_value").cast(pl.Float64)
        avg = v.rolling_mean(n, min_samples=1).over(TID)
        size = pl.len().over(TID)
        keep = (pl.col(_IDX) >= n - 1) | ((size < n) & (pl.col(_IDX) == size - 1))
        return df.with_columns(avg.alias("_value")).filter(keep)

    return per_frame(tables, op)


def ema_expr(v: pl.Expr, n: int) -> pl.Expr:
    """EMA seeded with the mean of the first n values, then y = x*k + y'*(1-k), k=2/(n+1).

    Nulls are skipped (a null row repeats the EMA so far); a table shorter than n
    gives the mean of its values (see `_ema_stream`).
    """
    i = pl.int_range(pl.len())
    seed = v.head(n).mean()
    seeded = pl.when(i < n - 1).then(None).when(i == n - 1).then(seed).otherwise(v)
    ema = seeded.ewm_mean(alpha=2.0 / (n + 1), adjust=False, ignore_nulls=True)
    return pl.when(i >= n - 1).then(ema.forward_fill())


def _ema_stream(tables: Stream, n: int, fname: str, column: str = "_value") -> Stream:
    _check_n(n, fname)

    def op(df: pl.DataFrame) -> pl.DataFrame:
        require_numeric(df, column, fname)
        v = pl.col(column).cast(pl.Float64)
        size = pl.len().over(TID)
        short = size < n
        value = pl.when(short).then(v.mean().over(TID)).otherwise(ema_expr(v, n).over(TID))
        keep = pl.when(short).then(pl.col(_IDX) == size - 1).otherwise(pl.col(_IDX) >= n - 1)
        return df.with_columns(value.alias(column)).filter(keep)

    return per_frame(tables, op)


@builtin("universe", pipe="tables")
def exponentialMovingAverage(ctx: Any, tables: Stream, n: int) -> Stream:  # noqa: N802
    return _ema_stream(tables, n, "exponentialMovingAverage")


def _with_column(tables: Stream, fn: Callable[[pl.DataFrame], pl.DataFrame]) -> Stream:
    return Stream(Table(t.key, t.key_values, fn(t.df)) for t in tables)


def _ema_chain(tables: Stream, n: int, depth: int, fname: str) -> list[Stream]:
    """[EMA1, EMA2, ...]: each the EMA of the previous, keeping earlier levels as columns."""
    levels = []
    current = tables
    for level in range(depth):
        current = _ema_stream(current, n, fname)
        current = _with_column(
            current, lambda df, lv=level: df.with_columns(pl.col("_value").alias(f"__ema{lv}"))
        )
        levels.append(current)
    return levels


def _combine(stream: Stream, expr: pl.Expr, depth: int) -> Stream:
    drop = [f"__ema{i}" for i in range(depth)]
    return _with_column(stream, lambda df: df.with_columns(expr.alias("_value")).drop(drop))


@builtin("universe", pipe="tables")
def doubleEMA(ctx: Any, tables: Stream, n: int) -> Stream:  # noqa: N802
    """2*EMA - EMA(EMA)."""
    last = _ema_chain(tables, n, 2, "doubleEMA")[-1]
    return _combine(last, 2.0 * pl.col("__ema0") - pl.col("__ema1"), 2)


@builtin("universe", pipe="tables")
def tripleEMA(ctx: Any, tables: Stream, n: int) -> Stream:  # noqa: N802
    """3*EMA - 3*EMA(EMA) + EMA(EMA(EMA))."""
    last = _ema_chain(tables, n, 3, "tripleEMA")[-1]
    expr = 3.0 * pl.col("__ema0") - 3.0 * pl.col("__ema1") + pl.col("__ema2")
    return _combine(last, expr, 3)


@builtin("universe", pipe="tables")
def tripleExponentialDerivative(ctx: Any, tables: Stream, n: int) -> Stream:  # noqa: N802
    """TRIX: percent change of the triple-smoothed EMA between subsequent rows."""
    last = _ema_chain(tables, n, 3, "tripleExponentialDerivative")[-1]

    def op(df: pl.DataFrame) -> pl.DataFrame:
        e = pl.col("__ema2")
        prev = e.shift(1).over(TID)
        return df.with_columns(((e - prev) / prev * 100.0).alias("_value")).filter(pl.col(_IDX) > 0)

    out = per_frame(last, op)
    return _with_column(out, lambda df: df.drop([f"__ema{i}" for i in range(3)]))


@builtin("universe", pipe="tables")
def timedMovingAverage(
    ctx: Any, tables: Stream, every: Duration, period: Duration, column: str = "_value"
) -> Stream:  # noqa: N802
    """window(every, period) |> mean(column) |> _time = _stop |> un-window."""
    from fluxlab.flux.stdlib.aggregates import mean
    from fluxlab.flux.stdlib.windows import aggregateWindow

    def fn(c: Any, args: dict[str, Any]) -> Stream:
        return mean(c, args["tables"], args.get("column", "_value"))

    return aggregateWindow(ctx, tables, every, fn, period=period, column=column, createEmpty=False)


# ====================================================================== momentum


def _momentum_sums(v: pl.Expr, n: int) -> tuple[pl.Expr, pl.Expr]:
    """Sums of up-moves and down-moves over the last n differences."""
    d = v - v.shift(1)
    up = pl.when(d > 0).then(d).otherwise(0.0).rolling_sum(n)
    down = pl.when(d < 0).then(-d).otherwise(0.0).rolling_sum(n)
    return up, down


@builtin("universe", pipe="tables")
def chandeMomentumOscillator(
    ctx: Any, tables: Stream, n: int, columns: list[str] | None = None
) -> Stream:  # noqa: N802
    """CMO = 100 * (up - down) / (up + down) over n moves; the first n rows are dropped."""
    _check_n(n, "chandeMomentumOscillator")
    cols = columns or ["_value"]

    def op(df: pl.DataFrame) -> pl.DataFrame:
        exprs = []
        for c in cols:
            require_numeric(df, c, "chandeMomentumOscillator")
            up, down = _momentum_sums(pl.col(c).cast(pl.Float64), n)
            total = up + down
            cmo = pl.when(total == 0).then(0.0).otherwise(100.0 * (up - down) / total)
            exprs.append(cmo.over(TID).alias(c))
        return df.with_columns(exprs).filter(pl.col(_IDX) >= n)

    return per_frame(tables, op)


@builtin("universe", pipe="tables")
def kaufmansER(ctx: Any, tables: Stream, n: int) -> Stream:  # noqa: N802
    """Efficiency ratio |CMO| / 100."""
    cmo = chandeMomentumOscillator(ctx, tables, n)
    return _with_column(cmo, lambda df: df.with_columns(pl.col("_value").abs() / 100.0))


@builtin("universe", pipe="tables")
def relativeStrengthIndex(
    ctx: Any, tables: Stream, n: int, columns: list[str] | None = None
) -> Stream:  # noqa: N802
    """RSI with Wilder smoothing of average gains and losses; first n rows dropped."""
    _check_n(n, "relativeStrengthIndex")
    cols = columns or ["_value"]

    def wilder(x: pl.Expr) -> pl.Expr:
        i = pl.int_range(pl.len())
        seed = x.slice(1, n).mean()
        seeded = pl.when(i < n).then(None).when(i == n).then(seed).otherwise(x)
        return seeded.ewm_mean(alpha=1.0 / n, adjust=False, ignore_nulls=True)

    def op(df: pl.DataFrame) -> pl.DataFrame:
        exprs = []
        for c in cols:
            require_numeric(df, c, "relativeStrengthIndex")
            v = pl.col(c).cast(pl.Float64)
            d = v - v.shift(1)
            gain = wilder(pl.when(d > 0).then(d).otherwise(0.0))
            loss = wilder(pl.when(d < 0).then(-d).otherwise(0.0))
            rsi = pl.when(loss == 0).then(100.0).otherwise(100.0 - 100.0 / (1.0 + gain / loss))
            exprs.append(rsi.over(TID).alias(c))
        return df.with_columns(exprs).filter(pl.col(_IDX) >= n)

    return per_frame(tables, op)


@builtin("universe", pipe="tables")
def kaufmansAMA(ctx: Any, tables: Stream, n: int, column: str = "_value") -> Stream:  # noqa: N802
    """Kaufman's adaptive moving average (ER-scaled smoothing between 2 and 30 periods)."""
    _check_n(n, "kaufmansAMA")
    out = []
    for t in tables:
        require_numeric(t.df, column, "kaufmansAMA")
        values = t.df.get_column(column).cast(pl.Float64).to_numpy()
        kama = _kama(values, n)
        df = t.df.with_columns(pl.Series(column, kama)).slice(n)
        out.append(Table(t.key, t.key_values, df))
    return Stream(out)


def _kama(x: np.ndarray, n: int) -> np.ndarray:
    """The KAMA recurrence (inherently sequential; one table at a time)."""
    fast, slow = 2.0 / 3.0, 2.0 / 31.0
    out = np.full(len(x), np.nan)
    if len(x) <= n:
        return out
    moves = np.abs(np.diff(x, prepend=x[0]))
    prev = x[n - 1]
    for i in range(n, len(x)):
        volatility = moves[i - n + 1 : i + 1].sum()
        er = abs(x[i] - x[i - n]) / volatility if volatility else 0.0
        sc = (er * (fast - slow) + slow) ** 2
        prev = prev + sc * (x[i] - prev)
        out[i] = prev
    return out


# ====================================================================== state


def _state_mask(ctx: Any, fn: Any, df: pl.DataFrame) -> pl.Series:
    return ctx.row_function(fn).filter_mask(df).fill_null(False)


@builtin("universe", pipe="tables")
def stateCount(ctx: Any, tables: Stream, fn: Any, column: str = "stateCount") -> Stream:  # noqa: N802
    """Consecutive rows (so far) where fn is true; -1 where it is false."""

    def op(df: pl.DataFrame) -> pl.DataFrame:
        count = pl.int_range(pl.len()).over([TID, "__run"]) + 1
        return _with_state_runs(ctx, fn, df, count, column)

    return per_frame(tables, op)


@builtin("universe", pipe="tables")
def stateDuration(
    ctx: Any,
    tables: Stream,
    fn: Any,
    column: str = "stateDuration",
    timeColumn: str = "_time",  # noqa: N803
    unit: Duration = _ONE_SECOND,
) -> Stream:  # noqa: N802
    """Time since the state (fn true) began, in `unit`s; -1 where fn is false."""
    unit_ns = _unit_ns(unit, "stateDuration")

    def op(df: pl.DataFrame) -> pl.DataFrame:
        require_column(df, timeColumn, "stateDuration")
        t = pl.col(timeColumn).cast(pl.Int64)
        dur = (t - t.first().over([TID, "__run"])) // unit_ns
        return _with_state_runs(ctx, fn, df, dur, column)

    return per_frame(tables, op)


def _with_state_runs(ctx: Any, fn: Any, df: pl.DataFrame, value: pl.Expr, column: str) -> pl.DataFrame:
    """`column` = `value` (evaluated per run of consecutive rows where fn is true, runs
    numbered in `__run` within each table) on rows where fn is true, -1 elsewhere."""
    state = _state_mask(ctx, fn, df.drop(TID, _IDX))
    run = (pl.col("__s") != pl.col("__s").shift(1)).fill_null(True).cum_sum()
    return (
        df.with_columns(pl.Series("__s", state))
        .with_columns(run.over(TID).alias("__run"))
        .with_columns(pl.when(pl.col("__s")).then(value).otherwise(-1).cast(pl.Int64).alias(column))
        .drop("__s", "__run")
    )


# ====================================================================== histogramQuantile


@builtin("universe", pipe="tables")
def histogramQuantile(
    ctx: Any,
    tables: Stream,
    quantile: float,
    countColumn: str = "_value",  # noqa: N803
    upperBoundColumn: str = "le",  # noqa: N803
    valueColumn: str = "_value",  # noqa: N803
    minValue: float = 0.0,  # noqa: N803
    onNonmonotonic: str = "error",  # noqa: N803
) -> Stream:
    """Quantile of a cumulative histogram (linear interpolation inside the bucket)."""
    if onNonmonotonic not in ("error", "force", "drop"):
        raise FluxRuntimeError(
            'histogramQuantile: onNonmonotonic must be "error", "force" or "drop"'
        )
    out = []
    for t in tables:
        value = histogram_quantile_value(
            t.df, quantile, countColumn, upperBoundColumn, minValue, onNonmonotonic
        )
        if value is False:
            continue  # onNonmonotonic: "drop"
        row = pl.DataFrame().select(
            key_literals(t) + [pl.lit(value, pl.Float64).alias(valueColumn)]
        )
        out.append(Table(t.key, t.key_values, row))
    return Stream(out)


def histogram_quantile_value(
    df: pl.DataFrame, q: float, count_col: str, bound_col: str, min_value: float, on_nonmono: str
) -> float | None | bool:
    """The quantile of one cumulative histogram table, following Flux's rules.

    Returns None for a null result and False when the table is to be dropped.
    """
    require_column(df, count_col, "histogramQuantile")
    require_column(df, bound_col, "histogramQuantile")
    if not 0 <= q <= 1:
        raise FluxRuntimeError("histogramQuantile: quantile must be between 0 and 1")
    data = df.select(
        pl.col(bound_col).cast(pl.Float64).alias("le"),
        pl.col(count_col).cast(pl.Float64).alias("c"),
    ).sort("le", maintain_order=True)
    if data.height == 0:
        raise FluxRuntimeError("histogramQuantile: histogram is empty")
    le = data.get_column("le").to_numpy()
    counts = data.get_column("c").to_numpy().copy()
    if np.any(np.diff(counts) < 0):
        if on_nonmono == "force":
            counts = np.maximum.accumulate(counts)
        elif on_nonmono == "drop":
            return False
        else:
            raise FluxRuntimeError("histogramQuantile: histogram records counts are not monotonic")
    total = counts[-1]
    if total == 0:
        return None
    rank = q * total
    idx = int(np.searchsorted(counts, rank, side="right")) - 1  # last bucket with count <= rank
    if idx == len(counts) - 1:
        return float(le[-1])
    if idx == -1:
        lower_count, lower, upper_count, upper = 0.0, min_value, counts[0], le[0]
    else:
        lower_count, lower, upper_count, upper = counts[idx], le[idx], counts[idx + 1], le[idx + 1]
    if rank == lower_count:
        return float(lower)
    if math.isinf(lower) and lower < 0:
        return float(upper)
    if math.isinf(upper) and upper > 0:
        return float(lower)
    return float(lower + (upper - lower) * (rank - lower_count) / (upper_count - lower_count))


# ====================================================================== histogram


@builtin("universe", pipe="tables")
def histogram(
    ctx: Any,
    tables: Stream,
    bins: list[float],
    column: str = "_value",
    upperBoundColumn: str = "le",  # noqa: N803
    countColumn: str = "_value",  # noqa: N803
    normalize: bool = False,
) -> Stream:
    """Cumulative counts of `column` values <= each bin (one row per bin), as doubles."""
    edges = sorted(float(b) for b in bins)
    if not edges:
        raise FluxRuntimeError("histogram: bins must not be empty")
    out = []
    for t in tables:
        dtype = require_column(t.df, column, "histogram")
        if dtype not in (pl.Float64, pl.Null):
            raise FluxRuntimeError(f'histogram: column "{column}" must be a float')
        values = t.df.get_column(column).drop_nulls().cast(pl.Float64).to_numpy()
        if values.size and values.max() > edges[-1]:
            raise FluxRuntimeError(
                f"histogram: found value {values.max()} greater than any bin (max {edges[-1]})"
            )
        counts = np.searchsorted(np.sort(values), np.asarray(edges), side="right").astype(float)
        if normalize and values.size:
            counts = counts / values.size
        body = pl.DataFrame({upperBoundColumn: edges, countColumn: counts})
        keys = pl.DataFrame().select(key_literals(t))
        frame = (
            keys.select(pl.all().repeat_by(len(edges)).explode()).hstack(body) if t.key else body
        )
        out.append(Table(t.key, t.key_values, frame))
    return Stream(out)


def _bins(start: float, step: Any, count: int, infinity: bool) -> list[float]:
    values = [float(start)]
    for _ in range(count - 1 + (1 if infinity else 0)):
        values.append(step(values[-1]))
    if infinity:
        values[-1] = float("inf")
    return values


@builtin("universe")
def linearBins(
    ctx: Any, start: float, width: float, count: int, infinity: bool = True
) -> list[float]:  # noqa: N802
    """count bins start, start+width, ... (plus +Inf when infinity)."""
    return _bins(start, lambda b: b + width, count, infinity)


@builtin("universe")
def logarithmicBins(  # noqa: N802
    ctx: Any, start: float, factor: float, count: int, infinity: bool = True
) -> list[float]:
    """count bins start, start*factor, ... (plus +Inf when infinity)."""
    return _bins(start, lambda b: b * factor, count, infinity)
