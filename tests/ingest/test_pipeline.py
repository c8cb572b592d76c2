"""The ingest entry point: error budget, account, rejects, dry run, sort, collisions."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pyarrow as pa
import pytest
from ingest_helpers import stored_rows, write_text
from rich.console import Console

from fluxlab.ingest import FormatError, ingest_file, ingest_stream
from fluxlab.ingest.sort import sort_by_time
from fluxlab.model.points import PointBatch
from fluxlab.storage import Store

MAPPING = """
measurement = "m"
[time]
column = "t"
format = "epoch_s"
[tags]
k = "k"
[fields]
v = { column = "v", type = "integer" }
"""


def csv_file(tmp_path: Path, rows: list[str]) -> tuple[Path, Path]:
    data = write_text(tmp_path / "d.csv", "t,k,v\n" + "\n".join(rows) + "\n")
    return data, write_text(tmp_path / "m.toml", MAPPING)


def reject_lines(path: Path) -> list[str]:
    with open(path, newline="") as fh:
        return [r["line"] for r in csv.DictReader(fh)]


def test_max_errors_zero_stops_at_first_bad_row(tmp_path: Path, store: Store) -> None:
    data, mapping = csv_file(tmp_path, ["1,a,1", "2,a,2", "3,a,x", "4,a,4", "5,a,y"])
    rejects = tmp_path / "r.csv"
    account = ingest_file(store, "b", data, mapping=mapping, max_errors=0, rejects_path=rejects)
    assert account.stopped_early and account.exit_code == 1
    assert "line 4" in (account.stop_reason or "")
    assert (account.rows_read, account.rows_written, account.rows_rejected) == (3, 2, 1)
    assert account.balanced
    assert stored_rows(store, "m", "v").column("_value").to_pylist() == [1, 2]  # kept
    assert reject_lines(rejects) == ["4"]


def test_max_errors_budget_allows_n_rejects(tmp_path: Path, store: Store) -> None:
    data, mapping = csv_file(tmp_path, ["1,a,x", "2,a,2", "3,a,y", "4,a,4", "5,a,z", "6,a,6"])
    account = ingest_file(store, "b", data, mapping=mapping, max_errors=2)
    assert account.stopped_early and account.rows_rejected == 3
    assert (account.rows_read, account.rows_written) == (5, 2) and account.balanced
    unlimited = ingest_file(store, "b", data, mapping=mapping, max_errors=-1)
    assert not unlimited.stopped_early and unlimited.exit_code == 0
    assert (unlimited.rows_written, unlimited.rows_rejected) == (3, 3)


def test_dry_run_writes_line_protocol_and_nothing_else(tmp_path: Path, store: Store) -> None:
    data, mapping = csv_file(tmp_path, ["1,a,1", "2,b,2"])
    out = io.StringIO()
    account = ingest_file(store, "b", data, mapping=mapping, dry_run=out)
    assert out.getvalue() == "m,k=a v=1i 1000000000\nm,k=b v=2i 2000000000\n"
    assert account.dry_run and account.rows_written == 2
    assert store.measurements("b") == []


def test_sort_orders_by_time_keeping_input_order_for_ties(tmp_path: Path) -> None:
    data, mapping = csv_file(tmp_path, ["5,a,1", "1,a,2", "3,a,3", "1,b,4", "2,a,5"])
    out = io.StringIO()
    account = ingest_file(None, None, data, mapping=mapping, dry_run=out, sort=True,
                          block_size=16)
    assert account.sorted and account.rows_written == 5
    assert out.getvalue().splitlines() == [
        "m,k=a v=2i 1000000000",
        "m,k=b v=4i 1000000000",
        "m,k=a v=5i 2000000000",
        "m,k=a v=3i 3000000000",
        "m,k=a v=1i 5000000000",
    ]


def test_external_sort_spills_under_a_small_memory_limit(tmp_path: Path) -> None:
    n = 200_000
    times = pa.array(list(range(n, 0, -1)), pa.int64())
    batches = [
        PointBatch("m", pa.table({"time": times.slice(i, 50_000),
                                  "v": pa.array([1.0] * 50_000),
                                  "_line": pa.array(range(i, i + 50_000), pa.int64())}),
                   (), ("v",))
        for i in range(0, n, 50_000)
    ]
    out = list(sort_by_time(batches, memory_limit="64MB", temp_dir=tmp_path, batch_rows=30_000))
    merged = pa.concat_tables([b.table for b in out]).column("time").to_pylist()
    assert merged == list(range(1, n + 1))
    assert all(b.num_rows <= 30_000 for b in out)
    assert list(tmp_path.iterdir()) == []  # staging removed


def test_collisions_are_reported_not_silent(tmp_path: Path, store: Store) -> None:
    data, mapping = csv_file(tmp_path, ["1,a,1", "1,a,2", "2,a,3"])
    account = ingest_file(store, "b", data, mapping=mapping)
    assert account.rows_written == 3 and account.collisions_within_input == 1
    assert stored_rows(store, "m", "v").column("_value").to_pylist() == [2, 3]  # last wins
    again = ingest_file(store, "b", data, mapping=mapping)
    assert again.collisions_with_existing >= 2
    table = again.rich_table()
    text = io.StringIO()
    Console(file=text, width=120).print(table)
    assert "collisions with existing points" in text.getvalue()
    assert "--on-collision" in text.getvalue()


def test_type_conflicts_with_stored_fields_are_rejected_with_lines(
    tmp_path: Path, store: Store
) -> None:
    first = write_text(tmp_path / "a.lp", "m,k=a v=1i 1\n")
    assert ingest_file(store, "b", first).rows_written == 1
    second = write_text(tmp_path / "b.lp", "m,k=a w=1 2\nm,k=a v=2.5 3\nm,k=a w=2 4\n")
    rejects = tmp_path / "r.csv"
    account = ingest_file(store, "b", second, max_errors=-1, rejects_path=rejects)
    assert (account.rows_written, account.rows_rejected) == (2, 1) and account.balanced
    with open(rejects, newline="") as fh:
        (row,) = list(csv.DictReader(fh))
    assert (row["line"], row["column"], row["value"]) == ("2", "v", "2.5")
    assert "field type conflict" in row["reason"]


def test_account_to_dict(tmp_path: Path, store: Store) -> None:
    data, mapping = csv_file(tmp_path, ["1,a,1"])
    d = ingest_file(store, "b", data, mapping=mapping).to_dict()
    assert d["rows_read"] == 1 and d["balanced"] is True and d["exit_code"] == 0
    assert d["format"] == "csv" and d["measurements"] == ["m"]


def test_stream_input(tmp_path: Path, store: Store) -> None:
    stream = io.BytesIO(b"cpu v=1 1\ncpu v=2 2\n")
    account = ingest_stream(store, "b", stream, source_name="<stdin>")
    assert account.source == "<stdin>" and account.rows_written == 2 and account.format == "lp"


def test_format_detection_and_errors(tmp_path: Path, store: Store) -> None:
    lp = write_text(tmp_path / "noext", "cpu v=1 1\n")
    assert ingest_file(store, "b", lp).format == "lp"
    ann = write_text(tmp_path / "x.dat", "#datatype measurement,double\nm,v\nx,1\n")
    assert ingest_file(store, "b", ann).format == "annotated"
    with pytest.raises(FormatError, match="needs a mapping"):
        ingest_file(store, "b", lp, format="csv")
    with pytest.raises(FormatError, match="unknown format"):
        ingest_file(store, "b", lp, format="json")


def test_progress_bar_renders_when_enabled(tmp_path: Path, store: Store) -> None:
    data, mapping = csv_file(tmp_path, ["1,a,1", "2,a,2"])
    account = ingest_file(store, "b", data, mapping=mapping, progress=True)
    assert account.rows_written == 2 and account.bytes_read == data.stat().st_size


def test_text_stream_input(store: Store) -> None:
    account = ingest_stream(store, "b", io.StringIO("cpu v=1 1\n"), source_name="<stdin>")
    assert account.rows_written == 1


def test_account_table_shows_brackets_in_messages_verbatim() -> None:
    from io import StringIO

    from rich.console import Console

    from fluxlab.ingest.account import IngestAccount

    account = IngestAccount(source="x.csv", format="csv", rows_read=1, rows_rejected=1)
    account.first_error = "line 2: bad time (mapping [time] format)"
    out = StringIO()
    Console(file=out, width=200).print(account.rich_table())
    assert "(mapping [time] format)" in out.getvalue()
