"""The `testing` package and the stream comparison the conformance runner uses.

Streams are compared the way Flux's `testing.diff` does: tables are matched by group
key, matched tables must have the same columns (name and type, any order) and the
same rows in the same order, floats equal within `epsilon`. Empty tables produce no
diff rows in Flux, so they are ignored.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl

from fluxlab.flux.context import Context
from fluxlab.flux.errors import FluxRuntimeError
from fluxlab.flux.registry import builtin, register_value
from fluxlab.flux.table import Stream, Table, flux_type_name
from fluxlab.flux.values import Dictionary, Duration, Time

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def key_identity(table: Table) -> tuple[Any, ...]:
    """Nanosecond-exact group key (name, value) pairs, sorted by column name."""
    pairs = []
    for i, name in enumerate(table.key):
        if table.height and name in table.df.columns:
            col = table.df.get_column(name)
            if isinstance(col.dtype, pl.Datetime | pl.Duration):
                col = col.cast(pl.Int64)
            value = col[0]
        else:
            value = _plain(table.key_values[i])
        pairs.append((name, value))
    return tuple(sorted(pairs, key=lambda p: p[0]))


def _plain(value: Any) -> Any:
    if isinstance(value, Time):
        return value.ns
    if isinstance(value, Duration):
        return value.total_ns()
    if isinstance(value, dt.datetime):
        delta = value.astimezone(dt.UTC) - _EPOCH
        return (delta.days * 86_400 + delta.seconds) * 10**9 + delta.microseconds * 1000
    if isinstance(value, int) and not isinstance(value, bool):
        return int(value)
    return value


def _by_key(stream: Stream) -> dict[tuple[Any, ...], pl.DataFrame]:
    tables: dict[tuple[Any, ...], pl.DataFrame] = {}
    for t in stream:
        if t.height == 0:
            continue
        ident = key_identity(t)
        if ident in tables:
            tables[ident] = pl.concat([tables[ident], t.df], how="diagonal")
        else:
            tables[ident] = t.df
    return tables


def diff_streams(got: Stream, want: Stream, epsilon: float = 1e-6) -> list[str]:
    """Human-readable differences between two streams (empty list: equal)."""
    got_tables, want_tables = _by_key(got), _by_key(want)
    problems: list[str] = []
    for ident in want_tables.keys() - got_tables.keys():
        problems.append(f"missing table with group key {_show(ident)}")
    for ident in got_tables.keys() - want_tables.keys():
        problems.append(f"unexpected table with group key {_show(ident)}")
    for ident in want_tables.keys() & got_tables.keys():
        problem = diff_frames(got_tables[ident], want_tables[ident], epsilon)
        if problem:
            problems.append(f"table {_show(ident)}: {problem}")
    return problems


def _show(ident: tuple[Any, ...]) -> str:
    return "{" + ", ".join(f"{k}={v!r}" for k, v in ident) + "}"


def _schema(df: pl.DataFrame) -> dict[str, str]:
    out = {}
    for name, dtype in df.schema.items():
        try:
            out[name] = flux_type_name(dtype)
        except TypeError:
            out[name] = str(dtype)
    return out


def diff_frames(got: pl.DataFrame, want: pl.DataFrame, epsilon: float = 1e-6) -> str | None:
    """The first difference between two tables' columns and rows, or None."""
    got_schema, want_schema = _schema(got), _schema(want)
    if got_schema != want_schema:
        return f"columns differ: got {got_schema}, want {want_schema}"
    if got.height != want.height:
        return f"got {got.height} rows, want {want.height}"
    for name in want.columns:
        a, b = got.get_column(name), want.get_column(name)
        if a.dtype == pl.Float64:
            same = _floats_equal(a, b, epsilon)
        else:
            same = (a.eq_missing(b)).fill_null(False)
        if not same.all():
            row = int(same.arg_min() or 0)
            return f"column {name!r} row {row}: got {a[row]!r}, want {b[row]!r}"
    return None


def _floats_equal(a: pl.Series, b: pl.Series, epsilon: float) -> pl.Series:
    both_null = a.is_null() & b.is_null()
    both_nan = a.is_nan().fill_null(False) & b.is_nan().fill_null(False)
    close = ((a - b).abs() <= epsilon).fill_null(False) | (a == b).fill_null(False)
    return both_null | both_nan | close


# ----------------------------------------------------------------------------- package


@builtin("testing", pipe="tables")
def load(ctx: Context, tables: Stream) -> Stream:
    """The reference harness's default: return the input unchanged."""
    return tables


@builtin("testing", pipe="got")
def diff(
    ctx: Context,
    got: Stream,
    want: Stream,
    verbose: bool = False,
    epsilon: float = 1e-6,
    nansEqual: bool = False,  # noqa: N803
) -> Stream:
    """A one-table stream describing the differences (no tables when equal)."""
    problems = diff_streams(got, want, epsilon)
    if not problems:
        return Stream()
    df = pl.DataFrame({"_diff": problems})
    return Stream([Table((), (), df)])


@builtin("testing", pipe="got")
def assertEquals(ctx: Context, name: str, got: Stream, want: Stream) -> Stream:  # noqa: N802
    problems = diff_streams(got, want)
    if problems:
        raise FluxRuntimeError(f"{name}: streams differ: " + "; ".join(problems[:5]))
    return got


@builtin("testing", pipe="tables")
def assertEmpty(ctx: Context, tables: Stream) -> Stream:  # noqa: N802
    if any(t.height for t in tables):
        raise FluxRuntimeError("assertEmpty: found a non-empty table")
    return tables


# ----------------------------------------------------------------------------- harness packages


@builtin("testing/expect")
def planner(ctx: Context, rules: Any) -> None:
    """Planner-rule expectations: this engine has no rule-based planner, so they hold."""
    return None


register_value("planner", "disableLogicalRules", Dictionary())
register_value("planner", "disablePhysicalRules", Dictionary())
