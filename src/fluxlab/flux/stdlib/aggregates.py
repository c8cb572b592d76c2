"""Universe aggregates and selectors (count, sum, mean, quantile, first, top, ...).

Aggregates reduce each table to one row holding the group key columns and the
aggregated column; selectors keep whole rows. Both run as one Polars pass over the
tables of a stream concatenated per schema, with a hidden table-id column (`TID`)
so every input table maps back to exactly one output table (empty ones included).
The helpers at the top are shared with `windows`, `transforms` and `experimental_aggregates`.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from fluxlab.flux.errors import FluxRuntimeError, FluxTypeError
from fluxlab.flux.registry import PACKAGES, builtin
from fluxlab.flux.table import Stream, Table, flux_type_name
from fluxlab.flux.values import Duration, Time

TID = "__flux_tid"
ROW = "__flux_row"
NUMERIC = (pl.Int64, pl.UInt64, pl.Float64)
_EPOCH_UTC = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)

# ============================================================== shared frame helpers


@dataclass(slots=True)
class Bucket:
    """Tables sharing group key columns and schema, concatenated with a TID column."""

    key: tuple[str, ...]
    tids: list[int]
    frame: pl.DataFrame

    def result(self, frame: pl.DataFrame) -> tuple[list[int], pl.DataFrame]:
        """Pair a result frame (carrying TID) with the tables it came from."""
        return self.tids, frame


def tagged_frames(tables: Stream) -> list[Bucket]:
    """Tables concatenated per (key columns, schema), rows tagged with their table index."""
    groups: dict[tuple[Any, ...], list[int]] = {}
    for i, t in enumerate(tables):
        sig = (t.key, tuple(t.df.columns), tuple(t.df.dtypes))
        groups.setdefault(sig, []).append(i)
    buckets = []
    for (key, _, _), tids in groups.items():
        frames = [tables.tables[i].df for i in tids]
        heights = [f.height for f in frames]
        df = pl.concat(frames, how="vertical") if len(frames) > 1 else frames[0]
        tid = pl.Series(TID, np.repeat(np.asarray(tids, dtype=np.uint32), heights))
        buckets.append(Bucket(key, tids, df.with_columns(tid)))
    return buckets


Result = tuple[list[int], pl.DataFrame]


def contiguous_parts(
    frame: pl.DataFrame, columns: Sequence[str], drop: Sequence[str] = ()
) -> list[tuple[tuple[Any, ...], pl.DataFrame]]:
    """Split a frame whose rows are grouped by `columns` into zero-copy slices.

    Returns (values of `columns`, slice without the `drop` columns) per group; much
    cheaper than `partition_by` when there are thousands of groups.
    """
    if frame.height == 0:
        return []
    changed = [pl.col(c).ne_missing(pl.col(c).shift(1)) for c in columns]
    flags = frame.select(pl.any_horizontal(changed).fill_null(True)).to_series().to_numpy()
    flags[0] = True
    starts = np.flatnonzero(flags)
    lengths = np.diff(np.append(starts, frame.height))
    ids = frame.select(columns)[starts].rows()
    body = frame.drop(drop) if drop else frame
    return [
        (ident, body.slice(int(s), int(n)))
        for ident, s, n in zip(ids, starts, lengths, strict=True)
    ]


def split_by_tid(tables: Stream, results: Sequence[Result]) -> Stream:
    """Output tables (same keys as the inputs) from result frames carrying TID.

    An input table with no rows in its bucket's result becomes an empty table with
    the result schema (Flux keeps empty tables).
    """
    frames: dict[int, pl.DataFrame] = {}
    for tids, frame in results:
        ids = frame.get_column(TID)
        if frame.height and not ids.is_sorted():
            frame = frame.sort(TID, maintain_order=True)
        parts = {int(ident[0]): p for ident, p in contiguous_parts(frame, [TID], [TID])}
        blank = frame.head(0).drop(TID)
        for tid in tids:
            frames[tid] = parts.get(tid, blank)
    out = []
    for i, t in enumerate(tables):
        out.append(Table(t.key, t.key_values, frames.get(i, t.df.head(0))))
    return Stream(out)


def require_column(df: pl.DataFrame, column: str, fname: str) -> pl.DataType:
    if column not in df.columns:
        raise FluxRuntimeError(f'{fname}: column "{column}" does not exist')
    return df.schema[column]


def require_numeric(df: pl.DataFrame, column: str, fname: str) -> pl.DataType:
    dtype = require_column(df, column, fname)
    if dtype not in NUMERIC and dtype != pl.Null:
        raise FluxTypeError(
            f'{fname}: column "{column}" is {_type_label(dtype)}, expected a numeric column'
        )
    return dtype


def _type_label(dtype: pl.DataType) -> str:
    try:
        return flux_type_name(dtype)
    except TypeError:
        return str(dtype)


def time_ns(value: Any) -> int | None:
    """Nanoseconds of a time-like key value (Time, datetime or int)."""
    if value is None:
        return None
    if isinstance(value, Time):
        return value.ns
    if isinstance(value, int):
        return value
    if isinstance(value, dt.datetime):
        delta = value.astimezone(dt.UTC) - _EPOCH_UTC
        return (delta.days * 86_400 + delta.seconds) * 10**9 + delta.microseconds * 1000
    raise FluxRuntimeError(f"expected a time value, got {type(value).__name__}")


def key_literal(name: str, value: Any, dtype: pl.DataType | None) -> pl.Expr:
    """A literal for one group key value, typed like its column (times to the ns)."""
    if dtype is not None and isinstance(dtype, pl.Datetime):
        return pl.lit(time_ns(value), pl.Int64).cast(dtype).alias(name)
    if dtype is None:
        return pl.lit(value).alias(name)
    return pl.lit(value, dtype=dtype).alias(name)


def key_literals(t: Table) -> list[pl.Expr]:
    """Literal expressions for a table's group key values (typed like its columns)."""
    schema = t.df.schema
    return [key_literal(n, v, schema.get(n)) for n, v in zip(t.key, t.key_values, strict=True)]


def concat_tables(tables: Sequence[Table]) -> pl.DataFrame:
    """One frame from many tables with possibly different columns (missing -> null)."""
    frames = [t.df for t in tables]
    if not frames:
        return pl.DataFrame()
    return pl.concat(frames, how="diagonal_relaxed")


def regroup(frame: pl.DataFrame, columns: Sequence[str]) -> Stream:
    """Regroup rows by `columns` (like `group(columns:)`), ignoring missing columns."""
    key = [c for c in columns if c in frame.columns]
    if not key:
        return Stream([Table((), (), frame)])
    return Stream.from_frame(frame, key)


# ============================================================== aggregate machinery

AggExpr = Callable[[pl.Expr, pl.DataType], pl.Expr]


def aggregate(
    tables: Stream,
    column: str,
    fname: str,
    make: AggExpr,
    check: Callable[[pl.DataFrame, str, str], Any] = require_column,
    out_column: str | None = None,
) -> Stream:
    """Reduce every table to one row: its group key columns plus `make(col)`."""
    out_name = out_column or column
    results: list[Result] = []
    for b in tagged_frames(tables):
        dtype = check(b.frame, column, fname)
        expr = make(pl.col(column), dtype).alias(out_name)
        if b.frame.height == 0:
            continue
        aggs = [pl.col(k).first() for k in b.key] + [expr]
        results.append(b.result(b.frame.group_by(TID, maintain_order=True).agg(aggs)))
    done = {int(x) for _, f in results for x in f.get_column(TID).unique().to_list()}
    out = split_by_tid(tables, results)
    tabs = list(out)
    for i, t in enumerate(tables):
        if i not in done:
            dtype = check(t.df, column, fname)
            expr = make(pl.col(column), dtype).alias(out_name)
            row = t.df.select(key_literals(t) + [expr])
            tabs[i] = Table(t.key, t.key_values, row)
    return Stream(tabs)


def select_rows(
    tables: Stream, fname: str, column: str, pick: Callable[[pl.DataFrame], pl.DataFrame]
) -> Stream:
    """Selectors: `pick` gets a TID-tagged frame with a ROW index and returns chosen rows."""
    results = []
    for b in tagged_frames(tables):
        require_column(b.frame, column, fname)
        indexed = b.frame.with_row_index(ROW)
        chosen = pick(indexed).sort(ROW).drop(ROW)
        results.append(b.result(chosen))
    return split_by_tid(tables, results)


def _pick_first_by(expr_for_row: Callable[[pl.Expr], pl.Expr], column: str) -> Callable:
    """A `pick` choosing, per table, the row index given by `expr_for_row(value col)`."""

    def pick(frame: pl.DataFrame) -> pl.DataFrame:
        valid = frame.filter(pl.col(column).is_not_null())
        if valid.height == 0:
            return frame.head(0)
        idx = valid.group_by(TID).agg(pl.col(ROW).gather(expr_for_row(pl.col(column))))
        rows = idx.explode(ROW).get_column(ROW)
        return frame.filter(pl.col(ROW).is_in(rows.implode()))

    return pick


# ============================================================== aggregates


def _nonempty(c: pl.Expr, value: pl.Expr, minimum: int = 1) -> pl.Expr:
    return pl.when(c.count() >= minimum).then(value)


def _count_expr(c: pl.Expr, _t: pl.DataType) -> pl.Expr:
    return pl.len().cast(pl.Int64)


def _sum_expr(c: pl.Expr, t: pl.DataType) -> pl.Expr:
    return _nonempty(c, c.sum().cast(t))


def _mean_expr(c: pl.Expr, _t: pl.DataType) -> pl.Expr:
    return _nonempty(c, c.cast(pl.Float64).mean())


def _spread_expr(c: pl.Expr, t: pl.DataType) -> pl.Expr:
    return _nonempty(c, (c.max() - c.min()).cast(t))


def _nan_below(c: pl.Expr, value: pl.Expr, minimum: int) -> pl.Expr:
    """Flux's statistics: null without values, NaN with too few of them."""
    n = c.count()
    return pl.when(n == 0).then(None).when(n < minimum).then(float("nan")).otherwise(value)


def _stddev_expr(ddof: int) -> AggExpr:
    return lambda c, _t: _nan_below(c, c.cast(pl.Float64).std(ddof=ddof), ddof + 1)


def _skew_expr(c: pl.Expr, _t: pl.DataType) -> pl.Expr:
    return _nan_below(c, c.cast(pl.Float64).skew(bias=True), 2)


@builtin("universe", pipe="tables")
def count(ctx: Any, tables: Stream, column: str = "_value") -> Stream:
    """Number of rows (nulls included) per table; 0 for empty tables."""
    return aggregate(tables, column, "count", _count_expr)


@builtin("universe", pipe="tables")
def sum_(ctx: Any, tables: Stream, column: str = "_value") -> Stream:
    """Sum of non-null values, keeping the column type; null when there are none."""
    return aggregate(tables, column, "sum", _sum_expr, require_numeric)


@builtin("universe", pipe="tables")
def mean(ctx: Any, tables: Stream, column: str = "_value") -> Stream:
    """Arithmetic mean as a double; null when there are no values."""
    return aggregate(tables, column, "mean", _mean_expr, require_numeric)


@builtin("universe", pipe="tables")
def spread(ctx: Any, tables: Stream, column: str = "_value") -> Stream:
    """max - min, in the column's type."""
    return aggregate(tables, column, "spread", _spread_expr, require_numeric)


@builtin("universe", pipe="tables")
def stddev(ctx: Any, tables: Stream, column: str = "_value", mode: str = "sample") -> Stream:
    """Standard deviation (sample: n-1, population: n) as a double."""
    if mode not in ("sample", "population"):
        raise FluxRuntimeError(f'stddev: mode must be "sample" or "population", got "{mode}"')
    ddof = 1 if mode == "sample" else 0
    return aggregate(tables, column, "stddev", _stddev_expr(ddof), require_numeric)


@builtin("universe", pipe="tables")
def skew(ctx: Any, tables: Stream, column: str = "_value") -> Stream:
    """Population skewness m3 / m2^1.5 as a double."""
    return aggregate(tables, column, "skew", _skew_expr, require_numeric)


def tdigest_quantile(values: pl.Expr, n: pl.Expr, q: float) -> pl.Expr:
    """Quantile as the t-digest of singleton centroids gives it: interpolation at q*n-0.5."""
    sorted_ = values.drop_nulls().cast(pl.Float64).sort()
    pos = (pl.lit(q) * n - 0.5).clip(0.0, (n - 1).cast(pl.Float64))
    lo = pos.floor().cast(pl.Int64)
    hi = pos.ceil().cast(pl.Int64)
    frac = pos - lo.cast(pl.Float64)
    a = sorted_.get(lo, null_on_oob=True)
    b = sorted_.get(hi, null_on_oob=True)
    return a + (b - a) * frac


def exact_mean_quantile(values: pl.Expr, n: pl.Expr, q: float) -> pl.Expr:
    """Exact quantile interpolating between the two nearest ranks (index q*(n-1))."""
    sorted_ = values.drop_nulls().cast(pl.Float64).sort()
    pos = pl.lit(q) * (n - 1).cast(pl.Float64)
    lo = pos.floor().cast(pl.Int64)
    hi = pos.ceil().cast(pl.Int64)
    a = sorted_.get(lo, null_on_oob=True)
    b = sorted_.get(hi, null_on_oob=True)
    return a + (b - a) * (pos - lo.cast(pl.Float64))


def _quantile_scalar(method: str, q: float) -> AggExpr:
    fn = tdigest_quantile if method == "estimate_tdigest" else exact_mean_quantile

    def make(c: pl.Expr, _t: pl.DataType) -> pl.Expr:
        n = c.count()
        return pl.when(n > 0).then(fn(c, n, q))

    return make


def _selector_index(q: float) -> Callable[[pl.Expr], pl.Expr]:
    """Row of the exact_selector quantile: the value of rank ceil(q*n)-1 (stable sort)."""

    def expr_for_row(c: pl.Expr) -> pl.Expr:
        n = c.count()
        k = (pl.lit(q) * n.cast(pl.Float64)).ceil().cast(pl.Int64)
        k = pl.when(k > 0).then(k - 1).otherwise(0)
        return pl.int_range(pl.len()).sort_by(c, maintain_order=True).gather(k)

    return expr_for_row


@builtin("universe", pipe="tables")
def quantile(
    ctx: Any,
    tables: Stream,
    q: float,
    column: str = "_value",
    method: str = "estimate_tdigest",
    compression: float = 0.0,
) -> Stream:
    """q-th quantile: aggregate for estimate_tdigest/exact_mean, selector for exact_selector."""
    if not isinstance(q, int | float) or not 0 <= q <= 1:
        raise FluxRuntimeError(f"quantile: q must be a float between 0 and 1, got {q}")
    if compression > 0 and method != "estimate_tdigest":
        raise FluxRuntimeError(
            "quantile: compression parameter is only valid for method estimate_tdigest"
        )
    if method == "exact_selector":
        picked = select_rows(tables, "quantile", column, _pick_first_by(_selector_index(q), column))
        return Stream(null_row_table(t) for t in picked)
    if method not in ("estimate_tdigest", "exact_mean"):
        raise FluxRuntimeError(
            f'quantile: unknown method "{method}" '
            "(use estimate_tdigest, exact_mean or exact_selector)"
        )
    out = aggregate(tables, column, "quantile", _quantile_scalar(method, float(q)), require_numeric)
    if method == "estimate_tdigest":
        out = _exact_tdigest_for_large(tables, out, column, float(q), compression or 1000.0)
    return out


def _exact_tdigest_for_large(
    tables: Stream, out: Stream, column: str, q: float, compression: float
) -> Stream:
    """Replace the closed-form estimate by a real t-digest where centroids can merge.

    With fewer than 1/sin(pi/(2*compression)) values every centroid holds one value
    and the closed form in `tdigest_quantile` is exact; larger tables run the digest.
    """
    limit = singleton_limit(compression)
    tabs = list(out)
    for i, t in enumerate(tables):
        if t.height < limit or column not in t.df.columns:
            continue
        values = t.df.get_column(column).drop_nulls().cast(pl.Float64).to_numpy()
        if values.size < limit:
            continue
        value = TDigest(compression).extend(values).quantile(q)
        tabs[i] = tabs[i].with_df(tabs[i].df.with_columns(pl.lit(value, pl.Float64).alias(column)))
    return Stream(tabs)


def singleton_limit(compression: float) -> float:
    """Below this many values every t-digest centroid holds a single value."""
    return 1.0 / math.sin(math.pi / (2.0 * compression)) if compression > 0 else 0.0


def exact_tdigest_groups(
    rows: pl.DataFrame, by: list[str], column: str, q: float, compression: float
) -> pl.DataFrame | None:
    """(by..., column) t-digest quantiles of the groups too big for the closed form."""
    counts = rows.group_by(by).agg(pl.col(column).count().alias("__n"))
    big = counts.filter(pl.col("__n") >= singleton_limit(compression)).select(by)
    if big.height == 0:
        return None
    members = rows.join(big, on=by, how="semi").sort(by, maintain_order=True)
    found = []
    for ident, part in contiguous_parts(members, by):
        values = part.get_column(column).drop_nulls().cast(pl.Float64).to_numpy()
        found.append((*ident, TDigest(compression).extend(values).quantile(q)))
    schema = {**{c: rows.schema[c] for c in by}, column: pl.Float64}
    return pl.DataFrame(found, schema=schema, orient="row")


class TDigest:
    """The merging t-digest of github.com/influxdata/tdigest, which Flux uses.

    Values are buffered and merged in the same batches as the Go library so the
    estimate matches Flux; each merge is vectorized except for a loop per centroid.
    """

    def __init__(self, compression: float) -> None:
        self.compression = compression
        self.max_processed = int(2 * math.ceil(compression))
        self.max_unprocessed = int(8 * math.ceil(compression))
        self.means = np.empty(0)
        self.weights = np.empty(0)
        self.pending: list[np.ndarray] = []
        self.pending_n = 0
        self.total = 0.0
        self.min = math.inf
        self.max = -math.inf

    def extend(self, values: np.ndarray) -> TDigest:
        """Add values (weight 1 each) in order, merging when the Go library would."""
        start = 0
        while start < values.size:
            room = self.max_unprocessed + 1 - self.pending_n
            if self.means.size > self.max_processed:
                room = 1
            chunk = values[start : start + room]
            self.pending.append(chunk)
            self.pending_n += chunk.size
            start += chunk.size
            if self.pending_n > self.max_unprocessed or self.means.size > self.max_processed:
                self._process()
        return self

    def _integrated_q(self, k: float) -> float:
        c = self.compression
        return (math.sin(min(k, c) * math.pi / c - math.pi / 2.0) + 1.0) / 2.0

    def _integrated_location(self, q: float) -> float:
        c = self.compression
        return c * (math.asin(2.0 * q - 1.0) + math.pi / 2.0) / math.pi

    def _process(self) -> None:
        if not self.pending_n and self.means.size <= self.max_processed:
            return
        new = np.concatenate(self.pending) if self.pending else np.empty(0)
        means = np.concatenate([new, self.means])
        weights = np.concatenate([np.ones(new.size), self.weights])
        order = np.argsort(means, kind="stable")
        means, weights = means[order], weights[order]
        self.total += new.size
        self.pending, self.pending_n = [], 0
        cum = np.cumsum(weights)
        starts = [0]
        limit = self.total * self._integrated_q(1.0)
        while True:
            s = starts[-1]
            end = max(s, int(np.searchsorted(cum, limit, side="right")) - 1)
            if end + 1 >= means.size:
                break
            k1 = self._integrated_location(cum[end] / self.total)
            limit = self.total * self._integrated_q(k1 + 1.0)
            starts.append(end + 1)
        idx = np.asarray(starts)
        w = np.add.reduceat(weights, idx)
        self.means = np.add.reduceat(weights * means, idx) / w
        self.weights = w
        self.min = min(self.min, float(self.means[0]))
        self.max = max(self.max, float(self.means[-1]))

    def quantile(self, q: float) -> float:
        self._process()
        n = self.means.size
        if n == 0 or q < 0 or q > 1:
            return math.nan
        if n == 1:
            return float(self.means[0])
        index = q * self.total
        w, m = self.weights, self.means
        if index <= w[0] / 2.0:
            return self.min + 2.0 * index / w[0] * (m[0] - self.min)
        cumulative = np.concatenate([np.cumsum(w) - w / 2.0, [self.total]])
        lower = int(np.searchsorted(cumulative, index, side="left"))
        if lower + 1 < cumulative.size:
            z1 = index - cumulative[lower - 1]
            z2 = cumulative[lower] - index
            return _weighted_average(m[lower - 1], z2, m[lower], z1)
        z1 = index - self.total - w[-1] / 2.0
        z2 = w[-1] / 2.0 - z1
        return _weighted_average(m[-1], z1, self.max, z2)


def _weighted_average(x1: float, w1: float, x2: float, w2: float) -> float:
    if x1 > x2:
        x1, w1, x2, w2 = x2, w2, x1, w1
    x = (x1 * w1 + x2 * w2) / (w1 + w2)
    return float(max(x1, min(x, x2)))


@builtin("universe", pipe="tables")
def median(
    ctx: Any,
    tables: Stream,
    column: str = "_value",
    method: str = "estimate_tdigest",
    compression: float = 0.0,
) -> Stream:
    """quantile(q: 0.5)."""
    return quantile(ctx, tables, 0.5, column, method, compression)


@builtin("universe", pipe="tables")
def mode(ctx: Any, tables: Stream, column: str = "_value") -> Stream:
    """Most frequent non-null values (all ties, ascending), one row each."""
    results = []
    for b in tagged_frames(tables):
        require_column(b.frame, column, "mode")
        key = list(b.key)
        counts = (
            b.frame.filter(pl.col(column).is_not_null())
            .group_by([TID, *key, column], maintain_order=True)
            .agg(pl.len().alias("__n"))
        )
        best = counts.filter(pl.col("__n") == pl.col("__n").max().over(TID))
        results.append(b.result(best.sort([TID, column]).drop("__n")))
    out = split_by_tid(tables, results)
    return Stream(_fill_empty_with_null(out, tables, column))


def null_row_table(t: Table) -> Table:
    """An empty table gets one row: its key values and nulls elsewhere (table.fill)."""
    if t.height:
        return t
    kd = t.key_dict()
    row = pl.DataFrame([_key_series(n, kd.get(n), d) for n, d in t.df.schema.items()])
    return Table(t.key, t.key_values, row)


def _key_series(name: str, value: Any, dtype: pl.DataType) -> pl.Series:
    """A one-row column holding a group key value (times kept to the nanosecond)."""
    if isinstance(dtype, pl.Datetime):
        return pl.Series(name, [time_ns(value)], pl.Int64).cast(dtype)
    return pl.Series(name, [value], dtype)


def _fill_empty_with_null(out: Stream, tables: Stream, column: str) -> list[Table]:
    """Tables that produced no rows get one row: key values and a null `column`."""
    tabs = list(out)
    for i, t in enumerate(tabs):
        if t.height == 0:
            src = tables.tables[i]
            dtype = src.df.schema.get(column, pl.Null)
            row = pl.DataFrame().select(key_literals(src) + [pl.lit(None, dtype).alias(column)])
            tabs[i] = Table(t.key, t.key_values, row)
    return tabs


@builtin("universe", pipe="tables")
def distinct(ctx: Any, tables: Stream, column: str = "_value") -> Stream:
    """Distinct values of `column` (null included) as `_value`, with the group key."""
    from fluxlab.flux.stdlib.from_store import StoreSource, push_aggregate

    if isinstance(tables, StoreSource):  # schema.tagValues on the store: see from_store
        pushed = push_aggregate(ctx, tables, "distinct", {"column": column})
        if pushed is not None:
            return pushed
    results = []
    for b in tagged_frames(tables):
        require_column(b.frame, column, "distinct")
        key = [k for k in b.key if k != "_value"]
        picked = b.frame.select([TID, *key, pl.col(column).alias("_value")]).unique(
            subset=[TID, "_value"], maintain_order=True
        )
        results.append(b.result(picked))
    return split_by_tid(tables, results)


@builtin("universe", pipe="tables")
def unique(ctx: Any, tables: Stream, column: str = "_value") -> Stream:
    """Rows holding the first occurrence of each value of `column`."""

    def pick(frame: pl.DataFrame) -> pl.DataFrame:
        return frame.unique(subset=[TID, column], keep="first", maintain_order=True)

    return select_rows(tables, "unique", column, pick)


# ============================================================== selectors


@builtin("universe", pipe="tables")
def first(ctx: Any, tables: Stream, column: str = "_value") -> Stream:
    """The first row with a non-null `column`."""
    return select_rows(tables, "first", column, _pick_first_by(lambda c: pl.lit(0), column))


@builtin("universe", pipe="tables")
def last(ctx: Any, tables: Stream, column: str = "_value") -> Stream:
    """The last row with a non-null `column`."""
    return select_rows(tables, "last", column, _pick_first_by(lambda c: pl.len() - 1, column))


def _check_ordered(tables: Stream, column: str, fname: str) -> None:
    for t in tables:
        dtype = require_column(t.df, column, fname)
        if (
            dtype not in NUMERIC
            and dtype not in (pl.Null, pl.String)
            and not isinstance(dtype, pl.Datetime)
        ):
            raise FluxTypeError(
                f'{fname}: column "{column}" is {_type_label(dtype)}, cannot compare'
            )


@builtin("universe", pipe="tables")
def min_(ctx: Any, tables: Stream, column: str = "_value") -> Stream:
    """The row with the smallest `column` (first one on ties)."""
    _check_ordered(tables, column, "min")
    return select_rows(tables, "min", column, _pick_first_by(lambda c: c.arg_min(), column))


@builtin("universe", pipe="tables")
def max_(ctx: Any, tables: Stream, column: str = "_value") -> Stream:
    """The row with the largest `column` (first one on ties)."""
    _check_ordered(tables, column, "max")
    return select_rows(tables, "max", column, _pick_first_by(lambda c: c.arg_max(), column))


def sort_limit(tables: Stream, n: int, columns: Sequence[str], desc: bool, fname: str) -> Stream:
    """`sort(columns, desc) |> limit(n)` per table; nulls sort as the smallest values."""
    if not isinstance(n, int) or n < 0:
        raise FluxRuntimeError(f"{fname}: n must be a non-negative integer")
    cols = list(columns)
    results = []
    for b in tagged_frames(tables):
        for c in cols:
            require_column(b.frame, c, fname)
        ordered = b.frame.sort(
            [TID, *cols],
            descending=[False] + [desc] * len(cols),
            nulls_last=[False] + [desc] * len(cols),
            maintain_order=True,
        )
        results.append(b.result(ordered.filter(pl.int_range(pl.len()).over(TID) < n)))
    return split_by_tid(tables, results)


@builtin("universe", pipe="tables")
def top(ctx: Any, tables: Stream, n: int, columns: list[str] | None = None) -> Stream:
    """The n rows with the largest values of `columns`, largest first."""
    return sort_limit(tables, n, columns or ["_value"], True, "top")


@builtin("universe", pipe="tables")
def bottom(ctx: Any, tables: Stream, n: int, columns: list[str] | None = None) -> Stream:
    """The n rows with the smallest values of `columns`, smallest first."""
    return sort_limit(tables, n, columns or ["_value"], False, "bottom")


@builtin("universe", pipe="tables")
def sample(ctx: Any, tables: Stream, n: int, pos: int = -1, column: str = "_value") -> Stream:
    """Every n-th row starting at `pos` (a random start in [0, n) when pos is -1)."""
    if not isinstance(n, int) or n <= 0:
        raise FluxRuntimeError("sample: n must be a positive integer")
    if pos >= n:
        raise FluxRuntimeError(f"sample: pos must be less than n ({pos} >= {n})")
    start = random.randrange(n) if pos < 0 else pos

    def pick(frame: pl.DataFrame) -> pl.DataFrame:
        i = pl.int_range(pl.len()).over(TID)
        return frame.filter((i >= start) & ((i - start) % n == 0))

    return select_rows(tables, "sample", column, pick)


@builtin("universe", pipe="tables")
def tail(ctx: Any, tables: Stream, n: int, offset: int = 0) -> Stream:
    """The last n rows of each table, skipping `offset` rows at the end."""
    if not isinstance(n, int) or n < 0 or offset < 0:
        raise FluxRuntimeError("tail: n and offset must be non-negative integers")
    results = []
    for b in tagged_frames(tables):
        i = pl.int_range(pl.len()).over(TID)
        size = pl.len().over(TID)
        results.append(b.result(b.frame.filter((i >= size - n - offset) & (i < size - offset))))
    return split_by_tid(tables, results)


# ============================================================== covariance, integral


def _covariance_expr(x: str, y: str, pearsonr: bool) -> pl.Expr:
    both = pl.col(x).is_not_null() & pl.col(y).is_not_null()
    xs = pl.col(x).cast(pl.Float64).filter(both)
    ys = pl.col(y).cast(pl.Float64).filter(both)
    n = both.sum()
    cov = ((xs - xs.mean()) * (ys - ys.mean())).sum() / (n - 1)
    if pearsonr:
        cov = cov / (xs.std(ddof=1) * ys.std(ddof=1))
    return pl.when(n >= 2).then(cov)


@builtin("universe", pipe="tables")
def covariance(
    ctx: Any, tables: Stream, columns: list[str], pearsonr: bool = False, valueDst: str = "_value"
) -> Stream:
    """Sample covariance (or Pearson r) of two columns, as a double in `valueDst`."""
    if len(columns) != 2:
        raise FluxRuntimeError("covariance: columns must name exactly two columns")
    x, y = columns

    def check(df: pl.DataFrame, _c: str, fname: str) -> None:
        require_numeric(df, x, fname)
        require_numeric(df, y, fname)

    return aggregate(
        tables, x, "covariance", lambda _c, _t: _covariance_expr(x, y, pearsonr), check, valueDst
    )


@builtin("universe")
def cov(ctx: Any, x: Stream, y: Stream, on: list[str], pearsonr: bool = False) -> Stream:
    """join(tables: {x, y}, on) |> covariance(columns: ["_value_x", "_value_y"])."""
    join = PACKAGES.get("universe", {}).get("join")
    if join is None:
        raise FluxRuntimeError("cov: join is not available")
    joined = ctx.call(join, tables={"x": x, "y": y}, on=on)
    return covariance(ctx, joined, ["_value_x", "_value_y"], pearsonr)


def _unit_ns(unit: Duration, fname: str) -> int:
    if not isinstance(unit, Duration) or unit.months or unit.total_ns() <= 0:
        raise FluxRuntimeError(f"{fname}: unit must be a positive fixed duration")
    return unit.total_ns()


@builtin("universe", pipe="tables")
def integral(
    ctx: Any,
    tables: Stream,
    unit: Duration = Duration.of_ns(10**9),
    column: str = "_value",
    timeColumn: str = "_time",
    interpolate: str = "",
) -> Stream:
    """Area under the curve (trapezoids between non-null points) per `unit`.

    As in Flux: a row at the same time as the row before it is skipped, times must
    ascend, and "linear" extends the first/last segments to the _start/_stop bounds
    (a single point then counts as constant over the bounds, not divided by unit).
    """
    unit_ns = _unit_ns(unit, "integral")
    if interpolate not in ("", "linear"):
        raise FluxRuntimeError('integral: interpolate must be "" or "linear"')
    linear = interpolate == "linear"

    def make(c: pl.Expr, _t: pl.DataType) -> pl.Expr:
        raw_t = pl.col(timeColumn).cast(pl.Int64)
        fresh = raw_t.ne_missing(raw_t.shift(1)).fill_null(True)
        ok = fresh & c.is_not_null()
        v = c.cast(pl.Float64).filter(ok)
        t = raw_t.filter(ok).cast(pl.Float64)
        area = ((t - t.shift(1)) * (v + v.shift(1)) / 2.0).sum() / unit_ns
        if not linear:
            return area
        start = pl.col("_start").cast(pl.Int64).first().cast(pl.Float64)
        stop = pl.col("_stop").cast(pl.Int64).first().cast(pl.Float64)
        single = v.first() * (stop - start)
        edges = _edge_area(v, t, start, stop) / unit_ns
        return pl.when(v.len() == 1).then(single).otherwise(area + edges.fill_null(0.0))

    def check(df: pl.DataFrame, col: str, fname: str) -> None:
        require_numeric(df, col, fname)
        require_column(df, timeColumn, fname)
        if linear:
            require_column(df, "_start", fname)
            require_column(df, "_stop", fname)

    _check_time_order(tables, timeColumn)
    return aggregate(tables, column, "integral", make, check)


def _check_time_order(tables: Stream, time_column: str) -> None:
    for b in tagged_frames(tables):
        if time_column not in b.frame.columns:
            continue
        t = pl.col(time_column).cast(pl.Int64)
        bad = b.frame.select((t.diff().over(TID) < 0).any()).item()
        if bad:
            raise FluxRuntimeError("integral found out-of-order times in time column")


def _edge_area(v: pl.Expr, t: pl.Expr, start: pl.Expr, stop: pl.Expr) -> pl.Expr:
    """Linear extrapolation of the first and last segments to the bounds."""

    def at(e: pl.Expr, i: int | pl.Expr) -> pl.Expr:
        return e.get(i, null_on_oob=True)

    n = v.len()
    slope_a = (at(v, 1) - at(v, 0)) / (at(t, 1) - at(t, 0))
    lead = (at(t, 0) - start).clip(lower_bound=0.0)
    left = lead * (at(v, 0) - slope_a * lead + at(v, 0)) / 2.0
    slope_b = (at(v, n - 1) - at(v, n - 2)) / (at(t, n - 1) - at(t, n - 2))
    tail = stop - at(t, n - 1)
    right = tail * (at(v, n - 1) + slope_b * tail + at(v, n - 1)) / 2.0
    return left + right


# ============================================================== highest / lowest


def _highest_lowest(
    ctx: Any,
    tables: Stream,
    n: int,
    column: str,
    group_columns: Sequence[str],
    reducer: Callable[[Any, Stream, str], Stream],
    desc: bool,
) -> Stream:
    """group(columns: groupColumns) |> reducer |> group() |> top/bottom(n)."""
    grouped = regroup(concat_tables(tables.tables), group_columns)
    reduced = reducer(ctx, grouped, column)
    flat = Stream([Table((), (), concat_tables(reduced.tables))])
    return sort_limit(flat, n, [column], desc, "highest/lowest")


def _max(ctx: Any, s: Stream, c: str) -> Stream:
    return max_(ctx, s, c)


def _min(ctx: Any, s: Stream, c: str) -> Stream:
    return min_(ctx, s, c)


def _mean(ctx: Any, s: Stream, c: str) -> Stream:
    return mean(ctx, s, c)


def _last(ctx: Any, s: Stream, c: str) -> Stream:
    return last(ctx, s, c)


@builtin("universe", pipe="tables")
def highestMax(
    ctx: Any, tables: Stream, n: int, column: str = "_value", groupColumns: list[str] | None = None
) -> Stream:  # noqa: N802
    return _highest_lowest(ctx, tables, n, column, groupColumns or [], _max, True)


@builtin("universe", pipe="tables")
def highestAverage(
    ctx: Any, tables: Stream, n: int, column: str = "_value", groupColumns: list[str] | None = None
) -> Stream:  # noqa: N802
    return _highest_lowest(ctx, tables, n, column, groupColumns or [], _mean, True)


@builtin("universe", pipe="tables")
def highestCurrent(
    ctx: Any, tables: Stream, n: int, column: str = "_value", groupColumns: list[str] | None = None
) -> Stream:  # noqa: N802
    return _highest_lowest(ctx, tables, n, column, groupColumns or [], _last, True)


@builtin("universe", pipe="tables")
def lowestMin(
    ctx: Any, tables: Stream, n: int, column: str = "_value", groupColumns: list[str] | None = None
) -> Stream:  # noqa: N802
    return _highest_lowest(ctx, tables, n, column, groupColumns or [], _min, False)


@builtin("universe", pipe="tables")
def lowestAverage(
    ctx: Any, tables: Stream, n: int, column: str = "_value", groupColumns: list[str] | None = None
) -> Stream:  # noqa: N802
    return _highest_lowest(ctx, tables, n, column, groupColumns or [], _mean, False)


@builtin("universe", pipe="tables")
def lowestCurrent(
    ctx: Any, tables: Stream, n: int, column: str = "_value", groupColumns: list[str] | None = None
) -> Stream:  # noqa: N802
    return _highest_lowest(ctx, tables, n, column, groupColumns or [], _last, False)


# ============================================================== windowable forms

# Aggregates and selectors that aggregateWindow can run in one group_by over all
# windows (instead of materializing one table per window): function -> its pieces.
WINDOWABLE_AGGREGATES: dict[Callable[..., Stream], tuple[AggExpr, Callable[..., Any]]] = {
    count: (_count_expr, require_column),
    sum_: (_sum_expr, require_numeric),
    mean: (_mean_expr, require_numeric),
    spread: (_spread_expr, require_numeric),
    stddev: (_stddev_expr(1), require_numeric),
    skew: (_skew_expr, require_numeric),
}
WINDOWABLE_SELECTORS: dict[Callable[..., Stream], tuple[Callable[[pl.Expr], pl.Expr], str]] = {
    first: (lambda c: pl.lit(0), "first"),
    last: (lambda c: pl.len() - 1, "last"),
    min_: (lambda c: c.arg_min(), "min"),
    max_: (lambda c: c.arg_max(), "max"),
}


def check_selector(tables: Stream, column: str, name: str) -> None:
    """The argument checks a windowable selector makes (min/max need ordered values)."""
    if name in ("min", "max"):
        _check_ordered(tables, column, name)
    else:
        for t in tables:
            require_column(t.df, column, name)


# Quantile aggregates aggregateWindow can run windowed: function -> q.
WINDOWABLE_QUANTILES: dict[Callable[..., Stream], float] = {median: 0.5}
WINDOWABLE_AGGREGATES[median] = (_quantile_scalar("estimate_tdigest", 0.5), require_numeric)
