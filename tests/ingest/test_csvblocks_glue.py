"""Blocks glued from several parsed pieces keep exact lines and shape rejects."""

from __future__ import annotations

import io

import pytest

from fluxlab.ingest import csvblocks
from fluxlab.ingest.csvblocks import iter_csv_blocks, read_header

DATA = b"a,b\n" + b"".join(
    b"1,2,3\n" if i % 7 == 3 else b'"x\ny",%d\n' % i if i % 5 == 0 else b"%d,%d\n" % (i, i)
    for i in range(200)
)


def _expected_lines() -> tuple[list[int], list[int]]:
    good, bad, line = [], [], 2
    for i in range(200):
        (bad if i % 7 == 3 else good).append(line)
        line += 2 if i % 5 == 0 and i % 7 != 3 else 1
    return good, bad


def test_pieces_are_glued_into_blocks_with_exact_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(csvblocks, "READ_BLOCK_SIZE", 64)  # many pieces per 512-byte block
    stream = io.BytesIO(DATA)
    header = read_header(stream, ",", "f.csv")
    blocks = list(iter_csv_blocks(stream, source="f.csv", header=header, first_line=2,
                                  block_size=512))
    good, bad = _expected_lines()
    assert len(blocks) < 20  # glued: the 2.4 KB file is parsed in ~40 pieces
    assert [int(n) for blk in blocks for n in blk.lines] == good
    assert [r["line"] for blk in blocks for r in blk.bad_rows.to_pylist()] == bad
    assert sum(blk.batch.num_rows for blk in blocks) == len(good)
