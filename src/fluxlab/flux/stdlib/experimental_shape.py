"""experimental package: unpivot, group (mode "extend"), preview, chain, fill.

(experimental.set is registered by experimental_aggregates.py.)

unpivot follows Flux's implementation: every column that is neither in the group
key nor in `otherColumns` (default `["_time"]`) becomes its own output table with
`_field` (the column label, added to the group key unless `_field` is listed in
`otherColumns`) and `_value`; rows where that column is null are dropped; output
tables with equal keys are merged.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from fluxlab.flux.errors import FluxRuntimeError
from fluxlab.flux.registry import builtin
from fluxlab.flux.stdlib.shape import MISSING
from fluxlab.flux.stdlib.shape import fill as universe_fill
from fluxlab.flux.stdlib.shape_common import merge_by_key, require_stream
from fluxlab.flux.table import Stream, Table

# ------------------------------------------------------------------------------ unpivot


def _unpivot_table(table: Table, other: list[str]) -> list[Table]:
    cols = table.df.columns
    if "_field" in cols or "_value" in cols:
        raise FluxRuntimeError(
            'experimental.unpivot: input tables cannot have a "_field" or "_value" column'
        )
    for c in other:
        if c != "_field" and c not in cols:
            raise FluxRuntimeError(f"experimental.unpivot: could not find column named {c!r}")
    field_in_key = "_field" not in other
    out = []
    for c in cols:
        if c in table.key or c in other:
            continue
        rows = table.df.filter(pl.col(c).is_not_null())
        exprs: list[Any] = [pl.col(k) for k in table.key]
        if field_in_key:
            exprs.append(pl.lit(c, dtype=pl.String).alias("_field"))
        exprs += [pl.lit(c, dtype=pl.String).alias("_field") if o == "_field" else pl.col(o)
                  for o in other]
        exprs.append(pl.col(c).alias("_value"))
        df = rows.select(exprs)
        if field_in_key:
            out.append(Table((*table.key, "_field"), (*table.key_values, c), df))
        else:
            out.append(Table(table.key, table.key_values, df))
    return out


@builtin("experimental", pipe="tables")
def unpivot(ctx, tables: Stream, otherColumns: list[str] | None = None) -> Stream:
    """Turn every non-key column (other than otherColumns) into _field/_value pairs."""
    other = ["_time"] if otherColumns is None else list(otherColumns)
    return merge_by_key((o for t in tables for o in _unpivot_table(t, other)), "experimental.unpivot")


# ------------------------------------------------------------------------------ group, preview, chain


@builtin("experimental", name="group", pipe="tables")
def group_extend(ctx, tables: Stream, columns: list[str], mode: str) -> Stream:
    """Add columns to the group key (only mode "extend" exists)."""
    if mode != "extend":
        raise FluxRuntimeError(f'experimental.group: mode must be "extend", got {mode!r}')
    out = []
    for t in tables:
        extra = [c for c in columns if c not in t.key and c in t.df.columns]
        key = (*t.key, *extra)
        if t.height:
            out.extend(Stream.from_frame(t.df, key))
        else:
            out.append(Table(key, (*t.key_values, *[None] * len(extra)), t.df))
    return merge_by_key(out, "experimental.group")


@builtin("experimental", pipe="tables")
def preview(ctx, tables: Stream, nrows: int = 5, ntables: int = 5) -> Stream:
    """The first `nrows` rows of the first `ntables` tables."""
    return Stream(t.with_df(t.df.head(nrows)) for t in list(tables)[:ntables])


@builtin("experimental")
def chain(ctx, first: Stream, second: Stream) -> Stream:
    """Run `first` (already evaluated), then return `second`."""
    require_stream(first, "first", "experimental.chain")
    return require_stream(second, "second", "experimental.chain")


@builtin("experimental", pipe="tables")
def fill(ctx, tables: Stream, value: Any = MISSING, usePrevious: bool = False) -> Stream:
    """experimental.fill: universe fill on the `_value` column."""
    return universe_fill(ctx, tables, column="_value", value=value, usePrevious=usePrevious)
