"""Query benchmark: the brief's seed analyses as Flux on the embedded store vs hand-written SQL.

    .venv/bin/python bench/query.py                     # 709K rows, writes bench/RESULTS.md
    .venv/bin/python bench/query.py --rows 10000000     # the 10M-row run
    .venv/bin/python bench/query.py --rows 100000 --no-write-results   # smoke run

The store is built once per size under --work (default /tmp/fluxlab-bench-query) and
reused. Build: `fluxlab.datasets.generators.generate("hartford-incidents", ...)` writes
the synthetic Hartford CSV; the bench reads it with Polars and writes PointBatches
straight into the store (not through the ingest layer: 10M rows through ingest take
minutes on this shared machine, and this benchmark measures queries, not loading).
Schema: measurement `incidents`, tags neighborhood, ucr_1_category, ucr_1_description,
s2_cell_id (level 10); fields case_number (string), code (integer), lat, lon (float).

Every case runs warm (one untimed run first), best of `--repeat` runs, for Flux and for
the hand-written DuckDB SQL on the same store (`store.sql`), taking turns (the machine
is shared: both see the same load), and asserts both give the same numbers.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pyarrow as pa
from results_md import record_section

from fluxlab.datasets.generators import generate
from fluxlab.model import s2
from fluxlab.model.points import PointBatch
from fluxlab.storage import Store

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "RESULTS.md"
BUCKET = "hartford-incidents"
START, STOP = "2016-01-01T00:00:00Z", "2019-01-01T00:00:00Z"
HARTFORD = (41.763710, -72.685097)
RADIUS_KM = 48.28
SUM_THRESHOLD = 20_000_000


# --------------------------------------------------------------------------- store


def build_store(path: Path, rows: int, work: Path) -> None:
    """Generate the Hartford-shaped CSV and write it to a new store as PointBatches."""
    csv_path = work / f"hartford-{rows}.csv"
    if not csv_path.exists():
        generate("hartford-incidents", csv_path, rows)
    frame = pl.read_csv(csv_path, infer_schema=False, truncate_ragged_lines=True)
    frame = _clean(frame)
    with Store(path, memory_limit="512MB") as store:
        store.create_bucket(BUCKET)
        for offset in range(0, frame.height, 1_000_000):
            chunk = frame.slice(offset, 1_000_000)
            table = chunk.to_arrow()
            tags = ("neighborhood", "ucr_1_category", "ucr_1_description", "s2_cell_id")
            fields = ("case_number", "code", "lat", "lon")
            store.write(BUCKET, PointBatch("incidents", table, tags, fields))


def _clean(frame: pl.DataFrame) -> pl.DataFrame:
    """Columns as the tutorial maps them (2400 = midnight ending the day, NY local time)."""
    geom = pl.col("geom").str.extract_groups(r"^\(([-0-9.]+), ([-0-9.]+)\)$")
    day = pl.col("Date").str.strptime(pl.Date, "%m/%d/%Y", strict=False)
    hhmm = pl.col("Time_24HR").cast(pl.Int32, strict=False)
    local = day.cast(pl.Datetime("ns")) + pl.duration(
        hours=hhmm // 100, minutes=hhmm % 100, time_unit="ns"
    )
    out = frame.select(
        local.dt.replace_time_zone("America/New_York", ambiguous="earliest",
                                   non_existent="null")
        .dt.epoch("ns").alias("time"),
        pl.col("Neighborhood").alias("neighborhood"),
        pl.col("UCR_1_Category").alias("ucr_1_category"),
        pl.col("UCR_1_Description").alias("ucr_1_description"),
        pl.col("Case_Number").alias("case_number"),
        pl.col("UCR_1_Code").cast(pl.Int64, strict=False).alias("code"),
        geom.struct.field("1").cast(pl.Float64, strict=False).alias("lat"),
        geom.struct.field("2").cast(pl.Float64, strict=False).alias("lon"),
    ).drop_nulls(["time", "lat", "lon", "code", "neighborhood"])
    tokens = s2.cell_tokens(out["lat"].to_numpy(), out["lon"].to_numpy(), 10)
    return out.with_columns(pl.Series("s2_cell_id", pa.array(tokens)))


def build_store_chunked(path: Path, rows: int, work: Path, chunk: int = 1_000_000) -> None:
    """Large stores: generate and write `chunk` rows at a time (bounded memory)."""
    with Store(path, memory_limit="512MB") as store:
        store.create_bucket(BUCKET)
        for seed, offset in enumerate(range(0, rows, chunk)):
            n = min(chunk, rows - offset)
            csv_path = work / f"hartford-part-{seed}.csv"
            generate("hartford-incidents", csv_path, n, seed=seed)
            frame = _clean(pl.read_csv(csv_path, infer_schema=False, truncate_ragged_lines=True))
            csv_path.unlink()
            tags = ("neighborhood", "ucr_1_category", "ucr_1_description", "s2_cell_id")
            fields = ("case_number", "code", "lat", "lon")
            store.write(BUCKET, PointBatch("incidents", frame.to_arrow(), tags, fields))


# --------------------------------------------------------------------------- cases

RANGE = f'from(bucket: "{BUCKET}") |> range(start: {START}, stop: {STOP})'
FIELD = ' |> filter(fn: (r) => r._measurement == "incidents" and r._field == "{}")'
VIEW = f'"{BUCKET}"."incidents"'
WHERE = f"time >= TIMESTAMP '{START[:-1]}' AND time < TIMESTAMP '{STOP[:-1]}'"
WEEK_NS = 7 * 86_400 * 10**9


@dataclass
class Case:
    """One seed analysis: Flux text, equivalent SQL, and how to compare the answers."""

    name: str
    flux: str
    sql: str
    flux_rows: Callable[[dict], list[tuple]]
    sql_rows: Callable[[pa.Table], list[tuple]]


def _stream_rows(results: dict, columns: list[str]) -> list[tuple]:
    """Rows of every result table, projected on `columns`, sorted (order-free compare)."""
    rows = []
    for stream in results.values():
        for t in stream:
            rows += t.df.select(columns).rows()
    return sorted(rows, key=repr)


def _sql_rows(table: pa.Table) -> list[tuple]:
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    return sorted(frame.rows(), key=repr)


def _ns_rows(columns: list[str]) -> Callable[[dict], list[tuple]]:
    def rows(results: dict) -> list[tuple]:
        out = []
        for stream in results.values():
            for t in stream:
                out += t.df.select(
                    [pl.col(c).dt.epoch("ns") if c in ("_time", "_start", "_stop") else pl.col(c)
                     for c in columns]
                ).rows()
        return sorted((r for r in out if r[-1] != 0), key=repr)  # SQL has no empty windows
    return rows


def cases() -> list[Case]:
    count_cn = FIELD.format("case_number")
    by_hood = RANGE + FIELD.format("code") + ' |> group(columns: ["neighborhood"]) |> sum()'
    sum_sql = f"SELECT neighborhood, sum(code) FROM {VIEW} WHERE {WHERE} GROUP BY 1"
    lat, lon = HARTFORD
    hav = (
        f"2 * 6371.01 * asin(sqrt(pow(sin(radians(lat - {lat}) / 2), 2) + cos(radians({lat}))"
        f" * cos(radians(lat)) * pow(sin(radians(lon - ({lon})) / 2), 2)))"
    )
    return [
        Case("cases-by-neighborhood sum (group |> sum)", by_hood, sum_sql,
             lambda r: _stream_rows(r, ["neighborhood", "_value"]), _sql_rows),
        Case("sums over a threshold (|> filter(_value > T))",
             by_hood + f" |> filter(fn: (r) => r._value > {SUM_THRESHOLD})",
             sum_sql + f" HAVING sum(code) > {SUM_THRESHOLD}",
             lambda r: _stream_rows(r, ["neighborhood", "_value"]), _sql_rows),
        Case("top 10 case types, 3 years (group |> count |> group |> top)",
             RANGE + count_cn + ' |> group(columns: ["ucr_1_description"]) |> count()'
             ' |> group() |> top(n: 10)',
             f"SELECT ucr_1_description, count(case_number) AS n FROM {VIEW} WHERE {WHERE} "
             "GROUP BY 1 ORDER BY n DESC LIMIT 10",
             lambda r: _stream_rows(r, ["ucr_1_description", "_value"]), _sql_rows),
        Case("weekly counts (truncateTimeColumn(1w) |> group |> count)",
             RANGE + count_cn + ' |> truncateTimeColumn(unit: 1w) |> group(columns: ["_time"])'
             ' |> count() |> group() |> sort(columns: ["_time"])',
             f"SELECT (epoch_ns(time) // {WEEK_NS}) * {WEEK_NS} AS week, count(case_number) "
             f"FROM {VIEW} WHERE {WHERE} GROUP BY 1",
             _ns_rows(["_time", "_value"]), _sql_rows),
        Case("weekly counts (group |> aggregateWindow(every: 1w, fn: count))",
             RANGE + count_cn + " |> group() |> aggregateWindow(every: 1w, fn: count)",
             f"SELECT least((epoch_ns(time) // {WEEK_NS} + 1) * {WEEK_NS}, "
             f"epoch_ns(TIMESTAMP '{STOP[:-1]}')) AS stop, count(case_number) "
             f"FROM {VIEW} WHERE {WHERE} GROUP BY 1",
             _ns_rows(["_time", "_value"]), _sql_rows),
        Case("within 48.28 km of Hartford by neighborhood (geo.filterRows)",
             'import "experimental/geo"\n' + RANGE
             + ' |> filter(fn: (r) => r._measurement == "incidents")'
             ' |> filter(fn: (r) => r._field == "lat" or r._field == "lon" or'
             ' r._field == "case_number")'
             f" |> geo.filterRows(region: {{lat: {lat}, lon: {lon}, radius: {RADIUS_KM}}},"
             ' strict: true) |> group(columns: ["neighborhood"]) |> count(column: "case_number")',
             f"SELECT neighborhood, count(case_number) FROM {VIEW} WHERE {WHERE} "
             f"AND {hav} <= {RADIUS_KM} GROUP BY 1",
             lambda r: _stream_rows(r, ["neighborhood", "case_number"]), _sql_rows),
        Case("schema: buckets()", "buckets()",
             "SELECT database_name FROM duckdb_databases() WHERE NOT internal "
             "AND database_name NOT IN ('memory', '_fluxlab_store')",
             lambda r: _stream_rows(r, ["name"]), _sql_rows),
        Case("schema: schema.measurements",
             f'import "influxdata/influxdb/schema"\nschema.measurements(bucket: "{BUCKET}", start: 0)',
             f"SELECT DISTINCT table_name FROM information_schema.tables "
             f"WHERE table_catalog = '{BUCKET}'",
             lambda r: _stream_rows(r, ["_value"]), _sql_rows),
        Case("schema: schema.tagValues(neighborhood)",
             f'import "influxdata/influxdb/schema"\n'
             f'schema.tagValues(bucket: "{BUCKET}", tag: "neighborhood", start: 0)',
             f"SELECT DISTINCT neighborhood FROM {VIEW}",
             lambda r: _stream_rows(r, ["_value"]), _sql_rows),
    ]


# --------------------------------------------------------------------------- timing


@dataclass
class Timing:
    """Best wall-clock and best CPU time (all threads) of a repeated call, in ms."""

    wall_ms: float = float("inf")
    cpu_ms: float = float("inf")
    value: object = None


def best_pair_ms(
    first: Callable[[], object], second: Callable[[], object], repeat: int
) -> tuple[Timing, Timing]:
    """Warm runs first (untimed), then `repeat` rounds running `first` and `second` in
    turn; the best of each. Taking turns puts both under the same load on a shared
    machine, so their ratio is not skewed by a busy moment; the CPU time (process
    time, DuckDB's threads included) is also kept: it hardly depends on that load."""
    timings = [Timing(value=first()), Timing(value=second())]
    for _ in range(repeat):
        for timing, fn in zip(timings, (first, second), strict=True):
            wall, cpu = time.perf_counter(), time.process_time()
            timing.value = fn()
            timing.cpu_ms = min(timing.cpu_ms, (time.process_time() - cpu) * 1000)
            timing.wall_ms = min(timing.wall_ms, (time.perf_counter() - wall) * 1000)
    return timings[0], timings[1]


def run(store_path: Path, repeat: int) -> list[dict]:
    from fluxlab import flux

    rows = []
    with Store(store_path, read_only=True) as store:
        for case in cases():
            fx, sq = best_pair_ms(lambda c=case: flux.run(c.flux, source_store=store),
                                  lambda c=case: store.sql(c.sql), repeat)
            assert isinstance(fx.value, dict) and isinstance(sq.value, pa.Table)
            flux_rows, sql_rows = case.flux_rows(fx.value), case.sql_rows(sq.value)
            assert flux_rows == sql_rows, (case.name, flux_rows[:5], sql_rows[:5])
            rows.append({"case": case.name, "flux_ms": fx.wall_ms, "sql_ms": sq.wall_ms,
                         "rows": len(flux_rows)})
            print(f"{case.name:70s} flux {fx.wall_ms:9.1f} ms  sql {sq.wall_ms:7.1f} ms  "
                  f"x{fx.wall_ms / sq.wall_ms:6.1f}  rows {len(flux_rows)}  "
                  f"(CPU: flux {fx.cpu_ms:.1f} ms, sql {sq.cpu_ms:.1f} ms, "
                  f"x{fx.cpu_ms / max(sq.cpu_ms, 1e-3):.1f})", flush=True)
    return rows


def write_results(rows: list[dict], n: int, limit_ms: float) -> None:
    load = os.getloadavg()
    lines = [
        f"- date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"- machine: {os.cpu_count()} CPUs, {platform.processor() or platform.machine()}, "
        f"{platform.system()} {platform.release()}; load average {load[0]:.2f} {load[1]:.2f} "
        f"{load[2]:.2f} (shared machine)",
        f"- command: `.venv/bin/python bench/query.py --rows {n}`; warm, best of the runs; "
        "every Flux answer asserted equal to the SQL answer",
        "",
        "| seed analysis | Flux ms | SQL ms | Flux/SQL | goal |",
        "|---|---:|---:|---:|---|",
    ]
    for r in rows:
        ratio = r["flux_ms"] / r["sql_ms"]
        ok = r["flux_ms"] <= limit_ms and ratio <= 2
        name = r["case"].replace("|", "\\|")  # a pipe would end the Markdown cell
        lines.append(f"| {name} | {r['flux_ms']:.1f} | {r['sql_ms']:.1f} | {ratio:.1f}× | "
                     f"{'met' if ok else 'NOT met'} (≤ {limit_ms:g} ms, ≤ 2×) |")
    record_section(f"query ({n:,} rows)", "\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=709_000)
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--work", type=Path, default=Path("/tmp/fluxlab-bench-query"))
    parser.add_argument("--no-write-results", action="store_true")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    store_path = args.work / f"store-{args.rows}"
    if not store_path.exists():
        start = time.perf_counter()
        if args.rows > 2_000_000:
            build_store_chunked(store_path, args.rows, args.work)
        else:
            build_store(store_path, args.rows, args.work)
        print(f"built {store_path} in {time.perf_counter() - start:.1f} s", file=sys.stderr)
    rows = run(store_path, args.repeat)
    if not args.no_write_results:
        write_results(rows, args.rows, 100.0 if args.rows < 2_000_000 else 1000.0)


if __name__ == "__main__":
    main()
