"""experimental/geo: spherical geometry, S2 grids and the table functions, run through
the real interpreter."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from fluxlab.flux.context import Context
from fluxlab.flux.errors import FluxRuntimeError
from fluxlab.flux.interpreter import Interpreter
from fluxlab.flux.parser import parse
from fluxlab.flux.stdlib import geo
from fluxlab.flux.stdlib import geo_shapes as gs
from fluxlab.flux.table import TIME_TYPE, Stream, Table
from fluxlab.model import s2

TRIANGLE = ("{points: [{lat: 40.671659, lon: -73.936631}, {lat: 40.706543, lon: -73.749177},"
            " {lat: 40.791333, lon: -73.880327}]}")


def evaluate(source: str, name: str = "x", **streams: Stream):
    interp = Interpreter(Context())
    for n, v in streams.items():
        interp.globals.define(n, v)
    interp.run(parse('import "experimental/geo"\n' + source))
    return interp.globals.lookup(name)[1]


def run(source: str, **streams: Stream) -> Stream:
    interp = Interpreter(Context())
    for n, v in streams.items():
        interp.globals.define(n, v)
    return interp.run(parse('import "experimental/geo"\n' + source))["_result"]


def test_point_distance_matches_the_great_circle_formula_and_units() -> None:
    km = evaluate("x = geo.ST_Distance(region: {lat: 40.6892, lon: -74.0445}, "
                  "geometry: {lat: 40.7484, lon: -73.9857})")
    lat1, lon1, lat2, lon2 = map(math.radians, (40.6892, -74.0445, 40.7484, -73.9857))
    h = (math.sin((lat2 - lat1) / 2) ** 2
         + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2)
    assert km == pytest.approx(2 * 6371.01 * math.asin(math.sqrt(h)), rel=1e-12)
    miles = evaluate('option geo.units = {distance: "mile"}\n'
                     "x = geo.ST_Distance(region: {lat: 40.6892, lon: -74.0445}, "
                     "geometry: {lat: 40.7484, lon: -73.9857})")
    assert miles == pytest.approx(km / 1.609344)


def test_polygon_contains_and_distance() -> None:
    inside = evaluate(f"x = geo.ST_Contains(region: {TRIANGLE}, geometry: {{lat: 40.72, lon: -73.85}})")
    outside = evaluate(f"x = geo.ST_Contains(region: {TRIANGLE}, geometry: {{lat: 40.60, lon: -73.85}})")
    assert inside is True and outside is False
    assert evaluate(f"x = geo.ST_Distance(region: {TRIANGLE}, geometry: {{lat: 40.72, lon: -73.85}})") == 0.0
    # south of the southern edge: the distance is to that edge, not to a vertex
    d = evaluate(f"x = geo.ST_Distance(region: {TRIANGLE}, geometry: {{lat: 40.68, lon: -73.84}})")
    vertex = gs.angle(gs.xyz(40.68, -73.84), gs.xyz(40.706543, -73.749177)) * 6371.01
    assert 0 < d < vertex


def test_linestring_functions() -> None:
    crossing = '{linestring: "-73.95 40.72, -73.80 40.72"}'
    assert evaluate(f"x = geo.ST_Intersects(region: {TRIANGLE}, geometry: {crossing})") is True
    assert evaluate(f"x = geo.ST_Contains(region: {TRIANGLE}, geometry: {crossing})") is False
    length = evaluate('x = geo.ST_Length(geometry: {linestring: "0 0, 1 0, 1 1"})')
    assert length == pytest.approx(2 * math.radians(1) * 6371.01, rel=1e-9)
    near = evaluate('x = geo.ST_DWithin(region: {lat: 0.5, lon: 0.5}, '
                    'geometry: {linestring: "0 0, 1 0"}, distance: 56.0)')
    assert near is True
    with pytest.raises(FluxRuntimeError, match="unsupported geometry"):
        evaluate("x = geo.ST_Length(geometry: {foo: 1})")


def test_s2_cell_tokens_levels_and_centres() -> None:
    token = evaluate("x = geo.s2CellIDToken(point: {lat: 40.7484, lon: -73.9857}, level: 10)")
    assert token == s2.cell_tokens([40.7484], [-73.9857], 10).to_pylist()[0]
    assert evaluate(f'x = geo.getLevel(token: "{token}")') == 10
    parent = evaluate(f'x = geo.s2CellIDToken(token: "{token}", level: 5)')
    assert parent == s2.cell_tokens([40.7484], [-73.9857], 5).to_pylist()[0]
    centre = evaluate(f'x = geo.s2CellLatLon(token: "{token}")')
    assert abs(centre["lat"] - 40.7484) < 0.1 and abs(centre["lon"] + 73.9857) < 0.1
    with pytest.raises(FluxRuntimeError, match="level"):
        evaluate(f'x = geo.s2CellIDToken(token: "{token}", level: 12)')


def test_covering_contains_every_cell_with_points_in_the_region() -> None:
    circle = gs.Circle(40.7, -73.6, 15.0 / 6371.01)
    cells = geo.covering(circle, 10)
    rng = np.random.default_rng(1)
    lat = 40.7 + rng.uniform(-0.2, 0.2, 2000)
    lon = -73.6 + rng.uniform(-0.25, 0.25, 2000)
    inside = gs.contains(circle, lat, lon)
    ids = s2.cell_ids(lat[inside], lon[inside], 10)
    assert np.isin(ids, cells).all()
    # and no covering cell is far from the circle
    clat, clon = s2.cell_centers(cells)
    assert (gs.angle(gs.xyz(clat, clon), gs.xyz(40.7, -73.6)) * 6371.01 < 15.0 + 15.0).all()
    grid = evaluate("x = geo.getGrid(region: {lat: 40.7, lon: -73.6, radius: 15.0}, "
                    'minSize: 24, units: {distance: "km"})')
    assert len(grid["set"]) >= 24 and 1 <= grid["level"] <= 30


def _raw() -> Stream:
    times = pl.Series([0, 3_600_000_000_000, 7_200_000_000_000]).cast(TIME_TYPE)
    rows = pl.DataFrame({
        "_time": pl.concat([times, times]),
        "id": ["a"] * 6,
        "_field": ["latitude"] * 3 + ["longitude"] * 3,
        "_value": [40.70, 40.75, 41.50, -73.60, -73.65, -73.00],
    })
    return Stream.from_frame(rows, ["id", "_field"])


def test_shape_data_strict_filter_and_tracks() -> None:
    shaped = run('data |> geo.shapeData(latField: "latitude", lonField: "longitude", level: 10)',
                 data=_raw())
    assert all("s2_cell_id" in t.key and "lat" in t.df.columns for t in shaped)
    assert sum(t.height for t in shaped) == 3
    kept = run('data |> geo.shapeData(latField: "latitude", lonField: "longitude", level: 10)'
               " |> geo.filterRows(region: {lat: 40.7, lon: -73.6, radius: 15.0})", data=_raw())
    assert sorted(v for t in kept for v in t.df.get_column("lat").to_list()) == [40.70, 40.75]
    tracks = run('data |> geo.toRows() |> geo.asTracks(groupBy: ["id"])', data=_raw())
    assert [t.key for t in tracks] == [("id",)]


def test_total_distance_and_linestring() -> None:
    df = pl.DataFrame({"id": ["a", "a", "a"], "lat": [0.0, 0.0, 1.0], "lon": [0.0, 1.0, 1.0]})
    data = Stream([Table.from_frame(df, ["id"])])
    (t,) = run("data |> geo.totalDistance()", data=data).tables
    assert t.df.to_dict(as_series=False) == {
        "id": ["a"], "_value": [pytest.approx(2 * math.radians(1) * 6371.01)]}
    (line,) = run("data |> geo.ST_LineString()", data=data).tables
    assert line.df.get_column("st_linestring").to_list() == ["0 0, 1 0, 1 1"]


@pytest.mark.parametrize("region", [
    gs.Polygon(gs.xyz([40.671659, 40.706543, 40.791333], [-73.936631, -73.749177, -73.880327])),
    gs.Box(40.60, -73.95, 40.80, -73.70),
])
def test_polygon_and_box_coverings_contain_all_points_inside(region: gs.Shape) -> None:
    cells = geo.covering(region, 12)
    rng = np.random.default_rng(2)
    lat = rng.uniform(40.55, 40.85, 4000)
    lon = rng.uniform(-74.0, -73.65, 4000)
    inside = gs.contains(region, lat, lon)
    assert inside.sum() > 100
    assert np.isin(s2.cell_ids(lat[inside], lon[inside], 12), cells).all()
    # cells far outside are not in the covering
    far = s2.cell_ids(np.array([41.5]), np.array([-73.8]), 12)
    assert not np.isin(far, cells).any()


def test_box_parallels_are_not_geodesics() -> None:
    # The geodesic between two points at 10°N bulges to about 10.15°N near lon 10,
    # crossing the 10.1°N parallel near lon 4.1 and 15.9 only.
    a, b = gs.xyz([10.0], [0.0]), gs.xyz([10.0], [20.0])
    assert geo._parallel_crossings(10.1, 0, 20, a, b)[0]
    assert not geo._parallel_crossings(10.1, 2, 3, a, b)[0]
    assert not geo._parallel_crossings(10.3, 0, 20, a, b)[0]


def test_grid_cache_gives_the_same_covering_and_copies() -> None:
    """getGrid results are remembered per region; a cached answer equals a fresh one and
    callers get their own list."""
    from fluxlab.flux.stdlib import geo as geo_mod
    from fluxlab.flux.stdlib import geo_shapes as gs

    circle = gs.parse_shape("region", {"lat": 40.0, "lon": -73.0, "radius": 20.0},
                            gs.earth_radius({"distance": "km"}))
    geo_mod._GRID_CACHE.clear()
    first = geo_mod._grid(circle, -1, 13, 24, -1)
    first[1].append("mutated")
    again = geo_mod._grid(circle, -1, 13, 24, -1)
    assert again == geo_mod._compute_grid(circle, -1, 13, 24, -1)
    assert "mutated" not in again[1] and len(geo_mod._GRID_CACHE) == 1
    polygon = gs.parse_shape("region", {"points": [{"lat": 40.0, "lon": -73.0},
                                                   {"lat": 40.5, "lon": -73.0},
                                                   {"lat": 40.0, "lon": -72.5}]},
                             gs.earth_radius({"distance": "km"}))
    assert geo_mod._grid(polygon, -1, 13, 24, -1) == geo_mod._compute_grid(polygon, -1, 13, 24, -1)
    assert len(geo_mod._GRID_CACHE) == 2
