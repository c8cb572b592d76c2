"""Encoding: one point (`encode_point`) or a whole batch vectorized with Polars string
expressions (`encode_batch`), plus the text of a single field value. Encoding shares nothing
with decoding but the syntax facts and the escaping rules, so it is its own module."""

from __future__ import annotations

import math

import polars as pl
import pyarrow as pa

from fluxlab.model.lineprotocol.escaping import (
    _escape_name_expr,
    escape_key,
    escape_measurement,
    escape_string_value,
)
from fluxlab.model.lineprotocol.syntax import _KEY_SPECIALS, INT64_MAX, INT64_MIN
from fluxlab.model.points import (
    TIME_COLUMN,
    FieldType,
    FieldValue,
    Point,
    PointBatch,
    field_type_of,
)
from fluxlab.model.precision import Precision


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
