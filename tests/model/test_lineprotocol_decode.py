"""Decoding line protocol: escapes, types, grouping, timestamps and type conflicts."""

from __future__ import annotations

import time

import pyarrow as pa
import pytest
from lineprotocol_helpers import decode_both, rows

import fluxlab.model.lineprotocol.decoding as lp
from fluxlab.model.lineprotocol import decode, parse_line
from fluxlab.model.points import FieldType, Unsigned
from fluxlab.model.precision import Precision

NOW = 1_700_000_000_000_000_000


@pytest.mark.parametrize(
    ("line", "measurement", "tags", "fields"),
    [
        (r'my\ m,ta\,g=v\=al f\ k="q\"uote\\" 13', "my m", {"ta,g": "v=al"}, {"f k": 'q"uote\\'}),
        ("m=x f=1", "m=x", {}, {"f": 1.0}),
        (r'C:\path,t=a\b f="x\y"', r"C:\path", {"t": r"a\b"}, {"f": r"x\y"}),
        (r"m\\ f=1", "m\\", {}, {"f": 1.0}),
        (r"m\\\ x f=1", "m\\ x", {}, {"f": 1.0}),
        (r"m,k\\=v\\\\ f=1", "m", {"k\\": "v\\\\"}, {"f": 1.0}),
        ('m,t="q" f=1', "m", {"t": '"q"'}, {"f": 1.0}),
        ('m f="a, b=c d",g=2', "m", {}, {"f": "a, b=c d", "g": 2.0}),
        ('m f=""', "m", {}, {"f": ""}),
        ('m,tag=🍭 f="Launch 🚀"', "m", {"tag": "🍭"}, {"f": "Launch 🚀"}),
        ("m a=t,b=T,c=true,d=True,e=TRUE", "m", {}, dict.fromkeys("abcde", True)),
        ("m a=f,b=F,c=false,d=False,e=FALSE", "m", {}, dict.fromkeys("abcde", False)),
        ("m a=1.,b=.5,c=-1e5,d=1E5,e=1,g=-0.25e-2", "m", {},
         {"a": 1.0, "b": 0.5, "c": -1e5, "d": 1e5, "e": 1.0, "g": -0.0025}),
        ("m a=-9223372036854775808i,b=9223372036854775807i,c=0i", "m", {},
         {"a": -(2**63), "b": 2**63 - 1, "c": 0}),
        ("m a=18446744073709551615u,b=0u", "m", {}, {"a": 2**64 - 1, "b": 0}),
        ("m,a=1,b=2 'f'=1", "m", {"a": "1", "b": "2"}, {"'f'": 1.0}),
        ("  m f=1", "m", {}, {"f": 1.0}),
        ("m\tx,t\tk=v\tv f\tk=1", "m\tx", {"t\tk": "v\tv"}, {"f\tk": 1.0}),
    ],
)
def test_decodes_escapes_and_types(
    line: str, measurement: str, tags: dict[str, str], fields: dict[str, object]
) -> None:
    result = decode_both(line + "\n", default_time_ns=NOW)
    assert not result.errors
    (batch,) = result.batches
    assert batch.measurement == measurement
    assert set(batch.tags) == set(tags)
    assert set(batch.fields) == set(fields)
    (row,) = rows(result)
    assert {k: row[k] for k in tags} == tags
    assert {k: row[k] for k in fields} == fields
    parsed = parse_line(line)
    assert (parsed.measurement, parsed.tags, parsed.fields) == (measurement, tags, fields)


def test_field_types_map_to_arrow_types() -> None:
    data = 'm f=1.5,i=2i,u=3u,s="x",b=true 1\n'
    (batch,) = decode_both(data).batches
    assert batch.field_types() == {
        "b": FieldType.BOOLEAN,
        "f": FieldType.FLOAT,
        "i": FieldType.INTEGER,
        "s": FieldType.STRING,
        "u": FieldType.UNSIGNED,
    }
    assert batch.table.schema.field("time").type == pa.int64()
    assert batch.table.schema.field("_line").type == pa.int64()
    assert isinstance(parse_line(data.strip()).fields["u"], Unsigned)


def test_union_of_keys_within_a_measurement_and_grouping() -> None:
    data = (
        "cpu,host=a usage=1.5 10\n"
        "mem,host=a used=3i 11\n"
        'cpu,region=eu usage=2.5,note="hot" 12\n'
        "cpu usage=3 13\n"
    )
    result = decode_both(data)
    assert [b.measurement for b in result.batches] == ["cpu", "mem"]
    cpu = result.batches[0]
    assert cpu.tags == ("host", "region")
    assert cpu.fields == ("note", "usage")
    assert cpu.table.to_pylist() == [
        {"time": 10, "host": "a", "region": None, "note": None, "usage": 1.5, "_line": 1},
        {"time": 12, "host": None, "region": "eu", "note": "hot", "usage": 2.5, "_line": 3},
        {"time": 13, "host": None, "region": None, "note": None, "usage": 3.0, "_line": 4},
    ]
    assert rows(result, "mem") == [{"time": 11, "host": "a", "used": 3, "_line": 2}]


def test_skipped_lines_line_numbers_and_accounting() -> None:
    data = "# header\n\n   \n  # indented comment\nm f=1 5\r\nbad\nm f=2 6\n"
    result = decode_both(data, first_line=101)
    assert result.lines_read == 7
    assert result.lines_skipped == 4
    assert [r["_line"] for r in rows(result)] == [105, 107]
    assert [e.line for e in result.errors] == [106]
    assert result.lines_read == result.lines_skipped + result.points + len(result.errors)


def test_missing_timestamp_uses_default_or_now() -> None:
    assert rows(decode_both("m f=1\n", default_time_ns=NOW))[0]["time"] == NOW
    before = time.time_ns()
    (row,) = rows(decode("m f=1"))
    assert before <= row["time"] <= time.time_ns()


@pytest.mark.parametrize(
    ("precision", "stamp", "expected"),
    [
        ("ns", "1554123600000000000", 1554123600000000000),
        ("us", "1554123600000000", 1554123600000000000),
        ("ms", "1554123600000", 1554123600000000000),
        (Precision.S, "1554123600", 1554123600000000000),
        ("s", "-1", -1_000_000_000),
    ],
)
def test_precision_conversion(precision: str | Precision, stamp: str, expected: int) -> None:
    (row,) = rows(decode_both(f"m f=1 {stamp}\n", precision=precision))
    assert row["time"] == expected


def test_field_type_conflict_rejects_the_later_line() -> None:
    data = "m v=1.5 1\nm v=2i 2\nm v=3.5 3\n"
    result = decode_both(data)
    assert [r["v"] for r in rows(result)] == [1.5, 3.5]
    (error,) = result.errors
    assert (error.line, error.column) == (2, 5)
    assert error.message == "field type conflict: field v is float in line 1, integer here"
    assert error.text == "m v=2i 2"


def test_conflicts_follow_sequential_semantics() -> None:
    # line 2 is rejected (v), so b's type comes from line 3, which is accepted.
    data = "m v=1.5 1\nm v=2i,b=2.0 2\nm b=2i 3\nm b=3.0 4\n"
    result = decode_both(data)
    assert [(e.line, e.message) for e in result.errors] == [
        (2, "field type conflict: field v is float in line 1, integer here"),
        (4, "field type conflict: field b is integer in line 3, float here"),
    ]
    (batch,) = result.batches
    assert batch.field_types() == {"b": FieldType.INTEGER, "v": FieldType.FLOAT}
    assert [r["_line"] for r in rows(result)] == [1, 3]


def test_key_used_as_tag_and_field_across_lines() -> None:
    result = decode_both("m,k=a f=1 1\nm k=2 2\n")
    (error,) = result.errors
    assert (error.line, error.column) == (2, 5)
    assert "key k is a tag in line 1, a field here" in error.message
    assert result.points == 1


def test_empty_input() -> None:
    for data in (b"", "", "\n", "# only a comment\n"):
        result = decode_both(data)
        assert result.batches == [] and result.errors == []
        assert result.lines_read == result.lines_skipped


def test_small_fast_path_windows_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fast path runs over byte windows; tiny windows must not change anything."""
    lines = [
        'cpu,host=a usage=1.5,msg="a b" 1',
        "# comment",
        "cpu,host=b usage=2i 2",
        "mem used=3u 3",
        "cpu,host=c usage=2.5 4\r",
        "bad",
        'cpu,h\\ x=1 s="q\\"" 5',
        "",
        "mem used=4u",
    ]
    data = "\n".join(lines * 3)
    expected = decode_both(data, default_time_ns=9)
    monkeypatch.setattr(lp, "_WINDOW_BYTES", 40)
    windowed = decode_both(data, default_time_ns=9)
    assert windowed.errors == expected.errors
    assert [b.table for b in windowed.batches] == [b.table for b in expected.batches]
    assert windowed.points == 15 and len(windowed.errors) == 6


@pytest.mark.parametrize(
    ("data", "read", "skipped", "points"),
    [
        ("m f=1 1\n\n", 2, 1, 1),
        ("m f=1 1\n\n\n", 3, 2, 1),
        ("m f=1 1", 1, 0, 1),
        ("\nm f=1 1\r\n", 2, 1, 1),
        ("m f=1 1\r\n\r\n", 2, 1, 1),
    ],
)
def test_line_endings_and_trailing_blank_lines(
    data: str, read: int, skipped: int, points: int
) -> None:
    result = decode_both(data)
    assert (result.lines_read, result.lines_skipped, result.points) == (read, skipped, points)


def test_many_key_sets_beyond_the_vectorized_template_limit() -> None:
    lines = [f"m{i % 100},host=h{i} v{i % 7}={i}i {i}" for i in range(1000)]
    result = decode_both("\n".join(lines))
    assert result.points == 1000 and not result.errors
    assert len(result.batches) == 100
    first = result.batches[0]
    assert first.measurement == "m0"
    assert [r["_line"] for r in rows(result, "m0")] == list(range(1, 1001, 100))


def test_escaped_lines_stay_on_the_vectorized_path(monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[int] = []
    exact = lp._decode_slow
    def counting(rows: object, ctx: object) -> None:
        sent.append(len(rows))  # type: ignore[arg-type]
        exact(rows, ctx)  # type: ignore[arg-type]

    monkeypatch.setattr(lp, "_decode_slow", counting)
    data = "".join(
        f'my\\ m,host=server\\ {i},k\\=x=a\\,b f\\ 1="q\\"u\\\\o",g={i}i {i}\n' for i in range(50)
    )
    result = decode(data)
    assert sent == [0]
    assert rows(result)[0] == {
        "time": 0, "host": "server 0", "k=x": "a,b", "f 1": 'q"u\\o', "g": 0, "_line": 1
    }
    assert result.batches[0].measurement == "my m"
