"""The vectorized path on escaped lines and unusual number spellings: it must decode
exactly what the per-line parser decodes, without sending valid escaped lines to it.

Why these cases: escapes are resolved positionally (runs of backslashes, which byte
follows, whether the backslash is in the measurement, a key/tag value or a string), and
numbers are parsed by Polars, which accepts a few spellings line protocol does not.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lineprotocol_helpers import decode_both, rows

import fluxlab.model.lineprotocol.decoding as lp
from fluxlab.model.lineprotocol import decode, encode_point
from fluxlab.model.points import Point


@pytest.fixture
def slow_lines(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Collects the number of lines each decode sends to the exact parser."""
    sent: list[int] = []
    exact = lp._decode_slow

    def counting(indices: object, ctx: object) -> None:
        sent.append(len(indices))  # type: ignore[arg-type]
        exact(indices, ctx)  # type: ignore[arg-type]

    monkeypatch.setattr(lp, "_decode_slow", counting)
    return sent


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (r"my\ m\,x f=1 1", {"_measurement": "my m,x"}),
        (r"m\=x\\ f=1 1", {"_measurement": "m\\=x\\"}),
        (r"m,ta\ g\,x\=y=v f=1 1", {"ta g,x=y": "v"}),
        (r"m,t=Frog\ Hollow\,CT\=1 f=1 1", {"t": "Frog Hollow,CT=1"}),
        (r"m,t=a\\\ b\\ f=1 1", {"t": "a\\ b\\"}),
        (r"m,t=a\"b\x f=1 1", {"t": 'a\\"b\\x'}),
        (r"m f\ k\,e\=y=1 1", {"f k,e=y": 1.0}),
        (r'm s="say \"hi\" \\o/ \, \= \ x" 1', {"s": 'say "hi" \\o/ \\, \\= \\ x'}),
        (r'm s="\\",t="\"" 1', {"s": "\\", "t": '"'}),
        (r'm s="a\\\"b" 1', {"s": 'a\\"b'}),
    ],
)
def test_escaped_elements_are_decoded_vectorized(
    line: str, expected: dict[str, object], slow_lines: list[int]
) -> None:
    result = decode_both((line + "\n") * 3)
    assert slow_lines[0] == 0  # the first decode is the vectorized one
    assert not result.errors and result.points == 3
    row = rows(result)[0]
    for key, value in expected.items():
        assert (result.batches[0].measurement if key == "_measurement" else row[key]) == value


def test_mixed_escaped_and_plain_lines_in_one_batch(slow_lines: list[int]) -> None:
    lines = []
    for i in range(40):
        hood = r"Frog\ Hollow" if i % 3 == 0 else "Downtown"
        text = r'say \"x\"' if i % 4 == 0 else "plain"
        lines.append(f'incidents,hood={hood} code={i}i,note="{text}",lat=41.{i} {i}')
    result = decode_both("\n".join(lines) + "\n")
    assert slow_lines[0] == 0
    got = rows(result)
    assert [r["hood"] for r in got[:4]] == ["Frog Hollow", "Downtown", "Downtown", "Frog Hollow"]
    assert [r["note"] for r in got[:5]] == ['say "x"', "plain", "plain", "plain", 'say "x"']
    assert [r["code"] for r in got] == list(range(40))


@pytest.mark.parametrize(
    "value",
    ["inf", "-inf", "+inf", "Infinity", "nan", "NaN", "-nan", "+1", "+1.5", "+.5", "1e999",
     "+1i", "+1u", "-1u", "1_0", "0x10", "1e", "--1", "1.5.2", "+0i", "1ii"],
)
def test_number_spellings_only_line_protocol_allows(value: str, slow_lines: list[int]) -> None:
    """Polars parses these (or some); line protocol does not: both paths reject them."""
    result = decode_both(f"m f={value} 1\nm f=2 2\n")
    assert len(result.errors) == 1 and result.errors[0].line == 1
    assert result.points == 1


@pytest.mark.parametrize("stamp", ["+5", "5i", "1e3", "-", "99999999999999999999"])
def test_timestamp_spellings_only_line_protocol_allows(stamp: str) -> None:
    result = decode_both(f"m f=1 {stamp}\nm f=2 2\n")
    assert len(result.errors) == 1 and result.errors[0].line == 1


def test_large_window_of_escaped_lines_matches_exact_parser() -> None:
    """Many lines per window (the vectorized code paths for long arrays)."""
    lines = [
        f'm\\ x,host=server\\ {i % 7},k\\=x=a\\,b\\\\ f\\ 1="q\\"u\\\\o {i}",g={i}i,h={i}.5 {i}'
        for i in range(3000)
    ]
    result = decode_both("\n".join(lines) + "\n")
    assert result.points == 3000 and not result.errors
    first = rows(result)[0]
    assert first["host"] == "server 0" and first["k=x"] == "a,b\\" and first["f 1"] == 'q"u\\o 0'


ESCAPE_TEXT = st.text(
    st.one_of(st.sampled_from(list(' ,="\\ab')), st.characters(codec="utf-8",
                                                               blacklist_characters="\n\r")),
    min_size=1,
    max_size=6,
)


@st.composite
def escaped_points(draw: st.DrawFn) -> Point:
    """Points whose names and strings are full of characters that need escaping."""
    measurement = draw(ESCAPE_TEXT.filter(lambda m: m[0] not in "#\t "))
    reserved = {"time", "_line", "_field", "_measurement", "s", "n"}  # s, n: the fields
    tag_keys = draw(st.lists(ESCAPE_TEXT.filter(lambda k: k not in reserved), max_size=2))
    tags = {k: draw(ESCAPE_TEXT) for k in tag_keys}
    fields: dict[str, object] = {
        "s": draw(st.text(st.sampled_from(list('ab \\",=')), max_size=6)),
        "n": draw(st.integers(-1000, 1000)),
    }
    return Point(measurement, fields, tags, draw(st.integers(0, 10**18)))


@settings(max_examples=60, deadline=None)
@given(st.lists(escaped_points(), min_size=1, max_size=8), st.integers(1, 4))
def test_fast_path_equals_exact_parser_on_escaped_lines(
    points: list[Point], repeat: int
) -> None:
    """Generated escaped lines, mixed with plain ones, repeated so templates have many rows."""
    plain = ["plain,t=a f=1 1", 'plain,t=b f=2,s="x" 2']
    lines = [encode_point(p) for p in points] * repeat + plain
    result = decode_both("\n".join(lines) + "\n")
    assert result.points + len(result.errors) == result.lines_read
    assert result.points == len(lines)


def test_generated_escaped_lines_stay_vectorized(slow_lines: list[int]) -> None:
    """Lines the encoder writes with every kind of escape are not sent to the exact parser."""
    point = Point("my m,x", {"f k=": 'a "b" \\ c', "n": 3}, {"t,k=": "v a=l,ue\\"}, 5)
    decode((encode_point(point) + "\n") * 20)
    assert slow_lines == [0]


def test_string_views_and_the_copying_fallback_cut_the_same_values() -> None:
    """Windows beyond int32 offsets copy the bytes instead of pointing at them."""
    import numpy as np

    from fluxlab.model.lineprotocol.cut import _Bytes

    raw = "".join(f"v{i}{'x' * (i % 17)}é," for i in range(500)).encode()
    ends = np.array([i for i, b in enumerate(raw) if b == ord(",")], np.int64)
    starts = np.concatenate([[0], ends[:-1] + 1]).astype(np.int32)
    src = _Bytes.of(raw)
    expected = raw.decode().split(",")[:-1]
    assert src.strings(starts, ends).to_list() == expected
    assert src._copied_strings(starts.astype(np.int64), ends).to_list() == expected
