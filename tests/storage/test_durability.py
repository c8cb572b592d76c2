"""Crash safety (SIGKILL mid-write), the process lock, read-only opens and check()."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest
from storage_helpers import make_batch

from fluxlab.storage import ReadOnlyError, Store, StoreError, StoreLocked

WRITER = textwrap.dedent(
    """
    import sys
    import numpy as np, pyarrow as pa
    from fluxlab.model.points import PointBatch
    from fluxlab.storage import Store

    store = Store(sys.argv[1], chunk_rows=2000)
    store.create_bucket("b")
    n = 4_000
    hosts = np.array(["a", "b", "c", "d"], dtype=object)
    for i in range(10_000):
        t = np.arange(n, dtype=np.int64) + i * (n // 2)   # half overlaps the previous batch
        table = pa.table({"time": t, "host": pa.array(hosts[t % 4], pa.string()),
                          "v": pa.array(t.astype(np.float64))})
        store.write("b", PointBatch("m", table, ("host",), ("v",)))
        print(i, flush=True)
    """
)

HOLDER = textwrap.dedent(
    """
    import sys
    from fluxlab.storage import Store
    store = Store(sys.argv[1])
    print("ready", flush=True)
    sys.stdin.readline()
    store.close()
    """
)


def kill_writer_and_check(path: Path, delay_s: float) -> None:
    """Start WRITER, SIGKILL it `delay_s` after its 2nd write, then verify the store."""
    child = subprocess.Popen([sys.executable, "-c", WRITER, str(path)],
                             stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    for _ in range(2):
        assert child.stdout.readline(), "writer died before writing"
    time.sleep(delay_s)  # land somewhere inside a later write
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    with Store(path, read_only=True) as store:  # WAL of the killed writer is replayed
        assert store.check().ok
        committed = store.check().points
    with Store(path) as store:
        report = store.check()
        assert report.ok, report.problems
        assert report.points == committed
        assert report.points >= 6_000 and report.points % 2000 == 0  # whole chunks only
        result = store.write("b", make_batch("m", [0], tags={"host": ["a"]}, fields={"v": [9.0]}))
        assert result.collisions.with_existing == 1


def test_sigkill_mid_write_leaves_a_consistent_store(tmp_path: Path) -> None:
    kill_writer_and_check(tmp_path / "s", 0.05)


@pytest.mark.slow
@pytest.mark.parametrize("delay_s", [0.0, 0.013, 0.031, 0.07, 0.15, 0.4])
def test_sigkill_at_many_moments(tmp_path: Path, delay_s: float) -> None:
    kill_writer_and_check(tmp_path / "s", delay_s)


def test_second_writer_gets_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "s"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(path)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdin is not None
    try:
        assert holder.stdout.readline().strip() == "ready"
        with pytest.raises(StoreLocked, match=f"in use by another process \\(pid {holder.pid}\\)"):
            Store(path)
        with pytest.raises(StoreLocked):
            Store(path, read_only=True)
    finally:
        holder.stdin.write("\n")
        holder.stdin.flush()
        holder.wait(timeout=30)
    with Store(path) as store:
        assert store.list_buckets() == []


def test_same_process_second_open_is_refused(tmp_path: Path) -> None:
    with Store(tmp_path / "s"), pytest.raises(StoreLocked):
        Store(tmp_path / "s")


def test_read_only_store_reads_but_refuses_writes(tmp_path: Path) -> None:
    with Store(tmp_path / "s") as store:
        store.create_bucket("b")
        store.write("b", make_batch("m", [1], fields={"v": [1.0]}))
    with Store(tmp_path / "s", read_only=True) as store:
        assert store.scan("b")[0].num_rows == 1
        assert store.check().ok
        with pytest.raises(ReadOnlyError):
            store.create_bucket("c")
        with pytest.raises(ReadOnlyError):
            store.write("b", make_batch("m", [2], fields={"v": [1.0]}))
    with pytest.raises(StoreError, match="no store"):
        Store(tmp_path / "missing", read_only=True)


def test_check_reports_damage(tmp_path: Path) -> None:
    with Store(tmp_path / "s") as store:
        store.create_bucket("b")
        store.write("b", make_batch("m", [1, 2], tags={"h": ["a", "a"]}, fields={"v": [1.0, 2]}))
        assert store.check().ok
    con = duckdb.connect(str(tmp_path / "s" / "fluxlab.duckdb"))
    con.execute("INSERT INTO m_1 SELECT * FROM m_1 LIMIT 1")
    con.execute("CREATE TABLE m_99 (time TIMESTAMP_NS)")
    con.close()
    with Store(tmp_path / "s") as store:
        problems = store.check().problems
    assert any("duplicate series+time" in p for p in problems)
    assert any("m_99 is not in the catalog" in p for p in problems)


def test_store_path_that_is_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    with pytest.raises(StoreError, match="is a file"):
        Store(tmp_path / "f")


def test_store_of_another_format_is_refused(tmp_path: Path) -> None:
    Store(tmp_path / "s").close()
    con = duckdb.connect(str(tmp_path / "s" / "fluxlab.duckdb"))
    con.execute("UPDATE _fl_meta SET value = '99' WHERE key = 'format'")
    con.close()
    with pytest.raises(StoreError, match="format 99"):
        Store(tmp_path / "s")
    with pytest.raises(StoreError, match="format 99"):
        Store(tmp_path / "s", read_only=True)
