"""Package "experimental/prometheus": histogramQuantile over scraped Prometheus histograms.

Each (series, `_time`) holds one cumulative histogram: bucket upper bounds in `le`
(metric format 2) or in `_field` (format 1, where rows such as `sum`/`count` are not
buckets and are ignored). The quantile is PromQL's `histogram_quantile`: find the first
bucket whose cumulative count reaches `quantile * total`, then interpolate linearly
inside it (the lowest bucket starts at 0; a rank in the `+Inf` bucket returns the
highest finite bound). No observations give null. Counts that decrease with the bound
are an error, or are raised to the running maximum ("force"), or drop that histogram
("drop"). The output keeps the series key (without the bucket column), adds the
quantile as a string key column, and has one row per `_time`.
"""

from __future__ import annotations

import math
from typing import Any

import polars as pl

from fluxlab.flux.errors import FluxRuntimeError
from fluxlab.flux.registry import builtin
from fluxlab.flux.stdlib.shape_common import require_stream
from fluxlab.flux.table import Stream

_PKG = "experimental/prometheus"
_BOUND = "__fluxlab_bound"
_COUNT = "__fluxlab_count"
_MODES = ("error", "force", "drop")


def _quantile_label(q: float) -> str:
    """Flux's text for a float: shortest round-trip form, no trailing ".0"."""
    return str(int(q)) if q.is_integer() else repr(q)


def _buckets(tables: Stream, version: int) -> tuple[pl.DataFrame, list[str]]:
    """All rows as (group columns..., _time, bound, count) and the series key columns."""
    bucket_col = "le" if version == 2 else "_field"
    frames, key = [], []
    for table in tables:
        if bucket_col not in table.df.columns or "_value" not in table.df.columns:
            raise FluxRuntimeError(
                f"prometheus.histogramQuantile: tables need {bucket_col!r} and '_value' columns"
            )
        for k in table.key:
            if k not in key and k != bucket_col:
                key.append(k)
        frames.append(table.df)
    if not frames:
        return pl.DataFrame(), key
    df = pl.concat(frames, how="diagonal_relaxed")
    cols = [*key, "_time"] if "_time" in df.columns else key
    out = df.select(
        *[pl.col(c) for c in cols],
        pl.col(bucket_col).cast(pl.String).cast(pl.Float64, strict=False).alias(_BOUND),
        pl.col("_value").cast(pl.Float64).alias(_COUNT),
    )
    return out.filter(pl.col(_BOUND).is_not_null()), cols


def _quantiles(df: pl.DataFrame, group: list[str], q: float, mode: str) -> pl.DataFrame:
    """One row per histogram (group) with its quantile in `_value` (vectorized)."""
    gcols = group or ["__g"]
    df = df.with_columns(pl.lit(0).alias("__g")).sort([*gcols, _BOUND])
    running_max = pl.col(_COUNT).cum_max().over(gcols)
    df = df.with_columns(
        (pl.col(_COUNT) < running_max).any().over(gcols).alias("__nonmono"),
        running_max.alias("__forced"),
    )
    if mode == "error" and df.get_column("__nonmono").any():
        raise FluxRuntimeError(
            "prometheus.histogramQuantile: bucket counts are not monotonically increasing "
            'with the upper bound; pass onNonmonotonic: "force" or "drop"'
        )
    if mode == "drop":
        df = df.filter(~pl.col("__nonmono"))
    else:
        df = df.with_columns(pl.col("__forced").alias(_COUNT))
    df = df.with_columns(
        pl.col(_COUNT).last().over(gcols).alias("__total"),
        pl.col(_BOUND).last().over(gcols).alias("__top"),
        pl.len().over(gcols).alias("__n"),
        pl.int_range(pl.len()).over(gcols).alias("__i"),
        pl.col(_BOUND).shift(1).over(gcols).alias("__lo"),
        pl.col(_COUNT).shift(1).over(gcols).alias("__below"),
    )
    rank = pl.lit(q) * pl.col("__total")
    first = df.filter(pl.col(_COUNT) >= rank).group_by(gcols, maintain_order=True).first()
    lo = pl.col("__lo").fill_null(0.0)
    below = pl.col("__below").fill_null(0.0)
    inside = (rank - below) / (pl.col(_COUNT) - below)
    value = (
        pl.when(pl.col("__total").is_null() | (pl.col("__total") == 0))
        .then(None)
        .when(~pl.col("__top").is_infinite() | (pl.col("__n") < 2))
        .then(math.nan)
        .when(pl.col("__i") == pl.col("__n") - 1)
        .then(pl.col("__lo"))  # rank in the +Inf bucket: the highest finite bound
        .when((pl.col("__i") == 0) & (pl.col(_BOUND) <= 0))
        .then(pl.col(_BOUND))
        .otherwise(lo + (pl.col(_BOUND) - lo) * inside)
    )
    return first.select(*group, value.cast(pl.Float64).alias("_value"))


@builtin(_PKG, pipe="tables")
def histogramQuantile(  # noqa: N802
    ctx: Any,
    tables: Any,
    quantile: float,
    metricVersion: int = 2,  # noqa: N803
    onNonmonotonic: str = "error",  # noqa: N803
) -> Stream:
    """PromQL histogram_quantile per series and timestamp."""
    stream = require_stream(tables, "tables", "prometheus.histogramQuantile")
    if metricVersion not in (1, 2):
        raise FluxRuntimeError(
            f"prometheus.histogramQuantile: unknown metricVersion {metricVersion} (use 1 or 2)"
        )
    if onNonmonotonic not in _MODES:
        raise FluxRuntimeError(
            f"prometheus.histogramQuantile: onNonmonotonic must be one of {', '.join(_MODES)}"
        )
    q = float(quantile)
    df, group = _buckets(stream, int(metricVersion))
    if df.height == 0:
        return Stream()
    if q < 0 or q > 1:
        out = df.group_by(group, maintain_order=True).first().select(
            *group, pl.lit(-math.inf if q < 0 else math.inf).alias("_value")
        )
    else:
        out = _quantiles(df, group, q, onNonmonotonic)
    label = _quantile_label(q)
    key = [c for c in group if c != "_time"] + ["quantile"]
    out = out.with_columns(pl.lit(label, dtype=pl.String).alias("quantile"))
    sort_cols = [c for c in key if c != "quantile"] + (["_time"] if "_time" in group else [])
    out = out.sort(sort_cols, maintain_order=True, nulls_last=False) if sort_cols else out
    return Stream.from_frame(out, key)
