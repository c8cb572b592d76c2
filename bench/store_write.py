"""Store.write micro-benchmark: Hartford-shaped PointBatches straight into the store.

    .venv/bin/python bench/store_write.py                 # 5,000,000 rows, both shapes
    .venv/bin/python bench/store_write.py --rows 1000000 --shape hartford

Why: the ingest benchmark mixes CSV parsing with storage; this one times only
`Store.write` on synthetic batches of 500K rows (generated outside the timed region),
first into an empty measurement, then the same rows again (every point overwrites an
existing one: the merge path), and compares with a plain DuckDB `INSERT INTO t SELECT *
FROM arrow` of the same Arrow batches into a fresh table of a file database, measured in
the same run. The machine is shared, so rows per CPU-second of this process (DuckDB's
threads included) is the figure to compare; the load average is printed with it.

Shapes: `hartford` is the tutorial schema (3 tags: neighborhood, category, description;
fields case_number, address, code, lat, lon; unsorted minute-resolution times, so some
rows collide); `tags8` is tests/storage/test_write_speed.py's stream (8 independent
string tags: almost every row is its own series, the worst case for a series index).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

BATCH = 500_000
HOODS = [
    "Downtown", "Frog Hollow", "North End", "South End", "Asylum Hill", "Barry Square",
    "Blue Hills", "Clay Arsenal", "West End", "Parkville", "Sheldon Charter Oak",
    "Behind the Rocks", "South Green", "Upper Albany", "Northeast", "Southwest", "South Meadows",
]
CATEGORIES = [
    "LARCENY", "BURGLARY", "ASSAULT", "ROBBERY", "VANDALISM", "DRUGS", "FRAUD", "TRAFFIC",
    "WEAPONS", "DISORDERLY", "TRESPASS", "ARSON",
]
STREETS = ["MAIN ST", "PARK ST", "ALBANY AVE", "FARMINGTON AVE", "BROAD ST", "WETHERSFIELD AVE"]
CARDINALITIES_8 = [20, 40, 100, 15, 60, 30, 17, 300]
MINUTE = 60 * 10**9
T0 = 1_451_606_400 * 10**9  # 2016-01-01


def hartford(rows: int) -> Iterator[tuple[str, pa.Table, tuple[str, ...], tuple[str, ...]]]:
    """Batches shaped like the tutorial's Hartford incidents schema (unsorted times)."""
    rng = np.random.default_rng(20240611)
    hoods, cats = pa.array(HOODS), pa.array(CATEGORIES)
    descs = pa.array([f"DESCRIPTION {i:02d}" for i in range(40)])
    streets = pa.array(STREETS)
    for start in range(0, rows, BATCH):
        n = min(BATCH, rows - start)
        minutes = rng.integers(0, 3 * 365 * 24 * 60, n)
        ids = pa.array(np.arange(start, start + n) + 16_000_000).cast(pa.string())
        numbers = pa.array(rng.integers(1, 3000, n)).cast(pa.string())
        street = streets.take(pa.array(rng.integers(0, len(STREETS), n)))
        table = pa.table({
            "time": pa.array(T0 + minutes * MINUTE),
            "neighborhood": hoods.take(pa.array(rng.integers(0, len(HOODS), n))),
            "category": cats.take(pa.array(rng.integers(0, len(CATEGORIES), n))),
            "description": descs.take(pa.array(rng.integers(0, 40, n))),
            "case_number": ids,
            "code": pa.array(rng.integers(100, 2999, n)),
            "address": pc.binary_join_element_wise(numbers, street, " "),
            "lat": pa.array(np.round(41.72 + rng.random(n) * 0.09, 6)),
            "lon": pa.array(np.round(-72.72 + rng.random(n) * 0.09, 6)),
            "_line": pa.array(np.arange(start, start + n) + 2),
        })
        yield ("incidents", table, ("neighborhood", "category", "description"),
               ("case_number", "code", "address", "lat", "lon"))


def tags8(rows: int) -> Iterator[tuple[str, pa.Table, tuple[str, ...], tuple[str, ...]]]:
    """tests/storage/test_write_speed.py's stream: 8 independent tags, sorted batches."""
    rng = np.random.default_rng(1)
    pools = [pa.array([f"value{k}_{j}" for j in range(c)]) for k, c in enumerate(CARDINALITIES_8)]
    for i, start in enumerate(range(0, rows, BATCH)):
        n = min(BATCH, rows - start)
        columns = {"time": pa.array(np.sort(rng.integers(0, 10**15, n)) + i * 10**15)}
        for k, pool in enumerate(pools):
            columns[f"tag{k}"] = pool.take(pa.array(rng.integers(0, len(pool), n)))
        columns["lat"] = pa.array(rng.random(n))
        columns["code"] = pa.array(rng.integers(0, 1000, n))
        ids = pa.array(np.arange(start, start + n)).cast(pa.string())
        columns["case"] = pc.binary_join_element_wise("case", ids, "")
        columns["_line"] = pa.array(np.arange(start, start + n))
        yield ("incidents", pa.table(columns), tuple(f"tag{k}" for k in range(8)),
               ("lat", "code", "case"))


SHAPES = {"hartford": hartford, "tags8": tags8}


def timed(action) -> tuple[float, float]:  # noqa: ANN001 - a zero-argument callable
    wall, cpu = time.perf_counter(), time.process_time()
    action()
    return time.perf_counter() - wall, time.process_time() - cpu


def store_pass(store, shape: str, rows: int) -> tuple[float, float, object]:  # noqa: ANN001
    """Write every batch (one write call per 500K batch); only the calls are timed."""
    from fluxlab.model.points import PointBatch
    from fluxlab.storage import WriteResult

    wall = cpu = 0.0
    total = WriteResult()
    for measurement, table, tags, fields in SHAPES[shape](rows):
        batch = PointBatch(measurement, table, tags, fields)
        results = []
        w, c = timed(lambda b=batch, out=results: out.append(store.write("b", b)))
        wall, cpu = wall + w, cpu + c
        total.points_written += results[0].points_written
        total.collisions.within_input += results[0].collisions.within_input
        total.collisions.with_existing += results[0].collisions.with_existing
    return wall, cpu, total


def duckdb_pass(path: Path, shape: str, rows: int) -> tuple[float, float]:
    """Plain INSERT of the same Arrow batches (without `_line`) into a fresh table."""
    con = duckdb.connect(str(path), config={"threads": 2, "memory_limit": "256MB",
                                            "autoload_known_extensions": False,
                                            "autoinstall_known_extensions": False})
    wall = cpu = 0.0
    created = False
    for _, table, _, _ in SHAPES[shape](rows):
        arrow = table.drop_columns(["_line"])
        if not created:
            con.execute("CREATE TABLE t AS SELECT * FROM arrow LIMIT 0")
            created = True
        w, c = timed(lambda a=arrow: con.execute("INSERT INTO t SELECT * FROM a"))
        wall, cpu = wall + w, cpu + c
    con.close()
    return wall, cpu


def line(name: str, rows: int, wall: float, cpu: float) -> str:
    return (f"{name:34s} {wall:7.2f} s wall {cpu:7.2f} s CPU  {rows / wall:12,.0f} rows/s "
            f"{rows / cpu:12,.0f} rows/CPU-s")


def run(shape: str, rows: int) -> None:
    from fluxlab.storage import Store

    print(f"\n== {shape}: {rows:,} rows in batches of {BATCH:,}; load average "
          f"{os.getloadavg()[0]:.1f} ==", flush=True)
    with tempfile.TemporaryDirectory(prefix="fluxlab-store-bench-") as tmp:
        work = Path(tmp)
        w, c = duckdb_pass(work / "plain.duckdb", shape, rows)
        print(line("DuckDB INSERT (fresh table)", rows, w, c), flush=True)
        with Store(work / "store") as store:
            store.create_bucket("b")
            w, c, first = store_pass(store, shape, rows)
            print(line("Store.write, empty measurement", rows, w, c), flush=True)
            w, c, again = store_pass(store, shape, rows)
            print(line("Store.write, overwrite all", rows, w, c), flush=True)
            check = store.check()
        print(f"first pass: written {first.points_written:,}, collisions "  # type: ignore[attr-defined]
              f"{first.collisions.total:,}; second pass: with_existing "  # type: ignore[attr-defined]
              f"{again.collisions.with_existing:,}; check ok={check.ok} points={check.points:,}")  # type: ignore[attr-defined]
    print(f"load average after: {os.getloadavg()[0]:.1f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--shape", choices=[*SHAPES, "all"], default="all")
    args = parser.parse_args()
    import fluxlab.storage

    print(f"fluxlab.storage from {Path(fluxlab.storage.__file__).parent}", file=sys.stderr)
    for shape in SHAPES if args.shape == "all" else [args.shape]:
        run(shape, args.rows)


if __name__ == "__main__":
    main()
