"""Universe: the core table transformations (range, filter, map, group, sort, ...).

Each function maps a stream of tables to a stream of tables. Tables that share a
schema are processed together as one concatenated Polars frame (a hidden table-id
column keeps them apart), so per-row work is always vectorized.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal
from typing import Any

import polars as pl

from fluxlab.flux.context import Context
from fluxlab.flux.errors import FluxRuntimeError, FluxTypeError
from fluxlab.flux.operators import add_duration
from fluxlab.flux.registry import builtin, register_value
from fluxlab.flux.stdlib.from_store import StoreSource, push_aggregate, push_filter, push_range
from fluxlab.flux.table import TIME_TYPE, Stream, Table
from fluxlab.flux.values import Dictionary, Duration, Time, type_name

TID = "__flux_table_id"


# ----------------------------------------------------------------------------- helpers


def resolve_time(ctx: Context, value: Any, name: str) -> Time:
    """A time argument: a time, a duration relative to now, or integer Unix seconds."""
    if isinstance(value, Time):
        return value
    if isinstance(value, Duration):
        return add_duration(ctx.now, value)
    if isinstance(value, int) and not isinstance(value, bool):
        return Time(value * 1_000_000_000)
    raise FluxTypeError(f"{name} must be a time, a duration or an int, got {type_name(value)}")


def time_literal(t: Time) -> pl.Expr:
    return pl.lit(t.ns, pl.Int64).cast(TIME_TYPE)


def apply_by_schema(
    stream: Stream, fn: Callable[[pl.DataFrame], pl.DataFrame]
) -> list[tuple[Table, pl.DataFrame]]:
    """Run `fn` once per group of same-schema tables; return each table's new rows.

    `fn` receives the group's rows concatenated, with a `TID` column naming the
    table each row came from, and must return rows that still carry `TID` (it may
    drop, change or add other columns). The result is split back per table.
    """
    groups: dict[tuple[Any, ...], list[int]] = {}
    for i, t in enumerate(stream.tables):
        sig = tuple((n, str(d)) for n, d in t.df.schema.items())
        groups.setdefault(sig, []).append(i)
    out: dict[int, pl.DataFrame] = {}
    for indices in groups.values():
        frames = [
            stream.tables[i].df.with_columns(pl.lit(i, pl.Int64).alias(TID)) for i in indices
        ]
        combined = pl.concat(frames, how="vertical") if len(frames) > 1 else frames[0]
        result = fn(combined)
        if len(indices) == 1:
            out[indices[0]] = result.drop(TID)
            continue
        # as_dict + include_key=False: no per-table drop(); the empty default is built
        # once (it used to be evaluated for every table: a full-frame drop each time)
        parts = result.partition_by(TID, maintain_order=True, include_key=False, as_dict=True)
        blank = result.head(0).drop(TID)
        for i in indices:
            out[i] = parts.get((i,), blank)
    return [(t, out[i]) for i, t in enumerate(stream.tables)]


def regroup(tables: Iterable[tuple[tuple[str, ...], pl.DataFrame]]) -> Stream:
    """Tables from (key columns, rows); rows whose key values differ are split and
    tables with equal keys are merged, keeping first-seen order.

    Consecutive inputs with the same key columns and schema are concatenated and split
    by one partition (not one per input table): rows keep their stream order, so the
    merged tables and their order are the same as splitting each input on its own.
    """
    merged: dict[tuple[Any, ...], tuple[tuple[str, ...], list[pl.DataFrame], tuple[Any, ...]]] = {}
    for key, df in _same_schema_runs(tables):
        parts = df.partition_by(list(key), maintain_order=True) if key and df.height else [df]
        for part in parts:
            table = Table.from_frame(part, key)
            ident = (tuple(sorted(key)), _key_identity(table))
            if ident in merged:
                merged[ident][1].append(part)
            else:
                merged[ident] = (key, [part], table.key_values)
    out = []
    for key, frames, values in merged.values():
        df = frames[0] if len(frames) == 1 else _concat_diagonal(frames)
        out.append(Table(key, values, df))
    return Stream(out)


def _same_schema_runs(
    tables: Iterable[tuple[tuple[str, ...], pl.DataFrame]],
) -> Iterator[tuple[tuple[str, ...], pl.DataFrame]]:
    """Runs of consecutive (key, rows) with equal key columns and schema, concatenated;
    empty frames stay on their own (they carry no rows to split)."""
    run_key: tuple[Any, ...] | None = None
    run: list[pl.DataFrame] = []
    key: tuple[str, ...] = ()
    for key_now, df in tables:
        sig = (key_now, tuple(df.schema.items())) if df.height else None
        if run and (sig is None or sig != run_key):
            yield key, run[0] if len(run) == 1 else pl.concat(run, how="vertical", rechunk=True)
            run = []
        if sig is None:
            yield key_now, df
            continue
        run_key, key = sig, key_now
        run.append(df)
    if run:
        yield key, run[0] if len(run) == 1 else pl.concat(run, how="vertical", rechunk=True)


def _key_identity(table: Table) -> tuple[Any, ...]:
    """Hashable, nanosecond-exact group key values ordered by column name."""
    values = []
    for name in sorted(table.key):
        if table.height and name in table.df.columns:
            col = table.df.get_column(name)
            if isinstance(col.dtype, pl.Datetime | pl.Duration):
                col = col.cast(pl.Int64)
            values.append((name, col[0]))
        else:
            value = table.key_values[table.key.index(name)]
            values.append((name, value.ns if isinstance(value, Time) else value))
    return tuple(values)


def _concat_diagonal(frames: list[pl.DataFrame]) -> pl.DataFrame:
    try:
        return pl.concat(frames, how="diagonal")
    except pl.exceptions.PolarsError as exc:
        message = f"schema collision: a column has different types in merged tables: {exc}"
        raise FluxRuntimeError(message) from exc


def _columns_arg(columns: Any, name: str = "columns") -> list[str]:
    if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
        raise FluxTypeError(f"{name} must be an array of strings")
    return columns


# ----------------------------------------------------------------------------- range


@builtin("universe", pipe="tables")
def range_(
    ctx: Context,
    tables: Stream,
    start: Any,
    stop: Any = None,
    timeColumn: str = "_time",  # noqa: N803
    startColumn: str = "_start",  # noqa: N803
    stopColumn: str = "_stop",  # noqa: N803
) -> Stream:
    """Keep rows with start <= time < stop; add _start/_stop to the group key."""
    begin = resolve_time(ctx, start, "start")
    end = ctx.now if stop is None else resolve_time(ctx, stop, "stop")
    default_columns = (timeColumn, startColumn, stopColumn) == ("_time", "_start", "_stop")
    if isinstance(tables, StoreSource) and default_columns:
        pushed = push_range(tables, begin, end)
        if pushed is not None:
            return pushed

    def apply(df: pl.DataFrame) -> pl.DataFrame:
        if timeColumn not in df.columns:
            raise FluxRuntimeError(f'range: table has no time column "{timeColumn}"')
        t = pl.col(timeColumn)
        kept = df.filter((t >= time_literal(begin)) & (t < time_literal(end)))
        bounds = [time_literal(begin).alias(startColumn), time_literal(end).alias(stopColumn)]
        rest = [c for c in kept.columns if c not in (startColumn, stopColumn)]
        return kept.select([*bounds, *[pl.col(c) for c in rest]])

    out = []
    for table, df in apply_by_schema(tables, apply):
        if df.height == 0:  # tables with every row outside the bounds are dropped
            continue
        lo, hi = _clipped_bounds(table, begin, end, startColumn, stopColumn)
        if (lo, hi) != (begin, end):
            df = df.with_columns(
                time_literal(lo).alias(startColumn), time_literal(hi).alias(stopColumn)
            )
        rest = [k for k in table.key if k not in (startColumn, stopColumn)]
        key = (startColumn, stopColumn, *rest)
        out.append(Table.from_frame(df, key))
    return Stream(out)


def _clipped_bounds(
    table: Table, begin: Time, end: Time, start_col: str, stop_col: str
) -> tuple[Time, Time]:
    """A table already keyed by earlier bounds keeps their intersection with the new ones
    (the new bounds alone when the two do not overlap, as the reference's range does)."""
    if start_col not in table.key or stop_col not in table.key or not table.height:
        return begin, end
    old = table.df.select(pl.col(start_col), pl.col(stop_col))
    if not all(isinstance(d, pl.Datetime) for d in old.dtypes):
        return begin, end
    ns = old.head(1).select(pl.all().dt.epoch("ns")).row(0)
    lo = begin if ns[0] is None else Time(max(begin.ns, ns[0]))
    hi = end if ns[1] is None else Time(min(end.ns, ns[1]))
    if lo.ns >= hi.ns:
        return begin, end
    return lo, hi


# ----------------------------------------------------------------------------- filter / map


@builtin("universe", pipe="tables")
def filter_(ctx: Context, tables: Stream, fn: Any, onEmpty: str = "drop") -> Stream:  # noqa: N803
    """Keep the rows for which `fn(r)` is true; empty tables are dropped unless kept."""
    if onEmpty not in ("drop", "keep"):
        raise FluxRuntimeError(f'filter: onEmpty must be "drop" or "keep", got {onEmpty!r}')
    if isinstance(tables, StoreSource) and onEmpty == "drop":
        pushed = push_filter(ctx, tables, fn)
        if pushed is not None:
            return pushed
    row_fn = ctx.row_function(fn)

    def apply(df: pl.DataFrame) -> pl.DataFrame:
        mask = row_fn.filter_mask(df.drop(TID))
        return df.filter(mask)

    out = []
    for table, df in apply_by_schema(tables, apply):
        if df.height or onEmpty == "keep":
            out.append(table.with_df(df))
    return Stream(out)


@builtin("universe", pipe="tables")
def map_(ctx: Context, tables: Stream, fn: Any, mergeKey: bool = False) -> Stream:  # noqa: N803
    """Replace each row by the record `fn(r)`; key columns missing from it leave the key."""
    row_fn = ctx.row_function(fn)

    def apply(df: pl.DataFrame) -> pl.DataFrame:
        mapped = row_fn.map_frame(df.drop(TID))
        if mapped.width == 0:  # every output column was an untyped null
            return df.select(TID).clear()
        return mapped.with_columns(df.get_column(TID))

    pieces = []
    empties = []
    for table, df in apply_by_schema(tables, apply):
        key = tuple(k for k in table.key if k in df.columns)
        if df.width == 0:
            continue
        if df.height == 0:
            values = tuple(v for k, v in table.key_dict().items() if k in key)
            empties.append(Table(key, values, df))
        else:
            pieces.append((key, df))
    return Stream([*regroup(pieces), *empties])


# ----------------------------------------------------------------------------- columns


def _select_columns(table: Table, names: list[str]) -> Table:
    key = tuple(k for k in table.key if k in names)
    values = tuple(v for k, v in table.key_dict().items() if k in key)
    return Table(key, values, table.df.select(names))


def _matching(ctx: Context, columns: list[str], fn: Any) -> list[str]:
    return [c for c in columns if ctx.call(fn, column=c) is True]


@builtin("universe", pipe="tables")
def drop(ctx: Context, tables: Stream, columns: Any = None, fn: Any = None) -> Stream:
    """Remove columns (by name, or where `fn(column)` is true)."""
    out = []
    for t in tables:
        gone = set(_matching(ctx, t.columns, fn) if fn is not None else _columns_arg(columns or []))
        out.append(_select_columns(t, [c for c in t.columns if c not in gone]))
    return _merge_same_keys(out)


@builtin("universe", pipe="tables")
def keep(ctx: Context, tables: Stream, columns: Any = None, fn: Any = None) -> Stream:
    """Keep only some columns (by name, or where `fn(column)` is true)."""
    if isinstance(tables, StoreSource) and fn is None:  # schema.tagValues on the store
        pushed = push_aggregate(ctx, tables, "keep", {"columns": columns})
        if pushed is not None:
            return pushed
    out = []
    for t in tables:
        names = _matching(ctx, t.columns, fn) if fn is not None else _columns_arg(columns or [])
        wanted = set(names)
        out.append(_select_columns(t, [c for c in t.columns if c in wanted]))
    return _merge_same_keys(out)


def _merge_same_keys(tables: list[Table]) -> Stream:
    """Dropping key columns can make two tables' keys equal: merge them as Flux does."""
    seen: dict[tuple[Any, ...], int] = {}
    out: list[Table] = []
    for t in tables:
        ident = (tuple(sorted(t.key)), _key_identity(t))
        if ident in seen:
            prev = out[seen[ident]]
            out[seen[ident]] = prev.with_df(_concat_diagonal([prev.df, t.df]))
        else:
            seen[ident] = len(out)
            out.append(t)
    return Stream(out)


@builtin("universe", pipe="tables")
def rename(ctx: Context, tables: Stream, columns: Any = None, fn: Any = None) -> Stream:
    """Rename columns with a record {old: "new"} or a function of the column name."""
    out = []
    for t in tables:
        if fn is not None:
            mapping = {c: ctx.call(fn, column=c) for c in t.columns}
        elif isinstance(columns, dict):
            mapping = dict(columns)
        else:
            raise FluxRuntimeError("rename: give columns (a record) or fn")
        for old, new in mapping.items():
            if not isinstance(new, str):
                raise FluxTypeError(f"rename: new name for {old!r} must be a string")
        mapping = {o: n for o, n in mapping.items() if o in t.columns and o != n}
        if len(set(mapping.values())) != len(mapping):
            raise FluxRuntimeError("rename: two columns would get the same name")
        key = tuple(mapping.get(k, k) for k in t.key)
        out.append(Table(key, t.key_values, t.df.rename(mapping)))
    return Stream(out)


@builtin("universe", pipe="tables")
def duplicate(ctx: Context, tables: Stream, column: str, **kw: Any) -> Stream:
    """Copy a column under a new name (`as`); the copy is not part of the group key."""
    target = kw.pop("as", None)
    if kw:
        raise FluxRuntimeError(f"duplicate has no parameter {next(iter(kw))!r}")
    if not isinstance(target, str):
        raise FluxRuntimeError("missing required argument 'as' in call to duplicate")
    out = []
    for t in tables:
        if column not in t.columns:
            raise FluxRuntimeError(f'duplicate: column "{column}" not found')
        df = t.df.with_columns(pl.col(column).alias(target))
        if target in t.key and df.height:
            out.append(Table.from_frame(df, t.key))
        else:
            out.append(Table(t.key, t.key_values, df))
    return _merge_same_keys(out)


@builtin("universe", "set", pipe="tables")
def set_(ctx: Context, tables: Stream, key: str, value: str) -> Stream:
    """Set a string column to one value in every row (updating the group key)."""
    out = []
    for t in tables:
        df = t.df.with_columns(pl.lit(value, pl.String).alias(key))
        values = tuple(value if k == key else v for k, v in t.key_dict().items())
        out.append(Table(t.key, values, df))
    return _merge_same_keys(out)


# ----------------------------------------------------------------------------- group / sort / limit


@builtin("universe", pipe="tables")
def group(ctx: Context, tables: Stream, columns: Any = None, mode: str = "by") -> Stream:
    """Regroup rows by the given columns (mode "by") or by all others ("except")."""
    if isinstance(tables, StoreSource):  # calls from stdlib code bypass the interpreter
        pushed = push_aggregate(ctx, tables, "group", {"columns": columns or [], "mode": mode})
        if pushed is not None:
            return pushed
    names = _columns_arg(columns if columns is not None else [])
    if mode not in ("by", "except"):
        raise FluxRuntimeError(f'group: mode must be "by" or "except", got {mode!r}')
    pieces = []
    for t in tables:
        if mode == "by":
            key = tuple(c for c in names if c in t.columns)
        else:
            key = tuple(c for c in t.columns if c not in names)
        if t.height:
            pieces.append((key, t.df))
    return regroup(pieces)


@builtin("universe", pipe="tables")
def sort(ctx: Context, tables: Stream, columns: Any = None, desc: bool = False) -> Stream:
    """Stable sort of each table's rows; nulls sort last (first when descending)."""
    names = _columns_arg(columns if columns is not None else ["_value"])
    out = []
    for t in tables:
        present = [c for c in names if c in t.columns]
        df = t.df
        if present:
            df = df.sort(present, descending=desc, nulls_last=not desc, maintain_order=True)
        out.append(t.with_df(df))
    return Stream(out)


@builtin("universe", pipe="tables")
def limit(ctx: Context, tables: Stream, n: int, offset: int = 0) -> Stream:
    """The first `n` rows of each table after skipping `offset`."""
    if n < 0 or offset < 0:
        raise FluxRuntimeError("limit: n and offset must not be negative")
    return Stream(t.with_df(t.df.slice(offset, n)) for t in tables)


# ----------------------------------------------------------------------------- results / misc


@builtin("universe", "yield", pipe="tables")
def yield_(ctx: Context, tables: Stream, name: str = "_result") -> Stream:
    """Mark a stream as a named result of the query."""
    if ctx.interpreter is not None:
        ctx.interpreter.add_result(name, tables)
    return tables


register_value("universe", "inf", Duration(0, 2**63 - 1, False))


@builtin("universe")
def now(ctx: Context) -> Time:
    """The query's `now` option."""
    return ctx.now


@builtin("universe", pipe="arr")
def length(ctx: Context, arr: Any) -> int:
    if not isinstance(arr, list):
        raise FluxTypeError(f"length: arr must be an array, got {type_name(arr)}")
    return len(arr)


@builtin("universe")
def contains(ctx: Context, value: Any, set: Any) -> bool:  # noqa: A002
    if not isinstance(set, list):
        raise FluxTypeError(f"contains: set must be an array, got {type_name(set)}")
    return any(value == v and type_name(value) == type_name(v) for v in set)


@builtin("universe")
def display(ctx: Context, v: Any) -> str:
    """A readable rendering of any value."""
    return display_value(v)


def display_value(v: Any, depth: int = 0) -> str:
    """Render `v` as Flux's display does: record keys sorted; a record, array or dictionary
    of more than three elements spreads over lines indented four spaces per level."""
    if isinstance(v, Dictionary):
        if not v:
            return "[:]"
        pairs = [(k, v[k]) for k in _sorted_keys(v)]
        items = [f"{display_value(k, depth + 1)}: {display_value(x, depth + 1)}" for k, x in pairs]
        return _display_composite("[", items, "]", ", ", depth)
    if isinstance(v, bytes):
        return "0x" + v.hex()
    if isinstance(v, dict):
        items = [f"{k}: {display_value(v[k], depth + 1)}" for k in sorted(v)]
        return _display_composite("{", items, "}", ",", depth, single_sep=", ")
    if isinstance(v, list):
        items = [display_value(x, depth + 1) for x in v]
        return _display_composite("[", items, "]", ", ", depth)
    if v is None:
        return "<null>"
    if isinstance(v, Stream):
        return "<table stream>"
    if isinstance(v, float):
        return go_float_text(v)
    return to_string_value(v)


def go_float_text(x: float) -> str:
    """A float as Go's `%v` prints it (display uses it, unlike `string()`): shortest digits,
    in exponent form when the decimal exponent is below -4 or at least 6 (`1e+06`)."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "+Inf" if x > 0 else "-Inf"
    sign = "-" if math.copysign(1.0, x) < 0 else ""
    if x == 0:
        return sign + "0"
    parts = Decimal(repr(abs(x))).as_tuple()
    assert isinstance(parts.exponent, int)
    digits = "".join(map(str, parts.digits)).rstrip("0")
    point = len(parts.digits) + parts.exponent  # digits before the decimal point
    exponent = point - 1
    if exponent < -4 or exponent >= 6:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{mantissa}e{'-' if exponent < 0 else '+'}{abs(exponent):02d}"
    if point <= 0:
        return f"{sign}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return sign + digits + "0" * (point - len(digits))
    return f"{sign}{digits[:point]}.{digits[point:]}"


def _display_composite(
    open_: str, items: list[str], close: str, sep: str, depth: int, single_sep: str | None = None
) -> str:
    """Join rendered elements on one line, or one per line past three elements."""
    if len(items) <= 3:
        return open_ + (single_sep or sep).join(items) + close
    inner = "\n" + "    " * (depth + 1)
    return open_ + inner + (sep + inner).join(items) + "\n" + "    " * depth + close


def _sorted_keys(d: dict) -> list[Any]:
    """Dictionary keys in key order (how the reference stores them), else as inserted."""
    try:
        return sorted(d)
    except TypeError:
        return list(d)


def to_string_value(value: Any) -> str:
    """Flux's `string()` of a basic value."""
    from fluxlab.flux.stdlib.conversions import string_of

    return string_of(value)


@builtin("universe")
def die(ctx: Context, msg: str) -> Any:
    """Stop the query with a user-defined error."""
    raise FluxRuntimeError(str(msg))


@builtin("universe", pipe="v")
def sleep(ctx: Context, v: Any, duration: Any = None) -> Any:
    """Returns `v`; this engine never actually sleeps (the delay has no effect on results)."""
    return v


@builtin("universe")
def today(ctx: Context) -> Time:
    """`now()` truncated to the start of its UTC day."""
    day = 86_400_000_000_000
    return Time(ctx.now.ns - ctx.now.ns % day)
