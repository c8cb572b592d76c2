"""Package "experimental/geo": S2-cell and spherical-geometry functions.

Flux defines most of this package in Flux on top of universe functions (toRows is
`v1.fieldsAsCols()`, asTracks is `group |> sort`, filterRows is gridFilter then
strictFilter...). The same compositions are built here, but the per-row work (S2
tokens, containment, distances) runs vectorized over whole columns with NumPy and
`fluxlab.model.s2`; geometry lives in `geo_shapes`. Scalar functions (ST_Distance...)
take one region and one geometry, as in Flux, for use inside `map`.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

import numpy as np
import polars as pl

from fluxlab.flux.compile import Compiled, NotCompilable, register_record_native
from fluxlab.flux.errors import FluxRuntimeError, UnsupportedError
from fluxlab.flux.registry import PACKAGES, builtin, register_value
from fluxlab.flux.stdlib import geo_pushdown as pushdown
from fluxlab.flux.stdlib import geo_shapes as gs
from fluxlab.flux.stdlib.experimental_shape import group_extend
from fluxlab.flux.stdlib.pivot import pivot
from fluxlab.flux.stdlib.records import key_record
from fluxlab.flux.stdlib.shape_common import key_frame, require_columns
from fluxlab.flux.table import Stream, Table
from fluxlab.model import s2

GEO = "experimental/geo"
DEFAULT_UNITS = {"distance": "km"}
_MAX_GRID = 100  # Flux's AbsoluteMaxSize

register_value(GEO, "units", dict(DEFAULT_UNITS))


def _units(ctx, units: Any) -> dict[str, Any]:
    if units is not None:
        return units
    for key in (f"{GEO}.units", "geo.units"):
        if key in ctx.options:
            return ctx.options[key]
    return DEFAULT_UNITS


def _universe(ctx, name: str, **args: Any) -> Any:
    fn = PACKAGES.get("universe", {}).get(name)
    if fn is None:
        raise UnsupportedError(f"unsupported function {name} (needed by the geo package)")
    return ctx.call(fn, **args)


def _check_level(level: int) -> int:
    if not isinstance(level, int) or not 1 <= level <= s2.MAX_LEVEL:
        raise FluxRuntimeError("geo: level value must be [1, 30]")
    return level


def _token_ids(tokens: Any) -> np.ndarray:
    try:
        return s2.token_to_id(tokens)
    except s2.S2Error as exc:
        raise FluxRuntimeError(f"geo: {exc}") from exc


def _parent_tokens(tokens: pl.Series, level: int) -> pl.Series:
    """Tokens of the ancestors at `level` (Flux errors when a token is coarser)."""
    ids = _token_ids(tokens.to_arrow())
    if (s2.levels(ids) < level).any():
        raise FluxRuntimeError(
            "geo: invalid token specified or requested level greater then current level"
        )
    return pl.Series(tokens.name, s2.tokens(s2.parent(ids, level)))


def _point_tokens(lat: pl.Series, lon: pl.Series, level: int) -> pl.Series:
    """Tokens at `level` of points; null where a coordinate is null."""
    valid = (lat.is_not_null() & lon.is_not_null()).to_numpy()
    out = np.full(len(lat), None, dtype=object)
    if valid.any():
        try:
            toks = s2.cell_tokens(lat.to_numpy()[valid], lon.to_numpy()[valid], level)
        except s2.S2Error as exc:
            raise FluxRuntimeError(f"geo: invalid coordinates: {exc}") from exc
        out[valid] = toks.to_pylist()
    return pl.Series("s2_cell_id", out.tolist(), dtype=pl.String)


# ------------------------------------------------------------------------------ S2 scalars


@builtin(GEO, name="s2CellIDToken")
def s2_cell_id_token(ctx, level: int, token: str | None = None,
                     point: dict[str, Any] | None = None) -> str:
    """The S2 cell token at `level` of a point or of an existing (finer) token."""
    _check_level(level)
    if token:
        return _parent_tokens(pl.Series("t", [token]), level)[0]
    if not point:
        raise FluxRuntimeError("geo: either token or point parameter must be specified")
    if "lat" not in point or "lon" not in point:
        raise FluxRuntimeError("geo: invalid point specification - must have lat, lon fields")
    lat, lon = gs._floats(point, "lat", "lon")
    return _point_tokens(pl.Series([lat]), pl.Series([lon]), level)[0]


@builtin(GEO, name="s2CellLatLon")
def s2_cell_lat_lon(ctx, token: str) -> dict[str, float]:
    """Centre of an S2 cell."""
    lat, lon = s2.cell_centers(_token_ids([token]))
    return {"lat": float(lat[0]), "lon": float(lon[0])}


@builtin(GEO, name="getLevel")
def get_level(ctx, token: str) -> int:
    """Level of an S2 cell token."""
    return int(s2.levels(_token_ids([token]))[0])


# ------------------------------------------------------------------------------ ST_* scalars


def _shapes(ctx, region: Any, geometry: Any, units: Any) -> tuple[gs.Shape, gs.Shape, float]:
    radius = gs.earth_radius(_units(ctx, units))
    return gs.parse_shape("region", region, radius), gs.parse_shape("geometry", geometry, radius), radius


@builtin(GEO, name="stContains")
def st_contains_builtin(ctx, region: Any, geometry: Any, units: Any) -> bool:
    """Whether `region` contains `geometry` (a point, or all vertices of a linestring)."""
    reg, geom, _ = _shapes(ctx, region, geometry, units)
    return gs.contains_geometry(reg, geom)


@builtin(GEO, name="stDistance")
def st_distance_builtin(ctx, region: Any, geometry: Any, units: Any) -> float:
    """Distance from `region` to `geometry` in the chosen units."""
    reg, geom, radius = _shapes(ctx, region, geometry, units)
    return gs.distance(reg, geom) * radius


@builtin(GEO, name="stLength")
def st_length_builtin(ctx, geometry: Any, units: Any) -> float:
    """Length of a linestring (0 for a point) in the chosen units."""
    radius = gs.earth_radius(_units(ctx, units))
    return gs.length(gs.parse_shape("geometry", geometry, radius)) * radius


@builtin(GEO, name="ST_Contains")
def st_contains(ctx, region: Any, geometry: Any, units: Any = None) -> bool:
    """ST_Contains(region, geometry, units=geo.units)."""
    return st_contains_builtin(ctx, region, geometry, units)


@builtin(GEO, name="ST_Distance")
def st_distance(ctx, region: Any, geometry: Any, units: Any = None) -> float:
    """ST_Distance(region, geometry, units=geo.units)."""
    return st_distance_builtin(ctx, region, geometry, units)


@builtin(GEO, name="ST_DWithin")
def st_dwithin(ctx, region: Any, geometry: Any, distance: float, units: Any = None) -> bool:
    """Whether geometry is within `distance` of region."""
    return st_distance_builtin(ctx, region, geometry, units) <= distance


@builtin(GEO, name="ST_Intersects")
def st_intersects(ctx, region: Any, geometry: Any, units: Any = None) -> bool:
    """Whether geometry touches region (distance 0)."""
    return st_distance_builtin(ctx, region, geometry, units) <= 0.0


@builtin(GEO, name="ST_Length")
def st_length(ctx, geometry: Any, units: Any = None) -> float:
    """ST_Length(geometry, units=geo.units)."""
    return st_length_builtin(ctx, geometry, units)


# ------------------------------------------------------------------------------ grid (S2 covering)


def _all_cells(level: int) -> np.ndarray:
    pos = np.arange(4**level, dtype=np.uint64)
    shift = np.uint64(61 - 2 * level)
    marker = np.uint64(1) << np.uint64(60 - 2 * level)
    return np.concatenate([(np.uint64(f) << np.uint64(61)) | (pos << shift) | marker
                           for f in range(6)])


def _children(ids: np.ndarray) -> np.ndarray:
    lsb = ids & (~ids + np.uint64(1))
    child = lsb >> np.uint64(2)
    base = ids - lsb
    return np.concatenate([base + child * np.uint64(k) for k in (1, 3, 5, 7)])


def _cell_loops(ids: np.ndarray) -> np.ndarray:
    vlat, vlon = s2.cell_vertices(ids)
    return gs.xyz(vlat, vlon)  # (n, 4, 3)


def _circle_hits(region: gs.Circle, loops: np.ndarray) -> np.ndarray:
    """Cells (n, 4, 3) sharing a point with a cap: centre inside, or an edge within reach."""
    center = gs.xyz([region.lat], [region.lon])[0]
    inside = gs.quads_contain(loops, center)
    near = np.full(len(loops), np.inf)
    for k in range(4):
        a, b = loops[:, k], loops[:, (k + 1) % 4]
        near = np.minimum(near, gs.point_edge_distance(np.broadcast_to(center, a.shape), a, b))
    return inside | (near <= region.radius)


def _crossings(a: np.ndarray, b: np.ndarray, c: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Whether geodesic segments a-b (fixed) and c-d (one per cell) cross."""
    ab, cd = np.cross(a, b), np.cross(c, d)
    return ((cd @ a) * (cd @ b) < 0) & ((c @ ab) * (d @ ab) < 0) & (((c + d) @ (a + b)) > 0)


def _parallel_crossings(lat: float, lon_lo: float, lon_hi: float,
                        a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Whether each geodesic arc a-b reaches latitude `lat` between two longitudes.

    Points of the arc are normalize(a + t (b - a)) for t in [0, 1]; the latitude
    condition z = sin(lat) |P| squared is a quadratic in t.
    """
    s = np.sin(np.radians(lat))
    d = b - a
    qa = d[:, 2] ** 2 - s * s * np.sum(d * d, axis=1)
    qb = 2 * (a[:, 2] * d[:, 2] - s * s * np.sum(a * d, axis=1))
    qc = a[:, 2] ** 2 - s * s
    hit = np.zeros(len(a), dtype=bool)
    disc = qb * qb - 4 * qa * qc
    with np.errstate(divide="ignore", invalid="ignore"):
        root = np.sqrt(np.where(disc >= 0, disc, np.nan))
        linear = np.abs(qa) < 1e-300
        candidates = [np.where(linear, -qc / qb, (-qb - root) / (2 * qa)),
                      np.where(linear, np.nan, (-qb + root) / (2 * qa))]
    for t in candidates:
        ok = (t >= 0) & (t <= 1)
        t = np.where(ok, t, 0.0)
        p = a + t[:, None] * d
        right_side = np.sign(p[:, 2]) == np.sign(s) if s != 0 else np.ones(len(a), dtype=bool)
        lon = np.degrees(np.arctan2(p[:, 1], p[:, 0]))
        hit |= ok & right_side & (lon >= lon_lo) & (lon <= lon_hi)
    return hit


def _edge_hits(region: gs.Shape, loops: np.ndarray) -> np.ndarray:
    """Cells whose edges cross the region's edges (a box's parallels are not geodesics)."""
    hits = np.zeros(len(loops), dtype=bool)
    cell_edges = [(loops[:, k], loops[:, (k + 1) % 4]) for k in range(4)]
    if isinstance(region, gs.Box):
        corners = region.corners()
        meridians = [(corners[3], corners[0]), (corners[1], corners[2])]
        for c, e in cell_edges:
            for lat in (region.min_lat, region.max_lat):
                hits |= _parallel_crossings(lat, region.min_lon, region.max_lon, c, e)
            for a, b in meridians:
                hits |= _crossings(a, b, c, e)
        return hits
    outline = region.vertices
    for a, b in zip(outline, np.roll(outline, -1, axis=0), strict=True):
        for c, e in cell_edges:
            hits |= _crossings(a, b, c, e)
    return hits


def _outline_hits(region: gs.Shape, loops: np.ndarray) -> np.ndarray:
    """Cells sharing a point with a box or polygon: a vertex of one inside the other,
    or crossing edges."""
    n = len(loops)
    vlat, vlon = gs._latlon(loops.reshape(-1, 3))
    hits = gs.contains(region, vlat, vlon).reshape(n, 4).any(axis=1)
    outline = region.corners() if isinstance(region, gs.Box) else region.vertices
    for p in outline:
        hits |= gs.quads_contain(loops, p)
    return hits | _edge_hits(region, loops)


def _intersecting(region: gs.Shape, cells: np.ndarray) -> np.ndarray:
    loops = _cell_loops(cells)
    if isinstance(region, gs.Circle):
        return _circle_hits(region, loops)
    return _outline_hits(region, loops)


def _refine(region: gs.Shape, cells: np.ndarray) -> np.ndarray:
    """Children of covering cells that intersect the region (one level finer)."""
    children = _children(cells)
    return children[_intersecting(region, children)]


def covering(region: gs.Shape, level: int) -> np.ndarray:
    """Cell ids at `level` intersecting the region (the fixed-level S2 covering)."""
    start = min(level, 3)
    cells = _all_cells(start)
    current = start
    while True:
        cells = cells[_intersecting(region, cells)]
        if current == level or cells.size == 0:
            return np.sort(cells)
        cells = _children(cells)
        current += 1


_GRID_CACHE: OrderedDict[tuple[Any, ...], tuple[int, tuple[str, ...]]] = OrderedDict()
_GRID_CACHE_SIZE = 256
_GRID_LOCK = threading.Lock()


def _grid(region: gs.Shape, level: int, max_level: int, min_size: int,
          max_size: int) -> tuple[int, list[str]]:
    """Flux's getGrid, remembered per region and arguments.

    A covering costs tens of milliseconds of geometry, more than a pruned query's scan
    on a compacted store, and dashboards repeat the same regions; shapes are immutable.
    """
    key = (_shape_key(region), level, max_level, min_size, max_size)
    with _GRID_LOCK:
        found = _GRID_CACHE.get(key)
        if found is not None:
            _GRID_CACHE.move_to_end(key)
    if found is None:
        grid_level, tokens = _compute_grid(region, level, max_level, min_size, max_size)
        found = (grid_level, tuple(tokens))
        with _GRID_LOCK:
            _GRID_CACHE[key] = found
            while len(_GRID_CACHE) > _GRID_CACHE_SIZE:
                _GRID_CACHE.popitem(last=False)
    return found[0], list(found[1])


def _shape_key(region: gs.Shape) -> tuple[Any, ...]:
    """A hashable identity for a shape (polygons hold NumPy vertices)."""
    if isinstance(region, gs.Polygon | gs.Polyline):
        return type(region).__name__, region.vertices.shape, region.vertices.tobytes()
    return (region,)


def _compute_grid(region: gs.Shape, level: int, max_level: int, min_size: int,
                  max_size: int) -> tuple[int, list[str]]:
    """Flux's getGrid: a fixed level, or the first level whose covering is big enough."""
    if level > -1:
        cells = covering(region, _check_level(level))
        return (level if cells.size else -1), s2.tokens(cells).to_pylist()
    if min_size <= 0 and max_size <= 0:
        raise FluxRuntimeError("geo: either minSize or maxSize must be specified")
    fallback = max_level
    max_level = max_level if max_level > 0 else s2.MAX_LEVEL
    min_size = max(min_size, 0)
    max_size = max_size if max_size > 0 else _MAX_GRID
    best: tuple[int, np.ndarray] | None = None
    cells = np.zeros(0, dtype=np.uint64)
    for lvl in range(1, max_level + 1):
        # covering() refines level by level from level 3; refining the previous
        # level's covering is the same chain, without recomputing it per level.
        if lvl <= 3:
            cells = covering(region, lvl)
        elif cells.size:
            cells = np.sort(_refine(region, cells))
        if cells.size > max_size:
            break
        best = (lvl, cells)
        if min_size > 0 and cells.size >= min_size:
            break
    if best is None or best[1].size == 0 or (best[1].size < min_size and fallback <= 0):
        return -1, []
    return best[0], s2.tokens(best[1]).to_pylist()


@builtin(GEO, name="getGrid")
def get_grid(ctx, region: Any, units: Any, minSize: int = -1, maxSize: int = -1,
             level: int = -1, maxLevel: int = -1) -> dict[str, Any]:
    """S2 cell tokens covering a region: {level, set}."""
    shape = gs.parse_shape("region", region, gs.earth_radius(units))
    lvl, tokens = _grid(shape, level, maxLevel, minSize, maxSize)
    return {"level": lvl, "set": tokens}


# ------------------------------------------------------------------------------ table functions


def _nonempty(tables: list[Table]) -> Stream:
    """filter() drops tables left without rows."""
    return Stream(t for t in tables if t.height)


@builtin(GEO, name="toRows", pipe="tables")
def to_rows(ctx, tables: Stream) -> Stream:
    """Pivot fields into columns on `_time` (v1.fieldsAsCols); an unread `from()` is
    read wide from the store instead (same tables, see geo_pushdown)."""
    source = pushdown.pending_source(tables)
    if source is not None:
        rows = pushdown.wide_rows(ctx, source)
        if rows is not None:
            return rows
    return pivot(ctx, tables, rowKey=["_time"], columnKey=["_field"], valueColumn="_value")


@builtin(GEO, name="shapeData", pipe="tables")
def shape_data(ctx, tables: Stream, latField: str, lonField: str, level: int) -> Stream:
    """Rename lat/lon fields, pivot them into columns, add the s2_cell_id key column."""
    _check_level(level)
    renamed = []
    for t in tables:
        require_columns(t, ["_field"], "geo.shapeData")
        field = pl.col("_field")
        expr = pl.when(field == latField).then(pl.lit("lat")).when(field == lonField) \
            .then(pl.lit("lon")).otherwise(field).alias("_field")
        df = t.df.with_columns(expr)
        renamed.append(Table.from_frame(df, t.key) if t.height else t)
    rows = to_rows(ctx, Stream(renamed))
    with_cells = []
    for t in rows:
        require_columns(t, ["lat", "lon"], "geo.shapeData")
        cells = _point_tokens(t.df.get_column("lat"), t.df.get_column("lon"), level)
        with_cells.append(t.with_df(t.df.with_columns(cells)))
    return group_extend(ctx, Stream(with_cells), columns=["s2_cell_id"], mode="extend")


def _detect_level(tables: Stream) -> int:
    for t in tables:
        key = key_record(t)
        if key.get("s2_cell_id") is not None:
            return int(s2.levels(_token_ids([key["s2_cell_id"]]))[0])
    raise FluxRuntimeError("geo: no table found with an s2_cell_id group key column "
                           "(cannot detect the S2 cell level; pass s2cellIDLevel)")


@builtin(GEO, name="gridFilter", pipe="tables")
def grid_filter(ctx, tables: Stream, region: Any, minSize: int = 24, maxSize: int = -1,
                level: int = -1, s2cellIDLevel: int = -1, units: Any = None) -> Stream:
    """Keep rows whose s2_cell_id lies in an S2 cell covering the region (coarse).

    On an unread `from()` the filter becomes part of the scan (see geo_pushdown).
    """
    source = pushdown.pending_source(tables)
    if source is not None:
        shape = gs.parse_shape("region", region, gs.earth_radius(_units(ctx, units)))
        tokens = _pushed_candidates(ctx, source, shape, minSize, maxSize, level, s2cellIDLevel)
        if tokens is not None and len(tokens) <= pushdown.MAX_PREDICATE_CELLS:
            return pushdown.restricted(source, tokens)
    cell_level = _detect_level(tables) if s2cellIDLevel == -1 else s2cellIDLevel
    shape = gs.parse_shape("region", region, gs.earth_radius(_units(ctx, units)))
    grid_level, tokens = _grid(shape, level, cell_level, minSize, maxSize)
    wanted = list(tokens)
    for t in tables:
        require_columns(t, ["s2_cell_id"], "geo.gridFilter")

    def in_grid(frame: pl.DataFrame) -> pl.Series:
        cells = frame.get_column("s2_cell_id")
        if grid_level != cell_level and frame.height:
            cells = _parent_tokens(cells, _check_level(grid_level))
        return cells.is_in(wanted)

    return tables.keep_rows(in_grid)


def _pushed_candidates(ctx, source: Any, shape: gs.Shape, min_size: int, max_size: int,
                       level: int, s2cell_level: int) -> Any:
    """Tokens gridFilter would keep on this source, computed from the store (or None)."""
    return pushdown.candidate_tokens(
        ctx, source, lambda cell_level: _grid(shape, level, cell_level, min_size, max_size),
        s2cell_level)


@builtin(GEO, name="strictFilter", pipe="tables")
def strict_filter(ctx, tables: Stream, region: Any) -> Stream:
    """Keep rows whose lat/lon lie inside the region."""
    shape = gs.parse_shape("region", region, gs.earth_radius(_units(ctx, None)))
    for t in tables:
        require_columns(t, ["lat", "lon"], "geo.strictFilter")
    return tables.keep_rows(lambda frame: gs.contains(
        shape, frame.get_column("lat").to_numpy(), frame.get_column("lon").to_numpy()))


@builtin(GEO, name="filterRows", pipe="tables")
def filter_rows(ctx, tables: Stream, region: Any, minSize: int = 24, maxSize: int = -1,
                level: int = -1, s2cellIDLevel: int = -1, strict: bool = True) -> Stream:
    """gridFilter, toRows when lat is not yet a column, then strictFilter if `strict`.

    On an unread `from()` the S2 pruning runs inside the scan and lat/lon are read
    as columns of the measurement table (see geo_pushdown); same result.
    """
    source = pushdown.pending_source(tables)
    if source is not None:
        shape = gs.parse_shape("region", region, gs.earth_radius(_units(ctx, None)))
        tokens = _pushed_candidates(ctx, source, shape, minSize, maxSize, level, s2cellIDLevel)
        if tokens is not None:
            keep = pushdown.region_mask(shape) if strict else None

            def read() -> Stream:
                rows = pushdown.wide_rows(ctx, source, tokens, keep)
                if rows is not None:
                    return _nonempty(rows.tables)
                rows = to_rows(ctx, pushdown.restricted(source, tokens))
                return strict_filter(ctx, rows, region) if strict else rows

            deferred = pushdown.deferred_circle(ctx, source, shape, tokens, read) \
                if strict else None
            return deferred if deferred is not None else read()
    pivoted = bool(tables.tables) and "lat" in tables.tables[0].df.columns
    rows = grid_filter(ctx, tables, region, minSize, maxSize, level, s2cellIDLevel)
    if not pivoted:
        rows = to_rows(ctx, rows)
    return strict_filter(ctx, rows, region) if strict else rows


@builtin(GEO, name="groupByArea", pipe="tables")
def group_by_area(ctx, tables: Stream, newColumn: str, level: int,
                  s2cellIDLevel: int = -1) -> Stream:
    """Group rows by the S2 cell (at `level`) that contains them."""
    cell_level = _detect_level(tables) if s2cellIDLevel == -1 else s2cellIDLevel
    out = []
    for t in tables:
        if level == cell_level:
            require_columns(t, ["s2_cell_id"], "geo.groupByArea")
            col = t.df.get_column("s2_cell_id").alias(newColumn)
        else:
            require_columns(t, ["lat", "lon"], "geo.groupByArea")
            col = _point_tokens(t.df.get_column("lat"), t.df.get_column("lon"),
                                _check_level(level)).alias(newColumn)
        out.append(t.with_df(t.df.with_columns(col)))
    return _universe(ctx, "group", tables=Stream(out), columns=[newColumn])


@builtin(GEO, name="asTracks", pipe="tables")
def as_tracks(ctx, tables: Stream, groupBy: list[str] | None = None,
              orderBy: list[str] | None = None) -> Stream:
    """Group rows into tracks and sort each by time."""
    grouped = _universe(ctx, "group", tables=tables, columns=groupBy or ["id", "tid"])
    return _universe(ctx, "sort", tables=grouped, columns=orderBy or ["_time"])


def _float_text(series: pl.Series) -> pl.Series:
    """Flux's string(v: float): shortest round-trip digits, no exponent, no ".0"."""
    return series.cast(pl.String).str.replace(r"\.0$", "")


@builtin(GEO, name="ST_LineString", pipe="tables")
def st_line_string(ctx, tables: Stream) -> Stream:
    """Each table's points as one "lon lat, lon lat" string in `st_linestring`."""
    out = []
    for t in tables:
        require_columns(t, ["lat", "lon"], "geo.ST_LineString")
        pairs = _float_text(t.df.get_column("lon").cast(pl.Float64)) + " " + \
            _float_text(t.df.get_column("lat").cast(pl.Float64))
        text = ", ".join(pairs.to_list())
        df = key_frame(t, 1).with_columns(pl.lit(text, dtype=pl.String).alias("st_linestring"))
        out.append(t.with_df(df))
    return Stream(out)


@builtin(GEO, name="totalDistance", pipe="tables")
def total_distance(ctx, tables: Stream, outputColumn: str = "_value") -> Stream:
    """Sum of distances between consecutive points of each table (geo.units)."""
    radius = gs.earth_radius(_units(ctx, None))
    out = []
    for t in tables:
        require_columns(t, ["lat", "lon"], "geo.totalDistance")
        v = gs.xyz(t.df.get_column("lat").to_numpy(), t.df.get_column("lon").to_numpy())
        total = float(gs.angle(v[:-1], v[1:]).sum()) * radius if len(v) > 1 else 0.0
        df = key_frame(t, 1).with_columns(pl.lit(total, dtype=pl.Float64).alias(outputColumn))
        out.append(t.with_df(df))
    return Stream(out)





# ------------------------------------------------------------------------------ ST_* over columns
# `map(fn: (r) => ({r with d: geo.ST_Distance(region: p, geometry: {lat: r.lat, lon: r.lon})}))`
# would call ST_Distance once per row; these compilers let the lambda compiler run it
# over whole columns instead (constant region, point geometry built from columns).
# Anything else (linestrings, a region built from the row) raises NotCompilable and
# keeps the exact row-by-row path, which also reports bad values row by row.


def _column_point(geometry: Any) -> pl.Expr:
    """struct(lat, lon) of a `{lat: .., lon: ..}` record built from numeric columns."""
    if not isinstance(geometry, dict) or set(geometry) != {"lat", "lon"}:
        raise NotCompilable("geometry is not a lat/lon record")
    parts = []
    for name in ("lat", "lon"):
        value = geometry[name]
        if isinstance(value, Compiled) and value.kind in ("float", "int", "uint"):
            parts.append(value.expr.cast(pl.Float64).alias(name))
        elif isinstance(value, int | float) and not isinstance(value, bool):
            parts.append(pl.lit(float(value), pl.Float64).alias(name))
        else:
            raise NotCompilable(f"geometry {name} is not numeric")
    return pl.struct(parts)


def _constant_region(ctx, args: dict[str, Any]) -> tuple[gs.Shape, float]:
    region, units = args.get("region"), args.get("units")
    if isinstance(region, Compiled) or isinstance(units, Compiled | dict) and any(
            isinstance(v, Compiled) for v in (units or {}).values()):
        raise NotCompilable("region or units vary by row")
    if isinstance(region, dict) and any(isinstance(v, Compiled) for v in region.values()):
        raise NotCompilable("region built from the row")
    radius = gs.earth_radius(_units(ctx, units))
    return gs.parse_shape("region", region, radius), radius


def _over_points(point: pl.Expr, compute: Any) -> pl.Expr:
    """Apply `compute(lat, lon) -> ndarray` to whole columns, checking coordinates first."""

    def batch(coords: pl.Series) -> pl.Series:
        lat, lon = coords.struct.field("lat"), coords.struct.field("lon")
        if lat.null_count() or lon.null_count():
            raise FluxRuntimeError("geo: geometry lat, lon must be numbers (a row has null)")
        la, lo = lat.to_numpy(), lon.to_numpy()
        bad = s2.invalid_coordinates(la, lo)
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            gs._check_latlon("geometry", [float(la[k])], [float(lo[k])])
            raise FluxRuntimeError("geo: geometry has a NaN coordinate")
        return pl.Series(coords.name, compute(la, lo))

    return point.map_batches(batch, return_dtype=pl.Float64)


def _vector_distance(ctx, args: dict[str, Any]) -> Compiled:
    region, radius = _constant_region(ctx, args)
    if isinstance(region, gs.Polyline):
        raise NotCompilable("linestring region")
    point = _column_point(args.get("geometry"))
    return Compiled(_over_points(point, lambda la, lo: gs.point_distances(region, la, lo) * radius),
                    "float")


def _vector_dwithin(ctx, args: dict[str, Any]) -> Compiled:
    limit = args.get("distance")
    if isinstance(limit, Compiled):
        if limit.kind not in ("float", "int"):
            raise NotCompilable("distance type")
        bound = limit.expr.cast(pl.Float64)
    elif isinstance(limit, int | float) and not isinstance(limit, bool):
        bound = pl.lit(float(limit))
    else:
        raise NotCompilable("distance")
    return Compiled(_vector_distance(ctx, args).expr <= bound, "bool")


def _vector_intersects(ctx, args: dict[str, Any]) -> Compiled:
    return Compiled(_vector_distance(ctx, args).expr <= 0.0, "bool")


def _vector_contains(ctx, args: dict[str, Any]) -> Compiled:
    region, _ = _constant_region(ctx, args)
    if not isinstance(region, gs.Box | gs.Circle | gs.Polygon):
        raise NotCompilable("region type")
    point = _column_point(args.get("geometry"))

    def inside(la: np.ndarray, lo: np.ndarray) -> np.ndarray:
        return gs.contains(region, la, lo).astype(np.float64)

    return Compiled(_over_points(point, inside) > 0.5, "bool")


for _name, _impl in (("ST_Distance", _vector_distance), ("ST_DWithin", _vector_dwithin),
                     ("ST_Intersects", _vector_intersects), ("ST_Contains", _vector_contains)):
    register_record_native(GEO, _name, _impl)
