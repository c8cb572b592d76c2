"""The slow path: lines the fast path refused (and every line when `_fast=False`) are parsed
one by one with the exact parser and turned into the same intermediate frames the fast path
builds, or into line errors. It is the only per-row Python in decoding, kept small and
separate so it is plain where the per-row cost is paid."""

from __future__ import annotations

import numpy as np
import polars as pl

from fluxlab.model.lineprotocol.errors import LineSyntaxError
from fluxlab.model.lineprotocol.exact import ParsedLine, parse_line
from fluxlab.model.lineprotocol.frames import (
    _CODES,
    _POLARS_TYPES,
    _TAG,
    _code_col,
    _Context,
    _value_col,
)
from fluxlab.model.points import TIME_COLUMN, field_type_of


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
