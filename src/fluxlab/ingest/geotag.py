"""Geo tagging at ingest: an `s2_cell_id` tag computed from latitude/longitude columns.

A mapping asks for it with `geo = {lat = "Lat", lon = "Lon", level = 10}` or, for
files holding a point as one `"(lat, lon)"` text column (Hartford's `geom`),
`geo = {point = "geom", level = 10}`. Tokens are computed over whole blocks with
`model.s2.cell_tokens` (one NumPy pass per block, no per-row Python), exactly as
InfluxData's Go library computes them.

Rows whose coordinates are missing, not numbers, NaN/infinite or out of range
(latitude beyond ±90, longitude beyond ±180) are rejected with the column, the
value and the reason; they are never stored untagged, because a point without its
cell silently disappears from every region query.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from fluxlab.ingest.rowplan import TagPlan
from fluxlab.ingest.transforms import clean
from fluxlab.model import s2

DEFAULT_TAG = "s2_cell_id"
_LAT, _LON, _POINT = "__geo_lat", "__geo_lon", "__geo_point"
# "(41.76, -72.68)", with or without parentheses and spaces.
_POINT_LAT = r"^\(?\s*([^,()\s]+)\s*,"
_POINT_LON = r",\s*([^,()\s]+)\s*\)?$"


@dataclass(frozen=True)
class GeoSpec:
    """Where the coordinates come from, the S2 level and the tag key to write."""

    level: int
    lat: str | None = None
    lon: str | None = None
    point: str | None = None
    tag: str = DEFAULT_TAG

    def columns(self) -> list[str]:
        return [self.point] if self.point else [c for c in (self.lat, self.lon) if c]


@dataclass(frozen=True)
class GeoPlan:
    """What the row plan needs: the tag, the work columns and the checks over them."""

    tag: TagPlan
    extra_columns: list[pl.Expr]
    checks: list[tuple[pl.Expr, str, pl.Expr, pl.Expr]]


def _raw_coordinates(spec: GeoSpec, nulls: tuple[str, ...]) -> tuple[pl.Expr, ...]:
    """Cleaned coordinate text (lat, lon, and the point text when split from one column)."""
    if spec.point:
        point = clean(pl.col(spec.point), nulls=nulls)
        return point.str.extract(_POINT_LAT, 1), point.str.extract(_POINT_LON, 1), point
    lat = clean(pl.col(spec.lat), nulls=nulls)  # type: ignore[arg-type]
    lon = clean(pl.col(spec.lon), nulls=nulls)  # type: ignore[arg-type]
    return lat, lon, pl.lit(None, pl.String)


def tokens_of_block(level: int) -> Callable[[pl.Series], pl.Series]:
    """A Polars batch function: struct(lat, lon) floats -> tokens, null where invalid."""

    def compute(coords: pl.Series) -> pl.Series:
        lat = coords.struct.field("lat").to_numpy().astype(np.float64)
        lon = coords.struct.field("lon").to_numpy().astype(np.float64)
        ok = ~s2.invalid_coordinates(lat, lon)  # NaN (also from nulls) counts as invalid
        out = pa.nulls(len(coords), pa.string())
        if ok.all():
            out = s2.cell_tokens(lat, lon, level)
        elif ok.any():
            good = s2.cell_tokens(lat[ok], lon[ok], level)
            index = np.cumsum(ok) - 1
            taken = good.take(pa.array(np.where(ok, index, 0)))
            out = pc.if_else(pa.array(ok), taken, pa.scalar(None, pa.string()))
        return pl.Series(coords.name, out, dtype=pl.String)

    return compute


def _float(expr: pl.Expr) -> pl.Expr:
    return expr.cast(pl.Float64, strict=False)


def _coordinate_checks(
    raw: pl.Expr, source: str, name: str, limit: float, point: pl.Expr | None
) -> list[tuple[pl.Expr, str, pl.Expr, pl.Expr]]:
    """(failed, column, value, reason) for one coordinate, most basic problem first."""
    value = _float(raw)
    shown = point if point is not None else raw
    what = "a (lat, lon) point" if point is not None else "a number"
    return [
        (
            raw.is_null() & (point.is_null() if point is not None else pl.lit(True)),
            source,
            pl.lit(None, pl.String),
            pl.lit(f"{name} is missing; geo tagging needs both coordinates "
                   "(fill it in, or remove the row)"),
        ),
        (
            value.is_null() | value.is_nan(),
            source,
            shown,
            pl.lit(f"{name} is not {what} (NaN and text are not coordinates); "
                   "fix the value or add a fix in the mapping"),
        ),
        (
            value.abs() > limit,
            source,
            shown,
            pl.lit(f"{name} outside ±{limit:g} degrees; check that latitude and "
                   "longitude are not swapped"),
        ),
    ]


def geo_plan(spec: GeoSpec, *, nulls: tuple[str, ...]) -> GeoPlan:
    """Tag, work columns and checks for a mapping's `geo` table (raw columns come trimmed)."""
    s2.check_level(spec.level)
    lat, lon, point = _raw_coordinates(spec, nulls)
    # a late tag over the work columns: the coordinates are extracted once per block
    coords = pl.struct(_float(pl.col(_LAT)).alias("lat"), _float(pl.col(_LON)).alias("lon"))
    token = coords.map_batches(tokens_of_block(spec.level), return_dtype=pl.String)
    source_lat = spec.point or spec.lat or "lat"
    source_lon = spec.point or spec.lon or "lon"
    extra = [lat.alias(_LAT), lon.alias(_LON), point.alias(_POINT)]
    point_col = pl.col(_POINT) if spec.point else None
    checks = _coordinate_checks(pl.col(_LAT), source_lat, "latitude", 90.0, point_col)
    checks += _coordinate_checks(pl.col(_LON), source_lon, "longitude", 180.0, point_col)
    source = spec.point or f"{spec.lat}+{spec.lon}"
    return GeoPlan(TagPlan(spec.tag, source, token, late=True), extra, checks)
