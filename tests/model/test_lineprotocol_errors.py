"""Every rejection reason, with line and column, identical on both decode paths."""

from __future__ import annotations

import pytest
from lineprotocol_helpers import decode_both

from fluxlab.model.lineprotocol import ERROR_TEXT_LIMIT, LineError

GOOD = "m f=1 1"


@pytest.mark.parametrize(
    ("line", "column", "message"),
    [
        ("m", 2, "missing fields"),
        ("m,t=a", 6, "missing fields"),
        ("m ", 2, "missing fields"),
        (",t=a f=1", 1, "empty measurement"),
        (" ,t=a f=1", 2, "empty measurement"),
        ("m,t f=1", 4, "missing tag value: expected '='"),
        ("m,t= f=1", 5, "missing tag value for tag key 't'"),
        ("m,=a f=1", 3, "missing tag key"),
        ("m,t=a=b f=1", 6, "unescaped '=' in the value of tag 't'"),
        ("m,t=a,t=b f=1", 7, "duplicate tag key 't'"),
        ("m =1", 3, "missing field key"),
        ("m f", 4, "expected '=' and a value after field key 'f'"),
        ("m f=", 5, "missing field value for field key 'f'"),
        ("m f=1,", 7, "missing field key"),
        ("m f=abc", 5, "invalid field value 'abc' for field 'f'"),
        ("m f=1.5.2", 5, "invalid field value '1.5.2'"),
        ("m f=+1", 5, "invalid field value '+1'"),
        ("m f=inf", 5, "invalid field value 'inf'"),
        ("m f=-1u", 5, "invalid field value '-1u'"),
        ("m f=1x", 5, "invalid field value '1x'"),
        ("m f=1,f=2", 7, "duplicate field key 'f'"),
        ("m,k=a k=1", 7, "key 'k' is used as both a tag and a field"),
        ('m f="abc', 5, "unterminated string"),
        ('m f="abc\\"', 5, "unterminated string"),
        ('m f="a"b', 8, "expected ',' or a space after the string value of field 'f'"),
        ("m f=1 12x", 7, "bad timestamp '12x'"),
        ("m f=1 1.5", 7, "bad timestamp '1.5'"),
        ("m f=1 1 2", 7, "bad timestamp '1 2'"),
        ("m f=1 9223372036854775807", 7, "timestamp 9223372036854775807 out of range"),
        ("m f=1 99999999999999999999", 7, "out of range"),
        ("m f=9223372036854775808i", 5, "integer 9223372036854775808i out of range"),
        ("m f=-9223372036854775809i", 5, "integer -9223372036854775809i out of range"),
        ("m f=18446744073709551616u", 5, "unsigned 18446744073709551616u out of range"),
        ("m f=1e999", 5, "float 1e999 out of range"),
        ("m,_measurement=x f=1", 3, "invalid tag key '_measurement'"),
        ("m,_field=x f=1", 3, "invalid tag key '_field'"),
        ("m,time=x f=1", 3, "invalid tag key 'time'"),
        ("m time=1", 3, "invalid field key 'time'"),
        ("m _field=1", 3, "invalid field key '_field'"),
        ("m _measurement=1", 3, "invalid field key '_measurement'"),
        ("m _line=1", 3, "invalid field key '_line'"),
    ],
)
def test_error_kinds_with_line_and_column(line: str, column: int, message: str) -> None:
    data = f"{GOOD}\n# comment\n{line}\n{GOOD}\n"
    result = decode_both(data, source="in.lp")
    (error,) = result.errors
    assert error == LineError("in.lp", 3, column, line, error.message)
    assert message in error.message
    assert result.points == 2


def test_messages_say_what_was_expected() -> None:
    result = decode_both("m f=abc\nm f=1 x\n")
    first, second = result.errors
    assert "expected a float (1.5), integer (1i), unsigned (1u)" in first.message
    assert "expected an integer Unix time in ns" in second.message
    assert str(first) == f"<input>:1:5: {first.message}: m f=abc"


def test_timestamp_range_depends_on_precision() -> None:
    result = decode_both("m f=1 9300000000\nm f=1 9200000000\n", precision="s")
    (error,) = result.errors
    assert (error.line, error.column) == (1, 7)
    assert "check the precision" in error.message
    assert result.points == 1


def test_invalid_utf8_is_reported_not_parsed() -> None:
    result = decode_both(b"m f=1 1\nm,t=\xff f=1 2\nm f=2 3\n")
    (error,) = result.errors
    assert (error.line, error.column) == (2, 5)
    assert "invalid UTF-8" in error.message
    assert result.points == 2
    assert result.lines_skipped == 0


def test_long_lines_are_truncated_in_errors() -> None:
    line = "m f=" + "x" * 1000
    (error,) = decode_both(line).errors
    assert len(error.text) == ERROR_TEXT_LIMIT + 3
    assert error.text.endswith("...")
