"""`fluxlab write`, `fluxlab ingest` and `fluxlab delete` on a tmp store."""

from __future__ import annotations

from pathlib import Path

from cli_runner import Fluxlab

LINES = (
    "cpu,host=a usage=1.5,count=3i 1000000000\n"
    "cpu,host=b usage=2.5,count=4i 2000000000\n"
    "cpu,host=a usage=3.5,count=5i 3000000000\n"
    "mem,host=a used=10i 1000000000\n"
)


def count(fluxlab: Fluxlab, table: str) -> int:
    return int(fluxlab.sql(f"SELECT count(*) AS n FROM {table}").splitlines()[1])


def test_write_line_protocol_from_file(fluxlab: Fluxlab, tmp_path: Path) -> None:
    source = tmp_path / "data.lp"
    source.write_text(LINES, encoding="utf-8")
    result = fluxlab.ok("write", str(source), "--bucket", "metrics")
    assert "rows read" in result.stdout and "4" in result.stdout
    assert count(fluxlab, '"metrics"."cpu"') == 3
    assert count(fluxlab, '"metrics"."mem"') == 1
    assert "created bucket metrics" in result.stderr


def test_write_from_stdin_with_precision(fluxlab: Fluxlab) -> None:
    fluxlab.ok("write", "-", "--bucket", "m", "--precision", "s",
               input="cpu,host=a usage=1 1554123600\n")
    csv = fluxlab.sql('SELECT epoch_ns("time") AS t, usage FROM "m"."cpu"')
    assert csv.splitlines()[1] == "1554123600000000000,1.0"


def test_dry_run_prints_lines_and_writes_nothing(fluxlab: Fluxlab, tmp_path: Path) -> None:
    source = tmp_path / "data.lp"
    source.write_text(LINES, encoding="utf-8")
    fluxlab.ok("bucket", "create", "metrics")
    result = fluxlab.ok("write", str(source), "--bucket", "metrics", "--dry-run")
    assert "cpu,host=a" in result.stdout
    assert "dry run" in result.stderr
    tables = fluxlab.sql(
        "SELECT count(*) AS n FROM information_schema.tables WHERE table_catalog = 'metrics'"
    )
    assert tables.splitlines()[1] == "0"


def test_bad_line_stops_with_exit_1_and_names_the_line(fluxlab: Fluxlab, tmp_path: Path) -> None:
    source = tmp_path / "bad.lp"
    source.write_text("cpu,host=a usage=1 1000\ncpu,host=a usage= 2000\n", encoding="utf-8")
    result = fluxlab("write", str(source), "--bucket", "m")
    assert result.exit_code == 1
    assert "error:" in result.stderr and "2" in result.stderr
    assert "Traceback" not in result.output


def test_error_budget_and_rejects_file(fluxlab: Fluxlab, tmp_path: Path) -> None:
    source = tmp_path / "bad.lp"
    rejects = tmp_path / "rejects.txt"
    source.write_text("cpu,host=a usage=1 1000\ncpu,host=a usage= 2000\n", encoding="utf-8")
    result = fluxlab.ok("write", str(source), "--bucket", "m", "--max-errors", "5",
                        "--rejects", str(rejects))
    assert "rows rejected" in result.stdout
    assert count(fluxlab, '"m"."cpu"') == 1
    assert "usage=" in rejects.read_text(encoding="utf-8")


def test_ingest_csv_with_mapping(fluxlab: Fluxlab, tmp_path: Path) -> None:
    data = tmp_path / "schools.csv"
    data.write_text(
        "District,School name,City,School total,Date\n"
        "D1,Alpha School,Hartford,<6,01/04/2021\n"
        "D1,Beta School,Hartford,12,01/04/2021\n"
        "D2,Gamma School,Avon,7,01/11/2021\n",
        encoding="utf-8",
    )
    mapping = tmp_path / "schools.toml"
    mapping.write_text(
        'measurement = "cases"\n'
        "[time]\n"
        'column = "Date"\n'
        'format = "%m/%d/%Y"\n'
        'timezone = "America/New_York"\n'
        "[tags]\n"
        'school = "School name"\n'
        'city = "City"\n'
        "[fields]\n"
        'total = { column = "School total", type = "integer", fix = { "<6" = "5" } }\n'
        "[clean]\n"
        'ignore = ["District"]\n',
        encoding="utf-8",
    )
    result = fluxlab.ok("ingest", str(data), "--mapping", str(mapping), "--bucket", "schools")
    assert "rows read" in result.stdout
    csv = fluxlab.sql(
        'SELECT school, total, epoch_ns("time") AS t FROM "schools"."cases" ORDER BY school'
    )
    # Midnight in Hartford (EST, UTC-5) is 05:00 UTC.
    assert csv.splitlines()[1:] == [
        "Alpha School,5,1609736400000000000",
        "Beta School,12,1609736400000000000",
        "Gamma School,7,1610341200000000000",
    ]


def test_delete_by_range_and_predicate(fluxlab: Fluxlab, tmp_path: Path) -> None:
    source = tmp_path / "data.lp"
    source.write_text(LINES, encoding="utf-8")
    fluxlab.ok("write", str(source), "--bucket", "metrics")
    result = fluxlab.ok("delete", "--bucket", "metrics", "--start", "1970-01-01T00:00:00Z",
                        "--stop", "1970-01-01T00:00:02.5Z", "--predicate",
                        '_measurement="cpu" AND host="a"')
    assert "Deleted points in metrics" in result.stdout
    left = fluxlab.sql('SELECT host, epoch_ns("time") AS t FROM "metrics"."cpu" ORDER BY t')
    assert left.splitlines()[1:] == ["b,2000000000", "a,3000000000"]
    assert count(fluxlab, '"metrics"."mem"') == 1


def test_delete_rejects_stop_before_start(fluxlab: Fluxlab) -> None:
    fluxlab.ok("bucket", "create", "metrics")
    result = fluxlab("delete", "--bucket", "metrics", "--start", "2020-01-01", "--stop",
                     "2019-01-01")
    assert result.exit_code == 1
    assert "must be after --start" in result.stderr


def test_write_annotated_csv_from_stdin(fluxlab: Fluxlab) -> None:
    annotated = (
        "#datatype measurement,tag,double,dateTime:RFC3339\n"
        "m,host,usage,time\n"
        "cpu,a,1.5,2019-04-01T13:00:00Z\n"
        "cpu,b,2.5,2019-04-01T14:00:00Z\n"
    )
    fluxlab.ok("write", "-", "--bucket", "a", "--format", "annotated", input=annotated)
    csv = fluxlab.sql('SELECT host, usage, epoch_ns("time") AS t FROM "a"."cpu" ORDER BY t')
    assert csv.splitlines()[1:] == ["a,1.5,1554123600000000000", "b,2.5,1554127200000000000"]


def test_format_csv_without_mapping_says_what_to_do(fluxlab: Fluxlab, tmp_path: Path) -> None:
    source = tmp_path / "x.csv"
    source.write_text("a,b\n1,2\n", encoding="utf-8")
    result = fluxlab("write", str(source), "--bucket", "m", "--format", "csv")
    assert result.exit_code == 1
    assert "needs a mapping file: use `fluxlab ingest FILE --mapping" in result.stderr


def test_failed_run_leaves_no_new_bucket(fluxlab: Fluxlab, tmp_path: Path) -> None:
    source = tmp_path / "x.csv"
    source.write_text("a,b\n1,2\n", encoding="utf-8")
    result = fluxlab("ingest", str(source), "--bucket", "m", "--format", "csv")
    assert result.exit_code == 1
    assert "needs a mapping file (--mapping)" in result.stderr
    assert "No buckets" in fluxlab.ok("bucket", "list").stdout


def test_mapping_naming_a_missing_column_is_reported_before_loading(
    fluxlab: Fluxlab, tmp_path: Path
) -> None:
    data = tmp_path / "d.csv"
    data.write_text("Date,Total\n01/04/2021,3\n", encoding="utf-8")
    mapping = tmp_path / "m.toml"
    mapping.write_text(
        'measurement = "m"\n[time]\ncolumn = "Date"\nformat = "%m/%d/%Y"\n'
        '[fields]\ntotal = { column = "Totl", type = "integer" }\n',
        encoding="utf-8",
    )
    result = fluxlab("ingest", str(data), "--mapping", str(mapping), "--bucket", "b")
    assert result.exit_code == 1
    assert "Totl" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "No buckets" in fluxlab.ok("bucket", "list").stdout
