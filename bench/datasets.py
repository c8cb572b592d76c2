"""Dataset recipe benchmark: `hartford-incidents` at 709K rows and at 10M rows.

    .venv/bin/python bench/datasets.py              # 709K rows + 10M rows (several minutes)
    .venv/bin/python bench/datasets.py --quick      # 100K rows only, nothing recorded
    .venv/bin/python bench/datasets.py --no-big     # skip the 10M-row run

Files are generated (seeded, synthetic, the real Hartford layout and quirks) into a
temporary directory and deleted afterwards. Each measurement runs in its own child
process so its peak RSS (VmHWM) is its own. Compared: the full recipe load (map,
clean, 2400/DST times, geom split, S2 level-10 tags, UCR code check, account,
rejects), DuckDB's raw `CREATE TABLE AS SELECT * FROM read_csv` of the same file,
and the plain mapping without the recipe's extras (to show what the extras cost).
Results go to bench/RESULTS.md, section "datasets" (other sections are kept).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from results_md import record_section, warm_lazy_imports

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "RESULTS.md"  # written through results_md.record_section
CHUNK = 1_000_000

PLAIN_MAPPING = """
measurement = "incidents"
[time]
columns = ["Date", "Time_24HR"]
format = "%m/%d/%Y %H%M"
timezone = "America/New_York"
[tags]
neighborhood = "Neighborhood"
ucr_1_category = "UCR_1_Category"
ucr_1_description = "UCR_1_Description"
[fields]
case_number = { column = "Case_Number", type = "string" }
address = { column = "Address", type = "string" }
ucr_1_code = { column = "UCR_1_Code", type = "string" }
lat = { column = "geom", type = "float", extract = '^\\(\\s*([-+0-9.]+)\\s*,' }
lon = { column = "geom", type = "float", extract = ',\\s*([-+0-9.]+)\\s*\\)$' }
"""


def make_file(rows: int, work: Path) -> Path:
    """Hartford-layout CSV of `rows` valid rows, generated in 1M-row chunks (bounded memory)."""
    from fluxlab.datasets.generators import generate

    target = work / f"hartford-{rows}.csv"
    with target.open("wb") as out:
        done, seed = 0, 0
        while done < rows:
            n = min(CHUNK, rows - done)
            part = generate("hartford-incidents", work / "part.csv", n, seed=seed).path
            with part.open("rb") as src:
                header = src.readline()
                if done == 0:
                    out.write(header)
                while block := src.read(16 << 20):
                    out.write(block)
            part.unlink()
            done, seed = done + n, seed + 1
    return target


def _peak_rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def child(kind: str, data: str, work: str) -> None:
    """One measurement in a fresh process; prints JSON. Imports and set-up are not timed."""
    import duckdb

    from fluxlab.backends.embedded import EmbeddedBackend
    from fluxlab.datasets.generators import generate
    from fluxlab.datasets.load import load_dataset
    from fluxlab.ingest import ingest_file

    warm_lazy_imports()
    out: dict[str, object] = {}
    if kind == "duckdb":
        con = duckdb.connect(str(Path(work) / "raw.duckdb"),
                             config={"autoload_known_extensions": False,
                                     "autoinstall_known_extensions": False})
        start, cpu = time.perf_counter(), time.process_time()
        con.execute(f"CREATE TABLE t AS SELECT * FROM read_csv('{data}', ignore_errors = true)")
        out["rows"] = con.execute("SELECT count(*) FROM t").fetchone()[0]
        seconds, used = time.perf_counter() - start, time.process_time() - cpu
        con.close()
    elif kind == "plain":
        mapping = Path(work) / "plain.toml"
        mapping.write_text(PLAIN_MAPPING)
        with EmbeddedBackend(Path(work) / "store-plain") as backend:
            backend.create_bucket("h")
            start, cpu = time.perf_counter(), time.process_time()
            account = ingest_file(backend.store, "h", data, mapping=mapping, max_errors=-1,
                                  progress=False)
            seconds, used = time.perf_counter() - start, time.process_time() - cpu
        out.update(rows=account.rows_read, written=account.rows_written,
                   rejected=account.rows_rejected, balanced=account.balanced)
    else:
        with EmbeddedBackend(Path(work) / f"store-{kind}") as backend:
            codes = generate("socrata-ucr-codes", Path(work) / "ucr.csv", 0).path
            load_dataset(backend, "socrata-ucr-codes", [codes], rejects_dir=Path(work),
                         progress=False)
            start, cpu = time.perf_counter(), time.process_time()
            result = load_dataset(backend, "hartford-incidents", [data],
                                  rejects_dir=Path(work) / "rejects", progress=False)
            seconds, used = time.perf_counter() - start, time.process_time() - cpu
            account = result.files[0].account
        out.update(rows=account.rows_read, written=account.rows_written,
                   rejected=account.rows_rejected, collisions=account.collisions,
                   balanced=account.balanced, reasons=result.files[0].reasons)
    out["seconds"] = seconds
    out["cpu"] = used  # CPU seconds of every thread of this process (DuckDB's too)
    out["peak_rss"] = _peak_rss_bytes()
    print(json.dumps(out))


def run_child(kind: str, data: Path, work: Path) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, "--child", kind, str(data), str(work)],
        check=True, capture_output=True, text=True,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def machine() -> str:
    model = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    return f"{os.cpu_count()} CPUs, {model}, {platform.system()} {platform.release()}"


def section(rows: int, size: int, small: dict[str, Any], big: dict | None, big_rows: int,
            big_size: int) -> str:
    recipe, duck, plain = small["recipe"], small["duckdb"], small["plain"]
    gib = 1024**3
    lines = [
        "## datasets",
        "",
        f"- date: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}; machine: {machine()}",
        f"- data: synthetic `hartford-incidents` file, {rows:,} rows, {size / 1e6:,.0f} MB "
        "(the real export is ~112 MB: longer addresses), generated by "
        "`fluxlab.datasets.generators` (seeded); command `.venv/bin/python bench/datasets.py`",
        f"- load average (1 min) when the runs started: {small['load']:.1f}; CPU-s / 1M rows "
        "counts every thread of the measuring process (DuckDB's, Arrow's and Polars' too)",
        "",
        "| run | rows | seconds | rows/s | CPU-s / 1M rows | peak RSS | target |",
        "|---|---:|---:|---:|---:|---:|---|",
        _row("`datasets load hartford-incidents` (full recipe)", recipe, "≤ 2 s"),
        _row("plain mapping, no recipe extras", plain, "reference"),
        _row("DuckDB raw `CREATE TABLE AS SELECT * FROM read_csv`", duck, "reference"),
    ]
    if big is not None:
        lines.append(_row(f"full recipe, {big_rows:,} rows ({big_size / 1e9:.2f} GB)", big,
                          "peak RSS ≤ 1 GiB"))
    lines += [
        "",
        f"- recipe load time / DuckDB raw load time: **{recipe['seconds'] / duck['seconds']:.2f}×**"
        f" (CPU: {recipe['cpu'] / duck['cpu']:.2f}×);"
        f" recipe extras (S2 tags, required geom, UCR lookup, reason rewrite) cost "
        f"{recipe['seconds'] - plain['seconds']:+.2f} s over the plain mapping",
        f"- 709K target (≤ 2 s): {'met' if recipe['seconds'] <= 2 else 'MISSED'}",
        f"- account: written {recipe['written']:,}, rejected {recipe['rejected']:,} "
        f"({_reasons(recipe['reasons'])}), "
        f"collisions {recipe['collisions']:,}, balanced {recipe['balanced']}",
    ]
    if big is not None:
        lines.append(
            f"- 10M rows: peak RSS {'within' if big['peak_rss'] <= gib else 'ABOVE'} 1 GiB; "
            f"written {big['written']:,}, rejected {big['rejected']:,}, collisions "
            f"{big['collisions']:,}, balanced {big['balanced']}"
        )
    return "\n".join(lines) + "\n"


def _row(name: str, run: dict, target: str) -> str:
    cpu = f"{run['cpu'] / run['rows'] * 1e6:.2f}" if "cpu" in run else "n/a"
    return (f"| {name} | {run['rows']:,} | {run['seconds']:.2f} | "
            f"{run['rows'] / run['seconds']:,.0f} | {cpu} | {run['peak_rss'] / 2**20:,.0f} MiB | "
            f"{target} |")


def _reasons(reasons: dict[str, int]) -> str:
    return ", ".join(f"{count} {reason.split(':')[0]}" for reason, count in reasons.items())


def record(text: str) -> None:
    """Replace (or append) the '## datasets' section of RESULTS.md; keep the others."""
    record_section("datasets", text.split("\n", 1)[1] if text.startswith("## datasets") else text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=709_000)
    parser.add_argument("--big-rows", type=int, default=10_000_000)
    parser.add_argument("--quick", action="store_true", help="100K rows, no big run, no record")
    parser.add_argument("--no-big", action="store_true")
    parser.add_argument("--child", nargs=3, metavar=("KIND", "DATA", "WORK"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    rows = 100_000 if args.quick else args.rows
    with tempfile.TemporaryDirectory(prefix="fluxlab-bench-datasets-") as tmp:
        work = Path(tmp)
        data = make_file(rows, work)
        small: dict = {"load": os.getloadavg()[0]}
        for kind in ("duckdb", "plain", "recipe"):
            small[kind] = run_child(kind, data, work)
            r = small[kind]
            print(f"{kind:7s} {r['seconds']:7.2f} s  {r['rows'] / r['seconds']:12,.0f} rows/s  "
                  f"CPU {r['cpu']:6.2f} s  peak RSS {r['peak_rss'] / 2**20:,.0f} MiB  "
                  f"load {os.getloadavg()[0]:.1f}", flush=True)
        size = data.stat().st_size
        data.unlink()
        big, big_size = None, 0
        if not (args.quick or args.no_big):
            big_data = make_file(args.big_rows, work)
            big_size = big_data.stat().st_size
            big = run_child("recipe-big", big_data, work)
            print(f"big     {big['seconds']:7.2f} s  {big['rows'] / big['seconds']:12,.0f} rows/s "
                  f" peak RSS {big['peak_rss'] / 2**20:,.0f} MiB", flush=True)
    text = section(rows, size, small, big, args.big_rows, big_size)
    print(text)
    if not args.quick:
        record(text)


if __name__ == "__main__":
    main()
