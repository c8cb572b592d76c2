"""geo.filterRows / gridFilter / toRows on `from()` are pushed into the store scan
(S2 candidate cells + wide read): the results must be exactly the unpushed ones."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from fluxlab.flux.context import Context
from fluxlab.flux.errors import FluxError
from fluxlab.flux.interpreter import Interpreter
from fluxlab.flux.parser import parse
from fluxlab.flux.stdlib import geo_pushdown
from fluxlab.flux.table import Stream
from fluxlab.model import s2
from fluxlab.model.lineprotocol import decode
from fluxlab.storage import Store
from fluxlab.storage.wide import scan_wide

T0 = 1_700_000_000_000_000_000
RANGE = "range(start: 2023-11-14T00:00:00Z, stop: 2023-11-16T00:00:00Z)"


def _lines() -> list[str]:
    """Two clusters, three birds, a second measurement, sparse fields, level-11 cells."""
    rng = np.random.default_rng(11)
    lines = []
    for k, (clat, clon) in enumerate([(41.76, -72.68), (48.85, 2.35)]):
        lat = (clat + rng.normal(0, 0.15, 90)).tolist()
        lon = (clon + rng.normal(0, 0.2, 90)).tolist()
        cells = s2.cell_tokens(lat, lon, 11).to_pylist()
        for i in range(90):
            bird = f"b{(i + k) % 3}"
            t = T0 + (i * 600 + k) * 1_000_000_000
            fields = f"lat={lat[i]!r},lon={lon[i]!r}"
            if i % 7 == 0:
                fields += f",speed={i}i"
            if i % 29 == 0 and i + 3 < 90:  # a point with only lon (pivot row order: not in lat's table)
                fields = f"lon={lon[i]!r}"
            cell = cells[i + 3] if i % 29 == 0 and i + 3 < 90 else cells[i]  # same series as point i+3
            lines.append(f"migration,id={bird},s2_cell_id={cell} {fields} {t}")
            if i % 10 == 0:
                lines.append(f"ships,s2_cell_id={cells[i]} lat={lat[i]!r},lon={lon[i]!r} {t}")
    lines.append(f"weather,station=x temp=3.5 {T0}")  # no s2_cell_id tag at all
    return lines


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    path: Path = tmp_path_factory.mktemp("geo_push") / "store"
    decoded = decode("\n".join(_lines()).encode())
    assert not decoded.errors
    with Store(path) as s:
        s.create_bucket("birds")
        assert s.write("birds", decoded.batches).points_written == len(_lines())
        yield s


def run(store: Store, query: str, pushed: bool, monkeypatch: pytest.MonkeyPatch) -> Stream:
    with monkeypatch.context() as m:
        if not pushed:
            m.setattr(geo_pushdown, "pending_source", lambda tables: None)
        interp = Interpreter(Context(source=store))
        return interp.run(parse('import "experimental/geo"\n' + query))["_result"]


def assert_same(a: Stream, b: Stream) -> None:
    assert len(a.tables) == len(b.tables)
    for x, y in zip(a.tables, b.tables, strict=True):
        assert (x.key, x.key_values) == (y.key, y.key_values)
        assert x.df.columns == y.df.columns
        assert x.df.schema == y.df.schema
        assert x.df.equals(y.df), (x.key_values, x.df, y.df)


BIRDS = f'from(bucket: "birds") |> {RANGE} |> filter(fn: (r) => r._measurement == "migration")'
ALL = f'from(bucket: "birds") |> {RANGE} |> filter(fn: (r) => r._field == "lat" or r._field == "lon")'


@pytest.mark.parametrize("query", [
    f"{BIRDS} |> geo.filterRows(region: {{lat: 41.76, lon: -72.68, radius: 30.0}})",
    f"{BIRDS} |> geo.filterRows(region: {{lat: 41.76, lon: -72.68, radius: 48.28}}, strict: false)",
    f"{BIRDS} |> geo.filterRows(region: {{minLat: 48.5, minLon: 2.0, maxLat: 49.0, maxLon: 2.8}})",
    f"{BIRDS} |> geo.filterRows(region: {{points: [{{lat: 41.5, lon: -73.0}}, "
    "{lat: 42.2, lon: -72.7}, {lat: 41.6, lon: -72.2}]})",
    f"{BIRDS} |> geo.filterRows(region: {{lat: 41.76, lon: -72.68, radius: 40.0}}, level: 8)",
    f"{BIRDS} |> geo.gridFilter(region: {{lat: 48.85, lon: 2.35, radius: 20.0}})",
    f"{BIRDS} |> geo.gridFilter(region: {{lat: 48.85, lon: 2.35, radius: 20.0}}) |> geo.toRows()",
    f"{ALL} |> geo.filterRows(region: {{lat: 41.76, lon: -72.68, radius: 60.0}})",
    f"{ALL} |> geo.toRows()",
    f'from(bucket: "birds") |> {RANGE} |> filter(fn: (r) => r._measurement == "ships") '
    "|> geo.filterRows(region: {lat: 0.0, lon: 0.0, radius: 10.0})",  # nothing inside
])
def test_pushed_result_equals_unpushed(store: Store, query: str,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    pushed = run(store, query, True, monkeypatch)
    plain = run(store, query, False, monkeypatch)
    assert_same(pushed, plain)
    if "0.0, lon: 0.0" not in query:
        assert sum(t.height for t in pushed) > 0  # the comparison is not vacuous


def test_pushdown_reads_only_candidate_cells(store: Store) -> None:
    """The wide scan with a tag restriction returns only rows of those cells."""
    wanted = store.tag_values("birds", "s2_cell_id", measurement="migration")[:3]
    from fluxlab.storage.wide import TagIn

    parts = scan_wide(store, "birds", start_ns=T0 - 1, stop_ns=T0 + 10**15,
                      tag_in=TagIn("s2_cell_id", wanted))
    cells = {c for p in parts for c in p.table.column("s2_cell_id").to_pylist()}
    assert cells and cells <= set(wanted)


def test_sparse_rows_keep_pivot_row_order(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """A row with only `lon` comes after the rows of `lat` (pivot's first-seen order)."""
    query = f'{BIRDS} |> filter(fn: (r) => r.id == "b0") |> geo.toRows()'
    tables = run(store, query, True, monkeypatch).tables
    sparse = [t.df for t in tables if t.df.get_column("lat").null_count()]
    assert sparse and all(t.height > 1 for t in sparse)
    for df in sparse:
        lat = df.get_column("lat")
        assert lat.is_null().arg_true().min() > lat.is_not_null().arg_true().max()
        assert not df.get_column("_time").is_sorted()  # so the order is pivot's, not time


def test_untagged_measurement_falls_back_and_raises_like_gridfilter(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    query = (f'from(bucket: "birds") |> {RANGE} '
             "|> geo.gridFilter(region: {lat: 41.76, lon: -72.68, radius: 30.0})")
    for pushed in (True, False):
        with pytest.raises(FluxError, match="s2_cell_id"):
            run(store, query, pushed, monkeypatch)


@pytest.mark.parametrize(("region", "message"), [
    ("{lat: 91.0, lon: 0.0, radius: 10.0}", "latitude"),
    ("{lat: 10.0, lon: 190.0, radius: 10.0}", "longitude"),
    ("{lat: 10.0, lon: 10.0, radius: -1.0}", "radius"),
    ("{lat: 10.0, lon: 10.0}", "unsupported region"),
    ("{minLat: 95.0, minLon: 0.0, maxLat: 10.0, maxLon: 10.0}", "latitude"),
])
def test_bad_region_is_an_error_pushed_or_not(
    store: Store, region: str, message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    query = f"{BIRDS} |> geo.filterRows(region: {region})"
    for pushed in (True, False):
        with pytest.raises(FluxError, match=message):
            run(store, query, pushed, monkeypatch)


def test_fixed_width_token_parse_matches_the_s2_model() -> None:
    rng = np.random.default_rng(3)
    lat, lon = rng.uniform(-89, 89, 5000), rng.uniform(-179, 179, 5000)
    for level in (1, 11, 30):
        tokens = s2.cell_tokens(lat, lon, level)
        assert np.array_equal(geo_pushdown._fixed_width_ids(tokens), s2.token_to_id(tokens))
    import pyarrow as pa

    for bad in (["89c4", "zz12"], ["89c4", "8"], ["0000"], ["89c4", None]):
        assert geo_pushdown._fixed_width_ids(pa.array(bad, pa.string())) is None


def test_circle_mask_equals_contains_at_the_boundary() -> None:
    """The chord pre-check decides exactly as geo_shapes.contains, also for points
    placed at the radius (within rounding) and for a tiny radius."""
    from fluxlab.flux.stdlib import geo_shapes as gs

    rng = np.random.default_rng(5)
    for radius_km in (48.28, 0.001, 2000.0):
        shape = gs.parse_shape("region", {"lat": 41.76, "lon": -72.68, "radius": radius_km},
                               gs.earth_radius({"distance": "km"}))
        bearing = rng.uniform(0, 2 * np.pi, 4000)
        dist = shape.radius * (1 + rng.choice([-1e-15, 0.0, 1e-15, -1e-3, 1e-3], 4000))
        dist[:1000] = shape.radius * rng.uniform(0, 1.3, 1000)  # inner box and beyond
        lat0, lon0 = np.radians(shape.lat), np.radians(shape.lon)
        lat = np.arcsin(np.sin(lat0) * np.cos(dist) + np.cos(lat0) * np.sin(dist) * np.cos(bearing))
        lon = lon0 + np.arctan2(np.sin(bearing) * np.sin(dist) * np.cos(lat0),
                                np.cos(dist) - np.sin(lat0) * np.sin(lat))
        lat, lon = np.degrees(lat), np.degrees(lon)
        want = gs.contains(shape, lat, lon)
        got = geo_pushdown.circle_mask(shape)(lat, lon)
        assert 0 < want.sum() < len(want)
        assert (got == want).all()


def test_pushed_equals_unpushed_on_unordered_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Points written out of time order (one series' rows scattered through the points
    table): pushed filterRows |> group |> count equals the unpushed pipeline."""
    lines = _lines()
    order = np.random.default_rng(3).permutation(len(lines))
    decoded = decode("\n".join(lines[i] for i in order).encode())
    with Store(tmp_path / "s") as s:
        s.create_bucket("birds")
        s.write("birds", decoded.batches)
        for query in (
            f"{BIRDS} |> geo.filterRows(region: {{lat: 41.76, lon: -72.68, radius: 25.0}})",
            f"{BIRDS} |> geo.filterRows(region: {{lat: 41.76, lon: -72.68, radius: 25.0}}) "
            '|> group(columns: ["id"]) |> count(column: "lon")',
        ):
            pushed = run(s, query, True, monkeypatch)
            assert_same(pushed, run(s, query, False, monkeypatch))
            assert sum(t.height for t in pushed) > 0


# ----------------------------------------------------------------------------- aggregates

CENTER = (41.763710, -72.685097)
EDGE_KM = 20.0


def _incident_lines() -> list[str]:
    """Two clusters of incidents (every series has every tag and field) and one point
    exactly EDGE_KM north of CENTER (on the boundary of a circle of that radius)."""
    rng = np.random.default_rng(5)
    lines = []
    hoods, kinds = ["north", "south", "west"], ["theft", "assault"]
    for k, (clat, clon) in enumerate([CENTER, (41.30, -72.90)]):
        lat = (clat + rng.normal(0, 0.12, 150)).tolist()
        lon = (clon + rng.normal(0, 0.16, 150)).tolist()
        cells = s2.cell_tokens(lat, lon, 9).to_pylist()
        for i in range(150):
            tags = f"neighborhood={hoods[i % 3]},kind={kinds[(i + k) % 2]},s2_cell_id={cells[i]}"
            fields = f'lat={lat[i]!r},lon={lon[i]!r},case="c{k}-{i}",code={i * 7 - 300}i,w={i / 3!r}'
            lines.append(f"incidents,{tags} {fields} {T0 + (i * 60 + k) * 10**9}")
    edge_lat = CENTER[0] + float(np.degrees(EDGE_KM / 6371.01))
    cell = s2.cell_tokens([edge_lat], [CENTER[1]], 9).to_pylist()[0]
    lines.append(f"incidents,neighborhood=north,kind=theft,s2_cell_id={cell} "
                 f'lat={edge_lat!r},lon={CENTER[1]!r},case="edge",code=1i,w=0.5 {T0 + 7}')
    return lines


@pytest.fixture(scope="module")
def incidents(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    path: Path = tmp_path_factory.mktemp("geo_agg") / "store"
    decoded = decode("\n".join(_incident_lines()).encode())
    assert not decoded.errors
    with Store(path) as s:
        s.create_bucket("city")
        s.write("city", decoded.batches)
        yield s


def run_mode(store: Store, query: str, mode: str, monkeypatch: pytest.MonkeyPatch) -> Stream:
    """mode: "agg" (aggregate pushed), "wide" (only the scan pushed), "plain" (nothing)."""
    with monkeypatch.context() as m:
        if mode == "plain":
            m.setattr(geo_pushdown, "pending_source", lambda tables: None)
        if mode == "wide":
            m.setattr(geo_pushdown, "deferred_circle", lambda *args: None)
        interp = Interpreter(Context(source=store))
        return interp.run(parse('import "experimental/geo"\n' + query))["_result"]


def assert_close(a: Stream, b: Stream) -> None:
    """Same tables, keys, columns and types; floats equal up to summation order."""
    assert len(a.tables) == len(b.tables)
    for x, y in zip(a.tables, b.tables, strict=True):
        assert (x.key, x.key_values) == (y.key, y.key_values)
        assert x.df.schema == y.df.schema
        for col in x.df.columns:
            left, right = x.df.get_column(col), y.df.get_column(col)
            if left.dtype == pl.Float64:
                assert np.allclose(left.to_numpy(), right.to_numpy(), rtol=1e-12, equal_nan=True)
            else:
                assert left.to_list() == right.to_list(), (col, x.df, y.df)


CITY = (f'from(bucket: "city") |> {RANGE} |> filter(fn: (r) => r._measurement == "incidents")'
        ' |> filter(fn: (r) => r._field == "lat" or r._field == "lon" or r._field == "case"'
        ' or r._field == "code" or r._field == "w")')
REGIONS = [
    f"{{lat: {CENTER[0]}, lon: {CENTER[1]}, radius: 48.28}}",  # everything
    "{lat: 41.55, lon: -72.80, radius: 18.0}",  # cuts through both clusters
    f"{{lat: {CENTER[0]}, lon: {CENTER[1]}, radius: {EDGE_KM}}}",  # a point on the boundary
    "{lat: 10.0, lon: 10.0, radius: 5.0}",  # nothing
]


@pytest.mark.parametrize("region", REGIONS)
@pytest.mark.parametrize("group", ['["neighborhood"]', '["kind", "neighborhood"]'])
@pytest.mark.parametrize("agg", ['count(column: "case")', 'sum(column: "code")',
                                 'mean(column: "w")', 'sum(column: "w")', 'mean(column: "code")'])
def test_pushed_aggregate_equals_unpushed(incidents: Store, region: str, group: str, agg: str,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    combine = geo_pushdown._combine_circle

    def spy(*args: object) -> object:
        calls.append(1)
        return combine(*args)

    query = f"{CITY} |> geo.filterRows(region: {region}) |> group(columns: {group}) |> {agg}"
    plain = run_mode(incidents, query, "plain", monkeypatch)
    wide = run_mode(incidents, query, "wide", monkeypatch)
    monkeypatch.setattr(geo_pushdown, "_combine_circle", spy)
    pushed = run_mode(incidents, query, "agg", monkeypatch)
    assert_close(pushed, plain)
    assert_close(pushed, wide)
    assert calls or "10.0" in region  # the aggregate was computed in the store
    if "10.0" not in region:
        assert pushed.tables


def test_boundary_point_is_decided_exactly(incidents: Store,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """The edge point's inclusion follows the exact NumPy test, pushed or not."""
    band_rows: list[int] = []
    add_band = geo_pushdown._add_band

    def spy(series: pl.DataFrame, band: object, *args: object) -> pl.DataFrame:
        band_rows.append(getattr(band, "num_rows", 0))
        return add_band(series, band, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(geo_pushdown, "_add_band", spy)
    region = f"{{lat: {CENTER[0]}, lon: {CENTER[1]}, radius: {EDGE_KM}}}"
    base = f"{CITY} |> geo.filterRows(region: {region})"
    rows = run_mode(incidents, base, "plain", monkeypatch)
    edge_in = any("edge" in t.df.get_column("case").to_list() for t in rows)
    counted = run_mode(incidents, f'{base} |> group(columns: ["neighborhood"]) '
                       '|> count(column: "case")', "agg", monkeypatch)
    north = [t for t in counted if t.key_values == ("north",)][0].df.get_column("case")[0]
    expected = sum(t.height for t in rows if t.key_dict()["neighborhood"] == "north")
    assert north == expected
    assert band_rows, "the edge point is not in the rounding band: the test is vacuous"
    assert isinstance(edge_in, bool)


@pytest.mark.parametrize("tail", [
    '|> group(columns: ["neighborhood"]) |> max(column: "w")',  # other aggregate
    '|> group(columns: ["neighborhood", "_measurement"]) |> count(column: "case")',  # not tags
    '|> group() |> count(column: "case")',
    '|> group(columns: ["neighborhood"]) |> sum(column: "case")',  # strings: an error
    '|> count(column: "case")',
])
def test_other_shapes_fall_back(incidents: Store, tail: str,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    query = f"{CITY} |> geo.filterRows(region: {REGIONS[1]}) {tail}"
    outcomes = []
    for mode in ("agg", "plain"):
        try:
            outcomes.append(run_mode(incidents, query, mode, monkeypatch))
        except FluxError as exc:
            outcomes.append(type(exc))
    if isinstance(outcomes[0], Stream):
        assert isinstance(outcomes[1], Stream)
        assert_close(outcomes[0], outcomes[1])
    else:
        assert outcomes[0] == outcomes[1]


def test_pushed_aggregate_follows_geo_units(incidents: Store,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """The radius is read in `option geo.units` (miles here), pushed or not."""
    query = ('option geo.units = {distance: "mile"}\n'
             f"{CITY} |> geo.filterRows(region: {REGIONS[1]}) "
             '|> group(columns: ["kind"]) |> count(column: "case")')
    pushed = run_mode(incidents, query, "agg", monkeypatch)
    plain = run_mode(incidents, query, "plain", monkeypatch)
    assert_close(pushed, plain)
    km = run_mode(incidents, query.split("\n", 1)[1], "agg", monkeypatch)
    assert sum(t.df.get_column("case")[0] for t in pushed) > sum(
        t.df.get_column("case")[0] for t in km)
