"""Annotated CSV as `influx write --format csv` accepts it (examples from csv2lp's docs)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from ingest_helpers import stored_rows, write_text

from fluxlab.ingest import ReaderError, ingest_file
from fluxlab.storage import Store


def dry(path: Path, **kw: object) -> list[str]:
    out = io.StringIO()
    account = ingest_file(None, None, path, dry_run=out, now_ns=0, **kw)  # type: ignore[arg-type]
    assert account.balanced
    return out.getvalue().splitlines()


def test_datatype_row(tmp_path: Path, store: Store) -> None:
    data = write_text(tmp_path / "a.csv", (
        "#datatype measurement,tag,double,dateTime:RFC3339\n"
        "m,host,used_percent,time\n"
        "mem,host1,64.23,2020-01-01T00:00:00Z\n"
        "mem,host2,72.01,2020-01-01T00:00:10Z\n"
    ))
    account = ingest_file(store, "b", data)
    assert account.format == "annotated" and account.rows_written == 2
    got = stored_rows(store, "mem", "used_percent")
    assert got.column("_value").to_pylist() == [64.23, 72.01]
    assert got.column("host").to_pylist() == ["host1", "host2"]


def test_header_suffixes_and_defaults(tmp_path: Path) -> None:
    data = write_text(tmp_path / "d.csv", (
        "m|measurement|test,name|tag|annotatedDatatypes,s|string,d|double,b|boolean,"
        "l|long,ul|unsignedLong,time|dateTime\n"
        ",,str1,1.0,true,1,1,1\n"
        ",,str2,2.0,false,2,2,2020-01-11T10:10:10Z\n"
    ))
    assert dry(data) == [
        'test,name=annotatedDatatypes s="str1",d=1.0,b=true,l=1i,ul=1u 1',
        'test,name=annotatedDatatypes s="str2",d=2.0,b=false,l=2i,ul=2u 1578737410000000000',
    ]


def test_constants_timezone_and_formats(tmp_path: Path) -> None:
    data = write_text(tmp_path / "c.csv", (
        "#constant measurement,test\n"
        "#constant tag,name,datetypeFormats\n"
        "#timezone -0500\n"
        't|dateTime:2006-01-02|1970-01-02,"d|double:,. ","b|boolean:y,Y:n,N|y"\n'
        '1970-01-01,"123.456,78",\n'
        ',"123 456,78",Y\n'
    ))
    assert dry(data) == [
        "test,name=datetypeFormats d=123456.78,b=true 18000000000000",
        "test,name=datetypeFormats d=123456.78,b=true 104400000000000",
    ]


def test_flux_query_output_with_two_tables(tmp_path: Path, store: Store) -> None:
    head = (
        "#group,false,false,true,true,false,false,true,true,true,true\n"
        "#datatype,string,long,dateTime:RFC3339,dateTime:RFC3339,dateTime:RFC3339,double,"
        "string,string,string,string\n"
        "#default,_result,,,,,,,,,\n"
        ",result,table,_start,_stop,_time,_value,_field,_measurement,cpu,host\n"
    )
    span = "2020-02-25T22:17:54Z,2020-02-25T22:22:54Z"
    data = write_text(tmp_path / "flux.csv", (
        head
        + f",,0,{span},2020-02-25T22:17:57Z,0,time_steal,cpu,cpu1,a\n"
        + f",,0,{span},2020-02-25T22:18:07Z,1,time_steal,cpu,cpu1,a\n"
        + "\n"
        + head
        + f",,1,{span},2020-02-25T22:18:01Z,2.5,usage_user,cpu,cpu-total,b\n"
    ))
    account = ingest_file(store, "b", data)
    assert (account.rows_read, account.rows_written, account.rows_skipped) == (4, 3, 1)
    steal = stored_rows(store, "cpu", "time_steal")
    assert steal.column("_value").to_pylist() == [0.0, 1.0]
    assert steal.column("host").to_pylist() == ["a", "a"]
    assert stored_rows(store, "cpu", "usage_user").column("cpu").to_pylist() == ["cpu-total"]


def test_plain_flux_shape_without_annotations(tmp_path: Path) -> None:
    data = write_text(tmp_path / "plain.csv", (
        "_measurement,_field,_value,_time,host\n"
        "cpu,usage,1.5,2020-01-01T00:00:00Z,a\n"
        "cpu,usage,2.5,2020-01-01T00:00:01Z,b\n"
    ))
    assert dry(data) == [
        "cpu,host=a usage=1.5 1577836800000000000",
        "cpu,host=b usage=2.5 1577836801000000000",
    ]


def test_bad_value_and_bad_time_are_rejected(tmp_path: Path, store: Store) -> None:
    data = write_text(tmp_path / "bad.csv", (
        "#datatype measurement,tag,long,dateTime:number\n"
        "m,host,n,time\n"
        "mem,h,1,10\n"
        "mem,h,1.5,20\n"
        "mem,h,3,yesterday\n"
        ",h,4,40\n"
    ))
    rejects = tmp_path / "r.csv"
    account = ingest_file(store, "b", data, max_errors=-1, rejects_path=rejects)
    assert (account.rows_written, account.rows_rejected) == (1, 3) and account.balanced
    lines = rejects.read_text().splitlines()[1:]
    assert lines[0].startswith(f'"{data}",4,"n","1.5","not an integer')
    assert lines[1].startswith(f'"{data}",5,"time","yesterday","cannot parse time')
    assert lines[2].startswith(f'"{data}",6,"m",,"measurement is empty"')


def test_missing_measurement_is_a_clear_error(tmp_path: Path, store: Store) -> None:
    data = write_text(tmp_path / "nom.csv", "#datatype tag,double\nhost,v\na,1\n")
    with pytest.raises(ReaderError, match="no measurement column"):
        ingest_file(store, "b", data)


def test_unsupported_datatype_is_a_clear_error(tmp_path: Path, store: Store) -> None:
    data = write_text(tmp_path / "t.csv", "#datatype measurement,decimal\nm,v\nx,1\n")
    with pytest.raises(ReaderError, match="data type 'decimal' is not supported"):
        ingest_file(store, "b", data)


def test_precision_applies_to_number_times(tmp_path: Path) -> None:
    data = write_text(tmp_path / "p.csv", "m|measurement,v|long,t|dateTime:number\nx,1,5\n")
    assert dry(data, precision="s") == ["x v=1i 5"]


def test_excel_separator_line_and_iana_timezone(tmp_path: Path) -> None:
    data = write_text(tmp_path / "s.csv", (
        "sep=;\n"
        "#timezone America/New_York\n"
        "m|measurement;v|double;t|dateTime:2006-01-02 15:04\n"
        "x;1,5;2021-07-01 12:00\n".replace("1,5", "1.5")
    ))
    assert dry(data) == ["x v=1.5 1625155200000000000"]
