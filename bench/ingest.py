"""Ingest benchmark: mapped CSV and line protocol into a fresh store, against DuckDB's raw load.

    .venv/bin/python bench/ingest.py            # 5,000,000 rows (about a minute of setup)
    .venv/bin/python bench/ingest.py --quick    # 200,000 rows, for a smoke run
    .venv/bin/python bench/ingest.py --rows 1000000 --no-write-results

Data is generated (seeded) into a temporary directory and deleted afterwards: a
Hartford-police-incidents-shaped CSV (unsorted, `Time_24HR` includes "2400", quoted
"(lat, lon)" geometry) with its mapping, and a line protocol file of the same points.
Each measurement runs in its own child process so peak RSS (VmHWM) is that run's alone.
Targets: mapped CSV >= 1,000,000 rows/s and <= 2x DuckDB's raw load time; line
protocol >= 500,000 points/s; peak RSS <= 1 GiB.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl
from results_md import record_section, warm_lazy_imports

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "RESULTS.md"
GEN_CHUNK = 1_000_000

MAPPING = """
measurement = "incidents"

[time]
columns = ["Date", "Time_24HR"]
format = "%m/%d/%Y %H%M"
timezone = "America/New_York"

[tags]
neighborhood = "Neighborhood"
category = "UCR_1_Category"
description = "UCR_1_Description"

[fields]
case_number = { column = "Case_Number", type = "string" }
code = { column = "UCR_1_Code", type = "integer" }
address = { column = "Address", type = "string" }
lat = { column = "geom", type = "float", extract = '^\\(([-0-9.]+),' }
lon = { column = "geom", type = "float", extract = ', *([-0-9.]+)\\)$' }

[clean]
trim = true
null = ["", "NA"]
ignore = ["UCR_2_Category", "UCR_2_Description", "UCR_2_Code"]
"""

HEADER = [
    "Case_Number", "Date", "Time_24HR", "Address", "UCR_1_Category", "UCR_1_Description",
    "UCR_1_Code", "UCR_2_Category", "UCR_2_Description", "UCR_2_Code", "Neighborhood", "geom",
]
CATEGORIES = np.array([
    "LARCENY", "BURGLARY", "ASSAULT", "ROBBERY", "VANDALISM", "DRUGS", "FRAUD", "TRAFFIC",
    "WEAPONS", "DISORDERLY", "TRESPASS", "ARSON",
])
DESCRIPTIONS = np.array([f"DESCRIPTION {i:02d}" for i in range(40)])
HOODS = np.array([
    "Downtown", "Frog Hollow", "North End", "South End", "Asylum Hill", "Barry Square",
    "Blue Hills", "Clay Arsenal", "West End", "Parkville", "Sheldon Charter Oak", "Behind the Rocks",
    "South Green", "Upper Albany", "Northeast", "Southwest", "South Meadows",
])
STREETS = np.array(["MAIN ST", "PARK ST", "ALBANY AVE", "FARMINGTON AVE", "BROAD ST", "WETHERSFIELD AVE"])


# --------------------------------------------------------------------------- data


def _frame(rng: np.random.Generator, n: int, start: int) -> pl.DataFrame:
    days = rng.integers(0, 3 * 365, n)
    minutes = rng.integers(0, 24 * 60, n)
    hhmm = np.where(rng.random(n) < 0.002, 2400, (minutes // 60) * 100 + minutes % 60)
    dates = (np.datetime64("2016-01-01") + days.astype("timedelta64[D]")).astype("datetime64[D]")
    lat = np.round(41.72 + rng.random(n) * 0.09, 6)
    lon = np.round(-72.72 + rng.random(n) * 0.09, 6)
    no_second = rng.random(n) < 0.7
    return pl.DataFrame({
        "Case_Number": pl.Series(np.arange(start, start + n) + 16_000_000).cast(pl.String),
        "Date": pl.Series(dates).dt.strftime("%m/%d/%Y"),
        "Time_24HR": pl.Series(hhmm).cast(pl.String).str.zfill(4),
        "Address": pl.Series(rng.integers(1, 3000, n)).cast(pl.String) + " "
        + pl.Series(STREETS[rng.integers(0, len(STREETS), n)]),
        "UCR_1_Category": CATEGORIES[rng.integers(0, len(CATEGORIES), n)],
        "UCR_1_Description": DESCRIPTIONS[rng.integers(0, len(DESCRIPTIONS), n)],
        "UCR_1_Code": pl.Series(rng.integers(100, 2999, n)).cast(pl.String),
        "UCR_2_Category": np.where(no_second, "", CATEGORIES[rng.integers(0, len(CATEGORIES), n)]),
        "UCR_2_Description": np.where(no_second, "", DESCRIPTIONS[rng.integers(0, 40, n)]),
        "UCR_2_Code": np.where(no_second, "", rng.integers(100, 2999, n).astype(str)),
        "Neighborhood": HOODS[rng.integers(0, len(HOODS), n)],
        "_lat": lat,
        "_lon": lon,
    }).with_columns(
        pl.format("({}, {})", pl.col("_lat"), pl.col("_lon")).alias("geom")
    ).select(*HEADER, "_lat", "_lon")


def _line_protocol(frame: pl.DataFrame, space: str = "_") -> pl.Series:
    """The same points as line protocol (UTC-naive times: fine for a throughput test).

    Tag values have spaces replaced by `space` ("_" for the main file; "\\ " gives the
    escaped form that the decoder sends down its exact per-line path).
    """
    ts = frame.select(
        pl.concat_str([pl.col("Date"), pl.col("Time_24HR").str.replace("2400", "2359")],
                      separator=" ")
        .str.strptime(pl.Datetime("ns"), "%m/%d/%Y %H%M").dt.epoch("ns")
    ).to_series()
    esc = [pl.col(c).str.replace_all(" ", space, literal=True) for c in
           ("Neighborhood", "UCR_1_Category", "UCR_1_Description")]
    return frame.with_columns(ts.alias("_ts")).select(
        pl.concat_str([
            pl.lit("incidents,neighborhood="), esc[0], pl.lit(",category="), esc[1],
            pl.lit(",description="), esc[2], pl.lit(' case_number="'), pl.col("Case_Number"),
            pl.lit('",code='), pl.col("UCR_1_Code"), pl.lit('i,address="'), pl.col("Address"),
            pl.lit('",lat='), pl.col("_lat").cast(pl.String), pl.lit(",lon="),
            pl.col("_lon").cast(pl.String), pl.lit(" "), pl.col("_ts").cast(pl.String),
        ])
    ).to_series()


def generate(rows: int, work: Path, *, with_lp: bool = True) -> tuple[Path, Path, Path]:
    rng = np.random.default_rng(20240611)
    csv_path, lp_path, mapping = work / "incidents.csv", work / "incidents.lp", work / "map.toml"
    mapping.write_text(MAPPING)
    with open(csv_path, "wb") as csv_out, open(lp_path, "wb") as lp_out:
        for start in range(0, rows, GEN_CHUNK):
            frame = _frame(rng, min(GEN_CHUNK, rows - start), start)
            frame.drop("_lat", "_lon").write_csv(csv_out, include_header=start == 0)
            if with_lp:
                lp_out.write(("\n".join(_line_protocol(frame).to_list()) + "\n").encode())
    return csv_path, lp_path, mapping


def memory_run(gigabytes: float, keep: Path | None = None) -> None:
    """Peak RSS of a default mapped-CSV ingest of a file of about `gigabytes` GB (the
    issue's "5 GB CSV" figure); recorded as its own RESULTS.md section. With `keep`, the
    generated file stays in that directory and is reused by the next run."""
    rows = int(gigabytes * 1e9 / 121)  # ~121 bytes per row in this layout
    with tempfile.TemporaryDirectory(prefix="fluxlab-bench-") as tmp:
        work = keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        csv_path, mapping = work / "incidents.csv", work / "map.toml"
        if not (csv_path.exists() and mapping.exists()):
            t0 = time.perf_counter()
            csv_path, _, mapping = generate(rows, work, with_lp=False)
            print(f"generated {rows:,} rows in {time.perf_counter() - t0:.0f} s", flush=True)
        size = csv_path.stat().st_size
        load = os.getloadavg()[0]
        r = run_child("csv", csv_path, mapping, Path(tmp) / "store-csv")
    peak = r["peak_rss"] / 2**20
    verdict = "met" if r["peak_rss"] <= 2**30 else "NOT met"
    text = "\n".join([
        f"- date: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}; machine: {machine()}; "
        f"load average {load:.2f} when the run started",
        f"- command: `.venv/bin/python bench/ingest.py --memory-gb {gigabytes:g}`",
        f"- file: {size / 1e9:.2f} GB, {r['rows']:,} rows (Hartford-incidents shape), default "
        "settings",
        f"- `fluxlab ingest --mapping`: {r['seconds']:.1f} s, {r['rows'] / r['seconds']:,.0f} "
        f"rows/s, **peak RSS {peak:,.0f} MiB** (target ≤ 1 GiB: {verdict})",
        f"- account: written {r['written']:,}, rejected {r['rejected']:,}, collisions "
        f"{r['collisions']:,}, balanced {r['balanced']}",
    ])
    print(text)
    record_section(f"ingest memory ({gigabytes:g} GB CSV)", text)


def escaped_decode_rate(lines: int = 100_000) -> float:
    """Lines/s of the line protocol decoder alone (one thread, after a warm-up) on lines
    with escaped spaces in tag values (`Frog\\ Hollow`), cut into the reader's blocks."""
    from fluxlab.ingest.readers.lineprotocol import DEFAULT_CHUNK_BYTES
    from fluxlab.model.lineprotocol import decode, line_blocks

    frame = _frame(np.random.default_rng(7), lines, 0)
    data = ("\n".join(_line_protocol(frame, "\\ ").to_list()) + "\n").encode()
    decode(data[: data.index(b"\n", 100_000) + 1])
    start = time.perf_counter()
    points = sum(decode(block).points for block in line_blocks(io.BytesIO(data),
                                                                DEFAULT_CHUNK_BYTES))
    assert points == lines
    return lines / (time.perf_counter() - start)


# --------------------------------------------------------------------------- children


def _peak_rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def child(kind: str, data: str, mapping: str, target: str) -> None:
    """Run one measurement in this (fresh) process and print JSON (imports not timed)."""
    import duckdb

    from fluxlab.ingest import ingest_file
    from fluxlab.storage import Store

    warm_lazy_imports()
    start = time.perf_counter()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu_start = usage.ru_utime + usage.ru_stime
    if kind == "duckdb":
        con = duckdb.connect(target, config={"autoload_known_extensions": False,
                                             "autoinstall_known_extensions": False})
        con.execute(f"CREATE TABLE t AS SELECT * FROM read_csv('{data}')")
        rows = con.execute("SELECT count(*) FROM t").fetchone()[0]
        con.close()
        out = {"rows": rows}
    else:
        with Store(target) as store:
            store.create_bucket("bench")
            account = ingest_file(
                store, "bench", data, mapping=mapping if kind == "csv" else None,
                max_errors=-1, progress=False,
            )
        out = {
            "rows": account.rows_read, "written": account.rows_written,
            "rejected": account.rows_rejected, "collisions": account.collisions,
            "balanced": account.balanced,
        }
    out["seconds"] = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_SELF)
    out["cpu_seconds"] = usage.ru_utime + usage.ru_stime - cpu_start
    out["peak_rss"] = _peak_rss_bytes()
    print(json.dumps(out))


def run_child(kind: str, data: Path, mapping: Path, target: Path) -> dict[str, float]:
    proc = subprocess.run(
        [sys.executable, __file__, "--child", kind, str(data), str(mapping), str(target)],
        check=False, capture_output=True, text=True,
    )
    if proc.returncode != 0:
        raise SystemExit(f"{kind} run failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- report


def machine() -> str:
    model = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    return f"{os.cpu_count()} CPUs (nproc), {model}, {platform.system()} {platform.release()}"


def report(rows: int, sizes: dict[str, int], results: dict[str, dict[str, float]]) -> str:
    csv_r, lp_r, duck = results["csv"], results["lp"], results["duckdb"]
    rate = {k: v["rows"] / v["seconds"] for k, v in results.items()}
    gib = 1024**3
    lines = [
        "# Ingest benchmark results",
        "",
        f"- date: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- machine: {machine()}; load average when the report was written: "
        f"{os.getloadavg()[0]:.2f}",
        f"- rows: {rows:,}; CSV {sizes['csv'] / 1e6:,.0f} MB, line protocol "
        f"{sizes['lp'] / 1e6:,.0f} MB (generated, seeded, Hartford-incidents shape)",
        "- command: `.venv/bin/python bench/ingest.py"
        + ("`" if rows == 5_000_000 else f" --rows {rows}`"),
        "",
        "| run | seconds | rows/s | peak RSS | target |",
        "|---|---:|---:|---:|---|",
        f"| fluxlab mapped CSV → store | {csv_r['seconds']:.2f} | {rate['csv']:,.0f} | "
        f"{csv_r['peak_rss'] / 2**20:,.0f} MiB | ≥ 1,000,000 rows/s, ≤ 2× DuckDB |",
        f"| fluxlab line protocol → store | {lp_r['seconds']:.2f} | {rate['lp']:,.0f} | "
        f"{lp_r['peak_rss'] / 2**20:,.0f} MiB | ≥ 500,000 points/s |",
        f"| DuckDB `CREATE TABLE AS SELECT * FROM read_csv` | {duck['seconds']:.2f} | "
        f"{rate['duckdb']:,.0f} | {duck['peak_rss'] / 2**20:,.0f} MiB | reference |",
        "",
        f"- mapped CSV time / DuckDB raw load time: **{csv_r['seconds'] / duck['seconds']:.2f}×** "
        "(target ≤ 2×)",
        f"- line protocol time / DuckDB raw load time: {lp_r['seconds'] / duck['seconds']:.2f}×",
        f"- peak RSS within 1 GiB: CSV {'yes' if csv_r['peak_rss'] <= gib else 'NO'}, "
        f"LP {'yes' if lp_r['peak_rss'] <= gib else 'NO'}",
        f"- CSV account: written {csv_r['written']:,}, rejected {csv_r['rejected']:,}, "
        f"collisions {csv_r['collisions']:,}, balanced {csv_r['balanced']}",
        f"- LP account: written {lp_r['written']:,}, rejected {lp_r['rejected']:,}, "
        f"collisions {lp_r['collisions']:,}, balanced {lp_r['balanced']}",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--quick", action="store_true", help="200,000 rows")
    parser.add_argument("--no-write-results", action="store_true")
    parser.add_argument("--only", choices=["duckdb", "csv", "lp"],
                        help="run one measurement (no report written)")
    parser.add_argument("--memory-gb", type=float, default=None,
                        help="only: peak RSS of a mapped-CSV ingest of a file this large")
    parser.add_argument("--keep", type=Path, default=None,
                        help="with --memory-gb: keep (and reuse) the generated file here")
    parser.add_argument("--child", nargs=4, metavar=("KIND", "DATA", "MAPPING", "TARGET"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    if args.memory_gb:
        memory_run(args.memory_gb, args.keep)
        return
    rows = 200_000 if args.quick else args.rows
    with tempfile.TemporaryDirectory(prefix="fluxlab-bench-") as tmp:
        work = Path(tmp)
        t0 = time.perf_counter()
        csv_path, lp_path, mapping = generate(rows, work)
        print(f"generated {rows:,} rows in {time.perf_counter() - t0:.1f} s", flush=True)
        results = {}
        runs = (("duckdb", csv_path), ("csv", csv_path), ("lp", lp_path))
        for kind, data in (r for r in runs if args.only in (None, r[0])):
            target = work / (f"{kind}.duckdb" if kind == "duckdb" else f"store-{kind}")
            results[kind] = run_child(kind, data, mapping, target)
            r = results[kind]
            print(f"{kind:7s} {r['seconds']:7.2f} s  {r['rows'] / r['seconds']:12,.0f} rows/s  "
                  f"peak RSS {r['peak_rss'] / 2**20:,.0f} MiB", flush=True)
        if args.only:
            r = results[args.only]
            print(f"{args.only}: {r['rows']:,} rows, {r['seconds']:.2f} s wall, "
                  f"{r['cpu_seconds']:.2f} CPU-s ({r['cpu_seconds'] / r['rows'] * 1e6:.2f} "
                  f"CPU-s per 1M rows), load average {os.getloadavg()[0]:.2f}")
            if args.only == "lp":
                print(f"escaped-tag lines, decoder only: {escaped_decode_rate():,.0f} lines/s")
            return
        sizes = {"csv": csv_path.stat().st_size, "lp": lp_path.stat().st_size}
        escaped = escaped_decode_rate()
        text = report(rows, sizes, results) + (
            f"- line protocol with escaped tag values (`Frog\\ Hollow`), decoder only: "
            f"{escaped:,.0f} lines/s (100,000-line sample, one thread; escaped lines are "
            "decoded vectorized too)\n"
        )
    print(text)
    if not args.no_write_results:
        record_section("ingest", text.split("\n", 1)[1] if text.startswith("# ") else text)


if __name__ == "__main__":
    main()
