"""Universe `holtWinters`: seasonal exponential-smoothing forecasts per table.

As documented for Flux, values are first put on an even grid: rows fall into
`interval`-wide buckets counted from the table's first timestamp, the first value of
each bucket is kept, and empty buckets take the previous value. The model is Holt-Winters
with a damped trend and multiplicative seasonality (`seasonality` points per season;
0 means no seasonal part), the form InfluxQL's HOLT_WINTERS uses. Its four smoothing
parameters (level, trend, season, damping; each in [0, 1]) are chosen by a
Nelder-Mead search minimising the squared one-step-ahead errors.

Known difference: InfluxDB's own optimiser (starting point, simplex and stopping rule)
is not documented, and the fitted parameters differ: on the upstream Flux test data the
forecasts differ from InfluxDB's by several units on values of 0-6. Treat the output as
a forecast of the same model, not as InfluxDB's numbers. A table too short to fit (fewer than two seasons, or two points) yields a
table with only its group-key columns and no rows, as InfluxDB does.

The per-series fit is sequential by nature (each step depends on the previous one) and
runs on the bucketed series, which is small compared with the raw rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
from scipy.optimize import minimize

from fluxlab.flux.errors import FluxRuntimeError, FluxTypeError
from fluxlab.flux.registry import builtin
from fluxlab.flux.stdlib.shape_common import require_stream
from fluxlab.flux.table import TIME_TYPE, Stream, Table
from fluxlab.flux.values import Duration

_START = np.array([0.5, 0.1, 0.1, 0.9])  # level, trend, season, damping


@dataclass(slots=True)
class _Fit:
    """Smoothed state after the last observation, and the one-step fitted values."""

    level: float
    trend: float
    seasonal: list[float]
    fitted: np.ndarray
    sse: float


def _smooth(y: np.ndarray, m: int, params: np.ndarray) -> _Fit:
    """Run the damped multiplicative Holt-Winters recursion over y."""
    alpha, beta, gamma, phi = (float(p) for p in np.clip(params, 0.0, 1.0))
    season = m if m > 1 else 1
    first = y[:season]
    level = float(first.mean())
    if m > 1 and len(y) >= 2 * m:
        trend = float((y[m : 2 * m].mean() - first.mean()) / m)
    else:
        trend = float(y[1] - y[0]) if len(y) > 1 else 0.0
    if m > 1 and level != 0:
        seasonal = list(first / level)
    else:
        seasonal = [1.0] * season
    fitted = np.full(len(y), np.nan)
    sse = 0.0
    for t in range(season, len(y)):
        s = seasonal[t - season]
        base = level + phi * trend
        fitted[t] = base * s
        sse += (y[t] - fitted[t]) ** 2
        new_level = alpha * (y[t] / s if s else y[t]) + (1 - alpha) * base
        trend = beta * (new_level - level) + (1 - beta) * phi * trend
        if m > 1:
            seasonal.append(gamma * (y[t] / base if base else s) + (1 - gamma) * s)
        else:
            seasonal.append(1.0)
        level = new_level
    return _Fit(level, trend, seasonal, fitted, sse)


def _forecast(fit: _Fit, m: int, n: int, phi: float) -> np.ndarray:
    season = m if m > 1 else 1
    damp = np.cumsum(phi ** np.arange(1, n + 1))
    idx = (len(fit.seasonal) - season) + (np.arange(n) % season)
    seasonal = np.asarray(fit.seasonal)[idx]
    return (fit.level + damp * fit.trend) * seasonal


def _fit_params(y: np.ndarray, m: int) -> np.ndarray:
    result = minimize(
        lambda p: _smooth(y, m, p).sse,
        _START,
        method="Nelder-Mead",
        options={"xatol": 1e-8, "fatol": 1e-12, "maxiter": 4000},
    )
    return np.clip(result.x, 0.0, 1.0)


def _bucketed(df: pl.DataFrame, time_col: str, column: str, every_ns: int) -> pl.DataFrame:
    """First value per interval bucket (counted from the first time), gaps filled forward."""
    ns = pl.col(time_col).cast(pl.Int64)
    rows = df.filter(pl.col(time_col).is_not_null()).sort(time_col)
    if rows.height == 0:
        return pl.DataFrame({"bucket": [], "value": []})
    first = rows.get_column(time_col).cast(pl.Int64)[0]
    per_bucket = (
        rows.select(((ns - first) // every_ns).alias("bucket"), pl.col(column).alias("value"))
        .group_by("bucket", maintain_order=True)
        .first()
    )
    last = int(per_bucket.get_column("bucket").max())  # type: ignore[arg-type]
    grid = pl.DataFrame({"bucket": pl.int_range(0, last + 1, eager=True)})
    out = grid.join(per_bucket, on="bucket", how="left").sort("bucket")
    return out.with_columns(pl.col("value").cast(pl.Float64).forward_fill(), pl.lit(first).alias("t0"))


def _one_table(table: Table, n: int, m: int, every_ns: int, with_fit: bool,
               column: str, time_col: str) -> Table:
    key_df = table.df.select(table.key).head(1) if table.key else pl.DataFrame()
    grid = _bucketed(table.df, time_col, column, every_ns)
    values = grid.get_column("value").drop_nulls().to_numpy() if grid.height else np.array([])
    needed = 2 * m if m > 1 else 2
    if len(values) < needed or grid.get_column("value").null_count():
        return Table(table.key, table.key_values, key_df.clear())
    params = _fit_params(values, m)
    fit = _smooth(values, m, params)
    predictions = _forecast(fit, m, n, float(params[3]))
    t0 = int(grid.get_column("t0")[0])
    last = len(values) - 1
    times = [t0 + (last + k) * every_ns for k in range(1, n + 1)]
    out_values = list(predictions)
    if with_fit:
        fitted_at = [i for i in range(len(values)) if not np.isnan(fit.fitted[i])]
        times = [t0 + i * every_ns for i in fitted_at] + times
        out_values = [float(fit.fitted[i]) for i in fitted_at] + out_values
    body = pl.DataFrame(
        {time_col: pl.Series(times, dtype=pl.Int64).cast(TIME_TYPE),
         column: pl.Series(out_values, dtype=pl.Float64)}
    )
    keys = pl.concat([key_df] * body.height, how="vertical") if table.key and body.height else None
    df = pl.concat([keys, body], how="horizontal") if keys is not None else body
    return Table(table.key, table.key_values, df)


@builtin("universe", pipe="tables")
def holtWinters(  # noqa: N802
    ctx: Any,
    tables: Any,
    n: int,
    interval: Any,
    withFit: bool = False,  # noqa: N803
    column: str = "_value",
    timeColumn: str = "_time",  # noqa: N803
    seasonality: int = 0,
) -> Stream:
    """n forecasts `interval` apart after each table's last bucket (see module doc)."""
    if not isinstance(interval, Duration) or not interval.is_fixed() or interval.total_ns() <= 0:
        raise FluxRuntimeError("holtWinters: interval must be a positive duration without months")
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise FluxTypeError("holtWinters: n must be a non-negative int")
    if isinstance(seasonality, bool) or not isinstance(seasonality, int) or seasonality < 0:
        raise FluxTypeError("holtWinters: seasonality must be a non-negative int")
    out = []
    for table in require_stream(tables, "tables", "holtWinters"):
        for needed in (column, timeColumn):
            if needed not in table.df.columns:
                raise FluxRuntimeError(f"holtWinters: column {needed!r} not found")
        out.append(_one_table(table, n, seasonality, interval.total_ns(), withFit, column,
                              timeColumn))
    return Stream(out)
