"""Annotated CSV: decode Flux results (`csv.from`, InfluxDB responses) and encode them
byte-compatible with InfluxDB 2's `/api/v2/query` output.

Decoding splits the text into blocks (annotation rows, a header, data rows), reads
each block's rows with Arrow's CSV reader and casts whole columns with Polars; only
the annotation and header rows are handled in Python. Encoding formats whole
columns with Polars expressions and joins them into lines.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from fluxlab.flux.errors import FluxRuntimeError
from fluxlab.flux.operators import format_duration, parse_duration
from fluxlab.flux.table import (
    DURATION_TYPE,
    FLUX_TYPE_NAMES,
    TIME_TYPE,
    Stream,
    Table,
    flux_type_name,
)
from fluxlab.flux.values import Duration, Time

CRLF = "\r\n"
DEFAULT_RESULT = "_result"
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S%.f%#z"
_NEEDS_QUOTES = r'[,"\r\n]|^[ \t]'


# ============================================================================= decoding


@dataclass(slots=True)
class _Block:
    """One annotated section: column names, types, group flags, defaults, row text."""

    names: list[str]
    types: list[str]
    group: list[bool]
    defaults: list[str]
    body: str
    has_annotation_column: bool


def decode(text: str) -> dict[str, Stream]:
    """Decode annotated CSV into one stream per result name (in first-seen order)."""
    results: dict[str, list[Table]] = {}
    for block in _split_blocks(text):
        for result, table in _decode_block(block):
            results.setdefault(result, []).append(table)
    return {name: Stream(tables) for name, tables in results.items()}


def decode_stream(text: str) -> Stream:
    """Decode annotated CSV into a single stream holding the tables of every result."""
    return Stream(t for stream in decode(text).values() for t in stream)


def _split_blocks(text: str) -> list[_Block]:
    blocks: list[_Block] = []
    previous: _Block | None = None
    for segment in _segments(text):
        lines = segment.split("\n", 64)
        annotations: dict[str, list[str]] = {}
        index = 0
        while index < len(lines) and lines[index].startswith("#"):
            row = _csv_row(lines[index].rstrip("\r"))
            annotations[row[0][1:]] = row[1:]
            index += 1
        if index >= len(lines) or not lines[index].strip():
            raise FluxRuntimeError("annotated CSV: annotations without a header row")
        header_line, _, body = "\n".join(lines[index:]).partition("\n")
        header = _csv_row(header_line.rstrip("\r"))
        if not annotations and previous is not None and _is_data_row(header, previous):
            body = "\n".join(lines[index:])
            header = ["", *previous.names] if previous.has_annotation_column else previous.names
        block = _make_block(header, annotations, body, previous)
        blocks.append(block)
        previous = block
    return blocks


def _segments(text: str) -> list[str]:
    """Blank-line separated segments, also split where annotations follow data rows.

    Literal `str.split` (not regexes) keeps this fast on large responses.
    """
    newline = "\r\n" if "\r\n" in text[:4096] else "\n"
    out: list[str] = []
    for chunk in text.split(newline + newline):
        chunk = chunk.strip("\r\n")
        if not chunk or chunk.isspace():
            continue
        pieces = chunk.split("\n#")
        out.append(pieces[0])
        out.extend("#" + p for p in pieces[1:])
    return _merge_annotation_only(out)


def _merge_annotation_only(parts: list[str]) -> list[str]:
    merged: list[str] = []
    for part in parts:
        if merged and all(line.startswith("#") for line in merged[-1].split("\n", 8)):
            merged[-1] = merged[-1] + "\n" + part
        else:
            merged.append(part)
    return merged


def _is_data_row(row: list[str], previous: _Block) -> bool:
    """A blank line followed by rows (no annotations, no header) continues a block."""
    names = row[1:] if previous.has_annotation_column else row
    return names != previous.names


def _csv_row(line: str) -> list[str]:
    return next(csv.reader([line]), [])


def _make_block(
    header: list[str], annotations: dict[str, list[str]], body: str, previous: _Block | None
) -> _Block:
    has_ann_col = bool(annotations) or (header and header[0] == "")
    names = header[1:] if has_ann_col else header
    width = len(names)
    if not annotations and previous is not None and len(previous.names) == width:
        return _Block(names, previous.types, previous.group, previous.defaults, body, has_ann_col)
    types = annotations.get("datatype", ["string"] * width)
    group = [v.strip().lower() == "true" for v in annotations.get("group", ["false"] * width)]
    defaults = annotations.get("default", [""] * width)
    for label, values in (("#datatype", types), ("#group", group), ("#default", defaults)):
        if len(values) != width:
            raise FluxRuntimeError(
                f"annotated CSV: {label} has {len(values)} columns, header has {width}: {names}"
            )
    return _Block(names, types, group, defaults, body, has_ann_col)


def _read_body(block: _Block) -> pl.DataFrame:
    """The block's data rows as string columns (empty strings kept as '')."""
    width = len(block.names) + (1 if block.has_annotation_column else 0)
    raw_names = [f"c{i}" for i in range(width)]
    if not block.body.strip():
        return pl.DataFrame({n: pl.Series(n, [], dtype=pl.String) for n in block.names})
    table = pacsv.read_csv(
        io.BytesIO(block.body.encode()),
        read_options=pacsv.ReadOptions(column_names=raw_names),
        parse_options=pacsv.ParseOptions(newlines_in_values=True, ignore_empty_lines=True),
        convert_options=pacsv.ConvertOptions(
            column_types={n: pa.string() for n in raw_names},
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )
    if block.has_annotation_column:
        table = table.drop_columns(["c0"])
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    return frame.rename(dict(zip(frame.columns, block.names, strict=True)))


def _decode_block(block: _Block) -> list[tuple[str, Table]]:
    frame = _read_body(block)
    if block.names[:1] == ["error"] and frame.height:
        raise FluxRuntimeError(f"query failed: {frame.get_column('error')[0]}")
    columns = [
        _typed_column(frame.get_column(name), dtype, default, name)
        for name, dtype, default in zip(block.names, block.types, block.defaults, strict=True)
    ]
    frame = pl.DataFrame(columns) if columns else frame
    key = tuple(
        n
        for n, g in zip(block.names, block.group, strict=True)
        if g and n not in ("result", "table")
    )
    data_cols = [n for n in block.names if n not in ("result", "table")]
    if frame.height == 0:
        return [(_default_result(block), _empty_table(block, frame, key, data_cols))]
    # like Flux's decoder, a row whose group key differs starts another table
    split_by = [c for c in ("result", "table", *key) if c in frame.columns]
    parts = frame.partition_by(split_by, maintain_order=True) if split_by else [frame]
    out: list[tuple[str, Table]] = []
    for part in parts:
        result = part.get_column("result")[0] if "result" in part.columns else None
        out.append((result or DEFAULT_RESULT, Table.from_frame(part.select(data_cols), key)))
    return out


def _default_result(block: _Block) -> str:
    if "result" in block.names:
        return block.defaults[block.names.index("result")] or DEFAULT_RESULT
    return DEFAULT_RESULT


def _empty_table(
    block: _Block, frame: pl.DataFrame, key: tuple[str, ...], data_cols: list[str]
) -> Table:
    """A table with no rows; its key values come from the #default annotation."""
    values = []
    for name in key:
        i = block.names.index(name)
        series = _typed_column(pl.Series(name, [block.defaults[i]]), block.types[i], "", name)
        values.append(series[0])
    return Table(key, tuple(values), frame.select(data_cols))


def _typed_column(raw: pl.Series, flux_type: str, default: str, name: str) -> pl.Series:
    """Cast a column of CSV text to its Flux type; '' becomes the default or null."""
    flux_type = flux_type.strip()
    if name in ("result", "table") and flux_type not in FLUX_TYPE_NAMES:
        flux_type = "string"
    fill = pl.lit(default if default else None, dtype=pl.String)
    filled = (
        pl.DataFrame({"v": raw.cast(pl.String)})
        .select(pl.when(pl.col("v") == "").then(fill).otherwise(pl.col("v")).alias("v"))
        .get_column("v")
    )
    try:
        return _cast_text(filled, flux_type).alias(name)
    except (pl.exceptions.PolarsError, ValueError) as exc:
        raise FluxRuntimeError(
            f"annotated CSV: column {name!r} has a value that is not a valid {flux_type}: {exc}"
        ) from exc


def _cast_text(text: pl.Series, flux_type: str) -> pl.Series:
    if flux_type == "string":
        return text
    if flux_type == "long":
        return text.str.strip_chars().cast(pl.Int64, strict=True)
    if flux_type == "unsignedLong":
        return text.str.strip_chars().cast(pl.UInt64, strict=True)
    if flux_type == "double":
        return text.str.strip_chars().cast(pl.Float64, strict=True)
    if flux_type == "boolean":
        lowered = text.str.strip_chars().str.to_lowercase()
        bad = lowered.is_not_null() & ~lowered.is_in(["true", "false"])
        if bad.any():
            raise ValueError(f"{text.filter(bad)[0]!r} is not true or false")
        return lowered == "true"
    if flux_type.startswith("dateTime"):
        return parse_times(text)
    if flux_type == "duration":
        values = [None if v is None else _duration_ns(v) for v in text.to_list()]
        return pl.Series(text.name, values, dtype=pl.Int64).cast(DURATION_TYPE)
    raise FluxRuntimeError(f"annotated CSV: unknown column type {flux_type!r}")


def _duration_ns(text: str) -> int:
    return parse_duration(text).total_ns()


def parse_times(text: pl.Series) -> pl.Series:
    """RFC3339 / RFC3339Nano text (any offset) to UTC nanosecond times."""
    if text.len() == 0 or text.null_count() == text.len():
        return pl.Series(text.name, [None] * text.len(), dtype=TIME_TYPE)
    trimmed = text.str.strip_chars()
    try:  # Arrow's ISO-8601 cast is fast and handles Z and +hh:mm offsets
        cast = pc.cast(trimmed.to_arrow(), pa.timestamp("ns", "UTC"))
        return pl.Series(text.name, cast).cast(TIME_TYPE)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    utc = trimmed.str.replace(r"[zZ]$", "+00:00")
    return utc.str.to_datetime(_TIME_FORMAT, time_unit="ns", time_zone="UTC", strict=True)


# ============================================================================= encoding


ANNOTATIONS = ("group", "datatype", "default")


def encode(
    results: Mapping[str, Stream] | Stream,
    *,
    result_name: str = DEFAULT_RESULT,
    annotations: Sequence[str] = ANNOTATIONS,
) -> str:
    """Encode results as InfluxDB 2 `/api/v2/query` CSV (CRLF line endings).

    `annotations` is the request dialect's list (any of group, datatype, default),
    written in the order given, as Flux's encoder does; without `default` every row
    names its result instead. Each result ends with a blank line.
    """
    if isinstance(results, Stream):
        results = {result_name: results}
    unknown = set(annotations) - set(ANNOTATIONS)
    if unknown:
        raise FluxRuntimeError(f"unknown CSV annotations {sorted(unknown)}; use {ANNOTATIONS}")
    encoder = _Encoder(tuple(annotations))
    out: list[str] = []
    for name, stream in results.items():
        blocks = encoder.result_blocks(name, stream)
        if blocks:
            out.append((CRLF + CRLF).join(blocks) + CRLF + CRLF)
    return "".join(out)


def encode_error(message: str, annotations: Sequence[str] = ANNOTATIONS) -> str:
    """A query error in the CSV form InfluxDB uses (an `error`/`reference` table)."""
    rows = {"datatype": "#datatype,string,string", "group": "#group,true,true",
            "default": "#default,,"}
    lines = [rows[a] for a in annotations if a in rows]
    lines += [",error,reference", f",{_quote(message)},"]
    return CRLF.join(lines) + CRLF


class _Encoder:
    def __init__(self, annotations: tuple[str, ...]) -> None:
        self.annotations = annotations

    def result_blocks(self, name: str, stream: Stream) -> list[str]:
        """Blocks (without the separating blank line) for the tables of one result."""
        blocks: list[str] = []
        run: list[tuple[int, Table]] = []
        for table_id, table in enumerate(stream):
            if table.height == 0:
                blocks.extend(self._rows_block(name, run))
                run = []
                if "default" in self.annotations:  # only #default can carry an empty table
                    blocks.append(self._empty_table_block(name, table_id, table))
                continue
            if run and _schema(run[0][1]) != _schema(table):
                blocks.extend(self._rows_block(name, run))
                run = []
            run.append((table_id, table))
        blocks.extend(self._rows_block(name, run))
        return blocks

    def _header(self, name: str, table: Table, defaults: list[str]) -> list[str]:
        cols = table.df.columns
        rows = {
            "group": ["false", "false"] + ["true" if c in table.key else "false" for c in cols],
            "datatype": ["string", "long"] + [flux_type_name(d) for d in table.df.dtypes],
            "default": [_quote(v) for v in [name, *defaults]],
        }
        lines = [f"#{a}," + ",".join(rows[a]) for a in self.annotations]
        lines.append("," + ",".join(_quote(c) for c in ["result", "table", *cols]))
        return lines

    def _rows_block(self, name: str, run: list[tuple[int, Table]]) -> list[str]:
        if not run:
            return []
        first = run[0][1]
        lines = self._header(name, first, [""] * (len(first.df.columns) + 1))
        frames = [t.df.with_columns(pl.lit(i, pl.Int64).alias("\0table")) for i, t in run]
        frame = pl.concat(frames, how="vertical") if len(frames) > 1 else frames[0]
        result = "" if "default" in self.annotations else _quote(name)
        exprs = [pl.lit(""), pl.lit(result), pl.col("\0table").cast(pl.String)]
        exprs += [format_column(c, frame.schema[c]) for c in first.df.columns]
        text = frame.select(pl.concat_str(exprs, separator=",").alias("line"))
        lines.extend(text.get_column("line").to_list())
        return [CRLF.join(lines)]

    def _empty_table_block(self, name: str, table_id: int, table: Table) -> str:
        """An empty table: annotations whose #default row holds the group key values."""
        key = table.key_dict()
        defaults = [str(table_id)]
        for col, dtype in table.df.schema.items():
            value = key.get(col)
            defaults.append("" if value is None else _format_scalar(value, dtype))
        return CRLF.join(self._header(name, table, defaults))


def _schema(table: Table) -> tuple[Any, ...]:
    return (table.key, tuple((n, flux_type_name(d)) for n, d in table.df.schema.items()))


def _format_scalar(value: Any, dtype: pl.DataType) -> str:
    if isinstance(value, Time):
        series = pl.Series("v", [value.ns], dtype=pl.Int64).cast(dtype)
    elif isinstance(value, Duration):
        series = pl.Series("v", [value.total_ns()], dtype=pl.Int64).cast(dtype)
    else:
        series = pl.Series("v", [value], dtype=dtype)
    return series.to_frame().select(format_column("v", dtype)).item() or ""


def format_column(name: str, dtype: pl.DataType) -> pl.Expr:
    """A Polars expression rendering a column as InfluxDB writes it (null -> '')."""
    return format_expr(pl.col(name), dtype)


def format_expr(col: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """Render an expression of type `dtype` as annotated-CSV text (null -> '')."""
    if dtype == pl.Float64 or dtype == pl.Float32:
        text = format_floats(col.cast(pl.Float64))
    elif isinstance(dtype, pl.Datetime):
        text = format_times(col)
    elif dtype == pl.Boolean:
        text = pl.when(col).then(pl.lit("true")).otherwise(pl.lit("false"))
    elif isinstance(dtype, pl.Duration):
        text = col.cast(pl.Int64).map_elements(
            lambda ns: format_duration(Duration.of_ns(ns)), return_dtype=pl.String
        )
    elif dtype == pl.String:
        text = _quote_expr(col)
    else:
        text = col.cast(pl.String)
    return pl.when(col.is_null()).then(pl.lit("")).otherwise(text)


def format_times(col: pl.Expr) -> pl.Expr:
    """RFC3339Nano in UTC without trailing fractional zeros (Go's time.RFC3339Nano)."""
    text = col.dt.convert_time_zone("UTC").dt.to_string("%Y-%m-%dT%H:%M:%S%.9fZ")
    return text.str.replace(r"0+Z$", "Z").str.replace(r"\.Z$", "Z")


def format_floats(col: pl.Expr) -> pl.Expr:
    """Go's strconv.FormatFloat(v, 'f', -1, 64): shortest digits, never an exponent."""
    return col.map_batches(format_float_series, return_dtype=pl.String)


def format_float_series(values: pl.Series) -> pl.Series:
    """Whole-column float formatting; only values Polars prints with an exponent
    (very large or very small magnitudes) are rewritten one by one."""
    values = values.cast(pl.Float64)
    text = values.cast(pl.String).str.replace(r"\.0$", "")
    text = (
        pl.DataFrame({"t": text, "v": values})
        .select(
            pl.when(pl.col("v").is_nan())
            .then(pl.lit("NaN"))
            .when(pl.col("v") == float("inf"))
            .then(pl.lit("+Inf"))
            .when(pl.col("v") == float("-inf"))
            .then(pl.lit("-Inf"))
            .otherwise(pl.col("t"))
            .alias("t")
        )
        .get_column("t")
    )
    exponent = (text.str.contains("e") & values.is_finite()).fill_null(False)
    if exponent.any():
        positions = exponent.arg_true()
        fixed = [_expand_float(v) for v in values.gather(positions).to_list()]
        text = text.scatter(positions, fixed)
    return text.alias(values.name)


def _expand_float(value: float) -> str:
    """Shortest round-trip digits of `value` written without an exponent."""
    return np.format_float_positional(value, unique=True, trim="-")


def _quote_expr(col: pl.Expr) -> pl.Expr:
    needs = col.str.contains(_NEEDS_QUOTES)
    quoted = pl.lit('"') + col.str.replace_all('"', '""', literal=True) + pl.lit('"')
    return pl.when(needs).then(quoted).otherwise(col)


def _quote(value: str) -> str:
    if re.search(_NEEDS_QUOTES, value):
        return '"' + value.replace('"', '""') + '"'
    return value
