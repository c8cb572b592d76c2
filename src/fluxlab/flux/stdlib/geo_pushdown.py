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
import weakref
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from fluxlab.flux.stdlib import geo_shapes as gs
from fluxlab.flux.stdlib.from_store import DerivedSource, StoreSource
from fluxlab.flux.stdlib.shape_common import key_sort_key
from fluxlab.flux.table import TIME_TYPE, Stream, Table
from fluxlab.model import s2
from fluxlab.storage.predicate import And, Cmp, Or, Predicate, keys_of, sql_ident
from fluxlab.storage.sqltime import time_conditions
from fluxlab.storage.usersql import STORE_CATALOG
from fluxlab.storage.wide import SERIES_COLUMN, TagIn, WidePart, scan_wide
from fluxlab.storage.wide import _field_conditions as field_conditions

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
    stored = stored_cells(
        ctx.source,
        plan.bucket,
        start_ns=plan.start.ns,
        stop_ns=plan.stop.ns if plan.stop else None,
        predicate=plan.predicate,
    )
    if stored is None:
        return None  # nothing to read, or tables without the tag (gridFilter raises)
    if stored.ids is None:
        return None  # an unparseable token: gridFilter decides (and raises)
    if s2cell_level == -1:
        if stored.min_level != stored.max_level:
            return None
        s2cell_level = stored.min_level
    grid_level, covering = grid(s2cell_level)
    if grid_level == s2cell_level:
        keep = pc.is_in(stored.tokens, value_set=pa.array(covering, pa.string()))
        return stored.tokens.filter(keep)
    if grid_level < 1 or stored.min_level < grid_level:
        return None  # gridFilter raises for these; let it
    return stored.tokens.take(pa.array(_descendants(stored.ids, covering), pa.int64()))


def _descendants(ids: np.ndarray, covering: list[str]) -> np.ndarray:
    """Positions in the sorted `ids` of cells inside a covering cell (at a coarser level):
    a cell's descendants are exactly the ids within its range, so two binary searches
    per covering cell replace a parent computation per stored cell."""
    if not covering:
        return np.zeros(0, dtype=np.int64)
    cover = s2.token_to_id(covering)
    lsb = cover & (~cover + np.uint64(1))
    lo = np.searchsorted(ids, cover - lsb + np.uint64(1), side="left")
    hi = np.searchsorted(ids, cover + lsb - np.uint64(1), side="right")
    parts = [np.arange(a, b, dtype=np.int64) for a, b in zip(lo, hi, strict=True) if b > a]
    return np.unique(np.concatenate(parts)) if parts else np.zeros(0, dtype=np.int64)


class _CellIndex(NamedTuple):
    """Distinct `s2_cell_id` values of one series table, sorted by their cell ids, the
    ids (None when a value does not parse: tokens then unsorted) and their level range."""

    tokens: pa.Array
    ids: np.ndarray | None
    min_level: int = -1
    max_level: int = -1

    @classmethod
    def of(cls, tokens: pa.Array) -> _CellIndex:
        ids = _parse_tokens(tokens)
        if ids is None or not len(ids):
            return cls(tokens, None)
        order = np.argsort(ids, kind="stable")
        levels = s2.levels(ids)
        return cls(tokens.take(pa.array(order)), ids[order], int(levels.min()),
                   int(levels.max()))


_CELL_CACHE: weakref.WeakKeyDictionary[Any, dict[tuple[Any, ...], _CellIndex]] = (
    weakref.WeakKeyDictionary())
"""Per store: (series table, its DuckDB oid, tag column, row count) -> _CellIndex.

Why the key is enough: a series table only grows (writes append series, deletes keep
them) until compaction replaces it by a new table (new oid); so equal oid and row count
mean the same rows. Parsing ~200K tokens per query was most of a pruned query's time."""


def stored_cells(store: Any, bucket: str, *, start_ns: int | None, stop_ns: int | None,
                 predicate: Predicate | None) -> _CellIndex | None:
    """Distinct `s2_cell_id` values (and ids) of the measurements a scan with these bounds
    returns rows from, as `wide.distinct_tag_values` finds them; None when there are
    none or a measurement lacks the tag (null values)."""
    parts: list[_CellIndex] = []
    with store._mutex:  # noqa: SLF001 - one DuckDB call at a time, as the store does
        bucket_obj = store._catalog.bucket(bucket)  # noqa: SLF001
        when = time_conditions(bucket_obj, start_ns, stop_ns)
        for m in store._catalog.measurements_of(bucket_obj):  # noqa: SLF001
            conditions = field_conditions(m, when, predicate)
            if not conditions or not _has_rows(store, m, conditions, predicate):
                continue
            col = m.tags.get(CELL_TAG)
            if col is None:
                return None
            parts.append(_cell_index(store, m, col.name))
    if not parts:
        return None
    if len(parts) == 1:
        index = parts[0]
    else:
        index = _CellIndex.of(pa.concat_arrays([p.tokens for p in parts]).unique())
    if len(index.tokens) == 0 or index.tokens.null_count:
        return None
    return index


def _has_rows(store: Any, m: Any, conditions: dict[str, str],
              predicate: Predicate | None) -> bool:
    """Whether the measurement has a row in the scan (the series table is joined only
    when the predicate names tags)."""
    any_field = " OR ".join(f"({c})" for c in conditions.values())
    tags_named = keys_of(predicate) - {"_measurement", "_field"}
    source = m.from_sql() if tags_named else sql_ident(m.table)
    rows = store._con.sql(f"SELECT 1 FROM {source} WHERE {any_field} LIMIT 1")  # noqa: SLF001
    return bool(rows.fetchall())


def _cell_index(store: Any, m: Any, column: str) -> _CellIndex:
    con = store._con  # noqa: SLF001
    oid, count = con.execute(
        "SELECT (SELECT max(table_oid) FROM duckdb_tables() WHERE database_name = ? AND "
        f"schema_name = 'main' AND table_name = ?), (SELECT count(*) FROM {sql_ident(m.series)})",
        [STORE_CATALOG, m.series],
    ).fetchall()[0]
    key = (m.series, oid, column, count)
    cached = _CELL_CACHE.setdefault(store, {})
    if key not in cached:
        for stale in [k for k in cached if k[0] == m.series]:
            del cached[stale]
        table = con.sql(f"SELECT DISTINCT {column} FROM {sql_ident(m.series)}").to_arrow_table()
        tokens = table.column(0).combine_chunks().cast(pa.string())
        cached[key] = _CellIndex.of(tokens)
    return cached[key]


def _parse_tokens(tokens: pa.Array) -> np.ndarray | None:
    if tokens.null_count:
        return None
    ids = _fixed_width_ids(tokens)
    if ids is None:
        try:
            ids = s2.token_to_id(tokens)
        except s2.S2Error:
            return None
    return ids


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
    in_key_order = len(parts) <= 1
    for part in parts:
        pivoted = _pivoted_tables(part, plan.start.ns, plan.stop.ns, keep)
        if pivoted is None:
            return None
        in_key_order = in_key_order and pivoted[1]
        tables.extend(pivoted[0])
    return Stream(tables if in_key_order else sorted(tables, key=key_sort_key))


_SERIES, _FIRST = SERIES_COLUMN, "__first"


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
                    keep: RowMask | None) -> tuple[list[Table], bool] | None:
    """One pivoted table per series, shaped as pivot() shapes the long scan's tables,
    and whether they are already in group-key order (see _split_series).

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
    if not starts:
        return [], True
    heads = presence.join(frame_tags, on=_SERIES, how="left").select(_SERIES, *tags, *fields)
    return _split_series(frame, starts, heads, part.measurement, tags, fields,
                         (start_ns, stop_ns))


def _split_series(frame: pl.DataFrame, starts: list[int], heads: pl.DataFrame,
                  measurement: str, tags: list[str], fields: list[str],
                  bounds: tuple[int, int]) -> tuple[list[Table], bool]:
    """Cut the series-ordered rows into one table per series without a Python loop
    over columns: series with the same present tags and fields (usually all of them)
    share one frame holding every output column, which is sliced (zero copy).

    Tables of one shape differ only in their tag values (`tags` are sorted by key, as
    key_sort_key orders them), so sorting by those values puts them in group-key order:
    with a single shape, the returned flag says the caller need not sort them again."""
    sids = frame.get_column(_SERIES).to_numpy()
    first_rows = np.asarray(starts, dtype=np.int64)
    order = heads.get_column(_SERIES).to_numpy()
    by_sid = np.argsort(order)  # head row of each series: found by binary search on sids
    head_of_segment = by_sid[np.searchsorted(order[by_sid], sids[first_rows])]
    ends = np.append(first_rows[1:], frame.height)
    present = heads.select([pl.col(t).is_not_null() for t in tags] + fields).to_numpy()
    shapes = (np.unique(present.astype(bool), axis=0, return_inverse=True)[1].reshape(-1)
              if present.size else np.zeros(heads.height, dtype=np.int64))
    segment_shape = shapes[head_of_segment]
    key_rows = heads.select(tags).rows() if tags else [()] * heads.height
    row_head = np.repeat(head_of_segment, ends - first_rows)
    start = pl.lit(bounds[0], pl.Int64).cast(TIME_TYPE)
    stop = pl.lit(bounds[1], pl.Int64).cast(TIME_TYPE)
    head_values = (*bounds_values(bounds), measurement)
    out: list[tuple[tuple[Any, ...], Table]] = []
    shape_ids = np.unique(segment_shape)
    for shape in shape_ids:
        chosen = np.flatnonzero(segment_shape == shape)
        example = heads.row(int(head_of_segment[chosen[0]]), named=True)
        present_tags = [t for t in tags if example[t] is not None]
        present_fields = [f for f in fields if example[f]]
        rows, lo = _rows_of(frame, first_rows[chosen], ends[chosen])
        tag_values = heads.select(present_tags)[pl.Series(row_head[_row_index(
            first_rows[chosen], ends[chosen])], dtype=pl.UInt32)] if present_tags else None
        shaped = rows.select(
            start.alias("_start"), stop.alias("_stop"), pl.col("_time"),
            pl.lit(measurement, pl.String).alias("_measurement"))
        if tag_values is not None:
            shaped = shaped.hstack(tag_values)
        shaped = shaped.hstack(rows.select(present_fields))
        key = ("_start", "_stop", "_measurement", *present_tags)
        where = [tags.index(t) for t in present_tags]
        own_values = [tuple(key_rows[h][i] for i in where)
                      for h in head_of_segment[chosen].tolist()]
        lengths = (ends[chosen] - first_rows[chosen]).tolist()
        out.extend(
            (own, Table(key, (*head_values, *own), shaped.slice(offset, n)))
            for own, offset, n in zip(own_values, lo.tolist(), lengths, strict=True))
    if len(shape_ids) == 1:
        return [t for _, t in sorted(out, key=lambda x: x[0])], True
    return [t for _, t in out], False


def bounds_values(bounds: tuple[int, int]) -> tuple[Any, Any]:
    """_start/_stop as the key values pivot gives them (Python datetimes from Polars)."""
    series = pl.Series([bounds[0], bounds[1]], dtype=pl.Int64).cast(TIME_TYPE)
    return series[0], series[1]


def _row_index(lows: np.ndarray, highs: np.ndarray) -> np.ndarray:
    """Row numbers lows[0]..highs[0]-1, lows[1]..highs[1]-1, ... (vectorized)."""
    lengths = highs - lows
    total = int(lengths.sum())
    offsets = np.repeat(lows - np.concatenate(([0], np.cumsum(lengths)[:-1])), lengths)
    return np.arange(total, dtype=np.int64) + offsets


def _rows_of(frame: pl.DataFrame, lows: np.ndarray,
             highs: np.ndarray) -> tuple[pl.DataFrame, np.ndarray]:
    """The rows of the chosen segments (the frame itself when that is all of them) and
    where each segment starts in the result."""
    lengths = highs - lows
    starts_in = np.concatenate(([0], np.cumsum(lengths)[:-1])).astype(np.int64)
    if len(lows) and int(lengths.sum()) == frame.height:
        return frame, starts_in
    index = pl.Series(_row_index(lows, highs), dtype=pl.UInt32)
    return frame[index], starts_in


def _series_ordered(frame: pl.DataFrame, fields: list[str],
                    mask: np.ndarray | None) -> tuple[pl.DataFrame, list[int]]:
    """The kept rows ordered by (series, index of the first non-null field, time), as
    pivot orders each series' rows, and the row where each series starts.

    One gather instead of a multi-column sort and a partition; the permutation comes
    from NumPy (a sort by time, then a stable radix sort of the series/field code),
    computed over the kept rows only (filtering first gives the same order).
    """
    kept = np.flatnonzero(mask) if mask is not None else None
    sid = frame.get_column(_SERIES).to_numpy()
    time = frame.get_column("_time").cast(pl.Int64).to_numpy()
    first = _first_field(frame, fields)
    if kept is not None:
        sid, time, first = sid[kept], time[kept], first[kept]
    order = _series_order(sid, time, first, max(len(fields), 1))
    rows = order if kept is None else kept[order]
    n = frame.height
    if not (len(rows) == n and (rows == np.arange(n)).all()):
        # one chunk first: a gather across DuckDB's many record batches is far slower
        frame = frame.rechunk()[pl.Series(rows, dtype=pl.UInt32 if n < 2**32 else pl.UInt64)]
    sorted_sid = sid[order]
    starts = [0, *(np.flatnonzero(np.diff(sorted_sid)) + 1).tolist()] if len(sorted_sid) else []
    return frame, starts


def _first_field(frame: pl.DataFrame, fields: list[str]) -> np.ndarray:
    """Index of each row's first non-null field (0 everywhere when the first field is
    never null, the usual case: no expression to evaluate)."""
    if len(fields) <= 1 or frame.get_column(fields[0]).null_count() == 0:
        return np.zeros(frame.height, dtype=np.int64)
    return frame.select(pl.coalesce(
        [pl.when(pl.col(f).is_not_null()).then(pl.lit(i)) for i, f in enumerate(fields)]
    )).to_series().to_numpy().astype(np.int64)


def _series_order(sid: np.ndarray, time: np.ndarray, first: np.ndarray,
                  n_fields: int) -> np.ndarray:
    """Permutation sorting rows by (series, first field, time)."""
    n = len(sid)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    low, high = int(sid.min()), int(sid.max())
    if low >= 0 and high < 50 * n + 2**16:
        seen = np.zeros(high + 1, dtype=bool)
        seen[sid] = True
        ids = np.flatnonzero(seen)
        if len(ids) * n_fields < 2**16:
            rank = np.zeros(high + 1, dtype=np.int64)
            rank[ids] = np.arange(len(ids))
            code = (rank[sid] * n_fields + first).astype(np.uint16)
            return _by_code_then_time(code, time)
    return np.lexsort((time, first, sid))


def _by_code_then_time(code: np.ndarray, time: np.ndarray) -> np.ndarray:
    """Permutation sorting by (code, time). A stable radix sort on the 16-bit code alone
    is enough for codes whose rows already come in time order, which is most of them on
    a compacted store (points stored by series and time); only the others are sorted
    by time too."""
    order = np.argsort(code, kind="stable")
    c, t = code[order], time[order]
    late = (c[1:] == c[:-1]) & (t[1:] < t[:-1])
    if not late.any():
        return order
    rows = np.flatnonzero(np.isin(c, np.unique(c[1:][late])))  # whole blocks of those codes
    order[rows] = order[rows][np.lexsort((t[rows], c[rows]))]
    return order


# ----------------------------------------------------------------------------- aggregates

GEO_AGGREGATES = frozenset({"count", "sum", "mean"})


class CircleRows(DerivedSource):
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

    def _read(self) -> list[Table]:
        stream = self.fallback()
        if self.columns is not None:
            from fluxlab.flux.stdlib.core import group

            stream = group(self.ctx, Stream(list(stream.tables)), columns=list(self.columns))
        return list(stream.tables)

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
