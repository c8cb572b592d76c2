"""Reshaping functions (pivot, union, fill, keys, columns, keyValues, reduce, table
extraction, experimental unpivot/group/preview) run through the real interpreter on
streams decoded from annotated CSV."""

from __future__ import annotations

import polars as pl
import pytest

from fluxlab.flux.context import Context
from fluxlab.flux.errors import FluxRuntimeError
from fluxlab.flux.interpreter import Interpreter
from fluxlab.flux.parser import parse
from fluxlab.flux.results import decode_stream
from fluxlab.flux.table import Stream, Table
from fluxlab.flux.values import Time

LOADS = """
#datatype,string,long,dateTime:RFC3339,double,string,string,string
#group,false,false,false,false,true,true,true
#default,_result,,,,,,
,result,table,_time,_value,_field,_measurement,host
,,0,2018-05-22T19:53:26Z,1.83,load1,system,host.local
,,0,2018-05-22T19:53:36Z,1.7,load1,system,host.local
,,1,2018-05-22T19:53:26Z,1.98,load15,system,host.local
,,1,2018-05-22T19:53:36Z,1.97,load15,system,host.local
,,2,2018-05-22T19:53:26Z,82.9,used_percent,swap,host.local
"""

INTS = """
#datatype,string,long,dateTime:RFC3339,long,string,string
#group,false,false,false,false,true,true
#default,_result,,,,,
,result,table,_time,_value,_field,host
,,0,2018-05-22T19:53:26Z,1,a,h1
,,0,2018-05-22T19:53:36Z,,a,h1
,,0,2018-05-22T19:53:46Z,3,a,h1
,,1,2018-05-22T19:53:26Z,,a,h2
,,1,2018-05-22T19:53:36Z,5,a,h2
"""


def run(source: str, **streams: Stream) -> Stream:
    """Run a Flux program whose last expression is the result, with streams predefined."""
    interp = Interpreter(Context(now=Time(1_893_456_000_000_000_000)))
    for name, value in streams.items():
        interp.globals.define(name, value)
    results = interp.run(parse(source))
    return results["_result"]


def value(source: str, name: str, **streams: Stream):
    interp = Interpreter(Context(now=Time(0)))
    for n, v in streams.items():
        interp.globals.define(n, v)
    interp.run(parse(source))
    return interp.globals.lookup(name)[1]


def by_key(stream: Stream) -> dict[tuple, Table]:
    return {t.key_values: t for t in stream}


# ------------------------------------------------------------------------------ pivot


def test_pivot_groups_by_remaining_key_and_labels_columns_in_first_seen_order() -> None:
    out = run('data |> pivot(rowKey: ["_time"], columnKey: ["_field", "_measurement"], '
              'valueColumn: "_value")', data=decode_stream(LOADS))
    (table,) = out.tables
    assert table.key == ("host",)
    assert table.df.columns == ["_time", "host", "load1_system", "load15_system",
                                "used_percent_swap"]
    assert table.df.get_column("load15_system").to_list() == [1.98, 1.97]
    assert table.df.get_column("used_percent_swap").to_list() == [82.9, None]


def test_pivot_keeps_other_key_columns_in_the_output_key() -> None:
    out = run('data |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")',
              data=decode_stream(LOADS))
    tables = by_key(out)
    assert set(tables) == {("system", "host.local"), ("swap", "host.local")}
    system = tables[("system", "host.local")]
    assert system.key == ("_measurement", "host")
    assert system.df.columns == ["_time", "_measurement", "host", "load1", "load15"]


def test_pivot_last_value_wins_and_null_label() -> None:
    df = pl.DataFrame({"t": [1, 1, 2], "k": ["a", "a", None], "v": [1.0, 2.0, 3.0]})
    out = run('data |> pivot(rowKey: ["t"], columnKey: ["k"], valueColumn: "v")',
              data=Stream([Table((), (), df)]))
    assert out.tables[0].df.to_dict(as_series=False) == {
        "t": [1, 2], "a": [2.0, None], "null": [None, 3.0]}


def test_pivot_float_and_bool_labels_follow_go_formatting() -> None:
    df = pl.DataFrame({"t": [1, 1], "k": [1.5, 100.0], "b": [True, False], "v": [1, 2]})
    out = run('data |> pivot(rowKey: ["t"], columnKey: ["k", "b"], valueColumn: "v")',
              data=Stream([Table((), (), df)]))
    assert out.tables[0].df.columns == ["t", "1.5E+00_true", "1E+02_false"]


def test_pivot_value_types_may_differ_between_tables() -> None:
    a = pl.DataFrame({"_time": [1, 2], "_field": ["f", "f"], "_value": [1.5, 2.5]})
    b = pl.DataFrame({"_time": [2, 3], "_field": ["i", "i"], "_value": [7, 8]})
    data = Stream([Table.from_frame(a, ["_field"]), Table.from_frame(b, ["_field"])])
    out = run('data |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")',
              data=data)
    (table,) = out.tables
    assert table.df.schema["f"] == pl.Float64 and table.df.schema["i"] == pl.Int64
    assert table.df.get_column("_time").to_list() == [1, 2, 3]
    assert table.df.get_column("i").to_list() == [None, 7, 8]


def test_pivot_empty_table_keeps_its_key_and_row_columns() -> None:
    empty = pl.DataFrame(schema={"_time": pl.Int64, "_field": pl.String, "_value": pl.Float64,
                                 "host": pl.String})
    data = Stream([Table(("_field", "host"), ("f", "h"), empty)])
    out = run('data |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")',
              data=data)
    (table,) = out.tables
    assert table.key == ("host",) and table.key_values == ("h",)
    assert table.df.columns == ["_time", "host"] and table.height == 0


def test_pivot_errors_name_the_missing_column_and_overlapping_keys() -> None:
    with pytest.raises(FluxRuntimeError, match="nope"):
        run('data |> pivot(rowKey: ["nope"], columnKey: ["_field"], valueColumn: "_value")',
            data=decode_stream(LOADS))
    with pytest.raises(FluxRuntimeError, match="both rowKey and columnKey"):
        run('data |> pivot(rowKey: ["_time"], columnKey: ["_time"], valueColumn: "_value")',
            data=decode_stream(LOADS))


# ------------------------------------------------------------------------------ union, fill


def test_union_merges_tables_with_equal_keys_and_unions_schemas() -> None:
    a = Stream([Table.from_frame(pl.DataFrame({"k": ["x"], "v": [1]}), ["k"])])
    b = Stream([Table.from_frame(pl.DataFrame({"k": ["x", "y"], "w": [2.0, 3.0]}), ["k"])])
    b = Stream.from_frame(b.tables[0].df, ["k"])
    out = by_key(run("union(tables: [a, b])", a=a, b=b))
    assert out[("x",)].df.to_dict(as_series=False) == {"k": ["x", "x"], "v": [1, None],
                                                        "w": [None, 2.0]}
    assert out[("y",)].height == 1
    with pytest.raises(FluxRuntimeError, match="at least two"):
        run("union(tables: [a])", a=a)


def test_fill_with_value_and_with_previous() -> None:
    data = decode_stream(INTS)
    filled = by_key(run("data |> fill(value: 0)", data=data))
    assert filled[("a", "h1")].df.get_column("_value").to_list() == [1, 0, 3]
    previous = by_key(run("data |> fill(usePrevious: true)", data=data))
    assert previous[("a", "h1")].df.get_column("_value").to_list() == [1, 1, 3]
    # the previous value never leaks from one table into the next
    assert previous[("a", "h2")].df.get_column("_value").to_list() == [None, 5]


def test_fill_type_mismatch_missing_column_and_key_column() -> None:
    data = decode_stream(INTS)
    with pytest.raises(FluxRuntimeError, match="fill column type mismatch: int/float"):
        run("data |> fill(value: 0.0)", data=data)
    added = run('data |> fill(column: "extra", value: "x")', data=data)
    assert added.tables[0].df.get_column("extra").to_list() == ["x", "x", "x"]
    assert run('data |> fill(column: "extra", usePrevious: true)', data=data).tables[0].df.columns \
        == ["_time", "_value", "_field", "host"]
    keyed = Stream([Table(("tag",), (None,), pl.DataFrame({"tag": [None], "v": [1]},
                                                          schema={"tag": pl.String, "v": pl.Int64}))])
    out = run('data |> fill(column: "tag", value: "none")', data=keyed)
    assert out.tables[0].key_values == ("none",)
    assert out.tables[0].df.get_column("tag").to_list() == ["none"]


# ------------------------------------------------------------------------------ keys, columns, keyValues


def test_keys_and_columns_list_labels_with_key_values() -> None:
    data = decode_stream(INTS)
    out = by_key(run("data |> keys()", data=data))
    assert out[("a", "h2")].df.to_dict(as_series=False) == {
        "_field": ["a", "a"], "host": ["h2", "h2"], "_value": ["_field", "host"]}
    cols = by_key(run('data |> columns(column: "c")', data=data))
    assert cols[("a", "h1")].df.get_column("c").to_list() == ["_time", "_value", "_field", "host"]


def test_key_values_are_distinct_across_columns_in_row_order() -> None:
    df = pl.DataFrame({"m": ["m"] * 4, "host": ["h0", "h1", "h1", "x"],
                       "name": ["n0", "n1", "n1", "h0"]})
    data = Stream([Table.from_frame(df, ["m"])])
    out = run('data |> keyValues(keyColumns: ["host", "name"])', data=data)
    assert out.tables[0].df.to_dict(as_series=False) == {
        "m": ["m"] * 5,
        "_key": ["host", "name", "host", "name", "host"],
        "_value": ["h0", "n0", "h1", "n1", "x"],
    }
    with pytest.raises(FluxRuntimeError, match="not having key columns"):
        run('data |> keyValues(keyColumns: ["nope"])', data=data)


# ------------------------------------------------------------------------------ reduce, table functions


def test_reduce_folds_each_table_into_one_row() -> None:
    data = decode_stream(LOADS)
    out = by_key(run("data |> reduce(fn: (r, accumulator) => ({sum: r._value + accumulator.sum, "
                     "n: accumulator.n + 1}), identity: {sum: 0.0, n: 0})", data=data))
    load1 = out[("load1", "system", "host.local")]
    assert load1.df.to_dict(as_series=False) == {
        "_field": ["load1"], "_measurement": ["system"], "host": ["host.local"],
        "sum": [pytest.approx(3.53)], "n": [2]}


def test_find_column_and_record_and_table_find() -> None:
    data = decode_stream(LOADS)
    src = """
col = data |> findColumn(fn: (key) => key._field == "load15", column: "_value")
none = data |> findColumn(fn: (key) => key._field == "x", column: "_value")
rec = data |> findRecord(fn: (key) => key._field == "load1", idx: 1)
missing = data |> findRecord(fn: (key) => true, idx: 99)
t = data |> tableFind(fn: (key) => key._measurement == "swap")
swap = t |> getColumn(column: "_value")
first = t |> getRecord(idx: 0)
"""
    assert value(src, "col", data=data) == [1.98, 1.97]
    assert value(src, "none", data=data) == []
    rec = value(src, "rec", data=data)
    assert rec["_value"] == 1.7 and rec["_time"] == Time(1527018816_000_000_000)
    assert value(src, "missing", data=data) == {}
    assert value(src, "swap", data=data) == [82.9]
    assert value(src, "first", data=data)["_field"] == "used_percent"
    with pytest.raises(FluxRuntimeError, match="no table found"):
        value('t = data |> tableFind(fn: (key) => false)', "t", data=data)


# ------------------------------------------------------------------------------ experimental


def test_unpivot_turns_columns_into_field_tables_and_drops_nulls() -> None:
    df = pl.DataFrame({"_measurement": ["m", "m"], "_time": [1, 2], "a": [1.0, None],
                       "b": [3.0, 4.0]})
    data = Stream([Table.from_frame(df, ["_measurement"])])
    out = by_key(run('import "experimental"\ndata |> experimental.unpivot()', data=data))
    assert out[("m", "a")].df.to_dict(as_series=False) == {
        "_measurement": ["m"], "_field": ["a"], "_time": [1], "_value": [1.0]}
    assert out[("m", "b")].key == ("_measurement", "_field")
    merged = run('import "experimental"\n'
                 'data |> experimental.unpivot(otherColumns: ["_time", "_field"])', data=data)
    assert len(merged) == 1 and merged.tables[0].height == 3


def test_preview_and_group_extend() -> None:
    data = decode_stream(INTS)
    out = run('import "experimental"\ndata |> experimental.preview(nrows: 1, ntables: 1)',
              data=data)
    assert len(out) == 1 and out.tables[0].height == 1
    extended = run('import "experimental"\n'
                   'data |> experimental.group(columns: ["_value"], mode: "extend")', data=data)
    assert {t.key for t in extended} == {("_field", "host", "_value")}


def test_experimental_fill_fills_value_column() -> None:
    out = by_key(run('import "experimental"\ndata |> experimental.fill(value: 7)',
                     data=decode_stream(INTS)))
    assert out[("a", "h2")].df.get_column("_value").to_list() == [7, 5]


def test_reduce_vector_path_matches_the_row_wise_fold(monkeypatch: pytest.MonkeyPatch) -> None:
    import fluxlab.flux.stdlib.tablefns as tablefns

    data = decode_stream(LOADS)
    src = ("data |> reduce(fn: (r, accumulator) => ({sum: accumulator.sum + r._value * 2.0, "
           "n: 1 + accumulator.n, last: r._time}), "
           "identity: {sum: 0.5, n: 0, last: 1970-01-01T00:00:00Z})")
    table = data.tables[0]
    interp = Interpreter(Context())
    fn = interp.eval(parse("f = (r, accumulator) => ({sum: accumulator.sum + r._value * 2.0, "
                           "n: 1 + accumulator.n, last: r._time})").body[0].init, interp.globals)
    identity = {"sum": 0.5, "n": 0, "last": Time(0)}
    assert tablefns.vector_reduce(interp.ctx, table, fn, identity) is not None
    fast = by_key(run(src, data=data))
    monkeypatch.setattr(tablefns, "vector_reduce", lambda *args: None)  # row-wise fold only
    slow = by_key(run(src, data=data))
    assert set(fast) == set(slow)
    for key, t in fast.items():
        assert t.df.equals(slow[key].df)
    assert fast[("load1", "system", "host.local")].df.get_column("n").to_list() == [2]


def test_reduce_null_values_fall_back_to_flux_null_propagation() -> None:
    out = by_key(run("data |> reduce(fn: (r, accumulator) => ({s: accumulator.s + r._value}), "
                     "identity: {s: 0})", data=decode_stream(INTS)))
    assert out[("a", "h1")].df.get_column("s").to_list() == [None]
