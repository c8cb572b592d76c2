"""`fluxlab query` output formats and argument rules."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_runner import Fluxlab

LINES = (
    "cpu,host=a usage=1.5,count=3i 1554123600000000001\n"
    "cpu,host=b usage=2.5,count=4i 1554123600000000002\n"
)
QUERY = 'SELECT "time", host, usage, count FROM "metrics"."cpu" ORDER BY "time"'


@pytest.fixture
def loaded(fluxlab: Fluxlab, tmp_path: Path) -> Fluxlab:
    source = tmp_path / "data.lp"
    source.write_text(LINES, encoding="utf-8")
    fluxlab.ok("write", str(source), "--bucket", "metrics")
    return fluxlab


def test_table_format_is_readable(loaded: Fluxlab) -> None:
    out = loaded.ok("query", "--sql", QUERY).stdout
    assert "host" in out and "usage" in out
    assert "2019-04-01T13:00:00.000000001Z" in out
    assert "2 rows" in out


def test_table_format_caps_rows_and_says_so(loaded: Fluxlab) -> None:
    out = loaded.ok("query", "--sql", QUERY, "--max-rows", "1").stdout
    assert "1 of 2 rows shown" in out
    assert "2019-04-01T13:00:00.000000002Z" not in out


def test_csv_format(loaded: Fluxlab) -> None:
    out = loaded.ok("query", "--sql", QUERY, "--format", "csv").stdout
    assert out.splitlines() == [
        "time,host,usage,count",
        "2019-04-01T13:00:00.000000001Z,a,1.5,3",
        "2019-04-01T13:00:00.000000002Z,b,2.5,4",
    ]


def test_json_format(loaded: Fluxlab) -> None:
    out = loaded.ok("query", "--sql", QUERY, "--format", "json").stdout
    assert json.loads(out) == [
        {"time": "2019-04-01T13:00:00.000000001Z", "host": "a", "usage": 1.5, "count": 3},
        {"time": "2019-04-01T13:00:00.000000002Z", "host": "b", "usage": 2.5, "count": 4},
    ]


def test_sql_error_is_one_line(loaded: Fluxlab) -> None:
    result = loaded("query", "--sql", 'SELECT nope FROM "metrics"."cpu"')
    assert result.exit_code == 1
    assert len(result.stderr.strip().splitlines()) == 1 and "nope" in result.stderr


def test_writes_through_sql_are_refused(loaded: Fluxlab) -> None:
    result = loaded("query", "--sql", 'DELETE FROM "metrics"."cpu"')
    assert result.exit_code == 1
    assert "SELECT" in result.stderr
    assert loaded.sql('SELECT count(*) AS n FROM "metrics"."cpu"').splitlines()[1] == "2"


def test_exactly_one_query_is_required(loaded: Fluxlab) -> None:
    neither = loaded("query")
    assert neither.exit_code == 2 and "exactly one query" in neither.output
    both = loaded("query", 'from(bucket: "metrics")', "--sql", "SELECT 1")
    assert both.exit_code == 2


FLUX = (
    'from(bucket: "metrics") |> range(start: 2019-04-01T00:00:00Z, stop: 2019-04-02T00:00:00Z)'
    ' |> filter(fn: (r) => r._field == "usage")'
)


def test_flux_on_embedded_store_table_and_json(loaded: Fluxlab) -> None:
    table = loaded.ok("query", FLUX).stdout
    assert "_value" in table and "usage" in table and "2 rows" in table
    rows = json.loads(loaded.ok("query", FLUX, "--format", "json").stdout)
    assert sorted((r["host"], r["_value"], r["table"]) for r in rows) == [
        ("a", 1.5, 0), ("b", 2.5, 1),
    ]
    assert {r["_time"] for r in rows} == {
        "2019-04-01T13:00:00.000000001Z", "2019-04-01T13:00:00.000000002Z",
    }


def test_flux_csv_is_annotated_csv(loaded: Fluxlab) -> None:
    out = loaded.ok("query", FLUX, "--format", "csv").stdout
    lines = out.splitlines()
    assert lines[0].startswith("#group,false,false,true,true")
    assert lines[1].startswith("#datatype,string,long,dateTime:RFC3339")
    assert lines[3].startswith(",result,table,_start,_stop,_time,_value")


def test_flux_from_file(loaded: Fluxlab, tmp_path: Path) -> None:
    script = tmp_path / "q.flux"
    script.write_text(FLUX + " |> count()\n", encoding="utf-8")
    rows = json.loads(loaded.ok("query", "--file", str(script), "--format", "json").stdout)
    assert sorted(r["_value"] for r in rows) == [1, 1]


def test_flux_error_is_one_line(loaded: Fluxlab) -> None:
    result = loaded("query", 'from(bucket: "metrics") |> range(start: ')
    assert result.exit_code == 1
    assert result.stderr.startswith("error: ") and len(result.stderr.strip().splitlines()) == 1


def test_flux_time_limit_option_stops_a_runaway_query(fluxlab) -> None:
    """`fluxlab query --timeout` bounds a Flux query on the embedded store."""
    fluxlab.ok("write", "-", "--bucket", "b", input="m v=1 1\n")
    runaway = (
        "f = (n) => if n == 0 then 0 else f(n: n - 1) + f(n: n - 1)\n"
        'from(bucket: "b") |> range(start: 0) |> map(fn: (r) => ({r with x: f(n: 40)}))'
    )
    result = fluxlab("query", runaway, "--timeout", "0.5")
    assert result.exit_code != 0
    assert "time limit of 0.5 s" in result.output
