"""Scans in long format with pushdown of every predicate kind, and aggregates."""

from __future__ import annotations

import pyarrow as pa
import pytest
from storage_helpers import make_batch, rows

from fluxlab.storage import And, Cmp, Not, Or, Store, StoreError


@pytest.fixture
def filled(store: Store) -> Store:
    store.write(
        "b",
        make_batch(
            "cpu",
            [10, 20, 30, 40],
            tags={"host": ["a", "b", "a", None], "dc": ["eu1", "us1", "eu2", "eu1"]},
            fields={"usage": [1.0, 2.0, 3.0, 4.0], "cores": pa.array([4, 8, 4, 2])},
        ),
    )
    store.write("b", make_batch("mem", [15, 25], tags={"host": ["a", "c"]},
                                fields={"used": [100.0, 200.0]}))
    return store


def keys(tables: list[pa.Table]) -> list[tuple]:
    return [(r["_measurement"], r.get("host"), r["_field"], r["_time"]) for r in rows(tables)]


def test_long_format_columns_and_sort_order(filled: Store) -> None:
    floats, ints = filled.scan("b")
    assert floats.column_names == ["_measurement", "_field", "_time", "_value", "dc", "host"]
    assert floats.schema.field("_time").type == pa.timestamp("ns", tz="UTC")
    assert ints.column("_value").to_pylist() == [2, 4, 4, 8]  # dc, host (absent first), time
    got = [(r["_measurement"], r["dc"], r["host"], r["_field"], r["_time"])
           for r in rows([floats])]
    assert got == sorted(got, key=lambda k: tuple("" if v is None else v for v in k))
    assert len(got) == 6


def test_time_range_is_half_open(filled: Store) -> None:
    got = keys(filled.scan("b", start_ns=20, stop_ns=40, fields=["usage"]))
    assert [k[3] for k in got] == [30, 20]  # host a (eu2) sorts before host b (us1)


def test_measurement_and_field_selection(filled: Store) -> None:
    (table,) = filled.scan("b", measurement="mem")
    assert set(table.column("_measurement").to_pylist()) == {"mem"}
    assert "dc" not in table.column_names
    (table,) = filled.scan("b", fields=["cores"])
    assert set(table.column("_field").to_pylist()) == {"cores"}


@pytest.mark.parametrize(
    ("predicate", "expected"),
    [
        (Cmp("host", "==", "a"), {("cpu", 10), ("cpu", 30), ("mem", 15)}),
        (Cmp("host", "!=", "a"), {("cpu", 20), ("cpu", 40), ("mem", 25)}),
        (Cmp("dc", "=~", "^eu"), {("cpu", 10), ("cpu", 30), ("cpu", 40)}),
        (Cmp("dc", "!~", "^eu"), {("cpu", 20), ("mem", 15), ("mem", 25)}),
        (Cmp("_measurement", "==", "mem"), {("mem", 15), ("mem", 25)}),
        (And([Cmp("host", "==", "a"), Cmp("_measurement", "!=", "mem")]),
         {("cpu", 10), ("cpu", 30)}),
        (Or([Cmp("host", "==", "c"), Cmp("dc", "==", "us1")]), {("mem", 25), ("cpu", 20)}),
        (Not(Cmp("host", "=~", "a|b")), {("cpu", 40), ("mem", 25)}),
        (Cmp("host", "==", ""), {("cpu", 40)}),
    ],
)
def test_tag_predicates(filled: Store, predicate, expected: set) -> None:
    got = {(k[0], k[3]) for k in keys(filled.scan("b", predicate=predicate))
           if k[2] in ("usage", "used")}
    assert got == expected


def test_field_predicate(filled: Store) -> None:
    tables = filled.scan("b", predicate=Cmp("_field", "=~", "^u"))
    assert {r["_field"] for r in rows(tables)} == {"usage", "used"}


def test_regex_is_re2_syntax(filled: Store) -> None:
    got = rows(filled.scan("b", predicate=Cmp("dc", "=~", r"^\w{2}\d$"), fields=["usage"]))
    assert len(got) == 4


def test_unknown_measurement_or_field_gives_no_tables(filled: Store) -> None:
    assert filled.scan("b", measurement="nope") == []
    assert filled.scan("b", fields=["nope"]) == []


def test_aggregate_sum_by_tag(filled: Store) -> None:
    (table,) = filled.scan_aggregate("b", measurement="cpu", fields=["usage"],
                                     group_by=["host"], fn="sum")
    assert table.column_names == ["host", "_value"]
    assert table.to_pylist() == [{"host": None, "_value": 4.0}, {"host": "a", "_value": 4.0},
                                 {"host": "b", "_value": 2.0}]


def test_aggregate_count_mean_min_max(filled: Store) -> None:
    def agg(fn: str) -> list:
        (table,) = filled.scan_aggregate("b", fields=["usage"], group_by=["_field"], fn=fn)
        return table.column("_value").to_pylist()

    assert agg("count") == [4]
    assert agg("mean") == [2.5]
    assert agg("min") == [1.0]
    assert agg("max") == [4.0]


def test_aggregate_first_last_return_time(filled: Store) -> None:
    (table,) = filled.scan_aggregate("b", fields=["usage"], group_by=[], fn="last")
    assert rows([table]) == [{"_time": 40, "_value": 4.0}]
    (table,) = filled.scan_aggregate("b", fields=["usage"], group_by=[], fn="first")
    assert rows([table]) == [{"_time": 10, "_value": 1.0}]


def test_aggregate_windows_are_epoch_aligned_and_clipped(filled: Store) -> None:
    (table,) = filled.scan_aggregate("b", fields=["usage"], group_by=["_measurement"],
                                     fn="count", window_ns=20, start_ns=5, stop_ns=100)
    assert rows([table]) == [
        {"_measurement": "cpu", "_start": 5, "_stop": 20, "_value": 1},
        {"_measurement": "cpu", "_start": 20, "_stop": 40, "_value": 2},
        {"_measurement": "cpu", "_start": 40, "_stop": 60, "_value": 1},
    ]


def test_aggregate_integer_sum_keeps_type(filled: Store) -> None:
    (table,) = filled.scan_aggregate("b", fields=["cores"], group_by=[], fn="sum")
    assert table.schema.field("_value").type == pa.int64()
    assert table.column("_value").to_pylist() == [18]


def test_aggregate_errors(filled: Store) -> None:
    filled.write("b", make_batch("log", [1], fields={"msg": ["x"]}))
    with pytest.raises(StoreError, match="cannot sum string"):
        filled.scan_aggregate("b", group_by=[], fn="sum")
    with pytest.raises(StoreError, match="unknown aggregate"):
        filled.scan_aggregate("b", group_by=[], fn="median")


def test_invalid_regex_is_a_store_error(filled: Store) -> None:
    with pytest.raises(StoreError, match="scan failed"):
        filled.scan("b", predicate=Cmp("host", "=~", "(unclosed"))


def test_aggregate_of_nothing_gives_no_tables(filled: Store) -> None:
    assert filled.scan_aggregate("b", fields=["usage"], group_by=[], fn="count",
                                 start_ns=1000) == []
