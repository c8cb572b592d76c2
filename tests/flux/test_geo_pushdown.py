"""geo.filterRows / gridFilter / toRows on `from()` are pushed into the store scan
(S2 candidate cells + wide read): the results must be exactly the unpushed ones."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
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
    monkeypatch.setattr(geo_pushdown, "POLARS_SORT_ROWS", 50)  # both sorts are used
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
