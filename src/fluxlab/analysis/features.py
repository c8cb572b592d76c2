"""Derived features for classifying time-stamped, geo-tagged points.

Every feature is computed for whole columns at once (Polars / NumPy). Categorical
features are strings so they survive a round trip through JSON model files.

    hemisphere   "north" / "south" from latitude (the equator counts as north)
    season       astronomical season: spring/summer/autumn/winter, flipped south of the
                 equator; boundaries are each year's equinoxes and solstices
    month        "01".."12"        hour      "00".."23"        weekday   "mon".."sun"
    s2:LEVEL     the S2 cell token of the point at LEVEL (e.g. s2:8)
    any other name is taken as an existing column (a tag such as a neighbourhood)
"""

from __future__ import annotations

import numpy as np
import polars as pl

from fluxlab.model import s2

DERIVED = ("hemisphere", "season", "month", "hour", "weekday")
_WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_SEASONS = ["winter", "spring", "summer", "autumn"]
# Season index by boundaries passed (0-4); the south is two seasons ahead.
_NORTH_SEASON_INDEX = np.array([0, 1, 2, 3, 0])
_SOUTH_SEASON_INDEX = np.array([2, 3, 0, 1, 2])

# Mean equinox/solstice instants (Julian Ephemeris Day) as polynomials in
# Y = (year - 2000) / 1000, valid for years 1000-3000 (Meeus, Astronomical
# Algorithms, table 27.C). Order: March equinox, June solstice, September
# equinox, December solstice. Accurate to minutes, which is plenty for seasons.
_EQUINOX_SOLSTICE_JDE = np.array(
    [
        [2451623.80984, 365242.37404, 0.05169, -0.00411, -0.00057],
        [2451716.56767, 365241.62603, 0.00325, 0.00888, -0.00030],
        [2451810.21715, 365242.01767, -0.11575, 0.00337, 0.00078],
        [2451900.05952, 365242.74049, -0.06223, -0.00823, 0.00032],
    ]
)
_UNIX_EPOCH_JD = 2440587.5


class FeatureError(ValueError):
    """A feature cannot be computed from the data given."""


def season_boundaries_ns(years: np.ndarray) -> np.ndarray:
    """(n, 4) UTC nanosecond instants of each year's equinoxes and solstices."""
    y = (years.astype(np.float64) - 2000.0) / 1000.0
    powers = np.stack([np.ones_like(y), y, y**2, y**3, y**4], axis=1)
    jde = powers @ _EQUINOX_SOLSTICE_JDE.T
    return ((jde - _UNIX_EPOCH_JD) * 86400e9).astype(np.int64)


def season_index(time_ns: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Astronomical season (index into winter, spring, summer, autumn) per point."""
    years = (time_ns.astype("datetime64[ns]").astype("datetime64[Y]").astype(np.int64) + 1970)
    bounds = season_boundaries_ns(years)
    # How many of the year's four boundaries the instant has passed: 0 (winter) .. 4.
    passed = (time_ns[:, None] >= bounds).sum(axis=1)
    return np.where(lat >= 0, _NORTH_SEASON_INDEX[passed], _SOUTH_SEASON_INDEX[passed])


def seasons(time_ns: np.ndarray, lat: np.ndarray) -> pl.Series:
    """Astronomical season name of each instant at each latitude."""
    return pl.Series("season", _SEASONS).gather(season_index(time_ns, lat))


def _time_ns(frame: pl.DataFrame, time_column: str) -> np.ndarray:
    col = frame.get_column(time_column)
    if col.dtype.is_temporal():
        col = col.dt.cast_time_unit("ns").dt.replace_time_zone(None).cast(pl.Int64)
    return col.to_numpy()


def _require_columns(frame: pl.DataFrame, names: list[str], feature: str) -> None:
    missing = [n for n in names if n not in frame.columns]
    if missing:
        raise FeatureError(
            f"feature {feature!r} needs column(s) {missing}; the data has {frame.columns}"
        )


def _require_coordinates(frame: pl.DataFrame, column: str, limit: float, feature: str) -> np.ndarray:
    """The column as floats; a null, NaN or out-of-range value is an error, not a guess
    (a hemisphere or season from latitude 95 would be a silent wrong answer)."""
    values = frame.get_column(column).cast(pl.Float64).to_numpy()
    bad = ~(np.abs(np.nan_to_num(values, nan=np.inf)) <= limit)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise FeatureError(
            f"feature {feature!r}: {int(bad.sum())} row(s) have no valid {column} "
            f"(first: row {first}, value {float(values[first])!r}; expected -{limit:g}..{limit:g} "
            "degrees); filter them out or fix the data"
        )
    return values


def derive(
    frame: pl.DataFrame,
    features: list[str],
    *,
    time_column: str = "time",
    lat: str = "lat",
    lon: str = "lon",
) -> pl.DataFrame:
    """A frame with one string column per categorical feature, in the order given."""
    out: dict[str, pl.Series] = {}
    for name in features:
        if name == "hemisphere":
            _require_columns(frame, [lat], name)
            north = _require_coordinates(frame, lat, 90, name) >= 0
            out[name] = pl.Series(np.where(north, "north", "south"))
        elif name == "season":
            _require_columns(frame, [time_column, lat], name)
            lat_values = _require_coordinates(frame, lat, 90, name)
            out[name] = seasons(_time_ns(frame, time_column), lat_values)
        elif name in ("month", "hour", "weekday"):
            _require_columns(frame, [time_column], name)
            t = pl.Series(_time_ns(frame, time_column)).cast(pl.Datetime("ns"))
            if name == "month":
                out[name] = t.dt.month().cast(pl.String).str.zfill(2)
            elif name == "hour":
                out[name] = t.dt.hour().cast(pl.String).str.zfill(2)
            else:
                out[name] = pl.Series(_WEEKDAYS).gather(t.dt.weekday() - 1)
        elif name.startswith("s2:"):
            _require_columns(frame, [lat, lon], name)
            level = int(name[3:])
            tokens = s2.cell_tokens(
                _require_coordinates(frame, lat, 90, name),
                _require_coordinates(frame, lon, 180, name), level,
            )
            out[name] = pl.Series(name, tokens)
        else:
            _require_columns(frame, [name], name)
            out[name] = frame.get_column(name).cast(pl.String)
    return pl.DataFrame({k: v.alias(k) for k, v in out.items()})
