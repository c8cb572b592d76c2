"""InfluxDB line protocol: encode points and batches, decode text into batches.

Syntax (InfluxDB v2 reference)::

    measurement[,tag_key=tag_value...] field_key=field_value[,...] [timestamp]

Escaping: the measurement escapes comma and space; tag keys, tag values and field
keys escape comma, equals sign and space; string field values escape double quote
and backslash. A backslash before another backslash stands for one backslash; a
backslash before any other character is literal. Newlines cannot be represented.

Decoding is vectorized. A NumPy fast path finds the structural delimiters of
all lines at once (space, comma and equals sign outside quoted strings and not
escaped by a backslash), groups lines by delimiter shape and by the bytes of their
keys, and cuts value columns straight out of the input buffer (numbers parsed in
NumPy or by Polars, escapes resolved by one regex replace on affected columns).
Lines it does not handle exactly (leading whitespace, odd quoting, empty parts,
unusual spellings, and every invalid line) go through an exact Python parser that
reports the line and column of the problem. Both paths produce the
same intermediate frames, which are merged per measurement, checked for field
type conflicts the way InfluxDB does (the earlier line wins, the later conflicting
line is rejected) and turned into `PointBatch`es.
"""

from __future__ import annotations

import gzip
import math
import re
import time as _time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import BinaryIO

import numpy as np
import polars as pl
import pyarrow as pa
from numpy.lib.stride_tricks import sliding_window_view

from fluxlab.model.points import (
    TIME_COLUMN,
    FieldType,
    FieldValue,
    Point,
    PointBatch,
    Unsigned,
    field_type_of,
)
from fluxlab.model.precision import Precision

LINE_COLUMN = "_line"
"""Extra batch column holding each row's source line number (see TEAM contract)."""

RESERVED_KEYS = frozenset({"_measurement", "_field", "time", LINE_COLUMN})
"""Tag/field keys that are rejected: InfluxDB reserves `_measurement`, `_field` and the
key `time`; `_line` would collide with the line-number column of decoded batches."""

ERROR_TEXT_LIMIT = 200
"""Longest line excerpt kept in a `LineError` (long lines are truncated)."""

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
UINT64_MAX = 2**64 - 1

_MEASUREMENT_SPECIALS = ", "
_KEY_SPECIALS = ",= "
_BOOL_TRUE = frozenset({"t", "T", "true", "True", "TRUE"})
_BOOL_FALSE = frozenset({"f", "F", "false", "False", "FALSE"})

# Type codes of the intermediate frames: 0 marks a tag, the rest a field type.
_TAG = 0
_CODES: dict[FieldType, int] = {
    FieldType.FLOAT: 1,
    FieldType.INTEGER: 2,
    FieldType.UNSIGNED: 3,
    FieldType.STRING: 4,
    FieldType.BOOLEAN: 5,
}
_TYPES: dict[int, FieldType] = {code: ftype for ftype, code in _CODES.items()}
_POLARS_TYPES: dict[int, pl.DataType] = {
    _TAG: pl.Utf8(),
    1: pl.Float64(),
    2: pl.Int64(),
    3: pl.UInt64(),
    4: pl.Utf8(),
    5: pl.Boolean(),
}


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class LineError:
    """A rejected line: where it is, what it says and why it was rejected."""

    source: str
    line: int
    column: int
    text: str
    message: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line}:{self.column}: {self.message}: {self.text}"


@dataclass
class DecodeResult:
    """Everything one decode produced.

    Every input line is accounted for: `lines_read == lines_skipped + points +
    len(errors)` (skipped lines are blank or `#` comments).
    """

    batches: list[PointBatch] = field(default_factory=list)
    errors: list[LineError] = field(default_factory=list)
    lines_read: int = 0
    lines_skipped: int = 0

    @property
    def points(self) -> int:
        return sum(batch.num_rows for batch in self.batches)


# --------------------------------------------------------------------------- encoding

def escape_measurement(name: str) -> str:
    """Escape a measurement name (comma, space; backslashes where they would be read as escapes)."""
    return _escape_name(name, _MEASUREMENT_SPECIALS)


def escape_key(name: str) -> str:
    """Escape a tag key, tag value or field key (comma, equals sign, space)."""
    return _escape_name(name, _KEY_SPECIALS)


def escape_string_value(value: str) -> str:
    """Quote a string field value, escaping backslashes and double quotes."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _escape_name(name: str, specials: str) -> str:
    """Escape `specials` and write backslashes so they decode back to themselves.

    A run of n backslashes before an ordinary character is written as 2n-1 (so a
    lone backslash stays as is, which parsers that do not unescape `\\\\` also read
    right); before a special character or at the end it is written as 2n, so it
    cannot swallow the character that follows. Same steps as `_escape_name_expr`.
    """
    cls = re.escape(specials)
    doubled = name.replace("\\", "\\\\")
    trimmed = re.sub(r"\\\\([^\\" + cls + "])", r"\\\1", doubled)
    return re.sub("([" + cls + "])", r"\\\1", trimmed)


def format_field_value(value: FieldValue) -> str:
    """Line protocol text of one field value (float repr, `1i`, `1u`, `"s"`, `true`)."""
    ftype = field_type_of(value)
    if ftype is FieldType.BOOLEAN:
        return "true" if value else "false"
    if ftype is FieldType.UNSIGNED:
        return f"{int(value)}u"
    if ftype is FieldType.INTEGER:
        if not INT64_MIN <= value <= INT64_MAX:
            raise ValueError(f"integer {value} does not fit in int64")
        return f"{int(value)}i"
    if ftype is FieldType.STRING:
        return escape_string_value(value)
    if not math.isfinite(value):
        raise ValueError(f"line protocol cannot represent the float {value}")
    return repr(float(value))


def encode_point(point: Point, precision: Precision = Precision.NS) -> str:
    """One line of line protocol for a point.

    Non-finite floats and empty tag values are not representable: empty tags are
    left out (InfluxDB's own advice), a non-finite float raises ValueError.
    """
    if not point.measurement:
        raise ValueError("a point needs a non-empty measurement")
    head = escape_measurement(point.measurement)
    for key, value in sorted(point.tags.items()):
        if value:
            head += f",{escape_key(key)}={escape_key(value)}"
    pairs = [
        f"{escape_key(key)}={format_field_value(value)}"
        for key, value in point.fields.items()
        if value is not None
    ]
    if not pairs:
        raise ValueError(f"point of {point.measurement!r} has no fields")
    line = f"{head} {','.join(pairs)}"
    if point.time is not None:
        line += f" {Precision.parse(precision).from_ns(point.time)}"
    return line


def encode_batch(batch: PointBatch, precision: Precision = Precision.NS) -> pa.StringArray:
    """Line protocol for every row of a batch, vectorized with Polars string ops.

    Null fields are skipped, as are NaN/infinite floats (line protocol has no
    spelling for them); null or empty tags are left out. A row whose fields are all
    null has no line: the result holds lines for the remaining rows only, in order.
    Timestamps are converted to `precision` rounding towards minus infinity.
    """
    precision = Precision.parse(precision)
    # Work on positional column names: keys may hold characters (NUL) Polars rejects.
    positions = {name: f"c{i}" for i, name in enumerate(batch.table.column_names)}
    frame = pl.from_arrow(batch.table.rename_columns(list(positions.values())))
    assert isinstance(frame, pl.DataFrame)
    head = pl.lit(escape_measurement(batch.measurement))
    tag_parts = [_encoded_tag(key, positions[key]) for key in sorted(batch.tags)]
    field_parts = [_encoded_field(key, positions[key], batch) for key in batch.fields]
    if tag_parts:
        head = pl.concat_str([head, *tag_parts], ignore_nulls=True)
    fields = (
        pl.concat_str(field_parts, separator=",", ignore_nulls=True)
        if field_parts
        else pl.lit(None, pl.Utf8)
    )
    stamp = pl.col(positions[TIME_COLUMN]).cast(pl.Int64)
    if precision is not Precision.NS:
        stamp = stamp.floordiv(precision.multiplier)
    out = frame.select(
        line=pl.concat_str([head, pl.lit(" "), fields, pl.lit(" "), stamp.cast(pl.Utf8)]),
        has_fields=pl.any_horizontal([p.is_not_null() for p in field_parts])
        if field_parts
        else pl.lit(False),
    )
    lines = out.filter(pl.col("has_fields"))["line"].to_arrow()
    return lines.cast(pa.string())


def _encoded_tag(key: str, column: str) -> pl.Expr:
    """`,key=value` per row, null where the tag is absent or empty."""
    value = pl.col(column).cast(pl.Utf8)
    escaped = _escape_name_expr(value, _KEY_SPECIALS)
    return pl.when(value.is_not_null() & (value != "")).then(
        pl.lit(f",{escape_key(key)}=") + escaped
    )


def _encoded_field(key: str, column: str, batch: PointBatch) -> pl.Expr:
    """`key=value` per row in line protocol syntax, null where the field is null."""
    ftype = FieldType.from_arrow(batch.table.schema.field(key).type)
    col = pl.col(column)
    if ftype is FieldType.FLOAT:
        text = pl.when(col.is_finite()).then(col.cast(pl.Utf8))
    elif ftype is FieldType.INTEGER:
        text = col.cast(pl.Utf8) + "i"
    elif ftype is FieldType.UNSIGNED:
        text = col.cast(pl.Utf8) + "u"
    elif ftype is FieldType.BOOLEAN:
        text = pl.when(col).then(pl.lit("true")).otherwise(pl.lit("false"))
        text = pl.when(col.is_not_null()).then(text)
    else:
        escaped = col.cast(pl.Utf8).str.replace_all("\\", "\\\\", literal=True)
        text = '"' + escaped.str.replace_all('"', '\\"', literal=True) + '"'
    return pl.lit(f"{escape_key(key)}=") + text


def _escape_name_expr(value: pl.Expr, specials: str) -> pl.Expr:
    """Vectorized `_escape_name`: double backslashes, undo one before ordinary chars,
    then escape the special characters."""
    cls = re.escape(specials)
    doubled = value.str.replace_all("\\", "\\\\", literal=True)
    trimmed = doubled.str.replace_all(r"\\\\([^\\" + cls + "])", r"\${1}")
    return trimmed.str.replace_all("([" + cls + "])", r"\${1}")


# --------------------------------------------------------------------------- exact parser

_FLOAT_RE = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_INT_RE = re.compile(r"-?[0-9]+i")
_UINT_RE = re.compile(r"[0-9]+u")
_TIMESTAMP_RE = re.compile(r"-?[0-9]+")


class LineSyntaxError(ValueError):
    """A line that is not valid line protocol; `column` is 0-based."""

    def __init__(self, column: int, message: str) -> None:
        super().__init__(message)
        self.column = column
        self.message = message


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


# --------------------------------------------------------------------------- decoding


@dataclass
class _Context:
    """State shared by one decode call: input, options, key ids, frames and errors."""

    raw: bytes
    starts: np.ndarray
    ends: np.ndarray
    precision: Precision
    default_time_ns: int
    first_line: int
    source: str
    key_ids: dict[str, int] = field(default_factory=dict)
    frames: dict[str, list[pl.DataFrame]] = field(default_factory=dict)
    errors: list[LineError] = field(default_factory=list)

    def key_id(self, key: str) -> int:
        return self.key_ids.setdefault(key, len(self.key_ids))

    def add_frame(self, measurement: str, frame: pl.DataFrame) -> None:
        if frame.height:
            self.frames.setdefault(measurement, []).append(frame)

    def text(self, index: int) -> str:
        """The text of line `index` (0-based within this input)."""
        return self.raw[self.starts[index] : self.ends[index]].decode("utf-8", errors="replace")

    def error(self, line_no: int, column: int, text: str, message: str) -> None:
        excerpt = text if len(text) <= ERROR_TEXT_LIMIT else text[:ERROR_TEXT_LIMIT] + "..."
        self.errors.append(LineError(self.source, line_no, column + 1, excerpt, message))


def _code_col(key_id: int) -> str:
    return f"c{key_id}"


def _value_col(key_id: int, code: int) -> str:
    return f"v{key_id}_{code}"


def decode(
    data: bytes | str,
    *,
    precision: Precision | str = Precision.NS,
    default_time_ns: int | None = None,
    first_line: int = 1,
    source: str = "<input>",
    _fast: bool = True,
) -> DecodeResult:
    """Decode line protocol into one `PointBatch` per measurement plus line errors.

    Lines without a timestamp get `default_time_ns` (the current time if None).
    Batches carry an int64 `_line` column and their rows are in line order. Lines
    of one measurement may have different keys: columns are the union, null where
    absent. A line whose field type differs from an earlier line's is rejected.
    `_fast=False` forces the exact parser for every line (used by tests).
    """
    raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    raw, bad_utf8 = _blank_invalid_utf8(raw)
    starts, ends = _line_bounds(raw, _newlines(raw))
    ctx = _Context(
        raw=raw,
        starts=starts,
        ends=ends,
        precision=Precision.parse(precision),
        default_time_ns=_time.time_ns() if default_time_ns is None else default_time_ns,
        first_line=first_line,
        source=source,
    )
    for index, column in bad_utf8.items():
        ctx.error(first_line + index, column, ctx.text(index), "invalid UTF-8 in line: "
                  "the input must be UTF-8 encoded")
    kinds = _classify_lines(raw, starts, ends)
    kinds[list(bad_utf8)] = _BAD
    slow = np.flatnonzero(kinds == _SLOW)
    fast = np.flatnonzero(kinds == _FAST)
    if fast.size:
        slow = np.concatenate([slow, _decode_fast_windows(fast, ctx) if _fast else fast])
    _decode_slow(slow, ctx)
    batches = [_build_batch(m, frames, ctx) for m, frames in ctx.frames.items()]
    found = [b for b in batches if b is not None]
    found.sort(key=lambda b: b.table.column(LINE_COLUMN)[0].as_py())
    ctx.errors.sort(key=lambda e: e.line)
    skipped = int(np.count_nonzero(kinds == _SKIP))
    return DecodeResult(found, ctx.errors, len(starts), skipped)


def _blank_invalid_utf8(raw: bytes) -> tuple[bytes, dict[int, int]]:
    """Overwrite lines that are not UTF-8 with spaces; return their 0-based bad column.

    Blanked lines are reported as errors and kept out of both parsers, so every
    string the vectorized path builds is valid UTF-8.
    """
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        return raw, {}
    bad: dict[int, int] = {}
    parts = raw.split(b"\n")
    for index, part in enumerate(parts):
        try:
            part.decode("utf-8")
        except UnicodeDecodeError as exc:
            bad[index] = len(part[: exc.start].decode("utf-8", errors="replace"))
            parts[index] = b" " * len(part)
    return b"\n".join(parts), bad


def _delimiters(raw: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Offsets and kind codes of every byte that can delimit (newline, space, comma,
    equals sign, double quote, backslash): one translate and one scan of the input."""
    is_delimiter = np.frombuffer(raw.translate(_DELIMITER_TABLE), np.bool_)
    pos = np.flatnonzero(is_delimiter)  # NumPy's nonzero is fastest on a bool array
    return pos, _CLASS_CODES[np.frombuffer(raw, np.uint8)[pos]]


def _newlines(raw: bytes, block: int = 4 << 20) -> np.ndarray:
    """Offsets of every newline, scanned a few MiB at a time (cache-sized temporaries)."""
    buf = np.frombuffer(raw, np.uint8)
    found = [np.flatnonzero(buf[at : at + block] == _NL) + at for at in range(0, len(buf), block)]
    return np.concatenate(found) if found else np.empty(0, np.int64)


def _line_bounds(raw: bytes, newlines: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end byte offsets of every line (end excludes the newline and a CR).

    A final newline ends the last line rather than starting an empty one.
    """
    buf = np.frombuffer(raw, np.uint8)
    ends = newlines if raw.endswith(b"\n") else np.append(newlines, len(raw))
    if not raw:
        ends = np.empty(0, np.int64)
    starts = np.empty(len(ends), np.int64)
    if len(ends):
        starts[0] = 0
        starts[1:] = ends[:-1] + 1
    ends = ends.astype(np.int64)
    has_cr = (ends > starts) & (buf[np.maximum(ends - 1, 0)] == ord("\r"))
    return starts, ends - has_cr


_SKIP, _FAST, _SLOW, _BAD = 0, 1, 2, 3


def _classify_lines(raw: bytes, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Per line: skip (blank or comment), fast candidate or slow (leading whitespace)."""
    buf = np.frombuffer(raw, np.uint8)
    kinds = np.full(len(starts), _FAST, np.int8)
    empty = ends <= starts
    first = buf[np.minimum(starts, max(len(buf) - 1, 0))] if len(buf) else np.zeros(0, np.uint8)
    kinds[empty] = _SKIP
    kinds[~empty & (first == ord("#"))] = _SKIP
    indented = ~empty & ((first == ord(" ")) | (first == ord("\t")))
    for index in np.flatnonzero(indented):
        stripped = raw[starts[index] : ends[index]].lstrip(b" \t")
        kinds[index] = _SKIP if not stripped or stripped.startswith(b"#") else _SLOW
    return kinds


# ----------------------------------------------------------------- fast path
#
# The fast path works on the raw bytes with NumPy: it finds the structural
# delimiters of every candidate line (space, comma, equals sign outside quoted
# strings and not backslash-escaped), groups lines by their delimiter shape and by their key bytes, and cuts
# value columns straight out of the buffer (strings as Arrow arrays, integers,
# timestamps and booleans parsed in NumPy, floats by Polars). Anything unusual
# (odd quotes, empty parts, values that do not parse, reserved or repeated keys)
# is handed to the exact parser. It runs over windows of whole
# lines (`_WINDOW_BYTES`) so its temporaries stay small.

_NL, _SP, _COMMA, _EQ, _QUOTE, _BSLASH = 10, 32, 44, 61, 34, 92
_CLASS_TABLE = bytes(
    {_NL: 1, _SP: 2, _COMMA: 3, _EQ: 4, _QUOTE: 5, _BSLASH: 6}.get(i, 0) for i in range(256)
)
_DELIMITER_TABLE = bytes(1 if code else 0 for code in _CLASS_TABLE)
_CLASS_CODES = np.frombuffer(_CLASS_TABLE, np.uint8)
_K_NL, _K_SP, _K_COMMA, _K_EQ, _K_QUOTE, _K_BSLASH = 1, 2, 3, 4, 5, 6
_MEASUREMENT_ESCAPE = re.compile(r"\\([, \\])")
_KEY_ESCAPE = re.compile(r"\\([,= \\])")
_MAX_TEMPLATES = 64
"""Distinct key sets per delimiter shape handled vectorized; more go to the exact parser."""

_FLOAT_BYTES = np.zeros(256, bool)
_FLOAT_BYTES[list(b"0123456789.eE+-")] = True
_DIGIT_BYTES = np.zeros(256, bool)
_DIGIT_BYTES[list(b"0123456789")] = True
_SIGNED_BYTES = _DIGIT_BYTES.copy()
_SIGNED_BYTES[ord("-")] = True
_TAIL_CODES = np.full(256, _CODES[FieldType.FLOAT], np.int8)
_TAIL_CODES[ord("i")] = _CODES[FieldType.INTEGER]
_TAIL_CODES[ord("u")] = _CODES[FieldType.UNSIGNED]
_HEAD_CODES = np.zeros(256, np.int8)
_HEAD_CODES[list(b"tTfF")] = _CODES[FieldType.BOOLEAN]
_HEAD_CODES[_QUOTE] = _CODES[FieldType.STRING]
_FLOAT_START = np.zeros(256, bool)
_FLOAT_START[list(b"0123456789.-")] = True


@dataclass
class _Lines:
    """Structural delimiters of the candidate lines, flattened, with per-line ranges."""

    buf: np.ndarray
    rows: np.ndarray  # line index (within the input) of each candidate line
    pos: np.ndarray  # byte offsets of structural delimiters, each line ends with its NL
    kind: np.ndarray  # delimiter kind codes, parallel to pos
    first: np.ndarray  # index into pos of each line's first delimiter
    count: np.ndarray  # number of delimiters of each line (including the final NL)
    quotes: np.ndarray  # number of unescaped double quotes in each line
    escapes: np.ndarray  # whether each line holds a backslash (values need unescaping)


_WINDOW_BYTES = 8 << 20


def _decode_fast_windows(rows: np.ndarray, ctx: _Context) -> np.ndarray:
    """Run the fast path over windows of about `_WINDOW_BYTES` of whole lines.

    Its temporaries are several times the input size; windows keep them small
    (cache-friendly, bounded memory) whatever the size of the input.
    """
    slow: list[np.ndarray] = []
    begin, count = 0, len(ctx.starts)
    while begin < count:
        limit = int(ctx.starts[begin]) + _WINDOW_BYTES
        end = max(begin + 1, int(np.searchsorted(ctx.starts, limit)))
        low, high = np.searchsorted(rows, [begin, end])
        if high > low:
            first_byte, last_byte = int(ctx.starts[begin]), int(ctx.ends[end - 1])
            window = replace(
                ctx,
                raw=ctx.raw[first_byte:last_byte],
                starts=ctx.starts[begin:end] - first_byte,
                ends=ctx.ends[begin:end] - first_byte,
                first_line=ctx.first_line + begin,
            )
            slow.append(_decode_fast(rows[low:high] - begin, window) + begin)
        begin = end
    return np.concatenate(slow) if slow else np.empty(0, np.int64)


def _decode_fast(rows: np.ndarray, ctx: _Context) -> np.ndarray:
    """Decode candidate lines vectorized; return the line indices left to the exact parser."""
    lines, slow = _tokenize(rows, ctx)
    for count in np.flatnonzero(np.bincount(lines.count)):
        members = np.flatnonzero(lines.count == count)
        slow.append(_decode_shape_groups(lines, members, int(count), ctx))
    return np.concatenate(slow) if slow else np.empty(0, np.int64)


def _tokenize(rows: np.ndarray, ctx: _Context) -> tuple[_Lines, list[np.ndarray]]:
    """Find structural delimiters; lines with an odd number of quotes go slow.

    A delimiter after an odd run of backslashes is escaped (not structural), and
    so is a quote inside a string. Everything here is a pass over the delimiter
    array with small dtypes; the quote parity is one uint8 cumulative sum (only
    its low bit matters).
    """
    buf = np.frombuffer(ctx.raw + bytes(_PADDING), np.uint8)  # see `_byte_matrix`
    pos, kind = _delimiters(ctx.raw)
    # Windows end right after their last line's text: close that line here.
    pos = np.append(pos, len(ctx.raw))
    kind = np.append(kind, np.uint8(_K_NL))
    if len(rows) == len(ctx.starts) and b'"' not in ctx.raw and b"\\" not in ctx.raw:
        return _plain_lines(buf, pos, kind), []
    n_lines = len(ctx.starts)
    newline_at = np.flatnonzero(kind == _K_NL)
    is_backslash = kind == _K_BSLASH
    escapes = np.zeros(n_lines, bool)
    keep = (kind != _K_QUOTE) & ~is_backslash
    is_quote = kind == _K_QUOTE
    if b"\\" in ctx.raw:
        escaped = _escaped(pos, kind, is_backslash)
        keep &= ~escaped
        is_quote &= ~escaped
        escapes[np.searchsorted(newline_at, np.flatnonzero(is_backslash))] = True
    quote_at = np.flatnonzero(is_quote)
    quotes = np.bincount(np.searchsorted(newline_at, quote_at), minlength=n_lines)
    odd = quotes % 2 == 1
    bad = odd.copy()
    if quote_at.size:
        is_quote[newline_at[odd]] = True  # an odd line must not flip the lines after it
        inside = np.cumsum(is_quote, dtype=np.uint8) & np.uint8(1)
        keep &= (inside == 0) | (kind == _K_NL)
    good = np.zeros(n_lines, bool)
    good[rows] = True
    good &= ~bad
    if not good.all():
        keep &= ~_cover_lines(np.flatnonzero(~good), newline_at, len(pos))
    pos, kind = pos[keep], kind[keep]
    lines = _plain_lines(buf, pos, kind)
    fast_rows = np.flatnonzero(good)
    lines.rows, lines.quotes, lines.escapes = fast_rows, quotes[fast_rows], escapes[fast_rows]
    return lines, [rows[~good[rows]]]


def _escaped(pos: np.ndarray, kind: np.ndarray, is_backslash: np.ndarray) -> np.ndarray:
    """Delimiters preceded by an odd run of backslashes (newlines are never escaped)."""
    after_backslash = np.zeros(len(pos), bool)
    after_backslash[1:] = is_backslash[:-1] & (np.diff(pos) == 1)
    run_start = np.where(is_backslash & ~after_backslash, pos, -1)
    np.maximum.accumulate(run_start, out=run_start)
    escaped = np.zeros(len(pos), bool)
    odd_run = (pos[1:] - run_start[:-1]) % 2 == 1
    escaped[1:] = after_backslash[1:] & ~is_backslash[1:] & odd_run
    return escaped & (kind != _K_NL)


def _cover_lines(lines: np.ndarray, newline_at: np.ndarray, size: int) -> np.ndarray:
    """Mask over the delimiter array that is True on the delimiters of `lines`."""
    first = np.where(lines > 0, newline_at[np.maximum(lines - 1, 0)] + 1, 0)
    edges = np.zeros(size + 1, np.int8)
    edges[first] += 1
    edges[newline_at[lines] + 1] -= 1
    return np.cumsum(edges[:-1], dtype=np.int8) > 0


def _plain_lines(buf: np.ndarray, pos: np.ndarray, kind: np.ndarray) -> _Lines:
    """The common case: every line is a candidate and nothing is quoted or escaped."""
    newline_at = np.flatnonzero(kind == _K_NL)
    count = np.diff(newline_at, prepend=-1)
    first = newline_at - count + 1
    rows = np.arange(len(newline_at))
    none = np.zeros(len(rows), np.int64)
    return _Lines(buf, rows, pos, kind, first, count, none, none.astype(bool))


def _matrix(values: np.ndarray, first: np.ndarray, count: int) -> np.ndarray:
    """values[first[i] + j] as an (n x count) matrix; a free reshape when the rows are
    consecutive runs covering all of `values` (the homogeneous common case)."""
    n = len(first)
    if n and len(values) == n * count and first[0] == 0 and first[-1] == (n - 1) * count:
        return values.reshape(n, count)
    return values[first[:, None] + np.arange(count)]


@dataclass(frozen=True)
class _Shape:
    """Which token of a line plays which role, derived from its delimiter kinds."""

    tags: tuple[tuple[int, int], ...]  # (key token, value token)
    fields: tuple[tuple[int, int], ...]
    timestamp: int | None

    @classmethod
    def parse(cls, kinds: tuple[int, ...]) -> _Shape | None:
        """Token 0 is the measurement, token j starts after delimiter j-1; None if invalid."""
        tags: list[tuple[int, int]] = []
        fields: list[tuple[int, int]] = []
        i, n = 0, len(kinds) - 1  # the last delimiter is the newline
        while i + 1 < n and kinds[i] == _K_COMMA and kinds[i + 1] == _K_EQ:
            tags.append((i + 1, i + 2))
            i += 2
        sep = _K_SP
        while i + 1 < n and kinds[i] == sep and kinds[i + 1] == _K_EQ:
            fields.append((i + 1, i + 2))
            i += 2
            sep = _K_COMMA
        timestamp = None
        if i < n and kinds[i] == _K_SP:
            timestamp = i + 1
            i += 1
        if not fields or i != n:
            return None
        return cls(tuple(tags), tuple(fields), timestamp)

    def key_tokens(self) -> list[int]:
        return [0, *(k for k, _ in self.tags), *(k for k, _ in self.fields)]


def _decode_shape_groups(
    lines: _Lines, members: np.ndarray, count: int, ctx: _Context
) -> np.ndarray:
    """Decode lines with `count` delimiters, grouped by delimiter shape and key bytes."""
    kinds = _matrix(lines.kind, lines.first[members], count)
    slow: list[np.ndarray] = []
    pending = np.arange(len(members))
    while pending.size:
        same = (kinds[pending] == kinds[pending[0]]).all(axis=1)
        if same.all():
            group, pending = pending, pending[:0]
        else:
            group, pending = pending[same], pending[~same]
        shape = _Shape.parse(tuple(int(k) for k in kinds[group[0]]))
        rows = members if len(group) == len(members) else members[group]
        if shape is None:
            slow.append(lines.rows[rows])
            continue
        tokens = _Tokens.of(lines, rows, count, ctx)
        slow.append(_decode_templates(lines, tokens, shape, ctx))
    return np.concatenate(slow)


@dataclass
class _Tokens:
    """Byte ranges of the tokens of n lines sharing a shape, computed column by column
    from the (n x count) delimiter matrix (usually a free view of the delimiter array)."""

    delims: np.ndarray
    line_starts: np.ndarray
    line_ends: np.ndarray
    line_index: np.ndarray  # the lines' indices within the input
    rows: np.ndarray  # the lines' indices within `_Lines`
    _starts: dict[int, np.ndarray] = field(default_factory=dict)
    _lengths: dict[int, np.ndarray] = field(default_factory=dict)

    @classmethod
    def of(cls, lines: _Lines, rows: np.ndarray, count: int, ctx: _Context) -> _Tokens:
        index = lines.rows[rows]
        delims = _matrix(lines.pos, lines.first[rows], count)
        return cls(delims, ctx.starts[index], ctx.ends[index], index, rows)

    def __len__(self) -> int:
        return len(self.rows)

    def start(self, token: int) -> np.ndarray:
        if token == 0:
            return self.line_starts
        if token not in self._starts:
            self._starts[token] = self.delims[:, token - 1] + 1
        return self._starts[token]

    def end(self, token: int) -> np.ndarray:
        last = self.delims.shape[1] - 1
        return self.line_ends if token == last else self.delims[:, token]

    def length(self, token: int) -> np.ndarray:
        if token not in self._lengths:
            self._lengths[token] = self.end(token) - self.start(token)
        return self._lengths[token]

    def text(self, raw: bytes, token: int) -> str:
        """The token's text in the first line (keys are identical across a template)."""
        return raw[int(self.start(token)[0]) : int(self.end(token)[0])].decode("utf-8")

    def select(self, mask: np.ndarray) -> _Tokens:
        return _Tokens(
            self.delims[mask],
            self.line_starts[mask],
            self.line_ends[mask],
            self.line_index[mask],
            self.rows[mask],
        )


def _decode_templates(lines: _Lines, tokens: _Tokens, shape: _Shape, ctx: _Context) -> np.ndarray:
    """Split a shape group by identical key bytes and decode each template.

    Lines with an empty measurement, key or value go to the exact parser, as do
    lines beyond the first `_MAX_TEMPLATES` key sets.
    """
    complete = np.ones(len(tokens), bool)
    for token in range(tokens.delims.shape[1]):
        if token != shape.timestamp:
            complete &= tokens.length(token) > 0
    slow = [tokens.line_index[~complete]]
    if not complete.all():
        tokens = tokens.select(complete)
    keys = shape.key_tokens()
    for _ in range(_MAX_TEMPLATES):
        if not len(tokens):
            break
        same = _same_keys(lines.buf, tokens, keys)
        if same.all():
            slow.append(_decode_template(lines, tokens, shape, ctx))
            return np.concatenate(slow)
        slow.append(_decode_template(lines, tokens.select(same), shape, ctx))
        tokens = tokens.select(~same)
    slow.append(tokens.line_index)
    return np.concatenate(slow)


def _same_keys(buf: np.ndarray, tokens: _Tokens, keys: list[int]) -> np.ndarray:
    """Rows whose key tokens have exactly the bytes of the first row's."""
    same = np.ones(len(tokens), bool)
    for token in keys:
        starts = tokens.start(token)
        size = int(tokens.end(token)[0] - starts[0])
        same &= tokens.length(token) == size
        if size:
            words = _words(buf, starts, size)
            same &= (words == words[0]).all(axis=1)
    return same


def _words(buf: np.ndarray, starts: np.ndarray, size: int) -> np.ndarray:
    """The `size` bytes at each start as little-endian uint64 words (n x ceil(size/8)),
    bytes past `size` zeroed: comparing words compares 8 bytes at once."""
    count = -(-size // 8)
    words = _byte_matrix(buf, starts, count * 8).view("<u8").copy()
    spare = count * 8 - size
    if spare:
        words[:, -1] &= np.uint64((1 << (8 * (8 - spare))) - 1)
    return words


_PADDING = 64
"""Zero bytes appended to the buffer so fixed-width reads near its end stay inside."""


def _byte_matrix(buf: np.ndarray, starts: np.ndarray, width: int) -> np.ndarray:
    """The (rows x width) bytes starting at `starts`, gathered row by row through a
    sliding-window view (much cheaper than an index matrix)."""
    if len(starts) and int(starts.max()) + width > len(buf):
        starts = np.minimum(starts, len(buf) - width)
    return sliding_window_view(buf, width)[starts]


def _decode_template(lines: _Lines, tokens: _Tokens, shape: _Shape, ctx: _Context) -> np.ndarray:
    """Build the intermediate frame of lines sharing measurement and keys; return the
    lines whose values need the exact parser."""
    measurement = _MEASUREMENT_ESCAPE.sub(r"\1", tokens.text(ctx.raw, 0))
    tag_keys = [_KEY_ESCAPE.sub(r"\1", tokens.text(ctx.raw, k)) for k, _ in shape.tags]
    field_keys = [_KEY_ESCAPE.sub(r"\1", tokens.text(ctx.raw, k)) for k, _ in shape.fields]
    escapes = bool(lines.escapes[tokens.rows].any())
    names = [*tag_keys, *field_keys]
    if len(set(names)) != len(names) or RESERVED_KEYS.intersection(names):
        return tokens.line_index
    n = len(tokens)
    buf = lines.buf
    columns: dict[str, pl.Series] = {
        "_line": pl.Series(tokens.line_index + ctx.first_line, dtype=pl.Int64)
    }
    columns[TIME_COLUMN], problem = _timestamps(buf, tokens, shape, ctx)
    for key, (_, token) in zip(tag_keys, shape.tags, strict=True):
        kid = ctx.key_id(key)
        columns[_code_col(kid)] = pl.repeat(_TAG, n, dtype=pl.Int8, eager=True)
        values = _strings(buf, tokens.start(token), tokens.end(token))
        if escapes:
            values = values.str.replace_all(r"\\([,= \\])", "${1}")
        columns[_value_col(kid, _TAG)] = values
    string_tokens = np.zeros(n, np.int32)
    for key, (_, token) in zip(field_keys, shape.fields, strict=True):
        kid = ctx.key_id(key)
        codes, typed, bad, strings = _field_column(buf, tokens.start(token), tokens.end(token))
        columns[_code_col(kid)] = pl.Series(codes, dtype=pl.Int8)
        for code, series in typed.items():
            if escapes and code == _CODES[FieldType.STRING]:
                series = series.str.replace_all(r'\\(["\\])', "${1}")
            columns[_value_col(kid, code)] = series
        problem |= bad
        string_tokens += strings
    problem |= lines.quotes[tokens.rows] != 2 * string_tokens
    frame = pl.DataFrame(columns)
    ctx.add_frame(measurement, frame.filter(pl.Series(~problem)) if problem.any() else frame)
    return tokens.line_index[problem]


def _ragged(
    buf: np.ndarray, starts: np.ndarray, ends: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate byte ranges into one buffer; returns it and Arrow-style offsets.

    Equal-length ranges are one sliding-window gather. Otherwise the gather index
    is one cumulative sum of step sizes (1 inside a range, a jump between ranges),
    which keeps temporaries small.
    """
    lengths = ends - starts
    size = len(starts)
    if size and lengths.min() == lengths.max():
        width = int(lengths[0])
        offsets = np.arange(size + 1, dtype=np.int64) * width
        data = _byte_matrix(buf, starts, width).ravel() if width else np.empty(0, np.uint8)
        return data, offsets
    offsets = np.zeros(size + 1, np.int64)
    np.cumsum(lengths, out=offsets[1:])
    total = int(offsets[-1])
    steps = np.ones(total, np.int32 if len(buf) < 2**31 else np.int64)
    if total:
        nonempty = np.flatnonzero(lengths > 0) if lengths.min() == 0 else np.arange(size)
        steps[offsets[nonempty[1:]]] = starts[nonempty[1:]] - ends[nonempty[:-1]] + 1
        steps[0] = starts[nonempty[0]]
        np.cumsum(steps, out=steps)
    return buf[steps], offsets


def _strings(
    buf: np.ndarray,
    starts: np.ndarray,
    ends: np.ndarray,
    cut: tuple[np.ndarray, np.ndarray] | None = None,
) -> pl.Series:
    """A Polars string column cut out of the buffer (input already checked to be UTF-8)."""
    data, offsets = _ragged(buf, starts, ends) if cut is None else cut
    if offsets[-1] < 2**31:
        array = pa.StringArray.from_buffers(
            len(starts), pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(data)
        )
    else:
        array = pa.LargeStringArray.from_buffers(
            len(starts), pa.py_buffer(offsets), pa.py_buffer(data)
        )
    series = pl.from_arrow(array)
    assert isinstance(series, pl.Series)
    return series


def _parse_floats(
    buf: np.ndarray, starts: np.ndarray, ends: np.ndarray
) -> tuple[pl.Series, np.ndarray]:
    """Floats via Polars' parser, flagging values it rejects or that line protocol spells
    differently (only digits . e E + -, first byte a digit, '.' or '-', finite)."""
    cut = _ragged(buf, starts, ends)
    values = _strings(buf, starts, ends, cut).cast(pl.Float64, strict=False)
    bad = values.is_null().to_numpy() | ~_FLOAT_START[buf[starts]]
    wrong = np.flatnonzero(~_FLOAT_BYTES[cut[0]])
    if wrong.size:
        bad[np.searchsorted(cut[1], wrong, side="right") - 1] = True
    bad |= values.is_infinite().fill_null(False).to_numpy()
    return values, bad


def _parse_integers(
    buf: np.ndarray, starts: np.ndarray, ends: np.ndarray, signed: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Decimal integers digit by digit in NumPy (uint64 accumulator, so 19-20 digit
    values are checked for overflow exactly); returns int64/uint64 values and bad flags."""
    negative = (buf[starts] == ord("-")) if signed else np.zeros(len(starts), bool)
    first = starts + negative
    lengths = ends - first
    fixed = len(lengths) and lengths.min() == lengths.max() and 0 < lengths[0] <= 19
    if fixed and not negative.any():
        return _parse_fixed_width(buf, first, int(lengths[0]), signed)
    if len(lengths) and lengths.max() <= 18:
        return _parse_short_integers(buf, starts, ends, signed)
    bad = (lengths <= 0) | (lengths > 20)
    acc = np.zeros(len(starts), np.uint64)
    last = len(buf) - 1
    for offset in range(int(lengths.max(initial=0))):
        active = offset < lengths
        digit = buf[np.minimum(first + offset, last)].astype(np.int16) - ord("0")
        bad |= active & ((digit < 0) | (digit > 9))
        big = active & (acc > np.uint64((2**64 - 1 - 9) // 10))
        bad |= big
        stepped = acc * np.uint64(10) + np.clip(digit, 0, 9).astype(np.uint64)
        acc = np.where(active & ~big, stepped, acc)
    if not signed:
        return acc, bad
    bad |= acc > np.uint64(2**63 - 1) + negative.astype(np.uint64)
    magnitude = acc.astype(np.int64)  # 2**63 wraps to -2**63, which is right when negated
    values = np.where(negative, -magnitude, magnitude)
    return values, bad


def _field_column(
    buf: np.ndarray, starts: np.ndarray, ends: np.ndarray
) -> tuple[np.ndarray, dict[int, pl.Series], np.ndarray, np.ndarray]:
    """Type codes, typed value columns, problem flags and string flags of one field token."""
    head, tail = buf[starts], buf[ends - 1]
    head_codes = _HEAD_CODES[head]
    codes = np.where(head_codes > 0, head_codes, _TAIL_CODES[tail])
    is_string = head == _QUOTE
    bad = is_string & ((tail != _QUOTE) | (ends - starts < 2))
    values: dict[int, pl.Series] = {}
    present = np.flatnonzero(np.bincount(codes, minlength=len(_POLARS_TYPES)))
    if len(present) == 1:  # the usual case: one type, no subsetting
        series, wrong = _typed_values(buf, starts, ends, int(present[0]))
        return codes, {int(present[0]): series}, bad | wrong, is_string
    for code in present:
        where = np.flatnonzero(codes == code)
        series, wrong = _typed_values(buf, starts[where], ends[where], int(code))
        bad[where[wrong]] = True
        values[int(code)] = _scatter(series, where, len(starts))
    return codes, values, bad, is_string


def _parse_short_integers(
    buf: np.ndarray, starts: np.ndarray, ends: np.ndarray, signed: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Integers of at most 18 digits (no overflow possible) via Polars' parser, flagging
    spellings line protocol does not allow (a '+' sign, anything but digits and a '-')."""
    cut = _ragged(buf, starts, ends)
    dtype = pl.Int64() if signed else pl.UInt64()
    values = _strings(buf, starts, ends, cut).cast(dtype, strict=False)
    allowed = _SIGNED_BYTES if signed else _DIGIT_BYTES
    bad = values.is_null().to_numpy() | (buf[starts] == ord("+"))
    wrong = np.flatnonzero(~allowed[cut[0]])
    if wrong.size:
        bad[np.searchsorted(cut[1], wrong, side="right") - 1] = True
    return values.fill_null(0).to_numpy(), bad


_POWERS = np.array([10**i for i in range(19, -1, -1)], np.uint64)


def _parse_fixed_width(
    buf: np.ndarray, first: np.ndarray, width: int, signed: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Non-negative integers that all have `width` (<= 19) digits: fits uint64 exactly.

    Digits are gathered as a byte matrix and combined with a dot product by powers of
    ten, a block of rows at a time.
    """
    digits = _byte_matrix(buf, first, width) - np.uint8(ord("0"))
    bad = (digits > 9).any(axis=1)
    acc = digits.astype(np.uint64) @ _POWERS[-width:]
    if not signed:
        return acc, bad
    bad |= acc > np.uint64(2**63 - 1)
    return acc.astype(np.int64), bad


def _parse_booleans(
    buf: np.ndarray, starts: np.ndarray, ends: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Match the ten spellings InfluxDB accepts (t, True, FALSE, ...) byte by byte."""
    lengths = ends - starts
    truth = np.zeros(len(starts), bool)
    known = np.zeros(len(starts), bool)
    words = _byte_matrix(buf, starts, 8).view("<u8")[:, 0]
    for spelling in (*_BOOL_TRUE, *_BOOL_FALSE):
        size = len(spelling)
        mask = np.uint64((1 << (8 * size)) - 1)
        word = np.uint64(int.from_bytes(spelling.encode(), "little"))
        hit = (lengths == size) & ((words & mask) == word)
        known |= hit
        if spelling in _BOOL_TRUE:
            truth |= hit
    return truth, ~known


def _typed_values(
    buf: np.ndarray, starts: np.ndarray, ends: np.ndarray, code: int
) -> tuple[pl.Series, np.ndarray]:
    """Values of one field type cut from the buffer, with per-value problem flags."""
    ftype = _TYPES[code]
    if ftype is FieldType.STRING:
        inner_end = np.maximum(ends - 1, starts + 1)
        return _strings(buf, starts + 1, inner_end), np.zeros(len(starts), bool)
    if ftype is FieldType.BOOLEAN:
        truth, bad = _parse_booleans(buf, starts, ends)
        return pl.Series(truth, dtype=pl.Boolean), bad
    if ftype is FieldType.FLOAT:
        return _parse_floats(buf, starts, ends)
    signed = ftype is FieldType.INTEGER
    values, bad = _parse_integers(buf, starts, ends - 1, signed)
    return pl.Series(values, dtype=pl.Int64 if signed else pl.UInt64), bad


def _scatter(series: pl.Series, where: np.ndarray, size: int) -> pl.Series:
    """A full-length column holding `series` at `where` and null elsewhere."""
    if len(where) == size:
        return series
    full = pl.repeat(None, size, dtype=series.dtype, eager=True)
    return full.scatter(where, series)


def _timestamps(
    buf: np.ndarray, tokens: _Tokens, shape: _Shape, ctx: _Context
) -> tuple[pl.Series, np.ndarray]:
    """Nanosecond times (default where absent) and flags for unreadable/out-of-range ones."""
    n = len(tokens)
    if shape.timestamp is None:
        return pl.repeat(ctx.default_time_ns, n, dtype=pl.Int64, eager=True), np.zeros(n, bool)
    token = shape.timestamp
    values, bad = _parse_integers(buf, tokens.start(token), tokens.end(token), signed=True)
    low, high = ctx.precision.bounds()
    bad |= (values < low) | (values > high)
    if bad.any():
        values = np.where(bad, 0, values)
    if ctx.precision is not Precision.NS:
        values = values * ctx.precision.multiplier
    return pl.Series(values, dtype=pl.Int64), bad


# ----------------------------------------------------------------- slow path


def _decode_slow(indices: np.ndarray, ctx: _Context) -> None:
    """Parse the remaining lines exactly; valid ones become frames, others errors."""
    by_measurement: dict[str, list[tuple[int, ParsedLine]]] = {}
    for index in np.sort(indices).tolist():
        text = ctx.text(index)
        line_no = ctx.first_line + index
        try:
            parsed = parse_line(text, ctx.precision)
        except LineSyntaxError as exc:
            ctx.error(line_no, exc.column, text, exc.message)
            continue
        by_measurement.setdefault(parsed.measurement, []).append((line_no, parsed))
    for measurement, parsed_lines in by_measurement.items():
        ctx.add_frame(measurement, _parsed_frame(parsed_lines, ctx))


def _parsed_frame(parsed_lines: list[tuple[int, ParsedLine]], ctx: _Context) -> pl.DataFrame:
    """The intermediate frame for exactly-parsed lines of one measurement."""
    schema: dict[str, pl.DataType] = {"_line": pl.Int64(), TIME_COLUMN: pl.Int64()}
    rows: list[dict[str, object]] = []
    for line_no, parsed in parsed_lines:
        stamp = ctx.default_time_ns if parsed.time is None else parsed.time
        row: dict[str, object] = {"_line": line_no, TIME_COLUMN: stamp}
        for key, value in parsed.tags.items():
            _put(row, schema, ctx.key_id(key), _TAG, value)
        for key, value in parsed.fields.items():
            _put(row, schema, ctx.key_id(key), _CODES[field_type_of(value)], value)
        rows.append(row)
    return pl.DataFrame(rows, schema=schema)


def _put(
    row: dict[str, object], schema: dict[str, pl.DataType], kid: int, code: int, value: object
) -> None:
    """Store one tag or field value of a parsed line under its intermediate column names."""
    row[_code_col(kid)] = code
    row[_value_col(kid, code)] = value
    schema[_code_col(kid)] = pl.Int8()
    schema[_value_col(kid, code)] = _POLARS_TYPES[code]


# ----------------------------------------------------------------- merging


def _build_batch(measurement: str, frames: list[pl.DataFrame], ctx: _Context) -> PointBatch | None:
    """Merge a measurement's frames, reject type-conflicting lines, build the batch."""
    merged = pl.concat(frames, how="diagonal_relaxed")
    if not merged["_line"].is_sorted():
        merged = merged.sort("_line")
    merged, winners = _reject_conflicts(merged, ctx)
    if merged.height == 0:
        return None
    names = {kid: key for key, kid in ctx.key_ids.items()}
    tags = sorted(names[k] for k, code in winners.items() if code == _TAG)
    fields = sorted(names[k] for k, code in winners.items() if code != _TAG)
    ids = {names[kid]: kid for kid in winners}
    columns = [pl.col(TIME_COLUMN)]
    columns += [pl.col(_value_col(ids[k], winners[ids[k]])) for k in [*tags, *fields]]
    columns.append(pl.col("_line"))
    # Rename on the Arrow side: keys may hold characters (NUL) Polars' export rejects.
    table = merged.select(columns).to_arrow().rename_columns(
        [TIME_COLUMN, *tags, *fields, LINE_COLUMN]
    )
    return PointBatch(measurement, _standard_types(table), tuple(tags), tuple(fields))


def _standard_types(table: pa.Table) -> pa.Table:
    """Polars exports large/view strings; the batch contract uses plain Arrow types."""
    fields = []
    for f in table.schema:
        dtype = f.type
        if pa.types.is_large_string(dtype) or pa.types.is_string_view(dtype):
            dtype = pa.string()
        fields.append(pa.field(f.name, dtype, nullable=f.name not in (TIME_COLUMN, LINE_COLUMN)))
    return table.cast(pa.schema(fields))


def _reject_conflicts(frame: pl.DataFrame, ctx: _Context) -> tuple[pl.DataFrame, dict[int, int]]:
    """Apply InfluxDB's rule: a key's type is set by its first accepted line.

    Each round finds, for every key, the earliest surviving line using it, and the
    earliest line B that disagrees with any of those. Lines disagreeing with a
    reference line before B are certainly rejected (everything before B is
    accepted), so they go; the rest are re-examined. Usually one round.
    """
    codes = [c for c in frame.columns if c.startswith("c")]
    while True:
        winners, refs = _first_codes(frame, codes)
        flags = frame.select(
            [(pl.col(c).is_not_null() & (pl.col(c) != w)).alias(c) for c, w in winners.items()]
        )
        bad = [c for c in flags.columns if flags[c].any()]
        if not bad:
            return frame, {int(c[1:]): w for c, w in winners.items()}
        cutoff = min(frame["_line"].filter(flags[c]).min() for c in bad)
        certain = [c for c in bad if refs[c] < cutoff]
        mask = flags.select(pl.any_horizontal(certain)).to_series()
        _report_conflicts(frame.filter(mask), certain, winners, refs, ctx)
        frame = frame.filter(~mask)


def _first_codes(frame: pl.DataFrame, codes: list[str]) -> tuple[dict[str, int], dict[str, int]]:
    """Per key column: the type code and line number of its earliest occurrence."""
    if frame.height == 0 or not codes:
        return {}, {}
    firsts = frame.select([pl.col(c).drop_nulls().first() for c in codes]).row(0)
    lines = frame.select(
        [pl.col("_line").filter(pl.col(c).is_not_null()).first().alias(c) for c in codes]
    ).row(0)
    winners = {c: int(v) for c, v in zip(codes, firsts, strict=True) if v is not None}
    refs = {c: int(v) for c, v in zip(codes, lines, strict=True) if v is not None}
    return winners, refs


def _report_conflicts(
    rejected: pl.DataFrame,
    certain: list[str],
    winners: dict[str, int],
    refs: dict[str, int],
    ctx: _Context,
) -> None:
    """One error per rejected line, naming the first conflicting key in the line."""
    names = {kid: key for key, kid in ctx.key_ids.items()}
    for row in rejected.select(["_line", *certain]).iter_rows(named=True):
        line_no = row["_line"]
        text = _line_text(line_no, ctx)
        parsed = parse_line(text, ctx.precision)
        conflicts = [
            c for c in certain if row[c] is not None and row[c] != winners[c]
        ]
        conflicts.sort(key=lambda c: parsed.key_columns.get(names[int(c[1:])], 0))
        c = conflicts[0]
        key = names[int(c[1:])]
        column = parsed.value_columns.get(key, parsed.key_columns.get(key, 0))
        message = _conflict_message(key, winners[c], refs[c], row[c])
        ctx.error(line_no, column, text, message)


def _conflict_message(key: str, first: int, ref_line: int, here: int) -> str:
    if first != _TAG and here != _TAG:
        return (
            f"field type conflict: field {key} is {_TYPES[first].value} in line {ref_line}, "
            f"{_TYPES[here].value} here"
        )
    if first == _TAG:
        return f"key {key} is a tag in line {ref_line}, a field here: a key cannot be both"
    return f"key {key} is a field in line {ref_line}, a tag here: a key cannot be both"


def _line_text(line_no: int, ctx: _Context) -> str:
    return ctx.text(line_no - ctx.first_line)


# --------------------------------------------------------------------------- files


def decode_file_chunks(
    path: str | Path,
    *,
    chunk_bytes: int = 16 * 1024 * 1024,
    precision: Precision | str = Precision.NS,
    default_time_ns: int | None = None,
    source: str | None = None,
) -> Iterator[DecodeResult]:
    """Decode a plain or gzip file in chunks cut at line boundaries (bounded memory).

    Line numbers continue across chunks; lines without a timestamp all get the same
    default time (taken once, at the start).
    """
    path = Path(path)
    default = _time.time_ns() if default_time_ns is None else default_time_ns
    name = str(path) if source is None else source
    line_no = 1
    for chunk in _read_line_chunks(path, chunk_bytes):
        result = decode(
            chunk, precision=precision, default_time_ns=default, first_line=line_no, source=name
        )
        line_no += result.lines_read
        yield result


def _read_line_chunks(path: Path, chunk_bytes: int) -> Iterator[bytes]:
    """Blocks of a plain or gzip file, cut at newlines (see `line_blocks`)."""
    with path.open("rb") as probe:
        gzipped = probe.read(2) == b"\x1f\x8b"
    opener = gzip.open if gzipped else open
    with opener(path, "rb") as handle:
        yield from line_blocks(handle, chunk_bytes)


def line_blocks(stream: BinaryIO, chunk_bytes: int) -> Iterator[bytes]:
    """Blocks of about `chunk_bytes` ending at a newline (a longer line is one block)."""
    carry = b""
    while block := stream.read(chunk_bytes):
        data = carry + block
        cut = data.rfind(b"\n")
        if cut < 0:
            carry = data
            continue
        carry = data[cut + 1 :]
        yield data[: cut + 1]
    if carry:
        yield carry
