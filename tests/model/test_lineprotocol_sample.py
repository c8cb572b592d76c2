"""The bird-migration sample decodes completely; chunked and gzip reading agree."""

from __future__ import annotations

import gzip
from pathlib import Path

import pyarrow as pa
from lineprotocol_helpers import decode_both

from fluxlab.model.lineprotocol import decode, decode_file_chunks, encode_batch

SAMPLE = Path(__file__).parents[2] / "src/fluxlab/datasets/data/bird-migration.line"


def test_bird_migration_decodes_fully() -> None:
    result = decode_both(SAMPLE.read_bytes(), source=SAMPLE.name)
    assert (result.lines_read, result.lines_skipped, result.points) == (8971, 0, 8971)
    assert result.errors == []
    (batch,) = result.batches
    assert (batch.measurement, batch.tags, batch.fields) == (
        "migration", ("id", "s2_cell_id"), ("lat", "lon")
    )
    table = batch.table
    assert table.slice(0, 1).to_pylist() == [
        {"time": 1554123600000000000, "id": "91752A", "s2_cell_id": "164b35c",
         "lat": 8.3495, "lon": 39.01233, "_line": 1}
    ]
    assert table.slice(8970, 1).to_pylist()[0] == {
        "time": 1555099200000000000, "id": "91916A", "s2_cell_id": "47324f4",
        "lat": 48.9385, "lon": 27.0125, "_line": 8971,
    }
    assert len(set(table.column("id").to_pylist())) == 8
    assert table.column("_line").to_pylist() == list(range(1, 8972))


def test_bird_migration_round_trips_through_encode() -> None:
    (batch,) = decode(SAMPLE.read_bytes()).batches
    lines = encode_batch(batch)
    assert len(lines) == 8971
    assert lines.to_pylist()[:1] == [
        "migration,id=91752A,s2_cell_id=164b35c lat=8.3495,lon=39.01233 1554123600000000000"
    ]
    (again,) = decode("\n".join(lines.to_pylist())).batches
    assert again.table.equals(batch.table)


def _concat(results: list) -> pa.Table:
    tables = [b.table for r in results for b in r.batches]
    return pa.concat_tables(tables)


def test_chunks_cut_at_lines_and_continue_numbering(tmp_path: Path) -> None:
    whole = decode(SAMPLE.read_bytes(), default_time_ns=0).batches[0].table
    plain = tmp_path / "birds.lp"
    plain.write_bytes(SAMPLE.read_bytes() + b"m f=oops\n")
    compressed = tmp_path / "birds.lp.gz"
    compressed.write_bytes(gzip.compress(plain.read_bytes()))
    for path in (plain, compressed):
        results = list(decode_file_chunks(path, chunk_bytes=100_000, default_time_ns=0))
        assert len(results) > 5
        assert sum(r.lines_read for r in results) == 8972
        assert _concat(results).equals(whole)
        (error,) = [e for r in results for e in r.errors]
        assert (error.source, error.line, error.column) == (str(path), 8972, 5)


def test_chunk_reader_handles_missing_final_newline_and_long_lines(tmp_path: Path) -> None:
    path = tmp_path / "x.lp"
    path.write_bytes(b'm s="' + b"y" * 5000 + b'" 1\nm f=2 2')
    results = list(decode_file_chunks(path, chunk_bytes=64))
    assert [r.lines_read for r in results] == [1, 1]
    assert [b.table.column("_line")[0].as_py() for r in results for b in r.batches] == [1, 2]
