"""Universe core functions on small hand-built data, and from() over a real store."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pyarrow as pa
import pytest

from fluxlab.flux import run
from fluxlab.flux.compile import RowFunction
from fluxlab.flux.context import Context
from fluxlab.flux.errors import FluxRuntimeError, FluxTypeError
from fluxlab.flux.interpreter import Interpreter
from fluxlab.flux.parser import parse
from fluxlab.flux.stdlib.from_store import translate_filter
from fluxlab.flux.table import Stream
from fluxlab.model.points import PointBatch
from fluxlab.storage import And, Cmp, Store

NOW = 1_893_456_000_000_000_000  # 2030-01-01T00:00:00Z

DATA = """
import "csv"
data = csv.from(csv: "
#datatype,string,long,string,string,dateTime:RFC3339,double
#group,false,false,true,true,false,false
#default,_result,,,,,
,result,table,_measurement,host,_time,_value
,,0,cpu,a,2021-01-01T00:00:00Z,1.0
,,0,cpu,a,2021-01-01T00:00:10Z,5.0
,,0,cpu,a,2021-01-01T00:00:20Z,
,,1,cpu,b,2021-01-01T00:00:00Z,3.0
,,1,cpu,b,2021-01-01T00:00:10Z,2.0
")
"""


def query(body: str) -> Stream:
    return run(DATA + body, now=NOW)["_result"]


def tables_as_lists(stream: Stream, column: str) -> dict[tuple, list]:
    return {t.key_values: t.df.get_column(column).to_list() for t in stream}


def test_range_filters_half_open_and_adds_bounds_to_key() -> None:
    out = query("data |> range(start: 2021-01-01T00:00:00Z, stop: 2021-01-01T00:00:10Z)")
    assert [t.key for t in out] == [("_start", "_stop", "_measurement", "host")] * 2
    assert [t.df.get_column("_value").to_list() for t in out] == [[1.0], [3.0]]
    assert out.tables[0].df.columns[:2] == ["_start", "_stop"]


def test_range_accepts_negative_durations_and_integer_seconds() -> None:
    relative = query("data |> range(start: -10y)")
    seconds = query("data |> range(start: 1609459205, stop: 1609459215)")
    assert sum(t.height for t in relative) == 5
    assert [t.df.get_column("_value").to_list() for t in seconds] == [[5.0], [2.0]]


def test_filter_drops_nulls_and_empty_tables_unless_kept() -> None:
    out = query("data |> filter(fn: (r) => r._value > 2.5)")
    assert tables_as_lists(out, "_value") == {("cpu", "a"): [5.0], ("cpu", "b"): [3.0]}
    dropped = query('data |> filter(fn: (r) => r.host == "a")')
    kept = query('data |> filter(fn: (r) => r.host == "a", onEmpty: "keep")')
    assert len(dropped) == 1 and len(kept) == 2


def test_map_changes_columns_and_regroups_changed_keys() -> None:
    out = query('data |> map(fn: (r) => ({r with host: "all", v2: r._value * 2.0}))')
    assert len(out) == 1
    (table,) = out.tables
    assert table.key == ("_measurement", "host")
    assert table.df.get_column("v2").to_list() == [2.0, 10.0, None, 6.0, 4.0]
    dropped_key = query("data |> map(fn: (r) => ({_value: r._value}))")
    assert all(t.key == () for t in dropped_key)


def test_group_by_and_except_modes() -> None:
    by_host = query('data |> group(columns: ["host"])')
    assert sorted(t.key_values for t in by_host) == [("a",), ("b",)]
    merged = query("data |> group()")
    assert len(merged) == 1 and merged.tables[0].height == 5
    except_ = query('data |> group(columns: ["_time", "_value"], mode: "except")')
    assert {t.key for t in except_} == {("_measurement", "host")}


def test_sort_puts_nulls_last_ascending_first_descending_and_limit_offsets() -> None:
    out = query('data |> sort(columns: ["_value"], desc: false) |> limit(n: 2, offset: 0)')
    assert tables_as_lists(out, "_value") == {("cpu", "a"): [1.0, 5.0], ("cpu", "b"): [2.0, 3.0]}
    out = query("data |> sort(desc: true) |> limit(n: 2, offset: 1)")
    assert tables_as_lists(out, "_value") == {("cpu", "a"): [5.0, 1.0], ("cpu", "b"): [2.0]}


def test_drop_keep_rename_duplicate_set() -> None:
    out = query('data |> drop(columns: ["host"])')
    assert len(out) == 1 and out.tables[0].key == ("_measurement",)
    kept = query('data |> keep(fn: (column) => column == "_value" or column == "host")')
    assert kept.tables[0].columns == ["host", "_value"]
    renamed = query('data |> rename(columns: {host: "server"})')
    assert renamed.tables[0].key == ("_measurement", "server")
    dup = query('data |> duplicate(column: "host", as: "h2")')
    assert dup.tables[0].df.get_column("h2").to_list() == ["a", "a", "a"]
    assert "h2" not in dup.tables[0].key
    set_ = query('data |> set(key: "host", value: "z")')
    assert len(set_) == 1 and set_.tables[0].key_values == ("cpu", "z")


def test_type_conversions_on_values_and_columns() -> None:
    out = query("data |> toInt()")
    assert out.tables[0].df.get_column("_value").to_list() == [1, 5, None]
    out = query('data |> map(fn: (r) => ({s: string(v: r._value), i: int(v: "42")}))')
    assert out.tables[0].df.get_column("s").to_list() == ["1", "5", None, "3", "2"]
    with pytest.raises(FluxRuntimeError, match="cannot convert string"):
        run('x = int(v: "4.5")')


def _row_function(source: str) -> RowFunction:
    ctx = Context()
    interp = Interpreter(ctx)
    interp.run(parse("f = " + source))
    return ctx.row_function(interp.globals.lookup("f")[1])


def test_compiled_and_rowwise_paths_agree() -> None:
    df = pl.DataFrame({"a": [1, None, 3], "s": ["x", "yy", None]})
    compiled = _row_function('(r) => ({r with b: r.a * 2, t: "${r.s}!", ok: r.a > 1})')
    # a user-defined function call is not compilable: forces the exact row-wise path
    rowwise = _row_function('(r) => ({r with b: (() => r.a * 2)(), t: r.s + "!", ok: r.a > 1})')
    fast = compiled.map_frame(df)
    slow = rowwise.map_frame(df)
    assert fast.get_column("b").to_list() == slow.get_column("b").to_list() == [2, None, 6]
    assert fast.get_column("ok").to_list() == slow.get_column("ok").to_list() == [False, None, True]
    mask = _row_function("(r) => r.a >= 1 and exists r.s").filter_mask(df)
    assert mask.to_list() == [True, False, False]


def test_map_rejects_non_record_results() -> None:
    df = pl.DataFrame({"a": [1]})
    with pytest.raises(FluxTypeError, match="must return a record"):
        _row_function("(r) => (() => r.a)()").map_frame(df)


# ----------------------------------------------------------------------------- from() and pushdown


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "store")
    s.create_bucket("b")
    table = pa.table(
        {
            "time": pa.array([1, 2, 3, 4], pa.int64()),
            "host": ["a", None, "b", "a"],
            "usage": [1.0, 2.0, 3.0, 4.0],
        }
    )
    s.write("b", [PointBatch("cpu", table, ("host",), ("usage",))])
    return s


def test_from_range_filter_reads_series_tables(store: Store) -> None:
    src = """
    from(bucket: "b")
        |> range(start: 0, stop: 2030-01-01T00:00:00Z)
        |> filter(fn: (r) => r._measurement == "cpu" and r.host != "b")
    """
    out = run(src, source_store=store)["_result"]
    by_key = {t.key: t for t in out}
    assert set(by_key) == {
        ("_start", "_stop", "_field", "_measurement", "host"),
        ("_start", "_stop", "_field", "_measurement"),
    }
    table = by_key[("_start", "_stop", "_field", "_measurement", "host")]
    hostless = by_key[("_start", "_stop", "_field", "_measurement")]
    influx_order = ["_start", "_stop", "_time", "_value", "_field", "_measurement", "host"]
    assert table.df.columns == influx_order
    assert table.df.get_column("_value").to_list() == [1.0, 4.0]
    # like InfluxDB's pushed-down filter, a series without the tag compares as ""
    assert hostless.df.get_column("_value").to_list() == [2.0]


def test_filter_translation_is_exact_only_when_safe() -> None:
    ctx = Context()
    interp = Interpreter(ctx)
    interp.run(parse('m = "cpu"\nf = (r) => r._measurement == m and r.host == "a"\n'
                     'g = (r) => r._field == "x" and r._value > 1\n'
                     'h = (r) => r._value > 1 or r.host == "a"'))
    pred, exact = translate_filter(ctx, interp.globals.lookup("f")[1])
    assert pred == And([Cmp("_measurement", "==", "cpu"), Cmp("host", "==", "a")]) and exact
    pred, exact = translate_filter(ctx, interp.globals.lookup("g")[1])
    assert pred == Cmp("_field", "==", "x") and not exact  # _value is checked after the scan
    assert translate_filter(ctx, interp.globals.lookup("h")[1]) is None


def test_from_requires_range_like_influxdb(store: Store) -> None:
    with pytest.raises(FluxRuntimeError, match="unbounded read"):
        run('from(bucket: "b") |> count()', source_store=store)


@pytest.mark.parametrize("fn", ["count", "sum", "mean", "first", "last"])
def test_aggregate_pushdown_matches_the_row_path(store: Store, fn: str) -> None:
    from fluxlab.flux.stdlib.testing import diff_streams

    base = 'from(bucket: "b") |> range(start: 0, stop: 2030-01-01T00:00:00Z)'
    calls: list[str] = []
    original = store.scan_aggregate

    def counting(*args: object, **kwargs: object) -> object:
        calls.append(str(kwargs["fn"]))
        return original(*args, **kwargs)  # type: ignore[arg-type]

    store.scan_aggregate = counting  # type: ignore[method-assign]
    pushed = run(f"{base} |> {fn}()", source_store=store)["_result"]
    assert calls == [fn]  # computed in the store, not from scanned rows
    # `filter(fn: (r) => true)` cannot be translated, so the scan is read row by row
    rows = run(f"{base} |> filter(fn: (r) => true) |> {fn}()", source_store=store)["_result"]
    assert len(pushed) == 3
    assert diff_streams(pushed, rows) == []
    assert [t.df.columns for t in pushed] == [t.df.columns for t in rows]


def test_range_drops_emptied_tables_and_clips_existing_bounds() -> None:
    out = query("data |> range(start: 2021-01-01T00:00:20Z, stop: 2021-01-01T00:01:00Z)")
    assert [t.key_values[2:] for t in out] == [("cpu", "a")]  # host b has no row left
    nested = query(
        "data |> range(start: 2021-01-01T00:00:00Z, stop: 2021-01-01T00:00:15Z)"
        " |> range(start: 2020-01-01T00:00:00Z, stop: 2021-01-01T00:00:12Z)"
    )
    bounds = nested.tables[0].df.select(pl.col("_start", "_stop").dt.epoch("s")).row(0)
    assert bounds == (1609459200, 1609459212)  # intersection of both ranges


@pytest.mark.parametrize(
    "source",
    [
        '(r) => r._measurement == "cpu" and r._value > 2.5 or not exists r.host',
        '(r) => r.host =~ /^a|b$/ and r._value * 2.0 >= 1.0',
        '(r) => strings.hasPrefix(v: r.host, prefix: "a") or r._time < 2021-01-01T00:00:10Z',
        '(r) => (if r._value > 1.0 then "big" else "small") == "big"',
    ],
)
def test_common_predicates_compile_to_polars(source: str) -> None:
    ctx = Context()
    interp = Interpreter(ctx)
    interp.run(parse('import "strings"\nf = ' + source))
    row_fn = ctx.row_function(interp.globals.lookup("f")[1])
    df = query("data").tables[0].df
    compiled = row_fn.compile_value(df)  # raises NotCompilable if it would run row by row
    assert compiled.kind == "bool"
    fast = row_fn.filter_mask(df).to_list()
    slow = [v is True for v in row_fn.eval_rows(df)]
    assert fast == slow


def _regroup_one_table_at_a_time(pieces: list) -> list:
    """Reference for core.regroup: split each input on its own, merge equal keys."""
    from fluxlab.flux.stdlib.core import _key_identity
    from fluxlab.flux.table import Table

    merged: dict = {}
    for key, df in pieces:
        for part in df.partition_by(list(key), maintain_order=True) if key and df.height else [df]:
            table = Table.from_frame(part, key)
            ident = (tuple(sorted(key)), _key_identity(table))
            merged.setdefault(ident, (key, [], table.key_values))[1].append(part)
    return [(k, v, pl.concat(f, how="diagonal")) for k, f, v in merged.values()]


def test_regroup_of_many_tables_equals_splitting_each_table() -> None:
    """Runs of same-schema inputs are split by one partition: same tables, same order,
    same rows as splitting every input table separately (mixed schemas and empties)."""
    from fluxlab.flux.stdlib.core import regroup

    pieces = []
    for i in range(40):
        df = pl.DataFrame({"g": [f"k{(i + j) % 5}" for j in range(6)], "v": list(range(6))})
        if i % 7 == 3:
            df = df.with_columns(pl.lit(i).alias("extra"))
        if i % 11 == 5:
            df = df.head(0)
        pieces.append((("g",) if i % 13 else (), df))
    got = regroup(pieces).tables
    want = _regroup_one_table_at_a_time(pieces)
    assert len(got) == len(want) > 5
    for t, (key, values, df) in zip(got, want, strict=True):
        assert (t.key, t.key_values) == (key, values)
        assert t.df.equals(df)
