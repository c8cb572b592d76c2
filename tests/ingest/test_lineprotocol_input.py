"""Line protocol files, plain and gzip, through the real store."""

from __future__ import annotations

import csv
import time
from pathlib import Path

from ingest_helpers import stored_rows, write_text

from fluxlab.ingest import ingest_file
from fluxlab.storage import Store

LP = (
    "# a comment\n"
    "cpu,host=a usage=1.5 1000000000\n"
    "\n"
    "cpu,host=b usage=2.5 2000000000\n"
    "cpu,host=b usage= 3000000000\n"
    "mem,host=a used=10i 1000000000\n"
)


def test_plain_file(tmp_path: Path, store: Store) -> None:
    data = write_text(tmp_path / "data.lp", LP)
    rejects = tmp_path / "r.csv"
    account = ingest_file(store, "b", data, max_errors=-1, rejects_path=rejects)
    assert account.format == "lp"
    assert (account.rows_read, account.rows_written, account.rows_rejected, account.rows_skipped) == (
        6, 3, 1, 2,
    )
    assert account.balanced and sorted(account.measurements) == ["cpu", "mem"]
    assert stored_rows(store, "cpu", "usage").column("_value").to_pylist() == [1.5, 2.5]
    with open(rejects, newline="") as fh:
        (row,) = list(csv.DictReader(fh))
    assert row["line"] == "5" and row["raw"] == "cpu,host=b usage= 3000000000"
    assert row["column"].startswith("char ")


def test_gzip_file_and_precision(tmp_path: Path, store: Store) -> None:
    data = write_text(tmp_path / "data.lp.gz", "cpu v=1 5\ncpu v=2 6\n", gz=True)
    account = ingest_file(store, "b", data, precision="s")
    assert account.rows_written == 2
    times = stored_rows(store, "cpu", "v").column("_time").cast("int64").to_pylist()
    assert times == [5_000_000_000, 6_000_000_000]


def test_blocks_keep_line_numbers(tmp_path: Path, store: Store) -> None:
    lines = [f"cpu v={i} {i}" for i in range(1, 3001)]
    lines[2499] = "cpu v=oops 2500"
    data = write_text(tmp_path / "big.lp", "\n".join(lines) + "\n")
    rejects = tmp_path / "r.csv"
    account = ingest_file(
        store, "b", data, max_errors=-1, rejects_path=rejects, block_size=2048
    )
    assert account.rows_read == 3000 and account.rows_rejected == 1
    with open(rejects, newline="") as fh:
        assert [r["line"] for r in csv.DictReader(fh)] == ["2500"]


def test_error_budget_on_line_protocol(tmp_path: Path, store: Store) -> None:
    data = write_text(tmp_path / "d.lp", "cpu v=1 1\ncpu v= 2\ncpu v=3 3\n")
    account = ingest_file(store, "b", data, max_errors=0)
    assert account.stopped_early and account.exit_code == 1
    assert (account.rows_read, account.rows_written, account.rows_rejected) == (2, 1, 1)
    assert stored_rows(store, "cpu", "v").column("_value").to_pylist() == [1.0]


def test_points_older_than_retention_are_rejected_and_accounted(
    tmp_path: Path, store: Store
) -> None:
    store.create_bucket("recent", retention_ns=3600 * 10**9)
    now = time.time_ns()  # the store applies retention against the real clock
    data = write_text(
        tmp_path / "r.lp", f"cpu v=1 {now - 7200 * 10**9}\ncpu v=2 {now - 60 * 10**9}\n"
    )
    account = ingest_file(store, "recent", data, max_errors=-1)
    assert (account.rows_read, account.rows_written, account.rows_rejected) == (2, 1, 1)
    assert account.beyond_retention_rows == 1 and account.type_conflict_rows == 0
    assert account.balanced
