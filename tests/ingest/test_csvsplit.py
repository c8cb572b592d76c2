"""Record boundaries found by quote parity agree with Arrow's own quote-aware parser."""

from __future__ import annotations

import io

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fluxlab.ingest.csvblocks import iter_csv_blocks, read_header
from fluxlab.ingest.csvsplit import record_end


def test_piece_without_quotes_ends_after_its_last_newline() -> None:
    assert record_end(b"a,b\n1,2\n3,") == 8


def test_newline_inside_quotes_is_not_a_boundary() -> None:
    piece = b'1,"x"\n2,"open\nstill open'
    assert record_end(piece) == 6


def test_no_complete_record_gives_zero() -> None:
    assert record_end(b'1,"a\nb') == 0
    assert record_end(b"no newline yet") == 0


def test_doubled_quotes_keep_parity() -> None:
    piece = b'1,"say ""hi""\nthere",2\n3,4'
    assert record_end(piece) == len(b'1,"say ""hi""\nthere",2\n')


def test_stray_quote_inside_unquoted_value_is_refused() -> None:
    assert record_end(b'1,12" TV,x\n2,y,z\n') is None
    assert record_end(b'1,ab",x\n2,y,z\n') is None


VALUE = st.one_of(
    st.text(alphabet="ab ,\n\"", max_size=6).map(lambda v: '"' + v.replace('"', '""') + '"'),
    st.text(alphabet="ab 1.", max_size=5),
    st.text(alphabet='ab"', min_size=2, max_size=4).filter(lambda v: not v.startswith('"')),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(VALUE, VALUE), min_size=1, max_size=40),
       st.sampled_from([16, 40, 128, 1 << 20]))
def test_blocks_match_arrow_quote_aware_parse(rows: list[tuple[str, str]], block: int) -> None:
    data = ("a,b\n" + "".join(f"{x},{y}\n" for x, y in rows)).encode()
    expected = pacsv.read_csv(
        io.BytesIO(data),
        parse_options=pacsv.ParseOptions(newlines_in_values=True, ignore_empty_lines=False),
        convert_options=pacsv.ConvertOptions(column_types={"a": pa.string(), "b": pa.string()},
                                             strings_can_be_null=False),
    )
    stream = io.BytesIO(data)
    header = read_header(stream, ",", "f.csv")
    blocks = list(iter_csv_blocks(stream, source="f.csv", header=header, first_line=2,
                                  block_size=block))
    got = [(a, b) for blk in blocks for a, b in zip(blk.batch.column("a").to_pylist(),
                                                    blk.batch.column("b").to_pylist(), strict=True)]
    assert got == list(zip(expected.column("a").to_pylist(), expected.column("b").to_pylist(),
                           strict=True))


@pytest.mark.parametrize("block", [16, 64, 1 << 20])
def test_lines_stay_exact_after_falling_back_to_the_streaming_reader(block: int) -> None:
    data = b'a,b\n1,"x\ny"\n2,12" TV\n3,"p\nq"\n4,z\n'
    stream = io.BytesIO(data)
    header = read_header(stream, ",", "f.csv")
    blocks = list(iter_csv_blocks(stream, source="f.csv", header=header, first_line=2,
                                  block_size=block))
    rows = [(a, b, int(line)) for blk in blocks for a, b, line in
            zip(blk.batch.column("a").to_pylist(), blk.batch.column("b").to_pylist(), blk.lines,
                strict=True)]
    assert rows == [("1", "x\ny", 2), ("2", '12" TV', 4), ("3", "p\nq", 5), ("4", "z", 7)]
