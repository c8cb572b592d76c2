"""The line protocol reader decodes blocks in a thread pool: results must come back in
input order with exact line numbers, whatever the number of workers and block size."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from ingest_helpers import stored_rows, write_text

from fluxlab.ingest import ingest_file
from fluxlab.ingest.readers.lineprotocol import read_line_protocol
from fluxlab.ingest.sources import OpenedSource
from fluxlab.model.precision import Precision
from fluxlab.storage import Store


def _lines(count: int) -> list[str]:
    """Plain and escaped lines, a comment, blank lines and a bad line every 97 lines."""
    out = []
    for i in range(1, count + 1):
        if i % 97 == 0:
            out.append(f"cpu v=oops {i}")
        elif i % 50 == 0:
            out.append("# comment" if i % 100 else "")
        elif i % 3 == 0:
            out.append(f'cpu,host=Frog\\ Hollow v={i},note="a \\"q\\"" {i}')
        else:
            out.append(f"cpu,host=h{i % 5} v={i} {i}")
    return out


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_chunks_come_back_in_order_with_exact_lines(tmp_path: Path, workers: int) -> None:
    lines = _lines(1999)
    path = write_text(tmp_path / "d.lp", "\n".join(lines))  # no final newline
    with OpenedSource(path) as opened:
        chunks = list(read_line_protocol(
            opened, source="d.lp", precision=Precision.NS, now_ns=0, chunk_bytes=1500,
            workers=workers,
        ))
    assert len(chunks) > 20
    seen = [n for c in chunks for b in c.batches for n in b.table.column("_line").to_pylist()]
    rejected = [n for c in chunks for n in c.rejects.column("line").to_pylist()]
    assert seen == sorted(seen) and rejected == sorted(rejected)
    assert rejected == [i for i in range(1, 2000) if i % 97 == 0]
    skipped = sum(c.skipped for c in chunks)
    assert len(seen) + len(rejected) + skipped == 1999
    last = chunks[-1].batches[-1].table.to_pylist()[-1]
    assert last["_line"] == 1999 and last["v"] == 1999.0


def test_parallel_ingest_matches_lines_and_values(tmp_path: Path, store: Store) -> None:
    lines = _lines(3000)
    path = write_text(tmp_path / "d.lp", "\n".join(lines) + "\n")
    rejects = tmp_path / "r.csv"
    account = ingest_file(store, "b", path, max_errors=-1, rejects_path=rejects, block_size=4096)
    bad = [i for i in range(1, 3001) if i % 97 == 0]
    assert account.balanced and account.rows_rejected == len(bad)
    with open(rejects, newline="") as fh:
        assert [int(r["line"]) for r in csv.DictReader(fh)] == bad
    values = stored_rows(store, "cpu", "v").column("_value").to_pylist()
    assert values == [float(i) for i in range(1, 3001) if i % 97 and i % 50]
    assert "Frog Hollow" in store.tag_values("b", "host")


def test_error_budget_stops_the_pool_early(tmp_path: Path, store: Store) -> None:
    path = write_text(tmp_path / "d.lp", "\n".join(_lines(3000)) + "\n")
    account = ingest_file(store, "b", path, max_errors=2, block_size=2048)
    assert account.stopped_early and account.rows_rejected == 3
    assert "line 291" in (account.stop_reason or "")
