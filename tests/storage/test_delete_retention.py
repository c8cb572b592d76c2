"""Delete by time range + InfluxDB predicate, and retention enforcement."""

from __future__ import annotations

import time

import pytest
from storage_helpers import make_batch, rows

from fluxlab.storage import Cmp, PredicateError, Store


@pytest.fixture
def filled(store: Store) -> Store:
    store.write("b", make_batch("cpu", [1, 2, 3, 4], tags={"host": ["a", "b", "a", None]},
                                fields={"v": [1.0, 2.0, 3.0, 4.0], "w": [1.0] * 4}))
    store.write("b", make_batch("mem", [1, 2], tags={"host": ["a", "a"]}, fields={"v": [5.0, 6]}))
    return store


def remaining(store: Store) -> set[tuple]:
    return {(r["_measurement"], r["_time"]) for r in rows(store.scan("b", fields=["v"]))}


def test_delete_by_measurement_and_tag(filled: Store) -> None:
    removed = filled.delete("b", start_ns=0, stop_ns=3, predicate='_measurement="cpu" AND host="a"')
    assert removed == 1
    assert remaining(filled) == {("cpu", 2), ("cpu", 3), ("cpu", 4), ("mem", 1), ("mem", 2)}
    assert {r["_field"] for r in rows(filled.scan("b")) if r["_time"] == 1
            and r["_measurement"] == "cpu"} == set()  # every field of the point went


def test_delete_time_range_is_half_open_and_predicate_optional(filled: Store) -> None:
    assert filled.delete("b", start_ns=2, stop_ns=4) == 3
    assert remaining(filled) == {("cpu", 1), ("cpu", 4), ("mem", 1)}


def test_delete_with_tag_unknown_to_a_measurement(filled: Store) -> None:
    filled.write("b", make_batch("disk", [1], tags={"dev": ["sda"]}, fields={"v": [1.0]}))
    assert filled.delete("b", start_ns=0, stop_ns=10, predicate='dev="sda"') == 1
    assert ("disk", 1) not in remaining(filled)
    assert ("cpu", 1) in remaining(filled)


def test_delete_with_field_predicate_is_refused(filled: Store) -> None:
    with pytest.raises(PredicateError, match="_field"):
        filled.delete("b", start_ns=0, stop_ns=10, predicate='_field="v"')
    with pytest.raises(PredicateError, match="_field"):
        filled.delete("b", start_ns=0, stop_ns=10, predicate=Cmp("_field", "==", "v"))
    assert len(remaining(filled)) == 6


def test_retention_hides_and_removes_old_points(store: Store) -> None:
    hour = 3600 * 10**9
    now = time.time_ns()
    store.write("b", make_batch("m", [now - 3 * hour, now - 1000], fields={"v": [1.0, 2.0]}))
    store.update_bucket("b", retention_ns=2 * hour)
    assert [r["_value"] for r in rows(store.scan("b"))] == [2.0]  # filtered at read time
    assert store.sql('SELECT count(*) AS n FROM "b"."m"').column("n").to_pylist() == [1]
    assert store.check().points == 2  # still stored until enforced
    assert store.enforce_retention() == 1
    assert store.check().points == 1
    assert store.enforce_retention(now_ns=now + 10 * hour) == 1
    assert store.measurements("b") == []
