"""Encoding points and batches: escaping, number formats, nulls and precision."""

from __future__ import annotations

import math

import pyarrow as pa
import pytest

from fluxlab.model.lineprotocol import (
    decode,
    encode_batch,
    encode_point,
    escape_key,
    escape_measurement,
)
from fluxlab.model.points import Point, PointBatch, Unsigned
from fluxlab.model.precision import Precision


def test_encode_point_escapes_every_element() -> None:
    point = Point(
        "my m,x=y",
        {"f k=": 'say "hi" \\o/', "n": 3, "u": Unsigned(4), "b": False, "x": 0.1},
        {"t,k": "a b=c", "empty": ""},
        1554123600000000000,
    )
    assert encode_point(point) == (
        'my\\ m\\,x=y,t\\,k=a\\ b\\=c f\\ k\\=="say \\"hi\\" \\\\o/",n=3i,u=4u,b=false,x=0.1 '
        "1554123600000000000"
    )


@pytest.mark.parametrize(
    ("name", "escaped"),
    [
        ("plain", "plain"),
        ("C:\\dir", "C:\\dir"),  # a lone backslash before an ordinary char stays
        ("a\\", "a\\\\"),  # trailing backslash doubled so it cannot eat the delimiter
        ("a\\ b", "a\\\\\\ b"),  # backslash then space: both protected
        ("a\\\\b", "a\\\\\\b"),  # two backslashes before an ordinary char: 2n-1
        ("a,b c=d", "a\\,b\\ c=d"),
    ],
)
def test_escape_measurement(name: str, escaped: str) -> None:
    assert escape_measurement(name) == escaped
    (batch,) = decode(f"{escaped} f=1 1").batches
    assert batch.measurement == name


def test_escape_key_escapes_equals_too() -> None:
    assert escape_key("a=b, c") == "a\\=b\\,\\ c"


def test_float_formats_round_trip() -> None:
    for value in (0.1, 1e16, 1e-7, -0.0, 5e-324, 1.7976931348623157e308, 123456789.123):
        line = encode_point(Point("m", {"f": value}, time=1))
        (row,) = decode(line).batches[0].table.to_pylist()
        assert row["f"] == value and math.copysign(1, row["f"]) == math.copysign(1, value)


def test_encode_point_rejects_unrepresentable_values() -> None:
    with pytest.raises(ValueError, match="cannot represent"):
        encode_point(Point("m", {"f": math.nan}))
    with pytest.raises(ValueError, match="no fields"):
        encode_point(Point("m", {}))
    with pytest.raises(ValueError, match="int64"):
        encode_point(Point("m", {"f": 2**63}))


def test_encode_point_precision_and_missing_time() -> None:
    assert encode_point(Point("m", {"f": 1.0}, time=1_999_999_999), Precision.S) == "m f=1.0 1"
    assert encode_point(Point("m", {"f": 1.0}), "ms") == "m f=1.0"


def _batch() -> PointBatch:
    table = pa.table(
        {
            "time": pa.array([1_000_000_000, 2_500_000_000, 3_000_000_000], pa.int64()),
            "host": pa.array(["a b", None, ""], pa.string()),
            "f": pa.array([1.5, None, math.nan], pa.float64()),
            "i": pa.array([1, None, None], pa.int64()),
            "u": pa.array([None, None, 7], pa.uint64()),
            "s": pa.array(['x"y\\', None, None], pa.string()),
            "b": pa.array([True, None, False], pa.bool_()),
            "_line": pa.array([1, 2, 3], pa.int64()),
        }
    )
    return PointBatch("cpu load", table, ("host",), ("f", "i", "u", "s", "b"))


def test_encode_batch_skips_nulls_and_rows_without_fields() -> None:
    lines = encode_batch(_batch())
    assert isinstance(lines, pa.StringArray)
    assert lines.to_pylist() == [
        'cpu\\ load,host=a\\ b f=1.5,i=1i,s="x\\"y\\\\",b=true 1000000000',
        "cpu\\ load u=7u,b=false 3000000000",
    ]


def test_encode_batch_precision_floors() -> None:
    lines = encode_batch(_batch(), precision="s").to_pylist()
    assert [line.rsplit(" ", 1)[1] for line in lines] == ["1", "3"]


def test_encode_batch_matches_encode_point_and_decodes_back() -> None:
    data = "m,a=x\\ y,b=\\\\z f=1.25,g=\"q\\\"\",h=-3i 10\nm,a=w k=2u,f=0.5 20\n"
    (batch,) = decode(data).batches
    encoded = encode_batch(batch).to_pylist()
    (again,) = decode("\n".join(encoded)).batches
    assert again.table.drop(["_line"]).equals(batch.table.drop(["_line"]))
    for line, row in zip(encoded, batch.table.to_pylist(), strict=True):
        tags = {k: row[k] for k in batch.tags if row[k] is not None}
        fields = {k: row[k] for k in batch.fields if row[k] is not None}
        if "k" in fields:
            fields["k"] = Unsigned(fields["k"])
        ordered = {k: fields[k] for k in batch.fields if k in fields}
        assert encode_point(Point("m", ordered, tags, row["time"])) == line
