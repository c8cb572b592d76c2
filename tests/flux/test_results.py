"""Annotated CSV decoding and InfluxDB-compatible encoding (fluxlab.flux.results)."""

from __future__ import annotations

import math

import polars as pl
import pytest

from fluxlab.flux.errors import FluxRuntimeError
from fluxlab.flux.results import decode, decode_stream, encode, encode_error
from fluxlab.flux.table import TIME_TYPE, Stream, Table
from fluxlab.flux.values import Time

TWO_BLOCKS = """
#datatype,string,long,string,string,dateTime:RFC3339,double
#group,false,false,true,true,false,false
#default,_result,,,,,
,result,table,_measurement,_field,_time,_value
,,0,cpu,usage,2018-12-18T20:52:33Z,1.5
,,0,cpu,usage,2018-12-18T20:52:43.123456789Z,
,,1,cpu,idle,2018-12-18T21:52:33+01:00,3

#datatype,string,long,string,string,dateTime:RFC3339Nano,string
#group,false,false,true,true,false,false
#default,other,,,,,fallback
,result,table,_measurement,_field,_time,_value
,,0,mem,note,2018-12-18T20:52:33Z,"a, ""quoted"" value"
,,0,mem,note,2018-12-18T20:52:34Z,
"""


def test_decode_splits_results_tables_and_types() -> None:
    results = decode(TWO_BLOCKS)
    assert list(results) == ["_result", "other"]
    first = results["_result"].tables
    assert [t.key_values for t in first] == [("cpu", "usage"), ("cpu", "idle")]
    usage = first[0].df
    assert usage.schema["_value"] == pl.Float64
    assert usage.schema["_time"] == TIME_TYPE
    assert usage.get_column("_value").to_list() == [1.5, None]  # empty -> null
    ns = usage.get_column("_time").dt.epoch("ns").to_list()
    assert ns[1] == 1545166363123456789  # nanoseconds kept exactly
    idle = first[1].df
    assert idle.get_column("_time").dt.epoch("s").to_list() == [1545166353]  # +01:00 -> UTC
    notes = results["other"].tables[0].df.get_column("_value").to_list()
    assert notes == ['a, "quoted" value', "fallback"]  # quoted field, #default fills empties


def test_decode_empty_table_takes_key_from_default_row() -> None:
    text = (
        "#datatype,string,long,string,double\n"
        "#group,false,false,true,false\n"
        "#default,_result,3,cpu,\n"
        ",result,table,host,_value\n"
    )
    (table,) = decode_stream(text).tables
    assert table.height == 0
    assert table.key == ("host",) and table.key_values == ("cpu",)
    assert table.df.schema["_value"] == pl.Float64


def test_decode_reports_bad_values_with_column_name() -> None:
    text = (
        "#datatype,string,long,long\n#group,false,false,false\n#default,,,\n"
        ",result,table,n\n,,0,x1\n"
    )
    with pytest.raises(FluxRuntimeError, match="column 'n'.*long"):
        decode(text)


def _table(df: pl.DataFrame, key: tuple[str, ...]) -> Table:
    return Table.from_frame(df, key)


def _frame(host: str, times: list[int], values: list[float | None]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "_time": pl.Series(times, dtype=pl.Int64).cast(TIME_TYPE),
            "_value": pl.Series(values, dtype=pl.Float64),
            "host": [host] * len(times),
        }
    )


def test_encode_matches_influxdb_bytes() -> None:
    a = _table(_frame("a", [1_000_000_000, 1_500_000_000], [1.0, 0.1]), ("host",))
    b = _table(_frame("b,c", [2_000_000_123], [None]), ("host",))
    counts = Table((), (), pl.DataFrame({"n": pl.Series([3], dtype=pl.Int64)}))
    text = encode({"_result": Stream([a, b, counts])})
    expected = (
        "#group,false,false,false,false,true\r\n"
        "#datatype,string,long,dateTime:RFC3339,double,string\r\n"
        "#default,_result,,,,\r\n"
        ",result,table,_time,_value,host\r\n"
        ",,0,1970-01-01T00:00:01Z,1,a\r\n"
        ",,0,1970-01-01T00:00:01.5Z,0.1,a\r\n"
        ',,1,1970-01-01T00:00:02.000000123Z,,"b,c"\r\n'
        "\r\n"
        "#group,false,false,false\r\n"
        "#datatype,string,long,long\r\n"
        "#default,_result,,\r\n"
        ",result,table,n\r\n"
        ",,2,3\r\n"
        "\r\n"
    )
    assert text == expected


def test_encode_floats_like_go_strconv() -> None:
    values = [1e21, 1e-7, 123456789.125, -0.0, math.inf, -math.inf, math.nan, 2.5]
    table = Table((), (), pl.DataFrame({"v": pl.Series(values, dtype=pl.Float64)}))
    lines = encode(Stream([table])).split("\r\n")[4:12]
    rendered = [line.split(",")[3] for line in lines]
    assert rendered == [
        "1000000000000000000000",
        "0.0000001",
        "123456789.125",
        "-0",
        "+Inf",
        "-Inf",
        "NaN",
        "2.5",
    ]


def test_encode_empty_table_writes_key_in_default_row() -> None:
    df = _frame("a", [1], [1.0]).clear()
    table = Table(("host",), ("a",), df)
    text = encode(Stream([table]))
    assert "#default,_result,0,,,a\r\n,result,table,_time,_value,host\r\n\r\n" in text


def test_round_trip_preserves_tables() -> None:
    original = decode(TWO_BLOCKS)
    again = decode(encode(original))
    assert list(again) == list(original)
    for name in original:
        for before, after in zip(original[name], again[name], strict=True):
            assert before.key == after.key
            assert before.df.equals(after.df)


def test_encode_without_annotations_names_result_in_rows() -> None:
    table = Table((), (), pl.DataFrame({"n": pl.Series([1, 2], dtype=pl.Int64)}))
    text = encode({"mean": Stream([table])}, annotations=())
    assert text == ",result,table,n\r\n,mean,0,1\r\n,mean,0,2\r\n\r\n"


def test_encode_empty_table_with_time_key_value() -> None:
    df = _frame("a", [1], [1.0]).clear().with_columns(pl.col("_time").alias("_start"))
    table = Table(("_start",), (Time(1_500_000_000),), df)
    assert "#default,_result,0,,,,1970-01-01T00:00:01.5Z\r\n" in encode(Stream([table]))


def test_decode_raises_an_influxdb_error_table() -> None:
    text = (
        "#datatype,string,string\r\n#group,true,true\r\n#default,,\r\n"
        ",error,reference\r\n,\"type error 1:1-1:4: undefined identifier foo\",\r\n"
    )
    with pytest.raises(FluxRuntimeError, match="query failed: type error.*undefined identifier"):
        decode(text)


def test_encode_honours_annotation_order_and_encodes_errors() -> None:
    table = Table((), (), pl.DataFrame({"n": pl.Series([1], dtype=pl.Int64)}))
    text = encode(Stream([table]), annotations=("datatype", "group", "default"))
    assert text.startswith("#datatype,string,long,long\r\n#group,false,false,false\r\n")
    error = encode_error("bad, query", annotations=("datatype", "group", "default"))
    assert error == (
        "#datatype,string,string\r\n#group,true,true\r\n#default,,\r\n"
        ',error,reference\r\n,"bad, query",\r\n'
    )
    with pytest.raises(FluxRuntimeError, match="bad, query"):
        decode(error)
