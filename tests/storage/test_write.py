"""store.write: schema on write, type conflicts, last-write-wins and collision reports."""

from __future__ import annotations

import pyarrow as pa
import pytest
from storage_helpers import make_batch, rows

from fluxlab.model.points import FieldType
from fluxlab.storage import CollisionError, Store


def values(store: Store, field: str) -> list[tuple]:
    """(time, host, value) of one field, host None sorting first."""
    found = [(r["_time"], r.get("host"), r["_value"]) for r in rows(store.scan("b", fields=[field]))]
    return sorted(found, key=lambda v: (v[0], v[1] or "", v[2]))


def test_schema_on_write_adds_tags_and_fields(store: Store) -> None:
    store.write("b", make_batch("cpu", [1], tags={"host": ["a"]}, fields={"v": [1.0]}))
    store.write(
        "b",
        make_batch("cpu", [2], tags={"host": ["a"], "dc": ["x"]}, fields={"n": pa.array([3])}),
    )
    assert store.tag_keys("b") == ["dc", "host"]
    assert store.field_keys("b") == {"n": FieldType.INTEGER, "v": FieldType.FLOAT}
    scanned = rows(store.scan("b"))
    assert {(r["_field"], r["dc"]) for r in scanned} == {("v", None), ("n", "x")}


def test_all_five_field_types_round_trip(store: Store) -> None:
    fields = {
        "f": pa.array([1.5]),
        "i": pa.array([-2], pa.int64()),
        "u": pa.array([2**64 - 1], pa.uint64()),
        "s": pa.array(["x"]),
        "b": pa.array([True]),
    }
    store.write("b", make_batch("m", [7], fields=fields))
    tables = store.scan("b")
    by_field = {t.column("_field")[0].as_py(): t for t in tables}
    assert by_field["u"].schema.field("_value").type == pa.uint64()
    assert by_field["u"].column("_value")[0].as_py() == 2**64 - 1
    assert by_field["b"].column("_value")[0].as_py() is True
    assert [t.schema.field("_value").type for t in tables] == [
        pa.float64(), pa.int64(), pa.uint64(), pa.string(), pa.bool_(),
    ]
    assert tables[0].schema.field("_time").type == pa.timestamp("ns", tz="UTC")


def test_type_conflict_rejects_only_conflicting_rows(store: Store) -> None:
    store.write("b", make_batch("m", [1], fields={"f": [1.0]}))
    batch = make_batch(
        "m", [2, 3, 4], fields={"f": pa.array([5, None, 6]), "g": [1.0, 2.0, 3.0]},
        lines=[10, 11, 12],
    )
    result = store.write("b", batch)
    assert result.rows_rejected == result.rows_type_conflict == 2
    assert result.points_written == 1
    (conflict,) = result.conflicts
    assert (conflict.field, conflict.existing, conflict.attempted) == (
        "f", FieldType.FLOAT, FieldType.INTEGER,
    )
    assert conflict.rows == 2 and conflict.example_line == 10
    assert conflict.message == (
        'field type conflict: input field "f" on measurement "m" is type integer, '
        "already exists as type float"
    )
    assert values(store, "g") == [(3, None, 2.0)]
    assert store.field_keys("b", "m")["f"] == FieldType.FLOAT


def test_type_fixed_by_first_batch_within_one_write(store: Store) -> None:
    result = store.write(
        "b",
        [
            make_batch("m", [1], fields={"f": pa.array([1], pa.int64())}),
            make_batch("m", [2], fields={"f": pa.array(["s"])}),
        ],
    )
    assert result.points_written == 1 and result.rows_rejected == 1
    assert result.conflicts[0].existing == FieldType.INTEGER


def test_last_write_wins_at_field_level(store: Store) -> None:
    store.write("b", make_batch("m", [1], tags={"host": ["a"]}, fields={"a": [1.0], "b": [2.0]}))
    result = store.write("b", make_batch("m", [1], tags={"host": ["a"]}, fields={"a": [9.0]}))
    assert result.collisions.with_existing == 1
    assert values(store, "a") == [(1, "a", 9.0)]
    assert values(store, "b") == [(1, "a", 2.0)]


def test_within_input_duplicates_merge_and_are_counted(store: Store) -> None:
    batch = make_batch(
        "m", [5, 5, 5, 6], tags={"host": ["a", "a", "b", "a"]},
        fields={"x": [1.0, 2.0, 3.0, 4.0], "y": [10.0, None, None, None]},
        lines=[1, 2, 3, 4],
    )
    result = store.write("b", batch)
    assert result.points_written == 4
    assert result.collisions.within_input == 1
    assert result.collisions.with_existing == 0
    example = result.collisions.examples[0]
    assert example["tags"] == {"host": "a"} and example["time"] == 5 and example["line"] == 2
    assert values(store, "x") == [(5, "a", 2.0), (5, "b", 3.0), (6, "a", 4.0)]
    assert values(store, "y") == [(5, "a", 10.0)]


def test_absent_tag_is_part_of_the_series_key(store: Store) -> None:
    batch = make_batch("m", [1, 1], tags={"host": [None, "a"]}, fields={"x": [1.0, 2.0]})
    result = store.write("b", batch)
    assert result.collisions.total == 0
    store.write("b", make_batch("m", [1], fields={"x": [5.0]}))  # no host column at all
    assert values(store, "x") == [(1, None, 5.0), (1, "a", 2.0)]


def test_rerunning_the_same_write_does_not_double_points(store: Store) -> None:
    batch = make_batch("m", [1, 2, 3], tags={"host": ["a", "a", "b"]}, fields={"x": [1.0, 2, 3]})
    store.write("b", batch)
    again = store.write("b", batch)
    assert again.collisions.with_existing == 3 and again.collisions.within_input == 0
    assert store.check().points == 3
    assert len(rows(store.scan("b"))) == 3


def test_collision_across_chunks_of_one_write_counts_as_within_input(tmp_path) -> None:
    with Store(tmp_path / "s", chunk_rows=2) as store:
        store.create_bucket("b")
        batch = make_batch("m", [1, 2, 1, 3], fields={"x": [1.0, 2.0, 3.0, 4.0]})
        result = store.write("b", batch)
        assert result.collisions.within_input == 1
        assert result.collisions.with_existing == 0
        assert values(store, "x") == [(1, None, 3.0), (2, None, 2.0), (3, None, 4.0)]


def test_keep_first_keeps_existing_values(store: Store) -> None:
    store.write("b", make_batch("m", [1], fields={"a": [1.0]}))
    batch = make_batch("m", [1, 2, 2], fields={"a": [9.0, 5.0, 6.0], "c": [3.0, None, None]})
    result = store.write("b", batch, on_collision="keep-first")
    assert result.collisions.with_existing == 1 and result.collisions.within_input == 1
    assert values(store, "a") == [(1, None, 1.0), (2, None, 5.0)]
    assert values(store, "c") == [(1, None, 3.0)]  # field-level: missing fields are filled


def test_error_mode_rejects_whole_write(store: Store) -> None:
    store.write("b", make_batch("m", [1], fields={"a": [1.0]}))
    with pytest.raises(CollisionError, match="collide with stored points"):
        store.write(
            "b",
            [make_batch("m", [5], fields={"a": [5.0]}), make_batch("m", [1], fields={"a": [2.0]})],
            on_collision="error",
        )
    assert values(store, "a") == [(1, None, 1.0)]
    with pytest.raises(CollisionError, match="inside the input"):
        store.write("b", make_batch("m", [7, 7], fields={"a": [1.0, 2.0]}), on_collision="error")
    clean = store.write("b", make_batch("m", [8], fields={"a": [1.0]}), on_collision="error")
    assert clean.points_written == 1


def test_rows_without_fields_are_rejected_and_counted(store: Store) -> None:
    batch = make_batch("m", [1, 2], fields={"a": [None, 1.0]})
    result = store.write("b", batch)
    assert result.rows_without_fields == 1 and result.rows_rejected == 1
    assert result.points_written == 1
    assert result.rows_input == 2


def test_points_beyond_retention_are_rejected(store: Store) -> None:
    store.create_bucket("short", retention_ns=3600 * 10**9)
    import time

    now = time.time_ns()
    result = store.write("short", make_batch("m", [1, now], fields={"a": [1.0, 2.0]}))
    assert result.rows_beyond_retention == 1 and result.points_written == 1


def test_many_batches_are_merged_into_chunks(tmp_path) -> None:
    with Store(tmp_path / "s", chunk_rows=1000) as store:
        store.create_bucket("b")
        batches = [make_batch("m", [i], fields={"x": [float(i)]}) for i in range(2500)]
        result = store.write("b", batches)
        assert result.points_written == 2500
        assert store.check().points == 2500


def test_non_influx_types_are_refused_with_column_name(store: Store) -> None:
    from fluxlab.storage import BatchError

    batch = make_batch("m", [1], fields={"x": pa.array([1], pa.int32())})
    with pytest.raises(BatchError, match="field 'x'"):
        store.write("b", batch)


def test_dictionary_and_large_strings_are_accepted(store: Store) -> None:
    table = pa.table(
        {
            "time": pa.array([1, 2], pa.int64()),
            "host": pa.array(["a", "b"]).dictionary_encode(),
            "s": pa.array(["x", "y"], pa.large_string()),
        }
    )
    from fluxlab.model.points import PointBatch

    store.write("b", PointBatch("m", table, ("host",), ("s",)))
    assert store.tag_values("b", "host") == ["a", "b"]
    assert store.field_keys("b") == {"s": FieldType.STRING}


def test_threads_can_share_a_store(store: Store) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def work(i: int) -> int:
        store.write("b", make_batch("m", [i], tags={"t": [str(i % 3)]}, fields={"x": [1.0]}))
        return len(store.scan("b"))

    with ThreadPoolExecutor(4) as pool:
        assert all(n == 1 for n in pool.map(work, range(40)))
    assert store.check().points == 40


def test_timestamp_time_column_is_accepted_and_null_time_refused(store: Store) -> None:
    from fluxlab.model.points import PointBatch
    from fluxlab.storage import BatchError

    table = pa.table({"time": pa.array([1_000], pa.timestamp("us", tz="UTC")), "x": [1.0]})
    store.write("b", PointBatch("m", table, (), ("x",)))
    assert rows(store.scan("b"))[0]["_time"] == 1_000_000
    bad = pa.table({"time": pa.array([None, 5], pa.int64()), "x": [1.0, 2.0]})
    with pytest.raises(BatchError, match="1 rows have no time"):
        store.write("b", PointBatch("m", bad, (), ("x",)))


def test_failed_write_leaves_catalog_consistent(store: Store) -> None:
    def batches():
        yield make_batch("m", [1], tags={"h": ["a"]}, fields={"x": [1.0]})
        raise RuntimeError("reader failed")

    with pytest.raises(RuntimeError):
        store.write("b", batches())
    assert store.check().ok
    assert store.check().points == 1  # the committed chunk stays
