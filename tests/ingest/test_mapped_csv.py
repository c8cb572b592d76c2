"""Generic CSV + TOML mapping: values, cleaning, and every kind of bad input."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from ingest_helpers import HARTFORD_HEADER, HARTFORD_MAPPING, hartford_row, stored_rows, write_text

from fluxlab.ingest import MappingError, ingest_file, load_mapping
from fluxlab.storage import Store


@pytest.fixture
def mapping(tmp_path: Path) -> Path:
    return write_text(tmp_path / "map.toml", HARTFORD_MAPPING)


def read_rejects(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_hartford_rows_are_mapped(tmp_path: Path, store: Store, mapping: Path) -> None:
    data = write_text(
        tmp_path / "inc.csv",
        "\n".join([
            HARTFORD_HEADER,
            hartford_row("1", "01/02/2020", "0930", code=" 600 "),
            hartford_row("2", "01/02/2020", "2400", code="<6", hood="N/A"),
        ]) + "\n",
    )
    account = ingest_file(store, "b", data, mapping=mapping)
    assert account.balanced and account.rows_written == 2 and account.rows_rejected == 0
    codes = stored_rows(store, "incidents", "code")
    assert codes.column("_value").to_pylist() == [600, 5]  # trimmed; "<6" fixed to 5
    assert codes.column("_time").cast("int64").to_pylist() == [
        1577975400000000000,  # 09:30 EST = 14:30 UTC
        1578027600000000000,  # 2400 → Jan 3 00:00 EST = 05:00 UTC
    ]
    assert codes.column("neighborhood").to_pylist() == ["Downtown", None]  # N/A → no tag
    lat = stored_rows(store, "incidents", "lat").column("_value").to_pylist()
    assert lat == [41.76, 41.76]


def test_bad_values_are_rejected_with_line_column_value(
    tmp_path: Path, store: Store, mapping: Path
) -> None:
    data = write_text(
        tmp_path / "inc.csv",
        "\n".join([
            HARTFORD_HEADER,
            hartford_row("1", "01/02/2020", "0930"),
            hartford_row("2", "13/45/2020", "0930"),  # line 3: bad date
            hartford_row("3", "01/02/2020", "0930", code="12x"),  # line 4: bad integer
            "",  # line 5: blank → skipped
            "only,three,columns",  # line 6: wrong column count
            hartford_row("4", "01/02/2020", "", code="7"),  # line 7: empty time
            hartford_row("5", "01/03/2020", "1000"),
        ]) + "\n",
    )
    rejects = tmp_path / "rejects.csv"
    account = ingest_file(store, "b", data, mapping=mapping, max_errors=-1, rejects_path=rejects)
    assert (account.rows_read, account.rows_written, account.rows_rejected, account.rows_skipped) == (
        7, 2, 4, 1,
    )
    assert account.balanced and not account.stopped_early
    rows = read_rejects(rejects)
    assert [(r["line"], r["column"], r["value"]) for r in rows] == [
        ("3", "Date+Time_24HR", "13/45/2020 0930"),
        ("4", "UCR_1_Code", "12x"),
        ("6", "*", ""),
        ("7", "Date+Time_24HR", ""),
    ]
    assert all(r["source"] == str(data) for r in rows)
    assert "cannot parse time" in rows[0]["reason"] and "%m/%d/%Y %H%M" in rows[0]["reason"]
    assert "not an integer" in rows[1]["reason"]
    assert "expected 12 columns, found 3" in rows[2]["reason"]
    assert rows[2]["raw"] == "only,three,columns"
    assert rows[3]["reason"] == "time is empty"
    assert rows[1]["raw"].startswith("3,01/02/2020,0930,1 MAIN ST,LARCENY,THEFT,12x")
    assert account.first_error is not None and f"{data}:3:" in account.first_error


def test_quoted_newlines_keep_line_numbers_exact(
    tmp_path: Path, store: Store, mapping: Path
) -> None:
    data = write_text(
        tmp_path / "inc.csv",
        "\n".join([
            HARTFORD_HEADER,
            hartford_row("1", "01/02/2020", "0930", hood='"Down\ntown"'),  # lines 2-3
            hartford_row("2", "01/02/2020", "0930", code="bad"),  # line 4
        ]) + "\n",
    )
    rejects = tmp_path / "r.csv"
    account = ingest_file(store, "b", data, mapping=mapping, max_errors=-1, rejects_path=rejects)
    assert account.rows_written == 1
    assert [r["line"] for r in read_rejects(rejects)] == ["4"]


def test_measurement_column_splits_batches(tmp_path: Path, store: Store) -> None:
    mapping = write_text(tmp_path / "m.toml", """
measurement_column = "kind"
[time]
column = "t"
format = "epoch_s"
[fields]
v = { column = "v", type = "float" }
""")
    data = write_text(tmp_path / "d.csv", "kind,t,v\ncpu,1,1.5\nmem,2,2.5\ncpu,3,3.5\n")
    account = ingest_file(store, "b", data, mapping=mapping)
    assert account.rows_written == 3 and sorted(account.measurements) == ["cpu", "mem"]
    assert stored_rows(store, "cpu", "v").column("_value").to_pylist() == [1.5, 3.5]


def test_mapping_naming_a_missing_column_lists_the_header(tmp_path: Path, store: Store) -> None:
    mapping = write_text(tmp_path / "m.toml", """
measurement = "x"
[fields]
total = { column = "Total", type = "integer" }
""")
    data = write_text(tmp_path / "d.csv", "District,Total Cases\na,1\n")
    with pytest.raises(MappingError) as err:
        ingest_file(store, "b", data, mapping=mapping)
    text = str(err.value)
    assert "'Total' not found in the header" in text and "District, Total Cases" in text
    assert str(mapping) in text


def test_mapping_with_unknown_zone_or_type(tmp_path: Path) -> None:
    bad_zone = write_text(tmp_path / "z.toml", """
measurement = "x"
[time]
column = "t"
format = "rfc3339"
timezone = "America/Hartford"
[fields]
v = "v"
""")
    with pytest.raises(MappingError, match="unknown time zone 'America/Hartford'"):
        load_mapping(bad_zone)
    bad_type = write_text(tmp_path / "t.toml", """
measurement = "x"
[fields]
v = { column = "v", type = "decimal" }
""")
    with pytest.raises(MappingError, match="unknown field type 'decimal'"):
        load_mapping(bad_type)


def test_mapping_needs_a_measurement_and_fields(tmp_path: Path) -> None:
    with pytest.raises(MappingError, match="measurement"):
        load_mapping(write_text(tmp_path / "a.toml", '[fields]\nv = "v"\n'))
    with pytest.raises(MappingError, match=r"\[fields\] is empty"):
        load_mapping(write_text(tmp_path / "b.toml", 'measurement = "m"\n'))


def test_gzip_csv(tmp_path: Path, store: Store, mapping: Path) -> None:
    text = HARTFORD_HEADER + "\n" + hartford_row("1", "01/02/2020", "0930") + "\n"
    data = write_text(tmp_path / "inc.csv.gz", text, gz=True)
    account = ingest_file(store, "b", data, mapping=mapping)
    assert account.rows_written == 1 and account.bytes_read == data.stat().st_size


def test_many_blocks_keep_lines(tmp_path: Path, store: Store, mapping: Path) -> None:
    rows = [hartford_row(str(i), "01/02/2020", f"{i % 24:02d}00") for i in range(2000)]
    rows[1500] = hartford_row("x", "01/02/2020", "0100", code="oops")  # line 1502
    data = write_text(tmp_path / "big.csv", HARTFORD_HEADER + "\n" + "\n".join(rows) + "\n")
    rejects = tmp_path / "r.csv"
    account = ingest_file(
        store, "b", data, mapping=mapping, max_errors=-1, rejects_path=rejects, block_size=4096
    )
    assert account.rows_read == 2000 and account.rows_rejected == 1 and account.balanced
    assert read_rejects(rejects)[0]["line"] == "1502"


def test_bom_and_crlf_line_endings(tmp_path: Path, store: Store, mapping: Path) -> None:
    text = "\ufeff" + HARTFORD_HEADER + "\r\n" + hartford_row("1", "01/02/2020", "0930") + "\r\n"
    data = write_text(tmp_path / "win.csv", text)
    account = ingest_file(store, "b", data, mapping=mapping)
    assert account.rows_written == 1 and account.balanced
    assert stored_rows(store, "incidents", "code").column("_value").to_pylist() == [600]


def test_the_documented_example_mapping_is_valid() -> None:
    import textwrap

    import fluxlab.ingest.mapping as module
    from fluxlab.ingest.mapping import mapping_from_dict

    doc = module.__doc__ or ""
    block = doc.split("::\n", 1)[1].split("\n\n`extract`", 1)[0]
    import tomllib

    mapping = mapping_from_dict(tomllib.loads(textwrap.dedent(block)), origin="docstring")
    assert mapping.time is not None and mapping.time.timezone == "America/New_York"
    assert [f.key for f in mapping.fields] == ["case_number", "total", "lat", "code"]
    assert mapping.fields[1].fixes == {"<6": "5"}


def test_types_delimiter_and_skip_lines(tmp_path: Path, store: Store) -> None:
    mapping = write_text(tmp_path / "m.toml", """
measurement = "s"
[csv]
delimiter = ";"
skip_lines = 2
[time]
column = "when"
format = "rfc3339"
[fields]
ok = { column = "ok", type = "boolean" }
n = { column = "n", type = "unsigned" }
x = { column = "x", type = "float" }
""")
    data = write_text(tmp_path / "d.csv", (
        "Report title\nexported today\n"
        "when;ok;n;x\n"
        "2020-01-01T00:00:00Z;yes;7;1.5\n"
        "2020-01-01T00:00:01Z;maybe;-1;NaN\n"
    ))
    rejects = tmp_path / "r.csv"
    account = ingest_file(store, "b", data, mapping=mapping, max_errors=-1, rejects_path=rejects)
    assert (account.rows_written, account.rows_rejected) == (1, 1)
    (row,) = read_rejects(rejects)
    assert (row["line"], row["column"], row["value"]) == ("5", "ok", "maybe")
    assert row["raw"] == "2020-01-01T00:00:01Z;maybe;-1;NaN"
    assert stored_rows(store, "s", "n").column("_value").to_pylist() == [7]


def test_ignored_columns_are_checked_against_the_header(tmp_path: Path, store: Store) -> None:
    mapping = write_text(tmp_path / "m.toml", """
measurement = "s"
[fields]
v = "v"
[clean]
ignore = ["Adress"]
""")
    data = write_text(tmp_path / "d.csv", "v,Address\n1,x\n")
    with pytest.raises(MappingError, match="'Adress' not found"):
        ingest_file(store, "b", data, mapping=mapping)


@pytest.mark.parametrize("trim", [True, False])
def test_trim_strips_tabs_and_unicode_spaces_only_when_asked(
    tmp_path: Path, store: Store, trim: bool
) -> None:
    mapping = write_text(tmp_path / "m.toml", f"""
measurement = "m"
[tags]
site = "Site"
[fields]
note = {{ column = "Note", type = "string" }}
v = {{ column = "V", type = "integer" }}
[clean]
trim = {str(trim).lower()}
""")
    data = write_text(tmp_path / "d.csv",
                      "Site,Note,V\n\ta\u00a0,  x y ,1\nb,\u3000,2\nc,plain,3\n")
    account = ingest_file(store, "b", data, mapping=mapping, max_errors=-1)
    notes = stored_rows(store, "m", "note")
    by_site = dict(zip(notes.column("site").to_pylist(), notes.column("_value").to_pylist(),
                       strict=True))
    if trim:
        assert account.rows_written == 3
        assert by_site == {"a": "x y", "c": "plain"}  # "\u3000" alone trims to empty: null
    else:
        assert account.rows_written == 3
        assert by_site == {"\ta\u00a0": "  x y ", "b": "\u3000", "c": "plain"}
