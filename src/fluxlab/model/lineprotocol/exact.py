"""The exact per-line parser: a small state machine over one line of text (`parse_line`)
that types every value and raises `LineSyntaxError` with the column of the first problem.
It is plain Python with no NumPy or Polars, the reference the vectorized parser must agree
with, and is used for the rare lines the fast path refuses and to locate conflicts."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from fluxlab.model.lineprotocol.errors import LineSyntaxError
from fluxlab.model.lineprotocol.syntax import (
    _BOOL_FALSE,
    _BOOL_TRUE,
    _KEY_SPECIALS,
    _MEASUREMENT_SPECIALS,
    INT64_MAX,
    INT64_MIN,
    RESERVED_KEYS,
    UINT64_MAX,
)
from fluxlab.model.points import FieldValue, Unsigned
from fluxlab.model.precision import Precision

_FLOAT_RE = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_INT_RE = re.compile(r"-?[0-9]+i")
_UINT_RE = re.compile(r"[0-9]+u")
_TIMESTAMP_RE = re.compile(r"-?[0-9]+")


@dataclass
class ParsedLine:
    """One line decoded by the exact parser; `*_columns` are 0-based key positions."""

    measurement: str
    tags: dict[str, str]
    fields: dict[str, FieldValue]
    time: int | None
    key_columns: dict[str, int]
    value_columns: dict[str, int]


def parse_line(text: str, precision: Precision = Precision.NS) -> ParsedLine:
    """Parse one line exactly, raising `LineSyntaxError` with the offending column.

    `time` is returned in nanoseconds (converted from `precision`), or None.
    """
    parser = _LineParser(text, precision)
    return parser.parse()


class _LineParser:
    """A small state machine over one line: measurement, tags, fields, timestamp."""

    def __init__(self, text: str, precision: Precision) -> None:
        self.text = text
        self.pos = 0
        self.precision = precision
        self.key_columns: dict[str, int] = {}
        self.value_columns: dict[str, int] = {}

    def parse(self) -> ParsedLine:
        self._skip_blanks()
        measurement = self._measurement()
        tags = self._tags()
        fields = self._fields()
        stamp = self._timestamp()
        return ParsedLine(measurement, tags, fields, stamp, self.key_columns, self.value_columns)

    # -- helpers
    def _peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def _skip_blanks(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in " \t":
            self.pos += 1

    def _fail(self, message: str, column: int | None = None) -> LineSyntaxError:
        return LineSyntaxError(self.pos if column is None else column, message)

    def _token(self, stops: str, escapable: str) -> str:
        """Read up to an unescaped stop character, resolving backslash escapes."""
        text, pos, out = self.text, self.pos, []
        end = len(text)
        while pos < end:
            ch = text[pos]
            if ch == "\\" and pos + 1 < end and text[pos + 1] in escapable:
                out.append(text[pos + 1])
                pos += 2
                continue
            if ch in stops:
                break
            out.append(ch)
            pos += 1
        self.pos = pos
        return "".join(out)

    # -- sections
    def _measurement(self) -> str:
        start = self.pos
        name = self._token(_MEASUREMENT_SPECIALS, _MEASUREMENT_SPECIALS + "\\")
        if not name:
            raise self._fail(
                "empty measurement: a line must start with a measurement name", start
            )
        return name

    def _tags(self) -> dict[str, str]:
        tags: dict[str, str] = {}
        while self._peek() == ",":
            self.pos += 1
            start = self.pos
            key = self._token(_KEY_SPECIALS, _KEY_SPECIALS + "\\")
            if not key:
                raise self._fail("missing tag key: expected a key after ','", start)
            if self._peek() != "=":
                raise self._fail(
                    f"missing tag value: expected '=' and a value after tag key {key!r}"
                )
            self.pos += 1
            value_start = self.pos
            value = self._token(_KEY_SPECIALS, _KEY_SPECIALS + "\\")
            if self._peek() == "=":
                raise self._fail(
                    f"unescaped '=' in the value of tag {key!r}: write it as '\\='"
                )
            if not value:
                raise self._fail(
                    f"missing tag value for tag key {key!r}: empty tag values are not "
                    "allowed, leave the tag out instead",
                    value_start,
                )
            self._check_key(key, "tag", start)
            if key in tags:
                raise self._fail(f"duplicate tag key {key!r}", start)
            tags[key] = value
            self.key_columns[key] = start
        return tags

    def _fields(self) -> dict[str, FieldValue]:
        if self._peek() != " " or self.pos + 1 >= len(self.text):
            raise self._fail("missing fields: expected a space and then fields like value=1")
        self.pos += 1
        fields: dict[str, FieldValue] = {}
        while True:
            start = self.pos
            key = self._token(_KEY_SPECIALS, _KEY_SPECIALS + "\\")
            if not key:
                raise self._fail("missing field key: expected a field like value=1", start)
            if self._peek() != "=":
                raise self._fail(f"invalid field: expected '=' and a value after field key {key!r}")
            self.pos += 1
            self._check_key(key, "field", start)
            if key in fields:
                raise self._fail(f"duplicate field key {key!r}", start)
            if key in self.key_columns:
                raise self._fail(f"key {key!r} is used as both a tag and a field", start)
            self.value_columns[key] = self.pos
            fields[key] = self._field_value(key)
            self.key_columns[key] = start
            if self._peek() != ",":
                return fields
            self.pos += 1

    def _field_value(self, key: str) -> FieldValue:
        if self._peek() == '"':
            return self._string_value(key)
        start = self.pos
        while self._peek() not in (",", " ", ""):
            self.pos += 1
        raw = self.text[start : self.pos]
        if not raw:
            raise self._fail(f"missing field value for field key {key!r}", start)
        return _typed_value(raw, key, start)

    def _string_value(self, key: str) -> str:
        quote = self.pos
        text, pos, out = self.text, self.pos + 1, []
        end = len(text)
        while pos < end:
            ch = text[pos]
            if ch == "\\" and pos + 1 < end and text[pos + 1] in '"\\':
                out.append(text[pos + 1])
                pos += 2
            elif ch == '"':
                self.pos = pos + 1
                if self._peek() not in (",", " ", ""):
                    raise self._fail(
                        f"expected ',' or a space after the string value of field {key!r}"
                    )
                return "".join(out)
            else:
                out.append(ch)
                pos += 1
        raise self._fail(
            f"unterminated string: the value of field {key!r} has no closing double quote",
            quote,
        )

    def _timestamp(self) -> int | None:
        if self._peek() == "":
            return None
        self.pos += 1
        start = self.pos
        raw = self.text[start:].rstrip(" \t")
        if not raw:
            return None
        if not _TIMESTAMP_RE.fullmatch(raw):
            raise self._fail(
                f"bad timestamp {raw[:40]!r}: expected an integer Unix time in "
                f"{self.precision.label} after the fields",
                start,
            )
        low, high = self.precision.bounds()
        value = int(raw)
        if not low <= value <= high:
            raise self._fail(
                f"timestamp {raw} out of range: InfluxDB accepts times between 1677-09-21 "
                "and 2262-04-11; check the precision",
                start,
            )
        return value * self.precision.multiplier

    def _check_key(self, key: str, role: str, column: int) -> None:
        if key in RESERVED_KEYS:
            raise self._fail(f"invalid {role} key {key!r}: the name is reserved; rename it", column)


def _typed_value(raw: str, key: str, column: int) -> FieldValue:
    """Type an unquoted field value by its spelling (suffix i/u, booleans, floats)."""
    if raw in _BOOL_TRUE:
        return True
    if raw in _BOOL_FALSE:
        return False
    if _INT_RE.fullmatch(raw):
        value = int(raw[:-1])
        if not INT64_MIN <= value <= INT64_MAX:
            raise LineSyntaxError(
                column,
                f"integer {raw} out of range for field {key!r}: integers must fit in int64; "
                "write it as a float or an unsigned (u) value",
            )
        return value
    if _UINT_RE.fullmatch(raw):
        value = int(raw[:-1])
        if value > UINT64_MAX:
            raise LineSyntaxError(
                column, f"unsigned {raw} out of range for field {key!r}: must fit in uint64"
            )
        return Unsigned(value)
    if _FLOAT_RE.fullmatch(raw):
        number = float(raw)
        if math.isinf(number):
            raise LineSyntaxError(column, f"float {raw} out of range for field {key!r}")
        return number
    raise LineSyntaxError(
        column,
        f"invalid field value {raw[:40]!r} for field {key!r}: expected a float (1.5), "
        'integer (1i), unsigned (1u), quoted string ("text") or boolean (true/false)',
    )
