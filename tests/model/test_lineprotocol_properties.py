"""Property tests: encode -> decode round trip, and the vectorized path agreeing with
the exact parser on arbitrary (mostly odd or invalid) lines.

Strategy limits, and why:
- no newline in any string: line protocol has no escape for it (a newline always
  ends the line); CR is left out too because a CR before the newline is dropped
  (CRLF input).
- a measurement cannot start with '#' (the line would be a comment) or with a
  space/tab (leading whitespace is skipped); a leading space is escaped by the
  encoder, so only tab and '#' are excluded.
- tag values cannot be empty (InfluxDB forbids it; the encoder leaves them out).
- keys are not the reserved `_measurement`, `_field`, `time`, `_line`, and a key is
  not both a tag and a field of the same point.
- trailing backslashes and runs of backslashes ARE included: the encoder doubles
  a run that precedes a delimiter or ends the element, so they round-trip.
- floats are finite: line protocol has no spelling for NaN or infinity.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lineprotocol_helpers import decode_both

from fluxlab.model.lineprotocol import RESERVED_KEYS, decode, encode_batch, encode_point
from fluxlab.model.points import Point, PointBatch, Unsigned

ALPHABET = st.characters(
    blacklist_categories=("Cs",), blacklist_characters="\n\r"
)
TRICKY = st.sampled_from(list(' ,="\\=\\\\ab#é🍭\t'))
NAME_TEXT = st.text(st.one_of(TRICKY, ALPHABET), min_size=1, max_size=8)

keys = NAME_TEXT.filter(lambda k: k not in RESERVED_KEYS)
measurements = NAME_TEXT.filter(lambda m: m[0] not in "#\t")
field_values = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(-(2**63), 2**63 - 1),
    st.integers(0, 2**64 - 1).map(Unsigned),
    st.booleans(),
    st.text(st.one_of(TRICKY, ALPHABET), max_size=10),
)


@st.composite
def points(draw: st.DrawFn) -> Point:
    tags = draw(st.dictionaries(keys, NAME_TEXT, max_size=3))
    fields = draw(
        st.dictionaries(keys.filter(lambda k: k not in tags), field_values, min_size=1, max_size=4)
    )
    stamp = draw(st.integers(-(2**62), 2**62))
    return Point(draw(measurements), fields, tags, stamp)


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    return a == b and type(a) is type(b) or (isinstance(a, Unsigned) and a == b)


def quick(examples: int) -> settings:
    """Few examples in the default run (the suite stays fast)."""
    return settings(max_examples=examples, deadline=None)


def thorough(test: Callable[..., None]) -> Callable[..., None]:
    """The same property with many examples, excluded from the default run."""
    return pytest.mark.slow(settings(max_examples=1000, deadline=None)(test))


def encode_point_round_trip(point: Point) -> None:
    line = encode_point(point)
    result = decode_both(line + "\n")
    assert result.errors == []
    (batch,) = result.batches
    assert batch.measurement == point.measurement
    (row,) = batch.table.to_pylist()
    assert row["time"] == point.time
    assert {k: row[k] for k in batch.tags} == point.tags
    assert set(batch.fields) == set(point.fields)
    for key, value in point.fields.items():
        assert _same(value, row[key]), (key, value, row[key])


def encode_batch_round_trip(many: list[Point]) -> None:
    lines = "\n".join(encode_point(p) for p in many)
    for batch in decode(lines).batches:
        encoded = encode_batch(batch)
        (again,) = decode("\n".join(encoded.to_pylist())).batches
        assert again.table.drop(["_line"]).equals(batch.table.drop(["_line"]))


PIECES = st.sampled_from(
    [
        "m", "cpu", "m,t=a", ",", "=", " ", '"', "\\", "\\ ", "\\,", "\\=", "#", "\t",
        "f=1", "f=1i", "f=1u", "f=-1", "f=1.5e3", "f=t", "f=false", 'f="x y"', 'f=""',
        "g=2", ",g=2i", " 123", " -5", " 1x", "1e999", "9223372036854775808", "i", "u",
        "time", "_field", "+1", ".", "é", "𝔘",
    ]
)


def paths_agree_on_odd_lines(lines: list[str]) -> None:
    result = decode_both("\n".join(lines), default_time_ns=7)
    assert result.lines_read == result.lines_skipped + result.points + len(result.errors)


VALUE_SPELLINGS = [
    "1", "2i", "3u", "true", "T", "FALSE", '"s"', '"a b,c=d"', "-0.5", "1e-3", "-7i",
    "12345678901234567890i", "123456789012345678901u", "1e999", "x",
]
MIXED_LINES = st.lists(
    st.tuples(
        st.sampled_from(["m", "n"]),
        st.sampled_from(["", ",h=a", ",h=b", ",r=x", ",a=x"]),
        st.lists(
            st.tuples(st.sampled_from(["a", "b", "c"]), st.sampled_from(VALUE_SPELLINGS)),
            min_size=1,
            max_size=3,
            unique_by=lambda kv: kv[0],
        ),
        st.sampled_from(["", " 1", " 22", " -3", " 1554123600000000000", " 1x"]),
    ),
    min_size=1,
    max_size=20,
)


def paths_agree_on_mixed_types(spec: list) -> None:
    lines = [
        f"{m}{tags} {','.join(f'{k}={v}' for k, v in fields)}{stamp}"
        for m, tags, fields, stamp in spec
    ]
    result = decode_both("\n".join(lines), default_time_ns=0)
    assert result.lines_read == result.points + len(result.errors)
    for batch in result.batches:
        assert isinstance(batch, PointBatch)
        assert batch.table.schema.field("time").type == pa.int64()


ODD_LINES = st.lists(st.lists(PIECES, max_size=8).map("".join), max_size=12)
POINT_LISTS = st.lists(points(), min_size=1, max_size=6)

test_encode_point_round_trip = quick(60)(given(points())(encode_point_round_trip))
test_encode_batch_round_trip = quick(15)(given(POINT_LISTS)(encode_batch_round_trip))
test_paths_agree_on_odd_lines = quick(60)(given(ODD_LINES)(paths_agree_on_odd_lines))
test_paths_agree_on_mixed_types = quick(30)(given(MIXED_LINES)(paths_agree_on_mixed_types))

test_encode_point_round_trip_thorough = thorough(given(points())(encode_point_round_trip))
test_encode_batch_round_trip_thorough = thorough(given(POINT_LISTS)(encode_batch_round_trip))
test_paths_agree_on_odd_lines_thorough = thorough(given(ODD_LINES)(paths_agree_on_odd_lines))
test_paths_agree_on_mixed_types_thorough = thorough(
    given(MIXED_LINES)(paths_agree_on_mixed_types)
)
