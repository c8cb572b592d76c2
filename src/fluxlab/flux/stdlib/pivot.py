"""universe.pivot: rows keyed by `rowKey`, one new column per distinct `columnKey` value.

Flux semantics kept here: output group key = input key minus `columnKey` and
`valueColumn`; input tables that end up with the same key are pivoted together;
kept columns are the group-key columns and the `rowKey` columns (values from the
first row of each row key); output rows and new columns appear in first-seen order;
labels join the `columnKey` values with "_" ("null" for null, floats in Go's %E
form); when a (row, column) pair repeats, the last value wins.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from fluxlab.flux.errors import FluxRuntimeError
from fluxlab.flux.registry import builtin
from fluxlab.flux.stdlib.shape_common import key_sort_key, require_columns
from fluxlab.flux.table import Stream, Table

_LABEL = "__fluxlab_label"
_ROW = "__fluxlab_row"
_VALUE = "__fluxlab_value"


def _go_float_label(v: float) -> str:
    """Go's strconv.FormatFloat(v, 'E', -1, 64)."""
    if np.isnan(v):
        return "NaN"
    if np.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return np.format_float_scientific(v, unique=True, exp_digits=2, trim="-").upper()


def _time_label(ns: int) -> str:
    """RFC3339 with only the needed fractional digits, as Flux prints times."""
    seconds, frac = divmod(ns, 1_000_000_000)
    base = np.datetime64(seconds, "s").astype(str)
    return f"{base}.{frac:09d}".rstrip("0") + "Z" if frac else f"{base}Z"


def _label_strings(series: pl.Series) -> pl.Series:
    """One column-key column as label text; only distinct values are formatted in Python."""
    dtype = series.dtype
    if dtype == pl.String:
        text = series
    elif dtype == pl.Boolean:
        text = series.cast(pl.String).str.to_lowercase()
    elif dtype.is_integer():
        text = series.cast(pl.String)
    elif dtype == pl.Float64 or isinstance(dtype, pl.Datetime):
        distinct = series.drop_nulls().unique()
        if isinstance(dtype, pl.Datetime):
            keys = distinct.dt.cast_time_unit("ns").cast(pl.Int64).to_list()
            mapping = dict(zip(keys, [_time_label(k) for k in keys], strict=True))
            ints = series.dt.cast_time_unit("ns").cast(pl.Int64)
            text = ints.replace_strict(mapping, default=None, return_dtype=pl.String)
        else:
            keys = distinct.to_list()
            mapping = {k: _go_float_label(k) for k in keys}
            text = series.replace_strict(mapping, default=None, return_dtype=pl.String)
    else:
        raise FluxRuntimeError(f"pivot: column key of type {dtype} is not supported")
    return text.fill_null("null")


def _labels(df: pl.DataFrame, column_key: list[str]) -> pl.Series:
    parts = [_label_strings(df.get_column(c)) for c in column_key]
    if len(parts) == 1:
        return parts[0].alias(_LABEL)
    return pl.DataFrame(parts).select(pl.concat_str(pl.all(), separator="_")).to_series().alias(_LABEL)


def _output_key(table: Table, column_key: list[str], value_column: str) -> tuple[str, ...]:
    return tuple(
        c for c in table.df.columns if c in table.key and c not in column_key and c != value_column
    )


def _row_ids(keyed: pl.DataFrame, row_key: list[str], kept: list[str]) -> tuple[pl.DataFrame, pl.Series]:
    """Distinct row keys in first-seen order (with kept values) and each input row's id."""
    if not row_key:
        rows = keyed.head(1).select(kept).with_row_index(_ROW)
        return rows, pl.Series(_ROW, [0] * keyed.height, dtype=pl.UInt32)
    rows = keyed.unique(subset=row_key, keep="first", maintain_order=True).select(kept)
    rows = rows.with_row_index(_ROW)
    ids = keyed.select(row_key).join(
        rows.select([*row_key, _ROW]), on=row_key, how="left", nulls_equal=True, maintain_order="left"
    )
    return rows, ids.get_column(_ROW)


def _pivot_group(parts: list[Table], key: tuple[str, ...], row_key: list[str],
                 column_key: list[str], value_column: str) -> Table:
    first = parts[0]
    kept = [c for c in first.df.columns if c in key or c in row_key]
    for t in parts:
        require_columns(t, [*row_key, *column_key, value_column], "pivot")
    keyed = pl.concat([t.df.select(kept) for t in parts], how="vertical_relaxed")
    key_values = tuple(first.key_dict()[c] for c in key)
    if keyed.height == 0:
        return Table(key, key_values, first.df.select(kept).clear())
    labels = pl.concat([_labels(t.df, column_key) for t in parts])
    rows, ids = _row_ids(keyed, row_key, kept)
    order = labels.unique(maintain_order=True).to_list()
    out = rows
    by_type: dict[pl.DataType, list[pl.DataFrame]] = {}
    offset = 0
    for t in parts:
        n = t.height
        cells = pl.DataFrame([ids.slice(offset, n), labels.slice(offset, n),
                              t.df.get_column(value_column).alias(_VALUE)])
        by_type.setdefault(t.df.schema[value_column], []).append(cells)
        offset += n
    seen: set[str] = set()
    for frames in by_type.values():
        cells = pl.concat(frames, how="vertical")
        wide = cells.pivot(on=_LABEL, index=_ROW, values=_VALUE, aggregate_function="last")
        clash = seen.intersection(c for c in wide.columns if c != _ROW)
        if clash:
            raise FluxRuntimeError(
                f"pivot: value column {value_column!r} has different types for column {sorted(clash)[0]!r}"
            )
        seen.update(c for c in wide.columns if c != _ROW)
        out = out.join(wide, on=_ROW, how="left", maintain_order="left")
    duplicated = [c for c in order if c in kept]
    if duplicated:
        raise FluxRuntimeError(f"pivot: new column {duplicated[0]!r} already exists in the table")
    return Table(key, key_values, out.select([*kept, *order]))


@builtin("universe", pipe="tables")
def pivot(ctx, tables: Stream, rowKey: list[str], columnKey: list[str], valueColumn: str) -> Stream:
    """Collect values stored vertically into columns (see module docstring)."""
    both = set(rowKey) & set(columnKey)
    if both:
        raise FluxRuntimeError(f"pivot: column name found in both rowKey and columnKey: {sorted(both)[0]}")
    groups: dict[tuple, tuple[tuple[str, ...], list[Table]]] = {}
    for t in tables:
        key = _output_key(t, columnKey, valueColumn)
        kd = t.key_dict()
        ident = tuple(sorted((c, kd[c]) for c in key))
        groups.setdefault(ident, (key, []))[1].append(t)
    out = [_pivot_group(parts, key, list(rowKey), list(columnKey), valueColumn)
           for key, parts in groups.values()]
    # Flux's table builder cache emits pivoted tables in group-key order.
    return Stream(sorted(out, key=key_sort_key))

