"""experimental/geo: bad input gives clear errors (never a silent wrong answer), and ST_*
calls inside `map`/`filter` run over whole columns with the row-by-row results."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
import s2cell

from fluxlab.flux import compile as flux_compile
from fluxlab.flux.context import Context
from fluxlab.flux.errors import FluxError
from fluxlab.flux.interpreter import Interpreter
from fluxlab.flux.parser import parse
from fluxlab.flux.stdlib import geo  # noqa: F401 - registers the geo vector natives
from fluxlab.flux.table import Stream, Table


def run(source: str, **streams: Stream) -> Stream:
    interp = Interpreter(Context())
    for n, v in streams.items():
        interp.globals.define(n, v)
    return interp.run(parse('import "experimental/geo"\n' + source))["_result"]


def evaluate(source: str) -> object:
    interp = Interpreter(Context())
    interp.run(parse('import "experimental/geo"\n' + source))
    return interp.globals.lookup("x")[1]


@pytest.mark.parametrize(("call", "message"), [
    ("geo.s2CellIDToken(point: {lat: 40.0, lon: -73.0}, level: 31)", r"level value must be \[1, 30\]"),
    ("geo.s2CellIDToken(point: {lat: 40.0, lon: -73.0}, level: 0)", r"level value must be \[1, 30\]"),
    ("geo.s2CellIDToken(point: {lat: 40.0, lon: -73.0}, level: -3)", r"level value must be \[1, 30\]"),
    ('geo.s2CellIDToken(token: "zz12", level: 5)', "invalid S2 cell token"),
    ('geo.s2CellIDToken(token: "89c25", level: 12)', "level"),  # finer than the token
    ("geo.s2CellIDToken(point: {lat: 95.0, lon: -73.0}, level: 10)", "invalid coordinate"),
    ("geo.s2CellIDToken(point: {lat: 40.0, lon: -190.0}, level: 10)", "invalid coordinate"),
    ('geo.s2CellLatLon(token: "g")', "invalid S2 cell token"),
    ('geo.getLevel(token: "")', "invalid S2 cell token"),
    ("geo.ST_Distance(region: {lat: 100.0, lon: 0.0}, geometry: {lat: 0.0, lon: 0.0})", "latitude"),
    ("geo.ST_Distance(region: {lat: 0.0, lon: 0.0}, geometry: {lat: 0.0, lon: 200.0})", "longitude"),
    ("geo.ST_Contains(region: {lat: 0.0, lon: 0.0, radius: -5.0}, geometry: {lat: 0.0, lon: 0.0})",
     "radius"),
])
def test_bad_scalar_input_is_a_clear_error(call: str, message: str) -> None:
    with pytest.raises(FluxError, match=message):
        evaluate(f"x = {call}")


def test_nan_coordinate_is_an_error() -> None:
    with pytest.raises(FluxError, match="latitude"):
        evaluate('import "math"\nx = geo.s2CellIDToken(point: {lat: math.NaN(), lon: 1.0}, '
                 "level: 10)")


def test_good_token_still_matches_the_reference() -> None:
    assert evaluate("x = geo.s2CellIDToken(point: {lat: 41.76371, lon: -72.685097}, level: 10)") \
        == s2cell.lat_lon_to_token(41.76371, -72.685097, 10)


def _points(n: int = 2000) -> Stream:
    rng = np.random.default_rng(5)
    df = pl.DataFrame({"id": ["a"] * n, "lat": rng.uniform(40.5, 41.5, n),
                       "lon": rng.uniform(-73.5, -72.5, n)})
    return Stream([Table.from_frame(df, ["id"])])


ST_MAP = """
p = {lat: 41.0, lon: -73.0}
box = {minLat: 40.8, minLon: -73.2, maxLat: 41.2, maxLon: -72.9}
data |> map(fn: (r) => ({r with
    d: geo.ST_Distance(region: p, geometry: {lat: r.lat, lon: r.lon}),
    dm: geo.ST_Distance(region: box, geometry: {lat: r.lat, lon: r.lon}, units: {distance: "mile"}),
    w: geo.ST_DWithin(region: p, geometry: {lat: r.lat, lon: r.lon}, distance: 20.0),
    c: geo.ST_Contains(region: {lat: 41.0, lon: -73.0, radius: 30.0},
                       geometry: {lat: r.lat, lon: r.lon}),
    i: geo.ST_Intersects(region: box, geometry: {lat: r.lat, lon: r.lon})}))
"""


def _without_vector_natives(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(flux_compile, "RECORD_NATIVES", {})


def test_st_functions_in_map_are_compiled_to_column_expressions() -> None:
    calls = {"n": 0}
    impl = flux_compile.RECORD_NATIVES[("experimental/geo", "ST_Distance")]

    def counting(ctx, args):  # one compile per table, not one call per row
        calls["n"] += 1
        return impl(ctx, args)

    flux_compile.RECORD_NATIVES[("experimental/geo", "ST_Distance")] = counting
    try:
        out = run(ST_MAP, data=_points())
    finally:
        flux_compile.RECORD_NATIVES[("experimental/geo", "ST_Distance")] = impl
    assert 1 <= calls["n"] <= 3  # compiled per table (2000 rows), never called per row
    assert out.tables[0].height == 2000


def test_vectorized_st_results_equal_row_by_row(monkeypatch: pytest.MonkeyPatch) -> None:
    fast = run(ST_MAP, data=_points()).tables[0].df
    _without_vector_natives(monkeypatch)
    slow = run(ST_MAP, data=_points()).tables[0].df
    assert fast.columns == slow.columns
    for col in ("w", "c", "i"):
        assert fast.get_column(col).to_list() == slow.get_column(col).to_list()
        assert 0 < fast.get_column(col).sum() < fast.height  # both outcomes occur
    for col in ("d", "dm"):
        np.testing.assert_allclose(fast.get_column(col).to_numpy(), slow.get_column(col).to_numpy(),
                                   rtol=1e-12, atol=1e-9)


def test_st_filter_with_a_bad_row_coordinate_is_an_error() -> None:
    df = pl.DataFrame({"lat": [41.0, 95.0], "lon": [-73.0, -73.0]})
    data = Stream([Table.from_frame(df, [])])
    with pytest.raises(FluxError, match="latitude"):
        run("data |> filter(fn: (r) => geo.ST_DWithin(region: {lat: 41.0, lon: -73.0}, "
            "geometry: {lat: r.lat, lon: r.lon}, distance: 5.0))", data=data)
