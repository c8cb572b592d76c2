"""Physical line numbers survive blank lines, bad rows, quoted newlines and block cuts."""

from __future__ import annotations

import io

import pytest

from fluxlab.ingest.csvblocks import iter_csv_blocks, read_header

DATA = (
    b"a,b\n"  # 1
    b"1,2\n"  # 2
    b"\n"  # 3 blank
    b"3,4,5\n"  # 4 too many columns
    b'"x\ny",6\n'  # 5-6
    b"7,8\n"  # 7
    b"9\n"  # 8 too few columns
    b'"p\nq","r\ns"\n'  # 9-11
    b"10,11\n"  # 12
)


@pytest.mark.parametrize("block_size", [16, 64, 1 << 20])
def test_lines_are_exact(block_size: int) -> None:
    stream = io.BytesIO(DATA)
    header = read_header(stream, ",", "f.csv")
    blocks = list(iter_csv_blocks(stream, source="f.csv", header=header, first_line=2,
                                  block_size=block_size))
    rows = [(a, int(line)) for blk in blocks
            for a, line in zip(blk.batch.column("a").to_pylist(), blk.lines, strict=True)]
    assert rows == [("1", 2), ("", 3), ("x\ny", 5), ("7", 7), ("p\nq", 9), ("10", 12)]
    bad = [r for blk in blocks for r in blk.bad_rows.to_pylist()]
    assert [(r["line"], r["raw"]) for r in bad] == [(4, "3,4,5"), (8, "9")]
    assert "expected 2 columns, found 3" in bad[0]["reason"]


def test_duplicate_header_names_are_refused() -> None:
    with pytest.raises(ValueError, match=r"repeats column names \['a'\]"):
        read_header(io.BytesIO(b"a,b,a\n"), ",", "f.csv")


def test_lines_ending_in_a_bare_carriage_return_are_named() -> None:
    with pytest.raises(ValueError, match="lines end in CR alone"):
        read_header(io.BytesIO(b"a,b\r1,2\r"), ",", "f.csv")
