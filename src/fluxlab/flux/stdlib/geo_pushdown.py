"""Pushing `experimental/geo` region filters down into the embedded store's scan.

InfluxDB prunes `geo.filterRows`/`geo.gridFilter` with the `s2_cell_id` tag before
any exact distance check; here the pruning goes one step further down, into the
scan itself. For a `from |> range |> filter` source that has not been read yet:

1. the distinct `s2_cell_id` values of the rows the scan would return are read
   (one DISTINCT query over a dictionary-encoded column);
2. the region's S2 covering is computed as gridFilter does, and the candidate
   tokens are the distinct values whose ancestor at the grid level is in the
   covering (vectorized over token ids);
3. the scan is restricted to those tokens, and when lat/lon must become columns
   (toRows, filterRows) the measurement tables are read wide, with no unpivot in
   SQL and no pivot in Polars.

With `strict: true` and a circle, filterRows returns a CircleRows instead: when
`group(columns: tags) |> count/sum/mean(column: field)` follows, the whole chain is
one SQL aggregate per series (the containment test in SQL, rows within a rounding
band of the boundary re-checked with the exact NumPy test), combined into the groups.

Every step falls back to the unpushed path (scan, then filter) whenever the result
could differ from it: rows without the tag, mixed token levels, unparseable tokens,
filters that were not translated into the scan. The output (columns, order, group
keys, `_start`/`_stop`) is what `pivot(rowKey: ["_time"], columnKey: ["_field"])`
produces from the long scan; tests/flux/test_geo_pushdown.py compares both.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from fluxlab.flux.stdlib import geo_shapes as gs
from fluxlab.flux.stdlib.from_store import StoreSource
from fluxlab.flux.stdlib.shape_common import key_sort_key
from fluxlab.flux.table import TIME_TYPE, Stream, Table
from fluxlab.model import s2
from fluxlab.storage.predicate import And, Cmp, Or, Predicate
from fluxlab.storage.wide import SERIES_COLUMN, TagIn, WidePart, distinct_tag_values, scan_wide

CELL_TAG = "s2_cell_id"
MAX_PREDICATE_CELLS = 2000
"""gridFilter alone hands the cells to the long scan as an OR of comparisons: beyond this
many the SQL gets slower than filtering the scanned rows, so it is not pushed."""
GridFn = Any  # (cell_level) -> (grid_level, covering tokens); geo._grid bound to the region


def pending_source(tables: Any) -> StoreSource | None:
    """The source when `tables` is an unread, range-bounded `from()`; else None."""
    if isinstance(tables, StoreSource) and tables.pending and tables.plan.start is not None:
        return tables
    return None


def candidate_tokens(
    ctx: Any, source: StoreSource, grid: GridFn, s2cell_level: int
) -> pa.Array | None:
    """Stored `s2_cell_id` values that gridFilter would keep, or None to not push down."""
    plan = source.plan
    if plan.residual_filters and s2cell_level == -1:
        return None  # the level gridFilter detects depends on rows the filter may drop
    values = distinct_tag_values(
        ctx.source,
        plan.bucket,
        CELL_TAG,
        start_ns=plan.start.ns,
        stop_ns=plan.stop.ns if plan.stop else None,
        predicate=plan.predicate,
    )
    if len(values) == 0 or values.null_count:
        return None  # nothing to read, or tables without the tag (gridFilter raises)
    ids = _fixed_width_ids(values)
    if ids is None:
        try:
            ids = s2.token_to_id(values)
        except s2.S2Error:
            return None
    levels = s2.levels(ids)
    if s2cell_level == -1:
        if (levels != levels[0]).any():
            return None
        s2cell_level = int(levels[0])
    grid_level, covering = grid(s2cell_level)
    if grid_level == s2cell_level:
        keep = pc.is_in(values, value_set=pa.array(covering, pa.string()))
    elif grid_level < 1 or (levels < grid_level).any():
        return None  # gridFilter raises for these; let it
    else:
        cover_ids = s2.token_to_id(covering) if covering else np.zeros(0, np.uint64)
        keep = pa.array(np.isin(s2.parent(ids, grid_level), cover_ids))
    return values.filter(keep)


_HEX_VALUE = np.full(256, -1, dtype=np.int64)
_HEX_VALUE[np.frombuffer(b"0123456789", np.uint8)] = np.arange(10)
_HEX_VALUE[np.frombuffer(b"abcdef", np.uint8)] = np.arange(10, 16)
_HEX_VALUE[np.frombuffer(b"ABCDEF", np.uint8)] = np.arange(10, 16)


def _fixed_width_ids(tokens: pa.Array) -> np.ndarray | None:
    """Cell ids of tokens that all have one width (one level: the usual case), parsed
    as a character matrix in a few NumPy passes; None for anything else, which then
    goes through `s2.token_to_id` (slower, and names the first invalid token)."""
    tokens = tokens.cast(pa.string())
    offsets = np.frombuffer(tokens.buffers()[1], np.int32)[tokens.offset:
                                                           tokens.offset + len(tokens) + 1]
    widths = np.diff(offsets)
    if tokens.null_count or not len(tokens) or (widths != widths[0]).any():
        return None
    width = int(widths[0])
    if not 1 <= width <= 16:
        return None
    data = np.frombuffer(tokens.buffers()[2], np.uint8)[offsets[0]:offsets[-1]]
    digits = _HEX_VALUE[data.reshape(len(tokens), width)]
    if (digits < 0).any():
        return None
    ids = np.zeros(len(tokens), dtype=np.uint64)
    for k in range(width):
        ids |= digits[:, k].astype(np.uint64) << np.uint64(60 - 4 * k)
    return ids if s2.is_valid(ids).all() else None


def restricted(source: StoreSource, tokens: pa.Array) -> StoreSource:
    """The same lazy source with the scan limited to the candidate cells."""
    cells: Predicate = Or([Cmp(CELL_TAG, "==", t) for t in tokens.to_pylist()])
    predicate = cells if source.plan.predicate is None else And([source.plan.predicate, cells])
    return source.refined(predicate=predicate)


RowMask = Callable[[np.ndarray, np.ndarray], np.ndarray]  # (lat, lon) -> rows to keep


def wide_rows(ctx: Any, source: StoreSource, tokens: pa.Array | None = None,
              keep: RowMask | None = None) -> Stream | None:
    """`source |> toRows()` read wide from the store (None when filters must run on rows).

    `keep` is strictFilter's test, applied to all rows at once after the pivot shape
    is decided (it drops rows, never columns); None is returned when some series lacks
    lat or lon, so the caller's strictFilter raises its usual error.
    """
    plan = source.plan
    if plan.residual_filters or plan.stop is None:
        return None
    ctx.check_time()
    parts = scan_wide(
        ctx.source,
        plan.bucket,
        start_ns=plan.start.ns,
        stop_ns=plan.stop.ns,
        predicate=plan.predicate,
        tag_in=TagIn(CELL_TAG, tokens) if tokens is not None else None,
        tags_in_rows=False,
    )
    tables: list[Table] = []
    for part in parts:
        pivoted = _pivoted_tables(part, plan.start.ns, plan.stop.ns, keep)
        if pivoted is None:
            return None
        tables.extend(pivoted)
    return Stream(sorted(tables, key=key_sort_key))


_SERIES, _FIRST = SERIES_COLUMN, "__first"
POLARS_SORT_ROWS = 2_000_000


def circle_mask(shape: Any) -> RowMask:
    """geo_shapes.contains for a circle, computed exactly only near the boundary.

    contains() keeps a point when the angle between unit vectors is <= the radius;
    the angle grows with the chord between them, so points whose squared chord is
    clearly below (above) the radius' squared chord are in (out), and only the thin
    band in between, where rounding could matter, goes through contains() itself.
    Before any trigonometry, points in a lat/lon box inside the circle are in and
    points farther in latitude than the radius are out (comparisons only).
    """
    center = gs.xyz(shape.lat, shape.lon)
    limit = (2 * math.sin(min(shape.radius, math.pi) / 2)) ** 2
    slack = 1e-12 + 1e-9 * limit
    box = _inner_box(shape)
    lat_reach = math.degrees(shape.radius) * (1 + 1e-9) + 1e-9

    def by_chord(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        la, lo = np.radians(lat), np.radians(lon)
        cos_la = np.cos(la)
        d2 = (cos_la * np.cos(lo) - center[0]) ** 2
        d2 += (cos_la * np.sin(lo) - center[1]) ** 2
        d2 += (np.sin(la) - center[2]) ** 2
        inside = d2 <= limit - slack
        band = np.flatnonzero(np.abs(d2 - limit) <= slack)
        if band.size:
            inside[band] = gs.contains(shape, lat[band], lon[band])
        return inside

    def keep(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        dlat = np.abs(lat - shape.lat)
        inside = np.zeros(len(lat), dtype=bool)
        if box is not None:
            dlon = np.abs((lon - shape.lon + 180.0) % 360.0 - 180.0)
            inside = (dlat <= box[0]) & (dlon <= box[1])
        rest = np.flatnonzero(~inside & (dlat <= lat_reach))
        if rest.size:
            inside[rest] = by_chord(lat[rest], lon[rest])
        return inside

    return keep


def _inner_box(shape: Any) -> tuple[float, float] | None:
    """(half height, half width) in degrees of a lat/lon box around the center whose
    corners are inside the circle with a margin; None far from small and mid-latitude.

    For a small circle the angle to a point grows with |dlon| at fixed latitude and is
    concave in latitude at fixed dlon, so the box's farthest points are its corners.
    """
    if not 0 < shape.radius < 0.1:
        return None
    half = math.degrees(shape.radius) / math.sqrt(2)
    if abs(shape.lat) + half > 75:
        return None
    for _ in range(20):
        wide = half / math.cos(math.radians(abs(shape.lat) + half))
        lat = np.array([shape.lat - half, shape.lat + half, shape.lat - half, shape.lat + half])
        lon = np.array([shape.lon - wide, shape.lon - wide, shape.lon + wide, shape.lon + wide])
        corners = gs.angle(gs.xyz(lat, lon), gs.xyz(shape.lat, shape.lon))
        if (corners <= shape.radius * (1 - 1e-7)).all():
            return half * (1 - 1e-9), wide * (1 - 1e-9)
        half *= 0.9
    return None


def region_mask(shape: Any) -> RowMask:
    """strictFilter's row test for a region (fast path for circles)."""
    if isinstance(shape, gs.Circle) and shape.radius < 1.0:
        return circle_mask(shape)
    return lambda lat, lon: gs.contains(shape, lat, lon)


def _pivoted_tables(part: WidePart, start_ns: int, stop_ns: int,
                    keep: RowMask | None) -> list[Table] | None:
    """One pivoted table per series, shaped as pivot() shapes the long scan's tables.

    A series' columns are its non-null tags and its fields with any value. pivot keeps
    rows in first-seen order over the series' field tables taken in field order: a row
    first appears in the table of its first non-null field, then by time. The rows
    carry no tags (`part.series` has them, one row per series): each series' tag
    values become constant columns of its table only at the end.
    """
    frame = pl.from_arrow(part.table)
    assert isinstance(frame, pl.DataFrame)
    tags, fields = list(part.tags), list(part.fields)
    if part.series is None:
        frame_tags = frame.group_by(_SERIES).agg([pl.col(t).first() for t in tags])
        frame = frame.drop(tags)
    else:
        series = pl.from_arrow(part.series)
        assert isinstance(series, pl.DataFrame)
        frame_tags = series
    presence = frame.group_by(_SERIES).agg(
        [pl.col(c).is_not_null().any() for c in fields])
    mask = None
    if keep is not None:
        if "lat" not in fields or "lon" not in fields:
            return None
        if not (presence.get_column("lat").all() and presence.get_column("lon").all()):
            return None  # a series without lat or lon: strictFilter raises its error
        mask = keep(frame.get_column("lat").to_numpy(), frame.get_column("lon").to_numpy())
    frame, starts = _series_ordered(frame, fields, mask)
    bounds = [
        pl.lit(start_ns, pl.Int64).cast(TIME_TYPE).alias("_start"),
        pl.lit(stop_ns, pl.Int64).cast(TIME_TYPE).alias("_stop"),
    ]
    heads = presence.join(frame_tags, on=_SERIES, how="left").select(
        _SERIES, *bounds, pl.lit(part.measurement, pl.String).alias("_measurement"),
        *tags, *fields)
    info = {row[0]: (i, row[1:]) for i, row in enumerate(heads.iter_rows())}
    out: list[Table] = []
    n_key = 3 + len(tags)
    sids = frame.get_column(_SERIES)
    ends = [*starts[1:], frame.height]
    for lo, hi in zip(starts, ends, strict=True):
        at, row = info[sids[lo]]
        rows = frame.slice(lo, hi - lo)
        present_tags = [t for t, v in zip(tags, row[3:n_key], strict=True) if v is not None]
        present_fields = [f for f, p in zip(fields, row[n_key:], strict=True) if p]
        constant = [heads.get_column(c).slice(at, 1).new_from_index(0, hi - lo)
                    for c in ("_start", "_stop", "_measurement", *present_tags)]
        shaped = pl.DataFrame([*constant[:2], rows.get_column("_time"), *constant[2:],
                               *(rows.get_column(f) for f in present_fields)])
        key = ("_start", "_stop", "_measurement", *present_tags)
        out.append(Table(key, (*row[:3], *(v for v in row[3:n_key] if v is not None)), shaped))
    return out


def _series_ordered(frame: pl.DataFrame, fields: list[str],
                    mask: np.ndarray | None) -> tuple[pl.DataFrame, list[int]]:
    """The kept rows ordered by (series, index of the first non-null field, time), as
    pivot orders each series' rows, and the row where each series starts.

    One gather instead of a multi-column sort and a partition; the permutation comes
    from NumPy (a sort by time, then a stable radix sort of the series/field code).
    """
    n = frame.height
    sid = frame.get_column(_SERIES).to_numpy()
    first = frame.select(pl.coalesce(
        [pl.when(pl.col(f).is_not_null()).then(pl.lit(i)) for i, f in enumerate(fields)]
    ) if len(fields) > 1 else pl.lit(0)).to_series().to_numpy().astype(np.int64)
    time = frame.get_column("_time").cast(pl.Int64).to_numpy()
    n_fields = max(len(fields), 1)
    ids = np.sort(frame.get_column(_SERIES).unique().to_numpy())
    if n and ids[0] >= 0 and ids[-1] < 50 * n + 2**16 and len(ids) * n_fields < 2**16:
        # by time, then a stable radix sort on the small (series rank, first field) code
        rank = np.zeros(int(ids[-1]) + 1, dtype=np.int64)
        rank[ids] = np.arange(len(ids))
        # Polars' parallel sort wins on large inputs, NumPy's on small ones
        by_time = (pl.Series(time).arg_sort().to_numpy() if n > POLARS_SORT_ROWS
                   else np.argsort(time))
        code = (rank[sid] * n_fields + first).astype(np.uint16)[by_time]
        order = by_time[np.argsort(code, kind="stable")]
    else:
        order = np.lexsort((time, first, sid))
    if mask is not None:
        order = order[mask[order]]
    if not (len(order) == n and (order == np.arange(n)).all()):
        # one chunk first: a gather across DuckDB's many record batches is far slower
        frame = frame.rechunk()[pl.Series(order, dtype=pl.UInt32 if n < 2**32 else pl.UInt64)]
    sorted_sid = frame.get_column(_SERIES).to_numpy()
    starts = [0, *(np.flatnonzero(np.diff(sorted_sid)) + 1).tolist()] if len(sorted_sid) else []
    return frame, starts


# ----------------------------------------------------------------------------- aggregates

GEO_AGGREGATES = frozenset({"count", "sum", "mean"})


class CircleRows(StoreSource):
    """`filterRows(strict: true)` with a circle on an unread scan, not evaluated yet.

    `group(columns: tags)` and then `count/sum/mean(column: field)` refine it into one
    SQL aggregate (see push_chain); anything else reads `fallback()` (the wide path),
    regrouped when a group was deferred, so results never depend on what was pushed.
    """

    def __init__(self, ctx: Any, source: StoreSource, shape: Any, tokens: pa.Array | None,
                 fallback: Callable[[], Stream], columns: tuple[str, ...] | None = None) -> None:
        super().__init__(ctx, source.plan)
        self.source, self.shape, self.tokens = source, shape, tokens
        self.fallback, self.columns = fallback, columns

    @property  # type: ignore[override]
    def tables(self) -> list[Table]:
        if self._tables is None:
            stream = self.fallback()
            if self.columns is not None:
                from fluxlab.flux.stdlib.core import group

                stream = group(self.ctx, Stream(list(stream.tables)), columns=list(self.columns))
            self._tables = list(stream.tables)
        return self._tables

    @tables.setter
    def tables(self, value: list[Table]) -> None:
        self._tables = value

    @property
    def pending(self) -> bool:
        return False

    def push_chain(self, ctx: Any, fn_name: str, args: dict[str, Any]) -> Stream | None:
        """Defer `group`, evaluate count/sum/mean in the store; None: run normally."""
        if not self.unread:
            return None
        if fn_name == "group" and self.columns is None:
            columns = args.get("columns", [])
            if set(args) - {"columns", "mode"} or args.get("mode", "by") != "by":
                return None
            tags = set(ctx.source.tag_keys(self.plan.bucket))
            if not isinstance(columns, list) or not columns or not all(
                    c in tags for c in columns):
                return None
            return CircleRows(ctx, self.source, self.shape, self.tokens, self.fallback,
                              tuple(columns))
        if fn_name in GEO_AGGREGATES and self.columns is not None and not set(args) - {"column"}:
            column = args.get("column", "_value")
            if not isinstance(column, str):
                return None
            return circle_aggregate(ctx, self, fn_name, column)
        return None


def deferred_circle(ctx: Any, source: StoreSource, shape: Any, tokens: pa.Array | None,
                    fallback: Callable[[], Stream]) -> Stream | None:
    """A CircleRows for strict filterRows when the aggregate pushdown may apply."""
    plan = source.plan
    if not isinstance(shape, gs.Circle) or not shape.radius < 1.0:
        return None
    if plan.residual_filters or plan.stop is None or plan.start is None:
        return None
    return CircleRows(ctx, source, shape, tokens, fallback)


def circle_aggregate(ctx: Any, rows: CircleRows, fn_name: str, column: str) -> Stream | None:
    """`filterRows |> group(columns:) |> fn(column:)` from per-series SQL partials.

    Pushed only when the unpushed result's shape is certain: one measurement, every
    scanned series with lat and lon, every kept series with the same tags and fields
    (so one table schema) and with `column`; None otherwise (the caller runs it).
    """
    from fluxlab.storage.wide import Circle, circle_partials

    plan, shape = rows.plan, rows.shape
    assert plan.start is not None and plan.stop is not None and rows.columns is not None
    center = gs.xyz(shape.lat, shape.lon)
    limit = (2 * math.sin(min(shape.radius, math.pi) / 2)) ** 2
    circle = Circle(float(center[0]), float(center[1]), float(center[2]), limit,
                    1e-12 + 1e-9 * limit, float(shape.lat), float(shape.lon), _inner_box(shape))
    ctx.check_time()
    try:
        parts = circle_partials(
            ctx.source, plan.bucket, start_ns=plan.start.ns, stop_ns=plan.stop.ns,
            predicate=plan.predicate,
            tag_in=TagIn(CELL_TAG, rows.tokens) if rows.tokens is not None else None,
            circle=circle, value=column, with_sum=fn_name != "count")
    except Exception:  # noqa: BLE001 - e.g. trigonometry on infinities: the exact path decides
        return None
    if parts is None or len(parts) > 1:
        return None
    if not parts:
        return Stream()
    return _combine_circle(rows, parts[0], fn_name, column)


def _combine_circle(rows: CircleRows, part: Any, fn_name: str, column: str) -> Stream | None:
    series = pl.from_arrow(part.partials)
    tags_frame = pl.from_arrow(part.series)
    assert isinstance(series, pl.DataFrame) and isinstance(tags_frame, pl.DataFrame)
    dtype = series.schema.get("s")
    if fn_name != "count" and part.value_type not in ("float", "integer"):
        return None  # sum of strings/booleans/unsigned: the unpushed path decides
    if not (series.get_column("has:lat").all() and series.get_column("has:lon").all()):
        return None  # strictFilter raises its error for such a series
    series = series.with_columns(pl.col("n").cast(pl.Int64), pl.col("c").cast(pl.Int64))
    if dtype is not None and dtype != pl.Float64:
        try:  # DuckDB sums BIGINT as HUGEINT; the unpushed sum keeps int64
            series = series.with_columns(pl.col("s").cast(pl.Int64, strict=True))
        except pl.exceptions.InvalidOperationError:
            return None
    if part.band is not None:
        series = _add_band(series, part.band, rows.shape, fn_name != "count")
    series = series.filter(pl.col("n") > 0).join(tags_frame, on=SERIES_COLUMN, how="left")
    if series.height == 0:
        return Stream()
    has = [f"has:{f}" for f in part.fields]
    tags = list(part.tags)
    pattern = series.select([*has, *(pl.col(t).is_null() for t in tags)]).unique()
    if pattern.height != 1 or not pattern.get_column(f"has:{column}")[0]:
        return None  # several table schemas, or tables without the column
    missing = [c for c in rows.columns if c not in tags
               or series.get_column(c).null_count() == series.height]
    if missing:
        return None
    return _group_tables(series, list(rows.columns), tags, fn_name, column, part)


def _add_band(series: pl.DataFrame, band: pa.Table, shape: Any, with_sum: bool) -> pl.DataFrame:
    """Add the band rows that the exact NumPy test keeps to the per-series partials."""
    frame = pl.from_arrow(band)
    assert isinstance(frame, pl.DataFrame)
    keep = gs.contains(shape, frame.get_column("lat").to_numpy(),
                       frame.get_column("lon").to_numpy())
    frame = frame.filter(pl.Series(np.asarray(keep, dtype=bool)))
    if frame.height == 0:
        return series
    aggs = [pl.len().cast(pl.Int64).alias("bn"), pl.col("value").count().cast(pl.Int64).alias("bc")]
    if with_sum:
        aggs.append(pl.col("value").sum().alias("bs"))
    extra = frame.group_by(SERIES_COLUMN).agg(aggs)
    series = series.join(extra, on=SERIES_COLUMN, how="left")
    update = [(pl.col("n") + pl.col("bn").fill_null(0)).alias("n"),
              (pl.col("c") + pl.col("bc").fill_null(0)).alias("c")]
    if with_sum:
        s_type = series.schema["s"]
        update.append(pl.when(pl.col("bs").is_null() | (pl.col("bc").fill_null(0) == 0))
                      .then(pl.col("s"))
                      .otherwise(pl.col("s").fill_null(0) + pl.col("bs").cast(s_type))
                      .alias("s"))
    return series.with_columns(update).drop([c for c in ("bn", "bc", "bs") if c in series.columns
                                             or c in extra.columns])


def _group_tables(series: pl.DataFrame, columns: list[str], tags: list[str], fn_name: str,
                  column: str, part: Any) -> Stream | None:
    """One table per group in the order the unpushed path meets it (series tables are
    read in key_sort_key order, regrouped first-seen): key columns and the result."""
    present = [t for t in tags if series.get_column(t).null_count() == 0]
    names = ("_measurement", *present)
    values = zip(*(series.get_column(t).to_list() for t in present), strict=True) if present \
        else iter([()] * series.height)
    keys = [key_sort_key(_KeyView(names, (part.measurement, *v))) for v in values]
    rank = sorted(range(series.height), key=keys.__getitem__)
    order = np.empty(series.height, dtype=np.int64)
    order[np.asarray(rank, dtype=np.int64)] = np.arange(series.height)
    series = series.with_columns(pl.Series("__rank", order)).sort("__rank")
    if fn_name == "count":
        value = pl.col("n").sum().cast(pl.Int64)
    elif fn_name == "sum":
        value = pl.when(pl.col("c").sum() > 0).then(pl.col("s").sum()).otherwise(None)
    else:
        value = pl.col("s").cast(pl.Float64).sum() / pl.col("c").sum()
        value = pl.when(pl.col("c").sum() > 0).then(value).otherwise(None)
    reduced = series.group_by(columns, maintain_order=True).agg(value.alias(column))
    out = []
    for part_frame in reduced.partition_by(columns, maintain_order=True):
        frame = part_frame.select([*columns, column])
        out.append(Table.from_frame(frame, tuple(columns)))
    return Stream(out)


class _KeyView:
    """The group key of a series table, enough for key_sort_key."""

    def __init__(self, key: tuple[str, ...], values: tuple[Any, ...]) -> None:
        self.key, self.key_values = key, values
