"""The Python API (`fluxlab.connect`) on a real tmp store, its mirror the CLI (`fluxlab
query --format csv|json`, byte for byte), and the per-query limits on runaway queries."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

import fluxlab
from fluxlab.flux.limits import QueryLimitError, QueryLimits

LINES = (
    "cpu,host=a usage=1.5,count=3i 1554123600000000001\n"
    "cpu,host=b usage=2.5,count=4i 1554123600000000002\n"
    "cpu,host=a usage=0.25,count=5i 1554123660000000000\n"
)
QUERY = (
    'from(bucket: "metrics") |> range(start: 2019-04-01T00:00:00Z, stop: 2019-04-02T00:00:00Z)'
    ' |> filter(fn: (r) => r._measurement == "cpu" and r._field == "usage")'
)
# What InfluxDB 2 answers for QUERY (`influx query --raw`: annotations group, datatype,
# default; CRLF line ends; one table per series; a blank line ends the result).
INFLUX_CSV = (
    "#group,false,false,true,true,false,false,true,true,true\r\n"
    "#datatype,string,long,dateTime:RFC3339,dateTime:RFC3339,dateTime:RFC3339,double,string,"
    "string,string\r\n"
    "#default,_result,,,,,,,,\r\n"
    ",result,table,_start,_stop,_time,_value,_field,_measurement,host\r\n"
    ",,0,2019-04-01T00:00:00Z,2019-04-02T00:00:00Z,2019-04-01T13:00:00.000000001Z,1.5,usage,"
    "cpu,a\r\n"
    ",,0,2019-04-01T00:00:00Z,2019-04-02T00:00:00Z,2019-04-01T13:01:00Z,0.25,usage,cpu,a\r\n"
    ",,1,2019-04-01T00:00:00Z,2019-04-02T00:00:00Z,2019-04-01T13:00:00.000000002Z,2.5,usage,"
    "cpu,b\r\n"
    "\r\n"
)


@pytest.fixture
def client(tmp_path: Path) -> Iterator[fluxlab.Client]:
    with fluxlab.connect(store=tmp_path / "store") as c:
        summary = c.write("metrics", LINES)
        assert summary.points_written == 3
        yield c


def test_import_fluxlab_stays_light() -> None:
    code = "import sys, fluxlab; print(sorted(m for m in ('duckdb', 'polars', 'pyarrow') " \
           "if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    assert callable(fluxlab.connect)


def test_query_returns_tables_with_group_keys(client: fluxlab.Client) -> None:
    result = client.query(QUERY)
    assert [t.table for t in result] == [0, 1]
    assert result.results() == ["_result"]
    first = result[0]
    assert first.group_key["host"] == "a" and first.group_key["_field"] == "usage"
    assert set(first.group_key) == {"_start", "_stop", "_field", "_measurement", "host"}
    assert first.data.column("_value").to_pylist() == [1.5, 0.25]
    assert first.to_polars().height == 2


def test_query_df_polars_and_pandas(client: fluxlab.Client) -> None:
    frame = client.query_df(QUERY)
    assert isinstance(frame, pl.DataFrame)
    assert frame.columns[:2] == ["result", "table"]
    assert frame.sort("_value").get_column("_value").to_list() == [0.25, 1.5, 2.5]
    pandas = client.query_df(QUERY, kind="pandas")
    assert isinstance(pandas, pd.DataFrame) and len(pandas) == 3
    assert str(pandas["_time"].dtype).startswith("datetime64[ns")
    with pytest.raises(ValueError, match="kind"):
        client.query_df(QUERY, kind="excel")  # type: ignore[arg-type]


def test_yields_keep_their_result_names(client: fluxlab.Client) -> None:
    text = (f'{QUERY} |> count() |> yield(name: "n")\n'
            f'{QUERY} |> sum() |> yield(name: "total")')
    result = client.query(text)
    assert result.results() == ["n", "total"]
    frame = client.query_df(text)
    assert frame.filter(pl.col("result") == "total").get_column("_value").sum() == 4.25


def test_sql_and_write_line_errors(client: fluxlab.Client) -> None:
    table = client.sql('SELECT host, sum("count") AS n FROM "metrics"."cpu" GROUP BY 1 ORDER BY 1')
    assert isinstance(table, pa.Table)
    assert table.to_pylist() == [{"host": "a", "n": 8}, {"host": "b", "n": 4}]
    summary = client.write("metrics", "cpu,host=c usage=9 1554123600000000003\nnot a line\n")
    assert summary.points_written == 1 and summary.rows_rejected == 1
    assert summary.line_errors[0].line == 2
    assert client.sql('SELECT count(*) AS n FROM "metrics"."cpu"', kind="polars")["n"][0] == 4
    assert "metrics" in client.buckets()


def test_query_csv_is_influxdb_annotated_csv(client: fluxlab.Client) -> None:
    assert client.query_csv(QUERY) == INFLUX_CSV


def test_cli_in_process_csv_matches_influxdb(client: fluxlab.Client, tmp_path: Path) -> None:
    """The same bytes through the real Typer app in-process (fast; the child-process
    tests below are marked slow)."""
    from typer.testing import CliRunner

    from fluxlab.cli.main import app

    client.close()
    done = CliRunner().invoke(app, ["query", QUERY, "--format", "csv", "--store",
                                    str(tmp_path / "store")])
    assert done.exit_code == 0, done.output
    assert done.stdout_bytes == INFLUX_CSV.encode()


def _cli(store: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    """The real CLI in a child process: stdout bytes exactly as a shell pipe gets them."""
    code = "from fluxlab.cli.main import app; app()"
    command = [sys.executable, "-c", code, *args, "--store", str(store)]
    return subprocess.run(command, capture_output=True,
                          check=False, env={"FLUXLAB_CONFIG": str(store.parent / "none.toml"),
                                            "PATH": "/usr/bin:/bin"})


@pytest.mark.slow
def test_cli_query_csv_bytes_match_influxdb(client: fluxlab.Client, tmp_path: Path) -> None:
    client.close()
    done = _cli(tmp_path / "store", "query", QUERY, "--format", "csv")
    assert done.returncode == 0, done.stderr
    assert done.stdout == INFLUX_CSV.encode()


@pytest.mark.slow
def test_cli_query_json_rows(client: fluxlab.Client, tmp_path: Path) -> None:
    client.close()
    done = _cli(tmp_path / "store", "query", QUERY, "--format", "json")
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert [(r["table"], r["host"], r["_value"]) for r in rows] == [
        (0, "a", 1.5), (0, "a", 0.25), (1, "b", 2.5)]
    assert rows[0]["_time"] == "2019-04-01T13:00:00.000000001Z"


# ----------------------------------------------------------------------------- limits


@pytest.fixture
def big(tmp_path: Path) -> Iterator[fluxlab.Client]:
    """200K points in one series: enough for a runaway query, written in well under 1 s."""
    from fluxlab.model.points import PointBatch

    n = 200_000
    table = pa.table({"time": pa.array(range(0, n * 10**9, 10**9), pa.int64()),
                      "v": pa.array([float(i % 97) for i in range(n)])})
    with fluxlab.connect(store=tmp_path / "big") as c:
        c.write("b", PointBatch("m", table, (), ("v",)))
        yield c


RUNAWAY_MEMORY = """
data = from(bucket: "b") |> range(start: 0, stop: 1d)
wide = union(tables: [data, data, data, data, data, data, data, data])
    |> map(fn: (r) => ({r with a: r._value * 2.0, b: r._value + 1.0, s: string(v: r._value)}))
wide |> map(fn: (r) => ({r with c: r.a * 3.0})) |> count()
"""


def test_memory_limit_stops_a_runaway_query(big: fluxlab.Client) -> None:
    started = time.monotonic()
    with pytest.raises(QueryLimitError, match="memory limit"):
        big.query(RUNAWAY_MEMORY, limits=QueryLimits(max_memory_mb=40))
    assert time.monotonic() - started < 30
    assert big.query('from(bucket: "b") |> range(start: 0, stop: 1d) |> count()')[0].data.column(
        "_value").to_pylist() == [200_000]  # the client still works afterwards


def test_row_cap_stops_a_scan_before_it_is_split(big: fluxlab.Client) -> None:
    with pytest.raises(QueryLimitError, match="200,000 rows"):
        big.query('from(bucket: "b") |> range(start: 0, stop: 1d)',
                  limits=QueryLimits(max_rows=100_000))


@pytest.mark.slow
def test_time_limit_stops_a_runaway_query(big: fluxlab.Client) -> None:
    slow = ('import "strings"\nfrom(bucket: "b") |> range(start: 0, stop: 1d)'
            ' |> map(fn: (r) => ({r with s: strings.repeat(v: "ab", i: int(v: r._value))}))'
            ' |> reduce(identity: {n: 0}, fn: (r, accumulator) => ({n: accumulator.n + 1}))')
    started = time.monotonic()
    with pytest.raises(QueryLimitError, match="time limit of 0.5 s"):
        big.query(slow, limits=QueryLimits(timeout_s=0.5))
    assert time.monotonic() - started < 20
