"""universe.join, the join package and experimental.join through the real interpreter."""

from __future__ import annotations

import polars as pl
import pytest

from fluxlab.flux.context import Context
from fluxlab.flux.errors import FluxRuntimeError
from fluxlab.flux.interpreter import Interpreter
from fluxlab.flux.parser import parse
from fluxlab.flux.results import decode_stream
from fluxlab.flux.table import Stream, Table

DATA = """
#datatype,string,long,dateTime:RFC3339,double,string,string,string
#group,false,false,false,false,true,true,true
#default,_result,,,,,,
,result,table,_time,_value,_measurement,user,_field
,,0,2018-05-22T19:53:26Z,0,CPU,user1,a
,,0,2018-05-22T19:53:36Z,1,CPU,user1,a
,,1,2018-05-22T19:53:26Z,4,CPU,user2,a
,,1,2018-05-22T19:53:36Z,20,CPU,user2,a
,,1,2018-05-22T19:53:46Z,7,CPU,user2,a
,,2,2018-05-22T19:53:26Z,1,RAM,user1,b
,,2,2018-05-22T19:53:36Z,2,RAM,user1,b
,,3,2018-05-22T19:53:36Z,4,RAM,user2,b
,,3,2018-05-22T19:53:26Z,2,RAM,user2,b
"""


def run(source: str, **streams: Stream) -> Stream:
    interp = Interpreter(Context())
    for name, value in streams.items():
        interp.globals.define(name, value)
    return interp.run(parse(source))["_result"]


def regroup(stream: Stream, key: list[str], where: pl.Expr) -> Stream:
    df = pl.concat([t.df for t in stream]).filter(where)
    return Stream.from_frame(df, key)


def by_key(stream: Stream) -> dict[tuple, Table]:
    return {t.key_values: t for t in stream}


def test_join_renames_shared_columns_and_unions_group_keys() -> None:
    data = decode_stream(DATA)
    left = regroup(data, ["user"], pl.col("user") == "user1")
    right = regroup(data, ["_measurement", "_field"], pl.col("user") == "user2")
    out = run('join(tables: {right: right, left: left}, on: ["_time", "_measurement", "_field"])',
              left=left, right=right)
    tables = by_key(out)
    assert set(tables) == {("a", "CPU", "user1"), ("b", "RAM", "user1")}
    ram = tables[("b", "RAM", "user1")]
    assert ram.key == ("_field", "_measurement", "user_left")
    assert ram.df.columns == ["_field", "_measurement", "_time", "_value_left", "_value_right",
                              "user_left", "user_right"]
    # rows come out sorted by the `on` columns, whatever the input order
    assert ram.df.get_column("_value_left").to_list() == [1.0, 2.0]
    assert ram.df.get_column("_value_right").to_list() == [2.0, 4.0]


def test_join_many_groups_to_one_table() -> None:
    lhs = Stream.from_frame(pl.DataFrame({"interface": ["p1", "p1", "p2"],
                                          "router": ["r1", "r2", "r1"], "_value": [1, 2, 3]}),
                            ["interface", "router"])
    rhs = Stream([Table((), (), pl.DataFrame({"router": ["r1", "r2", "r1"],
                                              "interface": ["p1", "p1", "p2"],
                                              "data": ["a", "b", "c"]}))])
    out = by_key(run('join(tables: {left: left, right: right}, on: ["router", "interface"])',
                     left=lhs, right=rhs))
    assert out[("p1", "r2")].df.to_dict(as_series=False) == {
        "_value": [2], "data": ["b"], "interface": ["p1"], "router": ["r2"]}
    assert len(out) == 3


def test_join_skips_tables_missing_on_columns_and_never_matches_nulls() -> None:
    a = Stream([
        Table((), (), pl.DataFrame({"_time": [1], "x": [1]})),
        Table(("org",), ("o1",), pl.DataFrame({"org": ["o1"], "x": [2]})),
        Table(("org",), (None,), pl.DataFrame({"org": [None], "x": [3]},
                                              schema={"org": pl.String, "x": pl.Int64})),
    ])
    b = Stream([Table(("org",), ("o1",), pl.DataFrame({"org": ["o1"], "y": [9]})),
                Table(("org",), (None,), pl.DataFrame({"org": [None], "y": [8]},
                                                      schema={"org": pl.String, "y": pl.Int64}))])
    out = run('join(tables: {a: a, b: b}, on: ["org"])', a=a, b=b)
    assert [t.df.to_dict(as_series=False) for t in out] == [{"org": ["o1"], "x": [2], "y": [9]}]


def test_join_argument_errors() -> None:
    s = Stream([Table((), (), pl.DataFrame({"a": [1]}))])
    with pytest.raises(FluxRuntimeError, match="exactly two"):
        run('join(tables: {a: a}, on: ["a"])', a=s)
    with pytest.raises(FluxRuntimeError, match="not a valid join type"):
        run('join(tables: {a: a, b: b}, on: ["a"], method: "left")', a=s, b=s)


LEFT = pl.DataFrame({"_time": [1, 2], "v": [10, 20], "tag": ["t", "t"]})
RIGHT = pl.DataFrame({"_time": [2, 3], "w": [200, 300], "tag": ["t", "t"]})


def _streams() -> dict[str, Stream]:
    return {"l": Stream.from_frame(LEFT, ["tag"]), "r": Stream.from_frame(RIGHT, ["tag"])}


@pytest.mark.parametrize(
    ("method", "rows"),
    [
        ("inner", {"_time": [2], "v": [20], "w": [200]}),
        ("left", {"_time": [1, 2], "v": [10, 20], "w": [None, 200]}),
        ("right", {"_time": [2, 3], "v": [20, None], "w": [200, 300]}),
        ("full", {"_time": [1, 2, 3], "v": [10, 20, None], "w": [None, 200, 300]}),
    ],
)
def test_join_package_methods(method: str, rows: dict) -> None:
    src = ('import "join"\n'
           f"join.{method}(left: l, right: r, on: (l, r) => l._time == r._time,\n"
           "  as: (l, r) => ({_time: if exists l._time then l._time else r._time,"
           " v: l.v, w: r.w, tag: if exists l.tag then l.tag else r.tag}))")
    (table,) = run(src, **_streams()).tables
    assert table.key == ("tag",)
    assert table.df.select("_time", "v", "w").to_dict(as_series=False) == rows


def test_join_package_default_record_keeps_group_key() -> None:
    src = ('import "join"\n'
           'join.left(left: l, right: r, on: (l, r) => l._time == r._time,'
           ' as: (l, r) => ({l with rtag: r.tag, w: r.w}))')
    (table,) = run(src, **_streams()).tables
    assert table.df.get_column("rtag").to_list() == ["t", "t"]


def test_join_package_rejects_non_equality_predicates() -> None:
    src = ('import "join"\n'
           'join.inner(left: l, right: r, on: (l, r) => l._time > r._time, as: (l, r) => l)')
    with pytest.raises(FluxRuntimeError, match="compare properties"):
        run(src, **_streams())


def test_join_time_and_experimental_join() -> None:
    src = ('import "join"\n'
           'join.time(left: l, right: r, as: (l, r) => ({l with w: r.w}))')
    assert run(src, **_streams()).tables[0].df.get_column("w").to_list() == [200]
    src = ('import "experimental"\n'
           'experimental.join(left: l, right: r, fn: (left, right) => ({left with w: right.w}))')
    (table,) = run(src, **_streams()).tables
    assert table.df.to_dict(as_series=False) == {"_time": [2], "v": [20], "tag": ["t"], "w": [200]}


def test_experimental_join_rejects_changed_group_key() -> None:
    src = ('import "experimental"\n'
           'experimental.join(left: l, right: r, fn: (left, right) => ({_time: left._time, '
           'tag: "other", w: right.w}))')
    with pytest.raises(FluxRuntimeError, match="may not modify group key"):
        run(src, **_streams())


def test_join_package_outer_join_with_a_missing_or_empty_side() -> None:
    only_left = Stream.from_frame(LEFT, ["tag"])
    empty = Stream([Table(("tag",), ("t",), RIGHT.clear())])
    src = ('import "join"\n'
           'join.full(left: l, right: r, on: (l, r) => l._time == r._time,'
           ' as: (l, r) => ({l with w: r.w}))')
    (table,) = run(src, l=only_left, r=empty).tables
    assert table.df.get_column("v").to_list() == [10, 20]
    assert run(src.replace("join.full", "join.inner"), l=only_left, r=empty).tables == []
    other = Stream.from_frame(RIGHT.with_columns(pl.lit("u").alias("tag")), ["tag"])
    right_only = run(src.replace("join.full", "join.right"), l=only_left, r=other)
    assert [t.key_values for t in right_only] == [("u",)]
