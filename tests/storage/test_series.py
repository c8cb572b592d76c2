"""The series-id layout (format 2): series identity, hashing, dedup, order, damage checks."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pyarrow as pa
import pytest
from storage_helpers import make_batch, rows

from fluxlab.model.points import PointBatch
from fluxlab.storage import Cmp, Store, StoreError
from fluxlab.storage.series import _factorize, _factorize_exactly


def test_store_of_the_wide_format_is_refused_with_advice(tmp_path: Path) -> None:
    Store(tmp_path / "s").close()
    con = duckdb.connect(str(tmp_path / "s" / "fluxlab.duckdb"))
    con.execute("UPDATE _fl_meta SET value = '1' WHERE key = 'format'")
    con.close()
    with pytest.raises(StoreError, match="format 1.*no migration.*load the data again"):
        Store(tmp_path / "s")


def test_new_tag_key_keeps_identity_of_existing_series(store: Store) -> None:
    store.write("b", make_batch("m", [1], tags={"host": ["a"]}, fields={"x": [1.0]}))
    store.write("b", make_batch("m", [2], tags={"host": ["a"], "dc": ["eu"]}, fields={"x": [2.0]}))
    again = store.write("b", make_batch("m", [1], tags={"host": ["a"]}, fields={"x": [3.0]}))
    assert again.collisions.with_existing == 1
    got = [(r["_time"], r["host"], r["dc"], r["_value"]) for r in rows(store.scan("b"))]
    assert got == [(1, "a", None, 3.0), (2, "a", "eu", 2.0)]


def test_empty_string_tag_and_absent_tag_are_different_series(store: Store) -> None:
    result = store.write("b", make_batch("m", [1, 1], tags={"h": ["", None]}, fields={"x": [1.0, 2]}))
    assert result.collisions.total == 0
    assert store.check().points == 2


def test_exact_factorization_agrees_with_the_hashed_one() -> None:
    rng = np.random.default_rng(3)
    values = ["a", "b", "", None]
    frame = pl.DataFrame({k: [values[i] for i in rng.integers(0, 4, 2000)] for k in ("x", "y")},
                         schema={"x": pl.String, "y": pl.String})
    for codes, reps in (_factorize(frame), _factorize_exactly(frame)):
        assert len(reps) == frame.unique().height
        rebuilt = frame[reps.tolist()][codes.tolist()]
        assert rebuilt.equals(frame)  # every row equals the representative of its code


def test_hash_collision_falls_back_to_the_exact_path(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    import fluxlab.storage.series as series

    calls = []

    def collide(frame: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        calls.append(frame.height)
        return _factorize_exactly(frame)

    monkeypatch.setattr(series, "_factorize", collide)
    store.write("b", make_batch("m", [1, 1, 2], tags={"h": ["a", "b", "a"]}, fields={"x": [1.0] * 3}))
    assert calls == [3]
    assert store.tag_values("b", "h") == ["a", "b"]


def test_many_unsorted_duplicates_merge_like_a_reference(store: Store) -> None:
    rng = np.random.default_rng(5)
    n = 20_000
    times = rng.integers(0, 500, n)
    hosts = np.array(["a", "b", "c"])[rng.integers(0, 3, n)]
    x = np.where(rng.random(n) < 0.3, np.nan, rng.random(n))
    table = pa.table({"time": pa.array(times, pa.int64()), "host": pa.array(hosts),
                      "x": pa.array(x, from_pandas=True), "y": pa.array(np.arange(n) * 1.0)})
    result = store.write("b", PointBatch("m", table, ("host",), ("x", "y")))
    frame = pl.from_arrow(table).with_row_index()
    expected = frame.group_by("time", "host").agg(pl.col("x").drop_nulls().last(), pl.len())
    assert result.collisions.within_input == int((expected["len"] - 1).sum())
    assert store.check().points == expected.height
    stored = {(r["_time"], r["host"]): r["_value"] for r in rows(store.scan("b", fields=["x"]))}
    want = {(t, h): v for t, h, v in expected.select("time", "host", "x").iter_rows()
            if v is not None}
    assert stored == want


def test_scan_order_by_series_matches_string_order(store: Store) -> None:
    rng = np.random.default_rng(9)
    values = np.array(["b", "a", "", "ab", "B", "é"], dtype=object)
    n = 300
    tags = {k: [None if v is None else str(v) for v in values[rng.integers(0, 6, n)]]
            for k in ("t1", "t2")}
    tags["t2"] = [None if i % 7 == 0 else v for i, v in enumerate(tags["t2"])]
    store.write("b", make_batch("m", list(rng.integers(0, 50, n)), tags=tags,
                                fields={"x": [1.0] * n}))
    got = [(r["t1"], r["t2"], r["_time"]) for r in rows(store.scan("b"))]

    def key(row: tuple) -> tuple:  # absent tag first, then code point order
        return tuple((v is not None, v or "") if i < 2 else v for i, v in enumerate(row))

    assert got == sorted(got, key=key)


def test_deleted_series_leave_no_tag_values(store: Store) -> None:
    store.write("b", make_batch("m", [1, 2], tags={"h": ["a", "b"]}, fields={"x": [1.0, 2.0]}))
    assert store.delete("b", start_ns=0, stop_ns=10, predicate='h="b"') == 1
    assert store.tag_values("b", "h") == ["a"]
    assert [r["h"] for r in rows(store.scan("b", predicate=Cmp("h", "!=", "a")))] == []
    assert store.sql('SELECT h FROM "b"."m"').column("h").to_pylist() == ["a"]


def test_check_reports_points_of_unknown_series(tmp_path: Path) -> None:
    with Store(tmp_path / "s") as store:
        store.create_bucket("b")
        store.write("b", make_batch("m", [1, 2], tags={"h": ["a", "b"]}, fields={"v": [1.0, 2]}))
    con = duckdb.connect(str(tmp_path / "s" / "fluxlab.duckdb"))
    con.execute("DELETE FROM s_1 WHERE t_0 = 'b'")
    con.execute("INSERT INTO s_1 SELECT sid + 10, t_0 FROM s_1")
    con.close()
    with Store(tmp_path / "s") as store:
        problems = store.check().problems
    assert any("1 points of unknown series" in p for p in problems)
    assert any("tag sets stored twice" in p for p in problems)


def test_keep_last_replaces_whole_points_and_merges_partial_ones(store: Store) -> None:
    store.write("b", make_batch("m", [1, 2], fields={"a": [1.0, 2.0], "c": [10.0, 20.0]}))
    result = store.write("b", make_batch("m", [1, 2], fields={"a": [5.0, None], "c": [6.0, 7.0]}))
    assert result.collisions.with_existing == 2
    got = {(r["_field"], r["_time"]): r["_value"] for r in rows(store.scan("b"))}
    assert got == {("a", 1): 5.0, ("c", 1): 6.0, ("a", 2): 2.0, ("c", 2): 7.0}
    assert store.check().ok and store.check().points == 2
