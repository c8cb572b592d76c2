"""Benchmark: S2 tokens, and a `geo.filterRows` radius query pushed down into the store.

1. S2 tokens at level 10 for `--token-points` random points (vectorized), with the
   agreement against `s2cell` (one call per point) on a 100K sample and against the
   reference tokens InfluxData's Go library wrote into the bird-migration sample.
2. A store of `--points` points clustered around a few centres, tagged with level-11
   `s2_cell_id` tokens as the bird sample is, built once in a temp dir (write order:
   time); `from |> range |> filter |> geo.filterRows(region: {lat, lon, radius})` is
   timed (warm: best of `--runs`) before and after `Store.compact()` (points clustered
   by series key and time, timed too), against, in the same run, full scans that
   compute the haversine distance of every point: the same query without S2 pruning
   (`geo.toRows |> geo.strictFilter`), a bare DuckDB count over the store's own table
   (the fastest any full scan can be), and NumPy over lat/lon arrays already in memory.
   The row counts of all must agree (asserted).

    python bench/geo.py [--points 10000000] [--radius-km 48.28] [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from importlib import resources
from pathlib import Path

import numpy as np
import pyarrow as pa
import s2cell

from fluxlab.flux.context import Context
from fluxlab.flux.interpreter import Interpreter
from fluxlab.flux.parser import parse
from fluxlab.model import s2
from fluxlab.model.lineprotocol import decode
from fluxlab.model.points import PointBatch
from fluxlab.storage import Store

CENTRES = [(41.763710, -72.685097), (30.0, 31.2), (52.1, 5.1), (-1.3, 36.8), (37.4, 138.0),
           (-33.9, 18.4), (19.4, -99.1), (55.7, 37.6)]
T0 = 1_600_000_000_000_000_000
CELL_LEVEL = 11


def best_of(runs: int, fn) -> tuple[float, object]:
    best, value = float("inf"), None
    for _ in range(runs):
        t0 = time.perf_counter()
        value = fn()
        best = min(best, time.perf_counter() - t0)
    return best, value


def token_figures(n: int, level: int) -> dict[str, float]:
    rng = np.random.default_rng(42)
    lat, lon = np.degrees(np.arcsin(rng.uniform(-1, 1, n))), rng.uniform(-180, 180, n)
    seconds, _ = best_of(3, lambda: s2.cell_tokens(lat, lon, level))
    sample = 100_000
    ours = s2.cell_tokens(lat[:sample], lon[:sample], level).to_pylist()
    ref = [s2cell.lat_lon_to_token(a, b, level) for a, b in zip(lat[:sample], lon[:sample],
                                                                   strict=True)]
    agree = float(np.mean([a == b for a, b in zip(ours, ref, strict=True)]))
    birds = decode((resources.files("fluxlab.datasets") / "data" / "bird-migration.line")
                   .read_bytes()).batches[0].table
    tok = birds.column("s2_cell_id").to_pylist()
    mine = s2.cell_tokens(birds.column("lat").to_numpy(), birds.column("lon").to_numpy(),
                          CELL_LEVEL).to_pylist()
    bird_agree = float(np.mean([a == b for a, b in zip(mine, tok, strict=True)]))
    return {"rate": n / seconds, "agree_s2cell": agree, "agree_influx": bird_agree,
            "bird_points": len(tok)}


def clustered_points(n: int, birds: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Point i belongs to bird i % birds, which ranges around its own centre (as tracked
    animals do: few birds, each over one area), about 110 km standard deviation."""
    rng = np.random.default_rng(seed)
    which = (np.arange(n) % birds) % len(CENTRES)
    centres = np.array(CENTRES)
    lat = centres[which, 0] + rng.normal(0, 1.0, n)
    lon = centres[which, 1] + rng.normal(0, 1.3, n)
    return np.clip(lat, -89.9, 89.9), (lon + 180.0) % 360.0 - 180.0


def build_store(path: Path, lat: np.ndarray, lon: np.ndarray, birds: int) -> float:
    n = lat.size
    t0 = time.perf_counter()
    with Store(path, memory_limit="512MB") as store:
        store.create_bucket("birds")
        step = 2_000_000
        for lo in range(0, n, step):
            hi = min(n, lo + step)
            ids = np.char.add("bird", (np.arange(lo, hi) % birds).astype(str))
            table = pa.table({
                "time": pa.array(T0 + np.arange(lo, hi, dtype=np.int64) * 1_000_000_000),
                "id": pa.array(ids),
                "s2_cell_id": s2.cell_tokens(lat[lo:hi], lon[lo:hi], CELL_LEVEL),
                "lat": pa.array(lat[lo:hi]),
                "lon": pa.array(lon[lo:hi]),
            })
            store.write("birds", PointBatch("migration", table, ("id", "s2_cell_id"),
                                            ("lat", "lon")))
    return time.perf_counter() - t0


def flux_radius(store: Store, lat: float, lon: float, radius: float, n: int) -> int:
    stop = f"time(v: {T0 + n * 1_000_000_000})"
    query = f'''import "experimental/geo"
from(bucket: "birds") |> range(start: 2020-01-01T00:00:00Z, stop: {stop})
  |> filter(fn: (r) => r._measurement == "migration")
  |> geo.filterRows(region: {{lat: {lat}, lon: {lon}, radius: {radius}}})'''
    result = Interpreter(Context(source=store)).run(parse(query))["_result"]
    return sum(t.height for t in result)


def flux_unpruned(store: Store, lat: float, lon: float, radius: float, n: int) -> int:
    """The same answer without S2 pruning: every point pivoted to a row (`geo.toRows`) and
    tested by exact distance (`geo.strictFilter`), as a query that ignores the cell tag runs."""
    stop = f"time(v: {T0 + n * 1_000_000_000})"
    query = f'''import "experimental/geo"
from(bucket: "birds") |> range(start: 2020-01-01T00:00:00Z, stop: {stop})
  |> filter(fn: (r) => r._measurement == "migration")
  |> geo.toRows()
  |> geo.strictFilter(region: {{lat: {lat}, lon: {lon}, radius: {radius}}})'''
    result = Interpreter(Context(source=store)).run(parse(query))["_result"]
    return sum(t.height for t in result)


def duckdb_full_scan(store: Store, lat: float, lon: float, radius: float) -> int:
    m = store._catalog.measurements_of(store._catalog.bucket("birds"))[0]  # noqa: SLF001
    la, lo = m.fields["lat"].name, m.fields["lon"].name
    r = s2.EARTH_RADIUS_KM
    sql = (f"SELECT count(*) FROM {m.table} WHERE 2 * {r} * asin(sqrt("
           f"pow(sin(radians({la} - {lat}) / 2), 2) + cos(radians({lat})) * cos(radians({la})) "
           f"* pow(sin(radians({lo} - {lon}) / 2), 2))) <= {radius}")
    with store._mutex:  # noqa: SLF001
        return int(store._con.execute(sql).fetchall()[0][0])  # noqa: SLF001


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=10_000_000)
    parser.add_argument("--token-points", type=int, default=5_000_000)
    parser.add_argument("--birds", type=int, default=10)
    parser.add_argument("--radius-km", type=float, default=48.28)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--store", type=Path, default=None, help="reuse/keep a store here")
    args = parser.parse_args()

    print(f"load average before: {os.getloadavg()}")
    tok = token_figures(args.token_points, 10)
    print(f"S2 tokens level 10: {tok['rate']:,.0f} points/s ({args.token_points:,} points); "
          f"agreement with s2cell: {tok['agree_s2cell']:.4%}; with InfluxData's tokens in the "
          f"bird sample (level 11, {tok['bird_points']:,} points): {tok['agree_influx']:.4%}")

    lat, lon = clustered_points(args.points, args.birds)
    with tempfile.TemporaryDirectory(prefix="fluxlab-geo-") as tmp:
        path = args.store or Path(tmp) / "store"
        if not (path / "fluxlab.duckdb").exists():
            seconds = build_store(path, lat, lon, args.birds)
            print(f"store built: {args.points:,} points in {seconds:.1f} s")
        clat, clon = CENTRES[0]
        radius = args.radius_km

        def pruned(store: Store) -> tuple[float, float, int]:
            first, count = best_of(1, lambda: flux_radius(store, clat, clon, radius, args.points))
            warm, count = best_of(args.runs,
                                  lambda: flux_radius(store, clat, clon, radius, args.points))
            return first, warm, int(count)

        with Store(path, read_only=True, memory_limit="512MB") as store:
            _, before, count_before = pruned(store)
        with Store(path, memory_limit="512MB") as store:
            report = store.compact()
        print(f"compaction (points clustered by series key and time): {report.rows:,} points, "
              f"{report.series:,} series in {report.seconds:.1f} s")
        with Store(path, read_only=True, memory_limit="512MB") as store:
            first, pushed, count = pruned(store)
            sql_full, sql_count = best_of(args.runs,
                                          lambda: duckdb_full_scan(store, clat, clon, radius))
            flux_full, flux_count = best_of(
                2, lambda: flux_unpruned(store, clat, clon, radius, args.points))
        np_full, np_mask = best_of(
            args.runs, lambda: s2.haversine_km(lat, lon, clat, clon) <= radius)
        np_count = int(np.sum(np_mask))
    print(f"geo.filterRows radius {radius} km around {clat}, {clon} over {args.points:,} points: "
          f"{count:,} rows")
    print(f"  pushed down before compaction (write order), warm best of {args.runs}: "
          f"{before:.3f} s")
    print(f"  pushed down after compaction (S2 candidates + wide scan), warm best of {args.runs}:"
          f" {pushed:.3f} s (first run {first:.3f} s)")
    print(f"  fluxlab without S2 pruning (geo.toRows |> geo.strictFilter), warm best of 2: "
          f"{flux_full:.3f} s ({flux_count:,} rows) -> {flux_full / pushed:.1f}x")
    print(f"  DuckDB full haversine scan of the store table: {sql_full:.3f} s ({sql_count:,} rows)"
          f" -> {sql_full / pushed:.1f}x (before compaction {sql_full / before:.1f}x)")
    print(f"  NumPy full haversine over in-memory arrays: {np_full:.3f} s ({np_count:,} rows)"
          f" -> {np_full / pushed:.1f}x")
    agree = count == count_before == sql_count == np_count == flux_count
    print(f"  counts agree: {agree}")
    assert agree, (count, count_before, sql_count, np_count, flux_count)
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
