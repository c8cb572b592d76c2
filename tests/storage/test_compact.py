"""Store.compact: points clustered by series key and time, nothing lost, atomic."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from storage_helpers import make_batch, rows

from fluxlab.model.points import PointBatch
from fluxlab.storage import ReadOnlyError, Store, StoreError, compact
from fluxlab.storage.catalog import Measurement

HOSTS = ["c", "a", None, "b"]  # None: the tag is absent on that series


def interleaved(n: int, offset: int = 0) -> PointBatch:
    """n points in time order cycling over 12 series (4 hosts x 3 regions), every field
    type, sparse fields: write order is the opposite of series order."""
    i = np.arange(n) + offset
    hosts = pa.array([HOSTS[k % 4] for k in i], pa.string())
    regions = pa.array([f"r{(k // 4) % 3}" for k in i], pa.string())
    sparse = pa.array([None if k % 5 == 0 else float(k) for k in i], pa.float64())
    table = pa.table({
        "time": pa.array(1_000 + i * 10, pa.int64()),
        "host": hosts,
        "region": regions,
        "f": sparse,
        "i": pa.array(i.astype(np.int64)),
        "u": pa.array(i.astype(np.uint64)),
        "s": pa.array([f"v{k}" for k in i], pa.string()),
        "b": pa.array(i % 2 == 0),
    })
    return PointBatch("cpu", table, ("host", "region"), ("f", "i", "u", "s", "b"))


def measurement(store: Store, bucket: str, name: str) -> Measurement:
    catalog = store._catalog  # noqa: SLF001 - tests look at the physical layout
    return next(m for m in catalog.measurements_of(catalog.bucket(bucket)) if m.name == name)


def physical(store: Store, sql: str) -> list[tuple]:
    return store._con.execute(sql).fetchall()  # noqa: SLF001


def filled(tmp_path: Path) -> Store:
    store = Store(tmp_path / "s")
    store.create_bucket("b")
    store.create_bucket("other")
    store.write("b", interleaved(3_000))
    store.write("b", make_batch("mem", [5, 1, 3], tags={"host": ["z", "y", "z"]},
                                fields={"used": [1.5, 2.5, 3.5]}))
    store.write("other", make_batch("cpu", [1, 2], fields={"f": [9.0, 8.0]}))
    return store


def test_compact_keeps_every_point_and_value(tmp_path: Path) -> None:
    with filled(tmp_path) as store:
        before = {b: rows(store.scan(b)) for b in ("b", "other")}
        sql = 'SELECT * FROM "b"."cpu" ORDER BY time'
        sql_before = store.sql(sql)  # the user views exist before the tables are replaced
        report = store.compact()
        assert report.rows == 3_000 + 3 + 2
        assert report.series == 12 + 2 + 1
        assert len(report.measurements) == 3 and report.skipped == 0
        assert report.seconds > 0 and "3,005 points" in str(report)
        assert {b: rows(store.scan(b)) for b in ("b", "other")} == before
        assert store.sql(sql).equals(sql_before)
        report = store.check()
        assert report.ok, report.problems
        assert report.points == 3_005
        assert store.tag_values("b", "host") == ["a", "b", "c", "y", "z"]


def test_series_ids_follow_series_key_order_and_points_are_clustered(tmp_path: Path) -> None:
    with filled(tmp_path) as store:
        store.compact()
        m = measurement(store, "b", "cpu")
        host, region = m.tags["host"].name, m.tags["region"].name
        series = physical(store, f"SELECT sid, {host}, {region} FROM {m.series} ORDER BY sid")
        assert [s[0] for s in series] == list(range(12))
        keys = [(h is not None, h or "", r) for _, h, r in series]
        assert keys == sorted(keys)  # absent host first, then by host, then region
        order = physical(store, f"SELECT sid, epoch_ns(time) FROM {m.table} ORDER BY rowid")
        assert order == sorted(order)


def test_row_groups_hold_narrow_series_ranges(tmp_path: Path) -> None:
    """What zone maps prune on: each row group covers few series after compaction."""
    with Store(tmp_path / "s") as store:
        store.create_bucket("b")
        store.write("b", interleaved(300_000))  # 3 row groups of 122,880 rows
        m = measurement(store, "b", "cpu")

        def overlaps() -> int:
            """Row groups whose sid range starts before the previous one's ends."""
            stats = physical(
                store,
                f"SELECT row_group_id, stats FROM pragma_storage_info('{m.table}') "
                "WHERE column_name = 'sid' AND segment_type = 'BIGINT'",
            )
            ranges = sorted((int(st["min"]), int(st["max"])) for _, st in stats)
            assert len(ranges) >= 3
            return sum(1 for a, b in zip(ranges, ranges[1:], strict=False) if b[0] < a[1])

        physical(store, "CHECKPOINT")
        assert overlaps() > 0  # write order: every row group holds every series
        store.compact()
        assert overlaps() == 0


def test_writes_deletes_and_collisions_after_compaction(tmp_path: Path) -> None:
    with filled(tmp_path) as store:
        store.compact()
        # last write wins against a compacted point (host=a, region=r0 at t=1010)
        result = store.write("b", make_batch("cpu", [1_010], tags={"host": ["a"],
                                                                     "region": ["r0"]},
                                             fields={"f": [-1.0]}))
        assert result.collisions.with_existing == 1
        # a new series gets a fresh id, not one of the renumbered ones
        store.write("b", make_batch("cpu", [7], tags={"host": ["new"], "region": ["r9"]},
                                    fields={"f": [7.0]}))
        m = measurement(store, "b", "cpu")
        assert physical(store, f"SELECT count(DISTINCT sid), max(sid) FROM {m.series}") == [
            (13, 12)]
        got = {(r["host"], r["region"], r["_time"]): r["_value"]
               for r in rows(store.scan("b", measurement="cpu", fields=["f"]))}
        assert got[("a", "r0", 1_010)] == -1.0
        assert got[("new", "r9", 7)] == 7.0
        removed = store.delete("b", start_ns=0, stop_ns=10**12, predicate='host="b"')
        assert removed == 750
        assert not [r for r in rows(store.scan("b")) if r.get("host") == "b"]
        assert store.check().ok


def test_compaction_drops_series_without_points_and_skips_unchanged(tmp_path: Path) -> None:
    with filled(tmp_path) as store:
        store.delete("b", start_ns=0, stop_ns=10**12, predicate='_measurement="cpu" AND host="c"')
        first = store.compact(bucket="b")
        cpu = next(x for x in first.measurements if x.measurement == "cpu")
        assert (cpu.series, cpu.series_removed, cpu.skipped) == (9, 3, False)
        assert store.compact(bucket="b").skipped == 2  # nothing changed since
        store.write("b", interleaved(8, offset=10_000))
        again = store.compact(bucket="b")
        assert [(x.measurement, x.skipped) for x in again.measurements] == [
            ("cpu", False), ("mem", True)]
        assert store.compact(bucket="b", measurement="mem", force=True).skipped == 0
        assert store.check().ok


def test_compact_refuses_unknown_names_and_read_only(tmp_path: Path) -> None:
    with filled(tmp_path) as store:
        with pytest.raises(StoreError, match="measurement 'nope' not found"):
            store.compact(measurement="nope")
        with pytest.raises(StoreError, match="bucket"):
            store.compact(bucket="missing")
    with Store(tmp_path / "s", read_only=True) as store, pytest.raises(ReadOnlyError):
        store.compact()


def test_failure_mid_compaction_rolls_back_everything(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The series table is already replaced when the points rewrite fails: the rollback
    must restore both (and the store's cached catalog)."""
    with filled(tmp_path) as store:
        before = rows(store.scan("b"))
        rewrite = compact._rewrite

        def failing(con: object, table: str, *args: object, **kwargs: object) -> None:
            if table.startswith("m_"):
                raise RuntimeError("disk full")
            rewrite(con, table, *args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(compact, "_rewrite", failing)
        with pytest.raises(RuntimeError, match="disk full"):
            store.compact(bucket="b", measurement="cpu")
        monkeypatch.undo()
        assert rows(store.scan("b")) == before
        assert store.check().ok
        result = store.write("b", make_batch("cpu", [9], tags={"host": ["q"], "region": ["r"]},
                                             fields={"f": [1.0]}))
        assert result.points_written == 1 and store.check().ok
        assert store.compact(bucket="b", measurement="cpu").rows == 3_001


COMPACTOR = textwrap.dedent(
    """
    import sys
    from fluxlab.storage import Store

    store = Store(sys.argv[1])
    print("open", flush=True)
    for i in range(1000):
        store.compact(force=True)
        print(i, flush=True)
    """
)


def same_scan(a: list[pa.Table], b: list[pa.Table]) -> bool:
    return len(a) == len(b) and all(x.equals(y) for x, y in zip(a, b, strict=True))


def _kill_compaction_and_check(path: Path, delay_s: float, expected: list[pa.Table]) -> None:
    child = subprocess.Popen([sys.executable, "-c", COMPACTOR, str(path)],
                             stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "open"
    time.sleep(delay_s)  # somewhere inside a compaction (each takes a few 100 ms)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    with Store(path) as store:  # the killed process' WAL is replayed (or dropped)
        report = store.check()
        assert report.ok, report.problems
        assert report.points == KILL_POINTS
        assert same_scan(store.scan("b"), expected)
        store.write("b", interleaved(4))  # and it still takes writes (all collide)
        assert same_scan(store.scan("b"), expected)
        assert store.compact(force=True).rows == report.points
        assert store.check().ok


KILL_POINTS = 40_000


def _kill_store(tmp_path: Path) -> tuple[Path, list[pa.Table]]:
    path = tmp_path / "s"
    with Store(path) as store:
        store.create_bucket("b")
        store.write("b", interleaved(KILL_POINTS))
        expected = store.scan("b")
    return path, expected


def test_sigkill_mid_compaction_leaves_old_or_new_layout(tmp_path: Path) -> None:
    path, expected = _kill_store(tmp_path)
    _kill_compaction_and_check(path, 0.3, expected)


@pytest.mark.slow
@pytest.mark.parametrize("delay_s", [0.0, 0.1, 0.25, 0.7, 1.2])
def test_sigkill_at_many_moments_of_compaction(tmp_path: Path, delay_s: float) -> None:
    path, expected = _kill_store(tmp_path)
    _kill_compaction_and_check(path, delay_s, expected)
